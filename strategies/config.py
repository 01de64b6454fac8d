"""Typed strategy configuration, loadable from the ``[strategy]`` section of a TOML file."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drain_core.conventions import REGIMES
from drain_core.errors import DrainError
from drain_core.tomlfile import read_toml, reject_unknown_keys

VARIANTS = ("regime_long_short", "signal_long_short", "long_only_tilt", "beta_hedged")
WEIGHTINGS = ("equal", "inverse_vol")
REBALANCES = ("daily", "weekly", "monthly", "regime")
WHEN_ABUNDANT = ("flat", "reverse")

DEFAULT_BASKETS: dict[str, tuple[str, ...]] = {
    # Long-duration, speculative: lose most when idle money runs out.
    "speculative": ("BTC-USD", "ETH-USD", "ARKK", "IGV", "GME", "AMC", "COIN", "MSTR", "PLTR",
                    "TSLA", "HOOD", "IPO"),
    # Strong near-term cash flows: hold up or win.
    "cash_flow": ("MU", "SNDK", "NVDA", "AVGO", "TSM", "SMH", "QUAL", "VLUE", "XLE", "BRK-B"),
}


@dataclass(frozen=True)
class StrategyConfig:
    """How signal and baskets become target weights.

    Defaults: a 50/50 dollar-neutral book (gross 100%) so one leg's crypto volatility does not
    dominate; weekly rebalancing (daily turnover costs more than the slow macro signal earns);
    inverse-volatility weights over 63 sessions (a quarter) so BTC and GME do not swamp a basket.
    """

    variant: str = "regime_long_short"
    long_basket: str = "cash_flow"
    short_basket: str = "speculative"
    weighting: str = "inverse_vol"
    vol_lookback: int = 63
    leg_size: float = 0.5
    rebalance: str = "weekly"
    when_abundant: str = "flat"
    signal_scale: float = 1.0  # signal_long_short: exposure = composite / scale, capped
    signal_cap: float = 1.0
    vol_target: float | None = None  # annualised book volatility target, e.g. 0.10
    vol_target_lookback: int = 63
    max_leverage: float = 1.5
    # No margin loans: longs may use equity and short proceeds, less this share of equity kept
    # in cash so that fees and slippage are always paid from cash.
    cash_buffer: float = 0.01
    beta_lookback: int = 126
    hedge_asset: str = "SPY"
    # long_only_tilt: share of equity per regime in (cash-flow basket, speculative basket, SPY);
    # the remainder sits in T-bills (cash earning the bill rate).
    tilt: dict[str, tuple[float, float, float]] = field(
        default_factory=lambda: {
            "abundant": (0.0, 0.3, 0.7),
            "draining": (0.5, 0.0, 0.5),
            "scarce": (0.6, 0.0, 0.0),
        }
    )
    baskets: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_BASKETS))

    def __post_init__(self) -> None:
        _check_choice("strategy.variant", self.variant, VARIANTS)
        _check_choice("strategy.weighting", self.weighting, WEIGHTINGS)
        _check_choice("strategy.rebalance", self.rebalance, REBALANCES)
        _check_choice("strategy.when_abundant", self.when_abundant, WHEN_ABUNDANT)
        for key in ("vol_lookback", "vol_target_lookback", "beta_lookback"):
            if int(getattr(self, key)) < 2:
                raise DrainError(f"strategy.{key} must be a whole number >= 2, got "
                                 f"{getattr(self, key)!r}")
        for key in ("leg_size", "signal_scale", "signal_cap", "max_leverage"):
            value = getattr(self, key)
            if not isinstance(value, int | float) or value <= 0:
                raise DrainError(f"strategy.{key} must be a positive number, got {value!r}")
        if not 0 <= self.cash_buffer < 1:
            raise DrainError(f"strategy.cash_buffer must be in [0, 1), got {self.cash_buffer!r}")
        if self.vol_target is not None and self.vol_target <= 0:
            raise DrainError(f"strategy.vol_target must be positive or absent, got "
                             f"{self.vol_target!r}")
        for basket in (self.long_basket, self.short_basket):
            if basket not in self.baskets:
                raise DrainError(f"strategy basket {basket!r} is not defined; define it under "
                                 f"[strategy.baskets] (defined: {', '.join(self.baskets)})")
        for regime, shares in self.tilt.items():
            if regime not in REGIMES or len(shares) != 3:
                raise DrainError(f"strategy.tilt.{regime} must name a regime and give three "
                                 f"shares (cash_flow, speculative, SPY)")
            if sum(shares) > 1 + 1e-12 or min(shares) < 0:
                raise DrainError(f"strategy.tilt.{regime} shares must be >= 0 and sum to <= 1")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> StrategyConfig:
        """Build from a TOML-like dict; unknown keys are an error naming the key."""
        reject_unknown_keys("strategy", values, cls)
        values = dict(values)
        if "baskets" in values:
            merged = dict(DEFAULT_BASKETS)
            merged.update({k: tuple(v) for k, v in values["baskets"].items()})
            values["baskets"] = merged
        if "tilt" in values:
            tilt = cls().tilt | {k: tuple(v) for k, v in values["tilt"].items()}
            values["tilt"] = tilt
        try:
            return cls(**values)
        except TypeError as exc:
            raise DrainError(f"bad [strategy] section: {exc}") from None

    @classmethod
    def from_toml(cls, path: str | Path, section: str = "strategy") -> StrategyConfig:
        """Load the ``[strategy]`` section of a TOML file (defaults when absent)."""
        return cls.from_dict(read_toml(path).get(section, {}))

    def to_dict(self) -> dict[str, Any]:
        """A TOML-friendly dict that ``from_dict`` reads back to an equal config."""
        values = dataclasses.asdict(self)
        values["baskets"] = {k: list(v) for k, v in self.baskets.items()}
        values["tilt"] = {k: list(v) for k, v in self.tilt.items()}
        return values

    def replace(self, **changes: Any) -> StrategyConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _check_choice(key: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise DrainError(f"{key} = {value!r} is not one of {', '.join(choices)}")

