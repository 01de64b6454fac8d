"""Several configurations on the same data and window, one table of their statistics.

    table = compare_configs({"weekly": RunConfig(), "monthly": monthly}, start="2018-01-02")
    table.attrs["caption"]   # the window and the cash rate subtracted

Each configuration runs through ``run_pipeline`` (signal, weights, vectorbt, benchmarks); the
benchmarks (SPY, 60/40) appear once when every run traded them alike. Sharpe and Sortino are on
daily returns in excess of the cash rate the engine credited (``accrual.daily_rates`` of the
configuration's cash-rate ticker); total return, CAGR, volatility and drawdown are of the
returns themselves (``backtests.stats.performance``).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping

import numpy as np
import pandas as pd

from backtests.run.config import RunConfig
from backtests.run.pipeline import PipelineResult, run_pipeline
from backtests.sim.accrual import daily_rates
from backtests.sim.fastsim import series_metrics
from backtests.stats import performance
from drain_core.errors import DrainError
from drain_data import Dataset, load_dataset

STATISTICS = ("total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown",
              "turnover", "gross_exposure")


def portfolio_statistics(returns: pd.Series, cash_returns: pd.Series,
                         turnover: pd.Series | None = None,
                         weights: pd.DataFrame | None = None) -> dict[str, float]:
    """``STATISTICS`` of one portfolio's daily returns: the sweep's metrics (``series_metrics``,
    Sharpe on the returns in excess of ``cash_returns``), the Sortino ratio on the same excess
    returns, and the mean gross exposure when ``weights`` are given."""
    returns = returns.fillna(0.0)
    stats = series_metrics(returns, turnover, cash_returns)
    stats["sortino"] = float(performance.sortino(performance.excess(returns, cash_returns)))
    stats["gross_exposure"] = (float(weights.abs().sum(axis=1).mean())
                               if weights is not None else np.nan)
    return {name: stats[name] for name in STATISTICS}


def _cash_returns(run: PipelineResult, dataset: Dataset) -> pd.Series:
    """The cash return the engine credited on each session of ``run``."""
    ticker = run.config.backtest.cash_rate_ticker
    return daily_rates(dataset.prices[ticker], run.result.returns.index)


def compare_configs(
    configs: Mapping[str, RunConfig],
    dataset: Dataset | None = None,
    *,
    start: str | None = None,
    end: str | None = None,
) -> pd.DataFrame:
    """Run each named configuration over the same window and tabulate them side by side.

    Returns a frame with one row per statistic (``STATISTICS``) and one column per
    configuration, then per benchmark; ``attrs`` holds ``start``, ``end``, ``cash_rate`` (the
    ticker whose rate was subtracted) and ``caption`` (a sentence saying so).
    """
    if not configs:
        raise DrainError("compare_configs needs at least one named configuration")
    if dataset is None:
        needs = functools.reduce(operator.or_, (config.needs() for config in configs.values()))
        dataset = load_dataset(end=end, needs=needs)
    columns: dict[str, dict[str, float]] = {}
    benchmarks: dict[str, pd.Series] = {}
    benchmark_columns: dict[str, dict[str, float]] = {}
    cash_tickers: set[str] = set()
    index = None
    for name, config in configs.items():
        run = run_pipeline(config, dataset, start=start, end=end)
        cash = _cash_returns(run, dataset)
        cash_tickers.add(config.backtest.cash_rate_ticker)
        index = run.result.returns.index
        columns[name] = portfolio_statistics(run.result.returns, cash, run.result.turnover,
                                             run.result.weights)
        for bench in run.benchmarks.columns:
            series = run.benchmarks[bench]
            label = bench if bench not in configs else f"{bench} (benchmark)"
            if label in benchmarks and not benchmarks[label].equals(series):
                label = f"{bench} ({name})"  # traded with this run's own costs or window
            if label not in benchmarks:
                benchmarks[label] = series
                benchmark_columns[label] = portfolio_statistics(series, cash)
    table = pd.DataFrame({**columns, **benchmark_columns}).reindex(list(STATISTICS))
    first, last = index[0].date().isoformat(), index[-1].date().isoformat()
    rate = ", ".join(sorted(cash_tickers))
    table.attrs.update({
        "start": first,
        "end": last,
        "cash_rate": rate,
        "caption": (f"{first} to {last}, {len(index)} sessions. Sharpe and Sortino on daily "
                    f"returns in excess of the cash rate the engine credited ({rate}: the rate "
                    f"known at the previous close, accrued ACT/360); total return, CAGR, "
                    f"volatility and drawdown on total returns."),
    })
    return table
