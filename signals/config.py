"""``SignalConfig``: every parameter of the liquidity-drain signal in one frozen, typed object.

Load it from the ``[signal]`` section of a TOML file (``SignalConfig.from_toml``) or from a plain
mapping (``SignalConfig.from_dict``). Anything wrong (an unknown key, a negative window, a weight
that is not a number, an unknown component) raises ``DrainError`` naming the offending key, so the
CLI can print it in one line.

Every default below is a prior chosen before looking at any outcome, with its reason next to it.
Tuning them against returns is the job of ``drain tune`` (walk-forward), not of this module.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from drain_core.errors import DrainError
from drain_core.tomlfile import read_toml

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
DEFAULT_WEIGHTS: dict[str, float] = {
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
}

STANDARDISE = ("expanding", "rolling")
COMBINE = ("weights", "pca")
GATES = ("none", "step", "logistic")


def _did_you_mean(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_component(key: str, name: Any) -> str:
    if not isinstance(name, str) or name not in COMPONENTS:
        raise DrainError(
            f"{key}: unknown component {name!r}{_did_you_mean(str(name), COMPONENTS)}; "
            f"known components: {', '.join(COMPONENTS)}"
        )
    return name


@dataclass(frozen=True)
class SignalConfig:
    """All parameters of ``compute_signal``. Windows count NYSE sessions unless said otherwise."""

    # --- which components, and how they are combined -------------------------------------------
    # All fifteen by default: the thesis names every one of them; drop any with this list.
    components: tuple[str, ...] = COMPONENTS
    # Partial overrides are merged over DEFAULT_WEIGHTS (see there for the reasons).
    weights: tuple[tuple[str, float], ...] = tuple(DEFAULT_WEIGHTS.items())
    # "weights" (transparent, no estimation) by default; "pca" = first principal component of the
    # z-scores, refit at each month start on the expanding past only (the STLFSI4 recipe, made
    # point in time), sign fixed so that its loadings sum to a positive number (= more drain).
    combine: str = "weights"
    # The PCA needs this many past sessions before its first fit: two years, so that the first
    # loadings see more than one rate cycle phase.
    pca_min_periods: int = 504
    # A composite needs at least this many components available that day: one lone z-score is a
    # reading of that series, not of a "composite".
    min_components: int = 3

    # --- standardisation ----------------------------------------------------------------------
    # Expanding z-scores by default: every past observation counts, nothing from the future does.
    standardise: str = "expanding"
    # Only for standardise = "rolling": three years, long enough to hold one funding cycle.
    z_window: int = 756
    # One year of sessions before a z-score is trusted: fewer observations give unstable moments.
    z_min_periods: int = 252
    # Winsorise z-scores at +-3: one extreme day (March 2020) must not swamp the composite.
    z_clip: float = 3.0

    # --- capex pressure -----------------------------------------------------------------------
    # A name whose latest year-over-year pair is one quarter behind the newest quarter reported
    # still counts (it simply has not reported yet); older pairs are dropped as stale.
    capex_max_stale_quarters: int = 1

    # --- issuance pressure --------------------------------------------------------------------
    # Six months of sessions: bond proceeds fund capex over the following quarters.
    issuance_window: int = 126

    # --- idle-money buffer --------------------------------------------------------------------
    # ON RRP is smoothed with a median over this many observations (quarter-end window dressing
    # by money funds makes single days jump by $100bn+).
    rrp_median_window: int = 5
    # Buffer flows (RRP, reserves, TGA, net liquidity) are changes over one quarter of sessions:
    # the horizon of a Treasury refunding cycle and of the capex reports.
    buffer_window: int = 63
    # The buffer is "depleted" when the smoothed ON RRP is below $100bn: the facility then holds
    # too little idle cash to absorb new supply, so further issuance drains reserves instead
    # (as in 2018-2019 and from late 2025).
    buffer_depleted_bn: float = 100.0

    # --- funding stress -----------------------------------------------------------------------
    # Month turns (the last and first business day of every month, which includes quarter ends)
    # are dropped from SOFR/EFFR spreads, then a 5-observation rolling median removes the
    # remaining one-day spikes (tax dates, settlement days). A turn spike is seasonality, not
    # stress; a squeeze that lasts a week still shows.
    spread_exclude_turns: bool = True
    spread_median_window: int = 5
    # Yield changes over a quarter of sessions: "market rates rise" is a trend, not a day.
    rates_window: int = 63
    # Credit relative performance over a quarter of sessions.
    credit_window: int = 63
    # Dollar change over a quarter of sessions.
    dollar_window: int = 63
    # Staleness: a daily series whose latest release is more than 10 sessions old is treated as
    # missing (DTWEXBGS ends 2025-12-26 in the snapshot); weekly H.4.1 series get 15 sessions
    # (a week plus a holiday-delayed release). Missing components drop out of the composite,
    # which re-weights over the rest, instead of holding a stale value forever.
    max_age_daily: int = 10
    max_age_weekly: int = 15

    # --- the gate: capex and issuance count for more when the buffer is depleted --------------
    # "step" by default: the thesis states a switch (idle money exists or it does not).
    gate: str = "step"
    # Gated components count (1 + gate_k) times as much when the buffer is depleted: k = 1
    # doubles them, the smallest round amplification that visibly changes the composite.
    gate_k: float = 1.0
    # Logistic gate: 1 + k / (1 + exp(-steepness * (z_buffer - center))), z_buffer = z-score of
    # rrp_scarcity. Centre 1.0: the buffer is one SD emptier than its own past; steepness 2.0
    # moves from 12% to 88% of the effect over +-1 SD around the centre.
    gate_center: float = 1.0
    gate_steepness: float = 2.0
    gated_components: tuple[str, ...] = ("capex_yoy", "capex_accel", "issuance")

    # --- regimes ------------------------------------------------------------------------------
    # The composite is a weighted mean of z-scores, so 0 is "average drain". Draining above 0.25
    # (a quarter SD above average), scarce above 0.75; the hysteresis band +-0.1 keeps a reading
    # hovering at a threshold from flickering between regimes.
    draining_above: float = 0.25
    scarce_above: float = 0.75
    hysteresis: float = 0.1

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        # components
        comps = self.components
        if isinstance(comps, str) or not isinstance(comps, (list, tuple)):
            raise DrainError(f"components: expected a list of component names, got {comps!r}")
        seen = []
        for name in comps:
            _check_component("components", name)
            if name not in seen:
                seen.append(name)
        if not seen:
            raise DrainError("components: the list is empty; name at least one component")
        set_(self, "components", tuple(c for c in COMPONENTS if c in seen))
        # weights: a mapping or pairs; merged over the defaults
        set_(self, "weights", _parse_weights(self.weights))
        # gated components
        gated = self.gated_components
        if isinstance(gated, str) or not isinstance(gated, (list, tuple)):
            raise DrainError(f"gated_components: expected a list of names, got {gated!r}")
        for name in gated:
            _check_component("gated_components", name)
        set_(self, "gated_components", tuple(c for c in COMPONENTS if c in gated))
        # choices
        for key, allowed in (("standardise", STANDARDISE), ("combine", COMBINE),
                             ("gate", GATES)):
            value = getattr(self, key)
            if value not in allowed:
                raise DrainError(
                    f"{key}: {value!r} is not one of {', '.join(allowed)}"
                    f"{_did_you_mean(str(value), allowed)}"
                )
        # integers: windows and counts
        for key in ("z_window", "z_min_periods", "issuance_window", "rrp_median_window",
                    "buffer_window", "spread_median_window", "rates_window", "credit_window",
                    "dollar_window", "max_age_daily", "max_age_weekly", "pca_min_periods",
                    "min_components"):
            set_(self, key, _positive_int(key, getattr(self, key)))
        set_(self, "capex_max_stale_quarters",
             _positive_int("capex_max_stale_quarters", self.capex_max_stale_quarters, zero=True))
        # floats
        for key in ("z_clip", "gate_steepness"):
            set_(self, key, _number(key, getattr(self, key), positive=True))
        for key in ("buffer_depleted_bn", "gate_k", "hysteresis"):
            set_(self, key, _number(key, getattr(self, key), non_negative=True))
        for key in ("gate_center", "draining_above", "scarce_above"):
            set_(self, key, _number(key, getattr(self, key)))
        if not isinstance(self.spread_exclude_turns, bool):
            raise DrainError(
                f"spread_exclude_turns: expected true or false, got {self.spread_exclude_turns!r}"
            )
        if self.scarce_above <= self.draining_above:
            raise DrainError(
                f"scarce_above: {self.scarce_above} must be above draining_above "
                f"({self.draining_above})"
            )
        if self.hysteresis * 2 >= self.scarce_above - self.draining_above:
            raise DrainError(
                f"hysteresis: {self.hysteresis} is too wide for thresholds "
                f"{self.draining_above} and {self.scarce_above} (needs 2h < their gap)"
            )
        if self.standardise == "rolling" and self.z_min_periods > self.z_window:
            raise DrainError(
                f"z_min_periods: {self.z_min_periods} exceeds z_window {self.z_window}"
            )
        if sum(self.weight(c) for c in self.components) <= 0:
            raise DrainError("weights: every selected component has weight 0")

    # --- accessors --------------------------------------------------------------------------
    def weight(self, component: str) -> float:
        """The weight of one component (0 if not listed)."""
        return dict(self.weights).get(component, 0.0)

    @property
    def weights_dict(self) -> dict[str, float]:
        """Weights as a plain dict, every component included."""
        return dict(self.weights)

    # --- loading ------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None, *, section: str = "signal"
                  ) -> SignalConfig:
        """Build from a mapping (a parsed TOML section); unknown keys raise ``DrainError``."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise DrainError(
                    f"{section}.{key}: unknown key{_did_you_mean(key, known)}; "
                    f"known keys: {', '.join(sorted(known))}"
                )
            if key == "weights" and not isinstance(value, Mapping):
                raise DrainError(
                    f"{section}.weights: expected a table of component = number, got {value!r}"
                )
            if isinstance(value, list):
                value = tuple(value)
            kwargs[key] = value
        try:
            return cls(**kwargs)
        except DrainError as exc:
            message = str(exc)
            if not message.startswith(f"{section}."):
                message = f"{section}.{message}"
            raise DrainError(message) from None

    @classmethod
    def from_toml(cls, path: str | Path, section: str = "signal") -> SignalConfig:
        """Read ``[section]`` of a TOML file (defaults for everything it does not set)."""
        data = read_toml(path)  # a missing or malformed file is a one-line DrainError
        node: Any = data
        for part in section.split("."):
            node = node.get(part, {}) if isinstance(node, Mapping) else None
            if not isinstance(node, Mapping):
                raise DrainError(f"{section}: expected a table in {str(path)!r}")
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


