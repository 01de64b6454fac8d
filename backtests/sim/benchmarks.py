"""Benchmark portfolios, traded through the same engine and costs as the strategy.

One small interface, several implementations (as Lean's portfolio-construction models): a
``Benchmark`` has a ``name`` and turns the sessions of a window into target-weight orders
(NaN = no order); ``run_backtest`` does the rest, with the run's lag, costs and cash rate.

- ``MonthlyMix``: fixed weights sent on the first session and rebalanced at every month end
  (the ``SPY`` and ``60/40`` SPY/IEF benchmarks every report shows, ``BENCHMARKS``).
- ``BuyAndHold``: one ticker bought on the first session and never traded again
  (``buy_and_hold``, what the tuning report sets beside the chosen strategy).

A new benchmark is a class with those two members, passed to ``benchmark_returns``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from backtests.sim.config import BacktestConfig
from backtests.sim.engine import run_backtest
from strategies.schedule import last_session_of_period


class Benchmark(Protocol):
    """A portfolio to trade beside the strategy: a name and its orders on a set of sessions."""

    name: str

    def orders(self, index: pd.DatetimeIndex) -> pd.DataFrame:
        """Target weights decided at each session of ``index`` (NaN = no order)."""
        ...


@dataclass(frozen=True)
class MonthlyMix:
    """Fixed target weights, sent on the first session and every month end."""

    name: str
    mix: Mapping[str, float] = field(default_factory=dict)

    def orders(self, index: pd.DatetimeIndex) -> pd.DataFrame:
        send = last_session_of_period(index, "M").to_numpy().copy()
        send[0] = True
        orders = pd.DataFrame(dict(self.mix), index=index, dtype=float)
        return orders.where(pd.Series(send, index=index), axis=0)


@dataclass(frozen=True)
class BuyAndHold:
    """One ticker, all of the equity, bought on the first session and held."""

    ticker: str = "SPY"

    @property
    def name(self) -> str:
        return self.ticker

    def orders(self, index: pd.DatetimeIndex) -> pd.DataFrame:
        orders = pd.DataFrame({self.ticker: np.nan}, index=index)
        orders.iloc[0] = 1.0
        return orders


BENCHMARKS: tuple[Benchmark, ...] = (
    MonthlyMix("SPY", {"SPY": 1.0}),
    MonthlyMix("60/40", {"SPY": 0.6, "IEF": 0.4}),
)


def benchmark_returns(
    prices: pd.DataFrame,
    cash_yield: pd.Series,
    config: BacktestConfig,
    benchmarks: Iterable[Benchmark] = BENCHMARKS,
) -> pd.DataFrame:
    """Daily returns of each benchmark over the sessions of ``prices``, one column per name."""
    return pd.DataFrame({
        benchmark.name: run_backtest(benchmark.orders(prices.index), prices, cash_yield,
                                     config).returns
        for benchmark in benchmarks
    })


def buy_and_hold(prices: pd.DataFrame, cash_yield: pd.Series, config: BacktestConfig,
                 ticker: str = "SPY") -> pd.Series:
    """Daily returns of ``ticker`` bought on the first session and held, through the same
    engine and costs (so the lag, fees and slippage of ``config`` apply), named ``ticker``."""
    benchmark = BuyAndHold(ticker)
    return benchmark_returns(prices, cash_yield, config, (benchmark,))[benchmark.name]
