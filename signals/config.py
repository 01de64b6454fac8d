"""``SignalConfig``: every parameter of the liquidity-drain signal in one frozen, typed object.

Load it from the ``[signal]`` section of a TOML file (``SignalConfig.from_toml``) or from a plain
mapping (``SignalConfig.from_dict``). Anything wrong (an unknown key, a negative window, a weight
that is not a number, an unknown component) raises ``DrainError`` naming the offending key, so the
CLI can print it in one line.

Every default below is a prior chosen before looking at any outcome, with its reason next to it.
Tuning them against returns is the job of ``drain tune`` (walk-forward), not of this module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Literal

from drain_core.conventions import PERIODS_PER_YEAR
from drain_core.errors import DrainError
from drain_core.frozen import FrozenDict
from drain_core.schema import (
    MAX_WINDOW,
    UNIQUE,
    WINDOW_REASON,
    Meta,
    conform,
    field_names,
    number,
    reject_unknown,
    require_table,
    whole,
)

# The tickers the signal reads: the credit components' ETFs (``signals.components``) and the
# markets it is plotted and evaluated against (``signals.plots``, ``drain signal --evaluate``).
CREDIT_TICKERS: tuple[str, ...] = ("HYG", "LQD", "IEF")
MARKET_TICKERS: tuple[str, ...] = ("SPY", "BTC-USD")

# Components in display order, grouped by the four pillars of the thesis. Each is oriented so that
# a higher value means more drain. The functions live in ``signals.components``.
COMPONENTS: tuple[str, ...] = (
    # capex pressure
    "capex_yoy",  # aggregate hyperscaler capex YoY growth, matched names only (fraction)
    "capex_accel",  # change of that YoY growth vs the previous quarter, matched names (fraction)
    # issuance pressure
    "issuance",  # hyperscaler bonds made public in the trailing window ($bn)
    # idle-money buffer
    "rrp_scarcity",  # -log(1 + ON RRP $bn): higher = emptier buffer
    "rrp_drain",  # fall of ON RRP over the buffer window ($bn)
    "reserves_drain",  # fall of reserve balances (WRESBAL) over the buffer window ($bn)
    "tga_rebuild",  # rise of the Treasury General Account (WTREGEN) over the buffer window ($bn)
    "netliq_drain",  # fall of net liquidity WALCL - WTREGEN - RRP over the buffer window ($bn)
    # funding stress
    "sofr_iorb",  # SOFR - IORB (DFEDTARU before IORB existed), turn days dropped, median (bp)
    "effr_iorb",  # EFFR - IORB, same treatment (bp)
    "dgs2_change",  # change of the 2-year Treasury yield over the rates window (bp)
    "dgs10_change",  # change of the 10-year Treasury yield over the rates window (bp)
    "hy_credit",  # underperformance of HYG vs IEF over the credit window (log-return, %)
    "ig_credit",  # underperformance of LQD vs IEF over the credit window (log-return, %)
    "dollar",  # rise of the broad dollar DTWEXBGS over the dollar window (log change, %)
)

PILLARS: dict[str, tuple[str, ...]] = {
    "capex": ("capex_yoy", "capex_accel"),
    "issuance": ("issuance",),
    "buffer": ("rrp_scarcity", "rrp_drain", "reserves_drain", "tga_rebuild", "netliq_drain"),
    "funding": (
        "sofr_iorb", "effr_iorb", "dgs2_change", "dgs10_change", "hy_credit", "ig_credit",
        "dollar",
    ),
}

# Default weights: each of the four pillars of the thesis sums to 1, so no pillar dominates just
# because it has more measures. Within a pillar the most direct measure weighs most: the capex
# level of growth over its acceleration; the RRP level (the buffer the thesis is about) over the
# flows; repo spreads (the funding-stress symptom named by the thesis) over yields, credit and the
# dollar. Weights are re-normalised each day over the components available that day.
DEFAULT_WEIGHTS: FrozenDict = FrozenDict({
    "capex_yoy": 0.6,
    "capex_accel": 0.4,
    "issuance": 1.0,
    "rrp_scarcity": 0.3,
    "rrp_drain": 0.2,
    "reserves_drain": 0.15,
    "tga_rebuild": 0.15,
    "netliq_drain": 0.2,
    "sofr_iorb": 0.2,
    "effr_iorb": 0.2,
    "dgs2_change": 0.1,
    "dgs10_change": 0.1,
    "hy_credit": 0.15,
    "ig_credit": 0.15,
    "dollar": 0.1,
})

Standardise = Literal["expanding", "rolling"]
Combine = Literal["weights", "pca"]
Gate = Literal["none", "step", "logistic"]
STANDARDISE: tuple[str, ...] = Standardise.__args__
COMBINE: tuple[str, ...] = Combine.__args__
GATES: tuple[str, ...] = Gate.__args__

# --- the schema of the section ----------------------------------------------------------------
Component = Annotated[Literal[COMPONENTS], Meta(extra={"noun": "component name"})]
Window = whole(1, MAX_WINDOW, WINDOW_REASON)
ZWindow = whole(2, MAX_WINDOW, "sessions; a standard deviation needs two, at most twenty years")
ZUnits = number(ge=-100, le=100, reason="z-score units")
Weight = number(ge=0, le=1e6)


@dataclass(frozen=True)
class SignalConfig:
    """All parameters of ``compute_signal``. Windows count NYSE sessions unless said otherwise."""

    # --- which components, and how they are combined -------------------------------------------
    # All fifteen by default: the thesis names every one of them; drop any with this list.
    components: Annotated[tuple[Component, ...], Meta(min_length=1), UNIQUE] = COMPONENTS
    # Partial overrides are merged over DEFAULT_WEIGHTS (see there for the reasons).
    weights: dict[Component, Weight] = DEFAULT_WEIGHTS
    # "weights" (transparent, no estimation) by default; "pca" = first principal component of the
    # z-scores, refit at each month start on the expanding past only (the STLFSI4 recipe, made
    # point in time), sign fixed so that its loadings sum to a positive number (= more drain).
    combine: Combine = "weights"
    # The PCA needs this many past sessions before its first fit: two years, so that the first
    # loadings see more than one rate cycle phase.
    pca_min_periods: Window = 504
    # A composite needs at least this many components available that day: one lone z-score is a
    # reading of that series, not of a "composite".
    min_components: whole(1, len(COMPONENTS), "there are fifteen components") = 3

    # --- standardisation ----------------------------------------------------------------------
    # Expanding z-scores by default: every past observation counts, nothing from the future does.
    standardise: Standardise = "expanding"
    # Only for standardise = "rolling": three years, long enough to hold one funding cycle.
    z_window: ZWindow = 756
    # One year of sessions before a z-score is trusted: fewer observations give unstable moments.
    z_min_periods: ZWindow = PERIODS_PER_YEAR
    # Winsorise z-scores at +-3: one extreme day (March 2020) must not swamp the composite.
    z_clip: number(gt=0, le=100, reason="z-score units") = 3.0

    # --- capex pressure -----------------------------------------------------------------------
    # A name whose latest year-over-year pair is one quarter behind the newest quarter reported
    # still counts (it simply has not reported yet); older pairs are dropped as stale.
    capex_max_stale_quarters: whole(0, 40, "quarters; ten years at most") = 1

    # --- issuance pressure --------------------------------------------------------------------
    # Six months of sessions: bond proceeds fund capex over the following quarters.
    issuance_window: Window = 126

    # --- idle-money buffer --------------------------------------------------------------------
    # ON RRP is smoothed with a median over this many observations (quarter-end window dressing
    # by money funds makes single days jump by $100bn+).
    rrp_median_window: Window = 5
    # Buffer flows (RRP, reserves, TGA, net liquidity) are changes over one quarter of sessions:
    # the horizon of a Treasury refunding cycle and of the capex reports.
    buffer_window: Window = 63
    # The buffer is "depleted" when the smoothed ON RRP is below $100bn: the facility then holds
    # too little idle cash to absorb new supply, so further issuance drains reserves instead
    # (as in 2018-2019 and from late 2025).
    buffer_depleted_bn: number(ge=0, le=1e5, reason="$bn") = 100.0

    # --- funding stress -----------------------------------------------------------------------
    # Month turns (the last and first business day of every month, which includes quarter ends)
    # are dropped from SOFR/EFFR spreads, then a 5-observation rolling median removes the
    # remaining one-day spikes (tax dates, settlement days). A turn spike is seasonality, not
    # stress; a squeeze that lasts a week still shows.
    spread_exclude_turns: bool = True
    spread_median_window: Window = 5
    # Yield changes over a quarter of sessions: "market rates rise" is a trend, not a day.
    rates_window: Window = 63
    # Credit relative performance over a quarter of sessions.
    credit_window: Window = 63
    # Dollar change over a quarter of sessions.
    dollar_window: Window = 63
    # Staleness: a daily series whose latest release is more than 10 sessions old is treated as
    # missing (DTWEXBGS ends 2025-12-26 in the snapshot); weekly H.4.1 series get 15 sessions
    # (a week plus a holiday-delayed release). Missing components drop out of the composite,
    # which re-weights over the rest, instead of holding a stale value forever.
    max_age_daily: Window = 10
    max_age_weekly: Window = 15

    # --- the gate: capex and issuance count for more when the buffer is depleted --------------
    # "step" by default: the thesis states a switch (idle money exists or it does not).
    gate: Gate = "step"
    # Gated components count (1 + gate_k) times as much when the buffer is depleted: k = 1
    # doubles them, the smallest round amplification that visibly changes the composite.
    gate_k: number(ge=0, le=100) = 1.0
    # Logistic gate: 1 + k / (1 + exp(-steepness * (z_buffer - center))), z_buffer = z-score of
    # rrp_scarcity. Centre 1.0: the buffer is one SD emptier than its own past; steepness 2.0
    # moves from 12% to 88% of the effect over +-1 SD around the centre.
    gate_center: ZUnits = 1.0
    gate_steepness: number(gt=0, le=100) = 2.0
    gated_components: Annotated[tuple[Component, ...], UNIQUE] = ("capex_yoy", "capex_accel",
                                                                  "issuance")

    # --- regimes ------------------------------------------------------------------------------
    # The composite is a weighted mean of z-scores, so 0 is "average drain". Draining above 0.25
    # (a quarter SD above average), scarce above 0.75; the hysteresis band +-0.1 keeps a reading
    # hovering at a threshold from flickering between regimes.
    draining_above: ZUnits = 0.25
    scarce_above: ZUnits = 0.75
    hysteresis: number(ge=0, le=100, reason="z-score units") = 0.1

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if isinstance(self.weights, list | tuple):  # (component, weight) pairs
            set_(self, "weights", {pair[0]: pair[1] for pair in self.weights
                                   if isinstance(pair, list | tuple) and len(pair) == 2})
        conform(self, "signal")
        # components in display order, each once; weights merged over the defaults
        set_(self, "components", tuple(c for c in COMPONENTS if c in self.components))
        set_(self, "gated_components",
             tuple(c for c in COMPONENTS if c in self.gated_components))
        merged = {**DEFAULT_WEIGHTS, **self.weights}
        set_(self, "weights", FrozenDict((c, merged[c]) for c in COMPONENTS))
        if self.scarce_above <= self.draining_above:
            raise DrainError(
                f"signal.scarce_above: {self.scarce_above} must be above draining_above "
                f"({self.draining_above})"
            )
        if self.hysteresis * 2 >= self.scarce_above - self.draining_above:
            raise DrainError(
                f"signal.hysteresis: {self.hysteresis} is too wide for thresholds "
                f"{self.draining_above} and {self.scarce_above} (needs 2h < their gap)"
            )
        if self.standardise == "rolling" and self.z_min_periods > self.z_window:
            raise DrainError(
                f"signal.z_min_periods: {self.z_min_periods} exceeds z_window {self.z_window}"
            )
        if sum(self.weight(c) for c in self.components) <= 0:
            raise DrainError("signal.weights: every selected component has weight 0")

    # --- accessors --------------------------------------------------------------------------
    def weight(self, component: str) -> float:
        """The weight of one component (0 if not listed)."""
        return self.weights.get(component, 0.0)

    @property
    def weights_dict(self) -> dict[str, float]:
        """Weights as a plain dict, every component included."""
        return dict(self.weights)

    # --- loading ------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None, *, section: str = "signal"
                  ) -> SignalConfig:
        """Build from a mapping (a parsed TOML section); unknown keys raise ``DrainError``."""
        values = dict(require_table(section, values))
        reject_unknown(section, values, field_names(cls))
        if "weights" in values:
            values["weights"] = require_table(f"{section}.weights", values["weights"])
        try:
            return cls(**values)
        except DrainError as exc:
            message = str(exc)
            if section != "signal":
                message = message.replace("signal.", f"{section}.", 1)
            raise DrainError(message) from None

    @classmethod
    def from_toml(cls, path: str | Path, section: str = "signal") -> SignalConfig:
        """Read ``[section]`` of a TOML file (defaults for everything it does not set)."""
        from drain_core.config import read_config

        node: Any = read_config(path).sections  # a missing or malformed file: a DrainError
        for part in section.split("."):
            node = require_table(section, node).get(part, {})
        return cls.from_dict(node, section=section)

    def to_dict(self) -> dict[str, Any]:
        """A TOML-friendly dict (lists for tuples, a table for weights)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "weights":
                value = dict(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    def replace(self, **changes: Any) -> SignalConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)