def _positive_int(key: str, value: Any, *, zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
        isinstance(value, float) and not value.is_integer()
    ):
        raise DrainError(f"{key}: expected a whole number, got {value!r}")
    value = int(value)
    if value < 0:
        raise DrainError(f"{key}: must not be negative, got {value}")
    if value == 0 and not zero:
        raise DrainError(f"{key}: must be at least 1, got 0")
    return value


def _number(key: str, value: Any, *, positive: bool = False, non_negative: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DrainError(f"{key}: expected a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise DrainError(f"{key}: must be finite, got {value}")
    if positive and value <= 0:
        raise DrainError(f"{key}: must be positive, got {value}")
    if non_negative and value < 0:
        raise DrainError(f"{key}: must not be negative, got {value}")
    return value


def _parse_weights(value: Any) -> tuple[tuple[str, float], ...]:
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, (list, tuple)):
        items = []
        for pair in value:
            if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
                raise DrainError(
                    f"weights: expected component = number pairs, got {pair!r}"
                )
            items.append((pair[0], pair[1]))
    else:
        raise DrainError(f"weights: expected a table of component = number, got {value!r}")
    merged = dict(DEFAULT_WEIGHTS)
    for name, weight in items:
        _check_component(f"weights.{name}", name)
        merged[name] = _number(f"weights.{name}", weight, non_negative=True)
    return tuple((c, merged[c]) for c in COMPONENTS)

