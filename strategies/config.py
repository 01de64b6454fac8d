"""Typed strategy configuration, loadable from the ``[strategy]`` section of a TOML file.

The field annotations are the schema (``drain_core.schema``): type and range of every key,
checked on every construction; ``__post_init__`` adds the rules that join several keys.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from drain_core.conventions import REGIMES
from drain_core.errors import DrainError
from drain_core.frozen import FrozenDict
from drain_core.schema import (
    MAX_WINDOW,
    WINDOW_REASON,
    Meta,
    Ticker,
    conform,
    did_you_mean,
    field_names,
    number,
    reject_unknown,
    require_table,
    text,
    whole,
)

Variant = Literal["regime_long_short", "signal_long_short", "long_only_tilt", "beta_hedged"]
Weighting = Literal["equal", "inverse_vol"]
Rebalance = Literal["daily", "weekly", "monthly", "regime"]
WhenAbundant = Literal["flat", "reverse"]
VARIANTS: tuple[str, ...] = Variant.__args__
WEIGHTINGS: tuple[str, ...] = Weighting.__args__
REBALANCES: tuple[str, ...] = Rebalance.__args__
WHEN_ABUNDANT: tuple[str, ...] = WhenAbundant.__args__

# --- the schema of the section ----------------------------------------------------------------
Lookback = whole(2, MAX_WINDOW, WINDOW_REASON)
Exposure = number(gt=0, le=10, reason="times equity; 10 is a 1,000% book")
Positive = number(gt=0, le=1e6)
BasketName = text("basket name", pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$", max_length=64)
Basket = Annotated[tuple[Ticker, ...], Meta(min_length=1)]
Regime = Annotated[Literal[REGIMES], Meta(extra={"noun": "regime"})]
Share = number(ge=0, le=1, reason="a share of equity")
TiltShares = tuple[Share, Share, Share]

DEFAULT_BASKETS: FrozenDict = FrozenDict({
    # Long-duration, speculative: lose most when idle money runs out.
    "speculative": ("BTC-USD", "ETH-USD", "ARKK", "IGV", "GME", "AMC", "COIN", "MSTR", "PLTR",
                    "TSLA", "HOOD", "IPO"),
    # Strong near-term cash flows: hold up or win.
    "cash_flow": ("MU", "SNDK", "NVDA", "AVGO", "TSM", "SMH", "QUAL", "VLUE", "XLE", "BRK-B"),
})
# long_only_tilt: share of equity per regime in (cash-flow basket, speculative basket, SPY).
# In the order of REGIMES: abundant, draining, scarce.
DEFAULT_TILT: FrozenDict = FrozenDict(zip(REGIMES, (
    (0.0, 0.3, 0.7),
    (0.5, 0.0, 0.5),
    (0.6, 0.0, 0.0),
), strict=True))


@dataclass(frozen=True)
class StrategyConfig:
    """How signal and baskets become target weights.

    Defaults: a 50/50 dollar-neutral book (gross 100%) so one leg's crypto volatility does not
    dominate; weekly rebalancing (daily turnover costs more than the slow macro signal earns);
    inverse-volatility weights over 63 sessions (a quarter) so BTC and GME do not swamp a basket.
    ``baskets`` and ``tilt`` are read-only tables (``FrozenDict``): the config is hashable.
    """

    variant: Variant = "regime_long_short"
    long_basket: BasketName = "cash_flow"
    short_basket: BasketName = "speculative"
    weighting: Weighting = "inverse_vol"
    vol_lookback: Lookback = 63
    leg_size: Exposure = 0.5
    rebalance: Rebalance = "weekly"
    when_abundant: WhenAbundant = "flat"
    signal_scale: Positive = 1.0  # signal_long_short: exposure = composite / scale, capped
    signal_cap: Exposure = 1.0
    vol_target: number(gt=0, le=10, reason="annualised; 10 is 1,000% a year") | None = None
    vol_target_lookback: Lookback = 63
    max_leverage: Exposure = 1.5
    # No margin loans: longs may use equity and short proceeds, less this share of equity kept
    # in cash so that fees and slippage are always paid from cash.
    cash_buffer: number(ge=0, lt=1, reason="a share of equity") = 0.01
    beta_lookback: Lookback = 126
    hedge_asset: Ticker = "SPY"
    # long_only_tilt: share of equity per regime in (cash-flow basket, speculative basket, SPY);
    # the remainder sits in T-bills (cash earning the bill rate).
    tilt: dict[Regime, TiltShares] = DEFAULT_TILT
    baskets: dict[BasketName, Basket] = DEFAULT_BASKETS

    def __post_init__(self) -> None:
        conform(self, "strategy")
        for basket in (self.long_basket, self.short_basket):
            if basket not in self.baskets:
                raise DrainError(f"strategy basket {basket!r} is not defined; define it under "
                                 f"[strategy.baskets] (defined: {', '.join(self.baskets)})")
        if self.long_basket == self.short_basket:
            raise DrainError(f"strategy.short_basket = {self.short_basket!r} is also the long "
                             f"basket; the two legs need two different baskets")
        for name in (self.long_basket, self.short_basket):
            members = self.baskets[name]
            twice = sorted({t for t in members if members.count(t) > 1})
            if twice:
                raise DrainError(f"strategy.baskets.{name} lists {twice[0]} twice")
        both = sorted(set(self.baskets[self.long_basket]) & set(self.baskets[self.short_basket]))
        if both:
            raise DrainError(f"strategy.baskets: {both[0]} is in both the long basket "
                             f"{self.long_basket!r} and the short basket {self.short_basket!r}; "
                             f"a ticker cannot be held long and short at once")
        for regime, shares in self.tilt.items():
            if sum(shares) > 1 + 1e-12:
                raise DrainError(f"strategy.tilt.{regime} shares must be >= 0 and sum to <= 1 "
                                 f"(cash_flow, speculative, SPY), got {list(shares)}")

    @classmethod
    def from_dict(cls, values: Any, section: str = "strategy") -> StrategyConfig:
        """Build from a TOML table. Unknown keys are errors, and so is a basket the strategy
        does not trade (a mistyped name would leave the default basket traded); the given
        baskets and tilt entries are merged over the defaults."""
        values = dict(require_table(section, values))
        reject_unknown(section, values, field_names(cls))
        if "baskets" in values:
            given = require_table(f"{section}.baskets", values["baskets"])
            legs = (values.get("long_basket", cls.long_basket),
                    values.get("short_basket", cls.short_basket))
            for name in given:
                if name not in legs:
                    raise DrainError(
                        f"{section}.baskets.{name}: basket {name!r} is not traded by this "
                        f"strategy{did_you_mean(name, [str(x) for x in legs])}; it trades "
                        f"{legs[0]!r} (long_basket) and {legs[1]!r} (short_basket)")
            values["baskets"] = {**DEFAULT_BASKETS, **given}
        if "tilt" in values:
            values["tilt"] = {**DEFAULT_TILT, **require_table(f"{section}.tilt", values["tilt"])}
        return cls(**values)

    @classmethod
    def from_toml(cls, path: str | Path, section: str = "strategy") -> StrategyConfig:
        """Load the ``[strategy]`` section of a TOML file (defaults when absent)."""
        from drain_core.config import read_config

        return cls.from_dict(read_config(path).section(section), section)

    def to_dict(self) -> dict[str, Any]:
        """A TOML-friendly dict that ``from_dict`` reads back to an equal config (the baskets
        of the two legs only; ``vol_target`` left out when off: TOML has no null)."""
        values = {name: getattr(self, name) for name in field_names(type(self))}
        values["baskets"] = {name: list(self.baskets[name])
                             for name in (self.long_basket, self.short_basket)}
        values["tilt"] = {k: list(v) for k, v in self.tilt.items()}
        if values["vol_target"] is None:
            values.pop("vol_target")
        return values

    def replace(self, **changes: Any) -> StrategyConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)
