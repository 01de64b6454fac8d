"""Typed backtest configuration (``[backtest]`` TOML section): lag, costs, cash and capital.

The field annotations are the schema (``drain_core.schema``): type and range of every key,
checked on every construction.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from drain_core.conventions import PERIODS_PER_YEAR
from drain_core.errors import DrainError
from drain_core.frozen import FrozenDict
from drain_core.schema import (
    Meta,
    Ticker,
    conform,
    field_names,
    number,
    reject_unknown,
    require_table,
    whole,
)

ETFS = frozenset({
    "ARKK", "IGV", "IPO", "SMH", "SOXX", "QUAL", "VLUE", "XLE", "XLU", "SPY", "QQQ", "IWM",
    "IEF", "TLT", "SHY", "BIL", "HYG", "LQD", "GLD", "UUP",
})
# Names whose borrow has been expensive or recalled at times (meme stocks, crypto proxies).
HARD_TO_BORROW = frozenset({"GME", "AMC", "MSTR", "COIN", "HOOD", "PLTR"})
AssetClassName = Literal["etf", "equity", "hard_to_borrow", "crypto"]
ASSET_CLASSES: tuple[str, ...] = typing.get_args(AssetClassName)

# --- the schema of the section ----------------------------------------------------------------
AssetClass = Annotated[AssetClassName, Meta(extra={"noun": "asset class"})]
Bps = number(ge=0, le=10_000, reason="basis points; 10,000 is the whole traded value")
BorrowRate = number(ge=0, le=10, reason="an annual rate; 10 is 1,000% a year")
Lag = whole(1, PERIODS_PER_YEAR, "trades act on a bar after the signal, at most a year later")
Cash = number(gt=0, le=1e13, reason="above 1e13 float64 loses cents")


def asset_class(ticker: str) -> str:
    """etf, equity, hard_to_borrow or crypto: the key for fees, slippage and borrow rates."""
    if ticker.endswith("-USD"):
        return "crypto"
    if ticker in ETFS:
        return "etf"
    if ticker in HARD_TO_BORROW:
        return "hard_to_borrow"
    return "equity"


@dataclass(frozen=True)
class CostConfig:
    """Per-asset-class costs. Fees and slippage in basis points of traded value; borrow as an
    annual rate on short notional (ACT/360, accrued daily).

    Defaults are deliberately not cheap: 1 bp commission and 5 bp slippage on single stocks,
    10 + 10 bp on crypto, 0.5% a year to borrow liquid names and 5% for meme stocks and crypto.
    """

    fee_bps: dict[AssetClass, Bps] = FrozenDict(
        etf=0.5, equity=1.0, hard_to_borrow=1.0, crypto=10.0)
    slippage_bps: dict[AssetClass, Bps] = FrozenDict(
        etf=2.0, equity=5.0, hard_to_borrow=10.0, crypto=10.0)
    borrow_rate: dict[AssetClass, BorrowRate] = FrozenDict(
        etf=0.005, equity=0.005, hard_to_borrow=0.05, crypto=0.05)
    borrow_overrides: dict[Ticker, BorrowRate] = FrozenDict()

    def __post_init__(self) -> None:
        conform(self, "backtest.costs")
        for name in ("fee_bps", "slippage_bps", "borrow_rate"):
            missing = [c for c in ASSET_CLASSES if c not in getattr(self, name)]
            if missing:
                raise DrainError(f"backtest.costs.{name} lacks {missing[0]}")

    @classmethod
    def from_dict(cls, values: Any, section: str = "backtest.costs") -> CostConfig:
        """Build from a TOML table; each given table is merged over the default rates."""
        values = require_table(section, values)
        reject_unknown(section, values, field_names(cls))
        base = cls()
        merged = {name: {**getattr(base, name),
                         **require_table(f"{section}.{name}", values[name])}
                  for name in values}
        return cls(**merged)

    def fee(self, ticker: str) -> float:
        """Fee as a fraction of traded value."""
        return self.fee_bps[asset_class(ticker)] / 1e4

    def slippage(self, ticker: str) -> float:
        """Slippage as a fraction of price (paid on buys and sells)."""
        return self.slippage_bps[asset_class(ticker)] / 1e4

    def borrow(self, ticker: str) -> float:
        """Annual borrow rate for a short in ``ticker``."""
        return self.borrow_overrides.get(ticker, self.borrow_rate[asset_class(ticker)])


@dataclass(frozen=True)
class BacktestConfig:
    """How target weights become a portfolio.

    ``lag`` sessions separate the close at which weights are decided from the close at which
    they trade (>= 1: vectorbt fills at the bar's own close). Cash, including short proceeds,
    earns the 13-week T-bill yield (``cash_rate_ticker``, known at each close).
    """

    lag: Lag = 1
    init_cash: Cash = 1_000_000.0
    cash_rate_ticker: Ticker = "IRX"
    costs: CostConfig = field(default_factory=CostConfig)

    def __post_init__(self) -> None:
        conform(self, "backtest")

    @classmethod
    def from_dict(cls, values: Any, section: str = "backtest") -> BacktestConfig:
        """Build from a TOML table; unknown keys are an error naming the key."""
        values = dict(require_table(section, values))
        reject_unknown(section, values, field_names(cls))
        if "costs" in values:
            values["costs"] = CostConfig.from_dict(values["costs"], f"{section}.costs")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """A TOML-friendly dict that ``from_dict`` reads back to an equal config."""
        return _plain(dataclasses.asdict(self))

    def replace(self, **changes: Any) -> BacktestConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_toml(cls, path: str | Path, section: str = "backtest") -> BacktestConfig:
        """Load the ``[backtest]`` section of a TOML file (defaults when absent)."""
        from drain_core.config import read_config

        return cls.from_dict(read_config(path).section(section), section)


def _plain(value: Any) -> Any:
    """Plain dicts and lists (TOML and JSON friendly) from frozen tables and tuples."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
