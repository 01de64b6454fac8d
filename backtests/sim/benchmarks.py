"""Benchmarks run through the same engine and costs: SPY buy-and-hold and 60/40 SPY/IEF."""

from __future__ import annotations

import pandas as pd

from backtests.sim.config import BacktestConfig
from backtests.sim.engine import run_backtest
from strategies.schedule import last_session_of_period

BENCHMARKS = {
    "SPY": {"SPY": 1.0},
    "60/40": {"SPY": 0.6, "IEF": 0.4},
}


def benchmark_orders(index: pd.DatetimeIndex, mix: dict[str, float]) -> pd.DataFrame:
    """Target weights sent on the first session and every month end (rebalancing the mix)."""
    send = last_session_of_period(index, "M").to_numpy().copy()
    send[0] = True
    orders = pd.DataFrame(mix, index=index, dtype=float)
    return orders.where(pd.Series(send, index=index), axis=0)


def benchmark_returns(
    prices: pd.DataFrame, cash_yield: pd.Series, config: BacktestConfig
) -> pd.DataFrame:
    """Daily returns of each benchmark over the sessions of ``prices``."""
    out = {}
    for name, mix in BENCHMARKS.items():
        orders = benchmark_orders(prices.index, mix)
        out[name] = run_backtest(orders, prices, cash_yield, config).returns
    return pd.DataFrame(out)
