"""The whole backtest as a composition of small steps: data -> signal -> weights -> portfolio.

``prepare_run`` (``backtests.run.prepare``) computes the signal and target weights; ``simulate``
trades them through vectorbt with the benchmarks beside; ``run_pipeline`` is the two in a row,
what ``drain backtest`` runs and what a notebook calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from backtests.run.config import KNOWN_SECTIONS, RunConfig
from backtests.run.prepare import PreparedRun, prepare_run
from backtests.sim.accrual import daily_rates
from backtests.sim.benchmarks import benchmark_returns
from backtests.sim.engine import BacktestResult, run_backtest
from drain_core.configs import default_config_path
from drain_data import Dataset
from signals import SignalResult
from strategies import Targets

__all__ = ["KNOWN_SECTIONS", "PipelineResult", "PreparedRun", "RunConfig", "default_config_path",
           "prepare_run", "run_pipeline", "simulate"]


@dataclass(frozen=True)
class PipelineResult:
    """Everything one backtest run produced, ready for reports."""

    config: RunConfig
    signal: SignalResult
    targets: Targets
    result: BacktestResult
    benchmarks: pd.DataFrame  # daily returns of SPY and 60/40, same window and costs
    asset_returns: pd.DataFrame  # daily real returns of the strategy's tickers (NaN unpriced)
    data_fingerprint: str
    cash_returns: pd.Series | None = None  # the cash return the engine credited each session
    prices: pd.DataFrame | None = None  # real closes of the strategy's tickers (NaN unpriced)


def simulate(prepared: PreparedRun) -> PipelineResult:
    """Trade the prepared target weights, and the benchmarks, through vectorbt."""
    config, window, targets = prepared.config, prepared.window, prepared.targets
    cash_yield = window[config.backtest.cash_rate_ticker]
    prices = window[targets.weights.columns]
    return PipelineResult(
        config=config,
        signal=prepared.signal,
        targets=targets,
        result=run_backtest(targets.orders, window, cash_yield, config.backtest),
        benchmarks=benchmark_returns(window, cash_yield, config.backtest),
        asset_returns=prices.pct_change(fill_method=None),
        data_fingerprint=prepared.data_fingerprint,
        cash_returns=daily_rates(cash_yield, targets.orders.index).rename("cash"),
        prices=prices,
    )


def run_pipeline(
    config: RunConfig,
    dataset: Dataset | None = None,
    *,
    start: str | None = None,
    end: str | None = None,
) -> PipelineResult:
    """Signal on all history known at ``end``; trades and returns only from ``start`` on."""
    return simulate(prepare_run(config, dataset, start=start, end=end))
