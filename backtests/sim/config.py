"""Typed backtest configuration (``[backtest]`` TOML section): lag, costs, cash and capital."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drain_core.errors import DrainError
from drain_core.tomlfile import read_toml, reject_unknown_keys

ETFS = frozenset({
    "ARKK", "IGV", "IPO", "SMH", "SOXX", "QUAL", "VLUE", "XLE", "XLU", "SPY", "QQQ", "IWM",
    "IEF", "TLT", "SHY", "BIL", "HYG", "LQD", "GLD", "UUP",
})
# Names whose borrow has been expensive or recalled at times (meme stocks, crypto proxies).
HARD_TO_BORROW = frozenset({"GME", "AMC", "MSTR", "COIN", "HOOD", "PLTR"})
ASSET_CLASSES = ("etf", "equity", "hard_to_borrow", "crypto")


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

    fee_bps: dict[str, float] = field(default_factory=lambda: {
        "etf": 0.5, "equity": 1.0, "hard_to_borrow": 1.0, "crypto": 10.0})
    slippage_bps: dict[str, float] = field(default_factory=lambda: {
        "etf": 2.0, "equity": 5.0, "hard_to_borrow": 10.0, "crypto": 10.0})
    borrow_rate: dict[str, float] = field(default_factory=lambda: {
        "etf": 0.005, "equity": 0.005, "hard_to_borrow": 0.05, "crypto": 0.05})
    borrow_overrides: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("fee_bps", "slippage_bps", "borrow_rate"):
            table = getattr(self, name)
            missing = sorted(set(ASSET_CLASSES) - set(table))
            unknown = sorted(set(table) - set(ASSET_CLASSES))
            if unknown:
                raise DrainError(f"backtest.costs.{name}.{unknown[0]}: unknown asset class; "
                                 f"use {', '.join(ASSET_CLASSES)}")
            if missing:
                raise DrainError(f"backtest.costs.{name} lacks {missing[0]}")
            for key, value in table.items():
                if not isinstance(value, int | float) or value < 0:
                    raise DrainError(f"backtest.costs.{name}.{key} must be a number >= 0")

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

    lag: int = 1
    init_cash: float = 1_000_000.0
    cash_rate_ticker: str = "IRX"
    costs: CostConfig = field(default_factory=CostConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.lag, int) or self.lag < 1:
            raise DrainError(f"backtest.lag must be a whole number >= 1 (trades act on a bar after "
                             f"the signal), got {self.lag!r}")
        if not self.init_cash > 0:
            raise DrainError(f"backtest.init_cash must be positive, got {self.init_cash!r}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> BacktestConfig:
        """Build from a TOML-like dict; unknown keys are an error naming the key."""
        values = dict(values)
        costs = values.pop("costs", {})
        reject_unknown_keys("backtest", values, cls)
        reject_unknown_keys("backtest.costs", costs, CostConfig)
        base = CostConfig()
        merged = {
            f.name: ({**getattr(base, f.name), **costs[f.name]} if f.name in costs else
                     getattr(base, f.name))
            for f in dataclasses.fields(CostConfig)
        }
        return cls(**values, costs=CostConfig(**merged))

    def to_dict(self) -> dict[str, Any]:
        """A TOML-friendly dict that ``from_dict`` reads back to an equal config."""
        return dataclasses.asdict(self)

    @classmethod
    def from_toml(cls, path: str | Path, section: str = "backtest") -> BacktestConfig:
        """Load the ``[backtest]`` section of a TOML file (defaults when absent)."""
        return cls.from_dict(read_toml(path).get(section, {}))

