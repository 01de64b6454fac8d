"""``ThesisConfig``: the parameters of ``drain thesis``, each with the reason for its default."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from drain_core.errors import DrainError
from drain_core.tomlfile import read_toml, reject_unknown_keys


@dataclass(frozen=True)
class ThesisConfig:
    """Windows count NYSE sessions unless said otherwise; dates are ISO strings or None."""

    # Forward-return / forward-change horizon for claims 2 and 3: about one month, long enough
    # for a funding move to show, short enough to give many (overlapping) windows.
    horizon: int = 20
    # Event window of claim 1: 5 sessions before, 20 after the deal became public.
    event_pre: int = 5
    event_post: int = 20
    # "market" (market model vs SPY fit on sessions -130..-11) or "excess" (return - SPY).
    event_model: str = "market"
    event_estimation: int = 120
    event_gap: int = 10
    # Buffer depletion (claim 2): ON RRP known at the close, its median over this many sessions
    # (one quarter: irons out quarter-end window dressing and one-month dips such as Feb 2025)
    # below ``depletion_below_bn`` after having been above ``depletion_after_above_bn``.
    depletion_below_bn: float = 100.0
    depletion_after_above_bn: float = 1000.0
    depletion_median_sessions: int = 63
    depletion_date: str | None = None  # set to override the data-derived date
    # Crypto structural break (claim 5): Liu & Tsyvinski / IMF (2022) date the change to 2020.
    break_date: str = "2020-01-01"
    break_trim: float = 0.15  # sup-F searches the middle 70% of the sample
    rolling_window: int = 126  # half a year of sessions for rolling correlations
    max_lag_weeks: int = 10  # lead-lag of crypto vs the signal, -10..+10 weeks
    # Bootstrap: stationary blocks of a month on average; 1,000 replications; fixed seed.
    bootstrap_reps: int = 1000
    block_sessions: int = 21
    seed: int = 20240601
    # Counter-evidence: hyperscaler forward returns after capex releases (one quarter),
    # top quartile of capex YoY acceleration judged against accelerations already known.
    capex_forward: int = 63
    capex_min_history: int = 8
    stress_quantile: float = 0.9  # worst funding-stress decile
    # Minimum sample sizes below which a statistic is "insufficient data".
    min_sessions: int = 126
    min_weeks: int = 52
    min_events: int = 3

    def __post_init__(self) -> None:
        for key in ("horizon", "event_pre", "event_post", "event_estimation", "event_gap",
                    "depletion_median_sessions", "rolling_window", "max_lag_weeks",
                    "bootstrap_reps", "block_sessions", "capex_forward", "capex_min_history",
                    "min_sessions", "min_weeks", "min_events"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise DrainError(f"thesis.{key} must be a whole number >= 1, got {value!r}")
        if self.event_model not in ("market", "excess"):
            raise DrainError(f"thesis.event_model = {self.event_model!r} is not one of "
                             f"market, excess")
        if not 0.0 < self.break_trim < 0.5:
            raise DrainError(f"thesis.break_trim must be in (0, 0.5), got {self.break_trim!r}")
        if not 0.5 <= self.stress_quantile < 1.0:
            raise DrainError(f"thesis.stress_quantile must be in [0.5, 1), got "
                             f"{self.stress_quantile!r}")
        for key in ("break_date", "depletion_date"):
            value = getattr(self, key)
            if value is not None:
                try:
                    pd.Timestamp(value)
                except (TypeError, ValueError):
                    raise DrainError(f"thesis.{key} = {value!r} is not a date "
                                     f"(YYYY-MM-DD)") from None

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ThesisConfig:
        """Build from a TOML-like dict; an unknown key is a one-line error naming it."""
        reject_unknown_keys("thesis", values, cls)
        values = {k: (str(v) if k.endswith("_date") and v is not None else v)
                  for k, v in values.items()}
        return cls(**values)

    @classmethod
    def from_toml(cls, path: str | Path, section: str = "thesis") -> ThesisConfig:
        """Read the optional ``[thesis]`` section of a TOML file (defaults when absent)."""
        return cls.from_dict(read_toml(path).get(section, {}))

    def replace(self, **changes: Any) -> ThesisConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the JSON report."""
        return dataclasses.asdict(self)
