"""The whole backtest as a composition of small steps: data -> signal -> weights -> portfolio.

``RunConfig`` gathers the three typed sections of one TOML file; ``run_pipeline`` is what
``drain backtest`` runs and what a notebook calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from backtests.benchmarks import benchmark_returns
from backtests.config import BacktestConfig
from backtests.engine import BacktestResult, run_backtest
from drain_data import Dataset, load_dataset
from drain_data.errors import DrainError
from drain_data.tomlfile import read_toml
from signals import SignalConfig, SignalResult, compute_signal
from strategies import StrategyConfig, Targets, build_targets

KNOWN_SECTIONS = ("signal", "strategy", "backtest", "tune", "thesis")


def default_config_path() -> Path:
    """The configuration shipped with the project (``drain_cli/configs/default.toml``)."""
    return Path(str(resources.files("drain_cli") / "configs" / "default.toml"))


@dataclass(frozen=True)
class RunConfig:
    """The [signal], [strategy] and [backtest] sections of one configuration."""

    signal: SignalConfig = field(default_factory=SignalConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    backtest: BacktestConfig = field(default_factory=BacktestConfig)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        """Build from a parsed TOML document; unknown sections are an error naming them."""
        unknown = sorted(set(values) - set(KNOWN_SECTIONS))
        if unknown:
            raise DrainError(f"unknown config section [{unknown[0]}]; known sections: "
                             f"{', '.join(KNOWN_SECTIONS)}")
        return cls(
            signal=SignalConfig.from_dict(values.get("signal", {})),
            strategy=StrategyConfig.from_dict(values.get("strategy", {})),
            backtest=BacktestConfig.from_dict(values.get("backtest", {})),
        )

    @classmethod
    def load(cls, path: str | Path | None = None) -> RunConfig:
        """Read a TOML file (the shipped default when ``path`` is None)."""
        return cls.from_dict(read_toml(path or default_config_path()))

    def to_dict(self) -> dict[str, Any]:
        """A TOML-friendly dict; ``RunConfig.from_dict(c.to_dict()) == c``."""
        return {
            "signal": self.signal.to_dict(),
            "strategy": self.strategy.to_dict(),
            "backtest": self.backtest.to_dict(),
        }


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


def run_pipeline(
    config: RunConfig,
    dataset: Dataset | None = None,
    *,
    start: str | None = None,
    end: str | None = None,
) -> PipelineResult:
    """Signal on all history known at ``end``; trades and returns only from ``start`` on."""
    dataset = dataset if dataset is not None else load_dataset(end=end)
    if end is not None:
        dataset = dataset.as_of(pd.Timestamp(end))
    signal = compute_signal(dataset, config.signal)
    window = dataset.prices.loc[pd.Timestamp(start):] if start else dataset.prices
    if len(window) < config.backtest.lag + 2:
        first, last = dataset.sessions[0].date(), dataset.sessions[-1].date()
        raise DrainError(f"the date range {start or first} to {end or last} holds "
                         f"{len(window)} sessions of prices (data: {first} to {last}); "
                         f"widen --start/--end")
    targets = build_targets(window, signal.composite, signal.regime, config.strategy)
    if config.backtest.cash_rate_ticker not in window.columns:
        raise DrainError(f"backtest.cash_rate_ticker {config.backtest.cash_rate_ticker!r} has no "
                         f"price data; use a yield series such as IRX")
    cash_yield = window[config.backtest.cash_rate_ticker]
    result = run_backtest(targets.orders, window, cash_yield, config.backtest)
    benchmarks = benchmark_returns(window, cash_yield, config.backtest)
    return PipelineResult(
        config=config,
        signal=signal,
        targets=targets,
        result=result,
        benchmarks=benchmarks,
        asset_returns=window[targets.weights.columns].pct_change(fill_method=None),
        data_fingerprint=dataset.fingerprint(),
    )
