"""``ThesisConfig``: the parameters of ``drain thesis``, each with the reason for its default."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from drain_core.errors import DrainError
from drain_core.schema import (
    MAX_WINDOW,
    WINDOW_REASON,
    conform,
    field_names,
    number,
    reject_unknown,
    require_table,
    text,
    whole,
)

# --- the schema of the section ----------------------------------------------------------------
Sessions = whole(1, MAX_WINDOW, WINDOW_REASON)
Count = whole(1, 10_000)
IsoDate = text("date (YYYY-MM-DD)", pattern=r"^\d{4}-\d{2}-\d{2}$", max_length=10)
# More resamples take minutes and do not move a bootstrap p-value's second decimal.
Reps = whole(1, 100_000, "more take minutes and do not change the second decimal of a p-value")


@dataclass(frozen=True)
class ThesisConfig:
    """Windows count NYSE sessions unless said otherwise; dates are ISO strings or None."""

    # Forward-return / forward-change horizon for claims 2 and 3: about one month, long enough
    # for a funding move to show, short enough to give many (overlapping) windows.
    horizon: Sessions = 20
    # Event window of claim 1: 5 sessions before, 20 after the deal became public.
    event_pre: Sessions = 5
    event_post: Sessions = 20
    # "market" (market model vs SPY fit on sessions -130..-11) or "excess" (return - SPY).
    event_model: Literal["market", "excess"] = "market"
    event_estimation: Sessions = 120
    event_gap: Sessions = 10
    # Buffer depletion (claim 2): ON RRP known at the close, its median over this many sessions
    # (one quarter: irons out quarter-end window dressing and one-month dips such as Feb 2025)
    # below ``depletion_below_bn`` after having been above ``depletion_after_above_bn``.
    depletion_below_bn: number(ge=0, le=1e5, reason="$bn") = 100.0
    depletion_after_above_bn: number(ge=0, le=1e5, reason="$bn") = 1000.0
    depletion_median_sessions: Sessions = 63
    depletion_date: IsoDate | None = None  # set to override the data-derived date
    # Crypto structural break (claim 5): Liu & Tsyvinski / IMF (2022) date the change to 2020.
    break_date: IsoDate = "2020-01-01"
    # sup-F searches the middle 70% of the sample
    break_trim: number(gt=0, lt=0.5, reason="a share of the sample") = 0.15
    rolling_window: Sessions = 126  # half a year of sessions for rolling correlations
    # lead-lag of crypto vs the signal, -10..+10 weeks
    max_lag_weeks: whole(1, 520, "weeks; ten years at most") = 10
    # Bootstrap: stationary blocks of a month on average; 1,000 replications; fixed seed.
    bootstrap_reps: Reps = 1000
    block_sessions: Sessions = 21
    seed: whole(0, 2**32 - 1, "numpy seeds are 32-bit") = 20240601
    # Counter-evidence: hyperscaler forward returns after capex releases (one quarter),
    # top quartile of capex YoY acceleration judged against accelerations already known.
    capex_forward: Sessions = 63
    capex_min_history: whole(1, 400, "quarters") = 8
    stress_quantile: number(ge=0.5, lt=1, reason="a quantile") = 0.9  # worst funding-stress decile
    # Minimum sample sizes below which a statistic is "insufficient data".
    min_sessions: Sessions = 126
    min_weeks: Count = 52
    min_events: Count = 3

    def __post_init__(self) -> None:
        conform(self, "thesis")
        if self.depletion_below_bn >= self.depletion_after_above_bn:
            raise DrainError(f"thesis.depletion_below_bn ({self.depletion_below_bn:g}) must be "
                             f"below depletion_after_above_bn "
                             f"({self.depletion_after_above_bn:g})")
        for key in ("break_date", "depletion_date"):
            value = getattr(self, key)
            if value is not None:
                try:
                    dt.date.fromisoformat(value)
                except ValueError:
                    raise DrainError(f"thesis.{key} = {value!r} is not a date "
                                     f"(YYYY-MM-DD)") from None

    @classmethod
    def from_dict(cls, values: Any, section: str = "thesis") -> ThesisConfig:
        """Build from a TOML table (TOML dates become ISO strings); unknown keys are errors."""
        values = require_table(section, values)
        reject_unknown(section, values, field_names(cls))
        values = {k: (v.isoformat() if k.endswith("_date") and isinstance(v, dt.date) else v)
                  for k, v in values.items()}
        return cls(**values)

    @classmethod
    def from_toml(cls, path: str | Path, section: str = "thesis") -> ThesisConfig:
        """Read the optional ``[thesis]`` section of a TOML file (defaults when absent)."""
        from drain_core.config import read_config

        return cls.from_dict(read_config(path).section(section), section)

    def replace(self, **changes: Any) -> ThesisConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the JSON report."""
        return dataclasses.asdict(self)
