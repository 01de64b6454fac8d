"""Backtests in pipeline order: ``stats`` (performance, overfitting, econometrics) < ``sim``
(engine, fast kernel, benchmarks) < ``run`` (one run, comparisons) < ``evidence`` (placebos)
< ``tune`` (sweeps, walk-forward) < ``report`` (run folders, pages); a subpackage imports only
earlier ones (``tests/test_layout.py``).

The names a notebook needs, loaded on first use (importing ``backtests`` alone imports neither
pandas nor vectorbt, so ``drain backtest`` can leave vectorbt to its main process):

    from backtests import RunConfig, run_pipeline, compare_configs, performance
    run = run_pipeline(RunConfig(), start="2018-01-02")
    table = compare_configs({"weekly": RunConfig(), "monthly": other}, start="2018-01-02")
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backtests.run.compare import compare_configs
    from backtests.run.config import RunConfig
    from backtests.run.pipeline import PipelineResult, run_pipeline, simulate
    from backtests.run.prepare import PreparedRun, prepare_run
    from backtests.sim.accrual import daily_rates
    from backtests.sim.benchmarks import BENCHMARKS, benchmark_returns, buy_and_hold
    from backtests.sim.config import BacktestConfig, CostConfig
    from backtests.sim.engine import BacktestResult, run_backtest
    from backtests.sim.fastsim import FastSim
    from backtests.stats import performance

__all__ = [
    "BENCHMARKS",
    "BacktestConfig",
    "BacktestResult",
    "CostConfig",
    "FastSim",
    "PipelineResult",
    "PreparedRun",
    "RunConfig",
    "benchmark_returns",
    "buy_and_hold",
    "compare_configs",
    "daily_rates",
    "performance",
    "prepare_run",
    "run_backtest",
    "run_pipeline",
    "simulate",
]
_EXPORTS = {
    "BacktestConfig": "backtests.sim.config",
    "CostConfig": "backtests.sim.config",
    "RunConfig": "backtests.run.config",
    "PreparedRun": "backtests.run.prepare",
    "prepare_run": "backtests.run.prepare",
    "PipelineResult": "backtests.run.pipeline",
    "run_pipeline": "backtests.run.pipeline",
    "simulate": "backtests.run.pipeline",
    "compare_configs": "backtests.run.compare",
    "daily_rates": "backtests.sim.accrual",
    "BacktestResult": "backtests.sim.engine",
    "run_backtest": "backtests.sim.engine",
    "BENCHMARKS": "backtests.sim.benchmarks",
    "benchmark_returns": "backtests.sim.benchmarks",
    "buy_and_hold": "backtests.sim.benchmarks",
    "FastSim": "backtests.sim.fastsim",
}
_MODULES = {"performance": "backtests.stats.performance"}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    if name in _MODULES:
        return import_module(_MODULES[name])
    raise AttributeError(f"module 'backtests' has no attribute {name!r}")
