"""The steps of a backtest before the portfolio: data -> signal -> target weights.

Nothing here imports vectorbt, so ``drain backtest`` can run these steps in a second process
while its own process imports vectorbt for the steps after (``backtests.run.pipeline``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from backtests.run.config import RunConfig
from drain_core.errors import DrainError
from drain_data import Dataset, load_dataset
from signals import SignalResult, compute_signal
from strategies import Targets, build_targets


@dataclass(frozen=True)
class PreparedRun:
    """A run's signal and target weights, and the prices of the sessions it trades."""

    config: RunConfig
    signal: SignalResult
    targets: Targets
    window: pd.DataFrame  # prices of the traded sessions (NaN unpriced)
    data_fingerprint: str


def prepare_run(
    config: RunConfig,
    dataset: Dataset | None = None,
    *,
    start: str | None = None,
    end: str | None = None,
) -> PreparedRun:
    """Signal on all history known at ``end``; target weights only from ``start`` on."""
    dataset = dataset if dataset is not None else load_dataset(end=end, needs=config.needs())
    if end is not None:
        dataset = dataset.as_of(pd.Timestamp(end))
    signal = compute_signal(dataset, config.signal)
    window = dataset.prices.loc[pd.Timestamp(start):] if start else dataset.prices
    if len(window) < config.backtest.lag + 2:
        first, last = dataset.sessions[0].date(), dataset.sessions[-1].date()
        raise DrainError(f"the date range {start or first} to {end or last} holds "
                         f"{len(window)} sessions of prices (data: {first} to {last}); "
                         f"widen the date range")
    config.require_history(len(dataset.sessions), len(window))  # windows the data can fill
    targets = build_targets(window, signal.composite, signal.regime, config.strategy)
    if config.backtest.cash_rate_ticker not in window.columns:
        raise DrainError(f"backtest.cash_rate_ticker {config.backtest.cash_rate_ticker!r} has no "
                         f"price data; use a yield series such as IRX")
    return PreparedRun(config=config, signal=signal, targets=targets, window=window,
                       data_fingerprint=dataset.fingerprint())
