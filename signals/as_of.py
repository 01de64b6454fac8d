"""``signal_as_of``: the data known at one close and the signal computed on it, or a one-line
error when that close is outside the data or too early for a composite value."""

from __future__ import annotations

import pandas as pd

from drain_core.errors import DrainError
from drain_data.store import Dataset
from signals.composite import SignalResult, compute_signal
from signals.config import SignalConfig


def signal_as_of(dataset: Dataset, config: SignalConfig,
                 as_of: pd.Timestamp | None = None) -> tuple[Dataset, SignalResult]:
    """``dataset`` as known at the close of ``as_of`` (all of it when None) and its signal.

    A date before the first or after the last session, or a window without one composite value
    (the z-scores' warm-up), is a DrainError naming the dates that would work.
    """
    if as_of is not None:
        first, last = dataset.sessions[0], dataset.sessions[-1]
        if as_of < first or as_of > last:
            raise DrainError(f"no data for {as_of.date()}; the data covers {first.date()} to "
                             f"{last.date()}: choose a date in that range")
        dataset = dataset.as_of(as_of)
    result = compute_signal(dataset, config)
    if result.composite.notna().sum() == 0:
        raise DrainError(
            f"no composite value up to {dataset.sessions[-1].date()}: the z-scores need "
            f"{config.z_min_periods} sessions of history; choose a later date"
        )
    return dataset, result


__all__ = ["signal_as_of"]
