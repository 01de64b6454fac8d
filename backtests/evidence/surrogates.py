"""Surrogate signals: the composite's values and persistence kept, its timing broken.

Two kinds, both on the stretch of sessions where the composite is known (the warm-up's NaN
stays where it is, so a surrogate starts trading when the real signal does):

* **stationary block bootstrap** (Politis & Romano 1994): blocks of geometric length with mean
  ``mean_block`` sessions, started at uniform random points of the path and wrapped around its
  end. Inside a block the path is the real one, so the marginal distribution and the short-lag
  autocorrelation are kept (the lag-k autocorrelation shrinks by about ``(1 - 1/mean_block)^k``
  at the block joins); where the blocks sit in time is random.
* **circular shift** by at least ``min_shift`` sessions (a year by default) and at most the
  path's length less that: the whole path, every autocorrelation intact, moved in time.

Each surrogate ``i`` is drawn from its own generator ``default_rng([seed, kind, i])``, so a
placebo run gives the same surrogates however it is split into tasks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drain_core.conventions import PERIODS_PER_YEAR
from drain_core.errors import DrainError

MEAN_BLOCK = 126  # half a year of sessions: the composite moves on quarterly changes
MIN_SHIFT = PERIODS_PER_YEAR  # a circular shift moves the path by at least a year
STREAMS = {"block": 1, "shift": 2, "baskets": 3}  # one random stream per placebo family


def rng_for(seed: int, kind: str, i: int) -> np.random.Generator:
    """The generator of surrogate ``i`` of ``kind`` (independent of how the work is split)."""
    return np.random.default_rng([int(seed), STREAMS[kind], int(i)])


def stationary_bootstrap_indices(n: int, mean_block: float,
                                 rng: np.random.Generator) -> np.ndarray:
    """Positions 0..n-1 resampled in blocks of geometric length (mean ``mean_block``), wrapping."""
    if n < 1:
        return np.zeros(0, dtype=np.int64)
    p = 1.0 / max(float(mean_block), 1.0)
    new_block = rng.random(n) < p
    new_block[0] = True
    starts = rng.integers(0, n, size=n)
    block_id = np.cumsum(new_block) - 1
    first = np.flatnonzero(new_block)
    offset = np.arange(n) - first[block_id]
    return (starts[first][block_id] + offset) % n


def _valid_stretch(composite: pd.Series) -> np.ndarray:
    """Positions from the first to the last known value (gaps inside it are kept as values)."""
    known = np.flatnonzero(composite.notna().to_numpy())
    if len(known) < 2:
        raise DrainError("the composite has fewer than two known values in the date range; "
                         "widen the date range")
    return np.arange(known[0], known[-1] + 1)


def block_surrogate(composite: pd.Series, rng: np.random.Generator,
                    mean_block: float = MEAN_BLOCK) -> pd.Series:
    """One stationary-block-bootstrap surrogate of ``composite`` (same index, same warm-up)."""
    stretch = _valid_stretch(composite)
    values = composite.to_numpy(dtype=np.float64)
    out = values.copy()
    out[stretch] = values[stretch][stationary_bootstrap_indices(len(stretch), mean_block, rng)]
    return pd.Series(out, index=composite.index, name=composite.name)


def shift_range(composite: pd.Series, min_shift: int = MIN_SHIFT) -> tuple[int, int]:
    """The smallest and largest circular shift allowed (inclusive)."""
    n = len(_valid_stretch(composite))
    if n - min_shift < min_shift:
        raise DrainError(f"the composite is known on {n} sessions of the date range; a circular "
                         f"shift by at least {min_shift} sessions needs {2 * min_shift}: widen "
                         f"the date range")
    return min_shift, n - min_shift


def shift_surrogate(composite: pd.Series, shift: int) -> pd.Series:
    """``composite`` with its known stretch rotated forward by ``shift`` sessions."""
    stretch = _valid_stretch(composite)
    values = composite.to_numpy(dtype=np.float64)
    out = values.copy()
    out[stretch] = np.roll(values[stretch], int(shift))
    return pd.Series(out, index=composite.index, name=composite.name)


def shift_surrogates_shifts(composite: pd.Series, n: int, seed: int,
                            min_shift: int = MIN_SHIFT) -> np.ndarray:
    """``n`` distinct shifts drawn without replacement (with replacement if fewer exist)."""
    low, high = shift_range(composite, min_shift)
    choices = np.arange(low, high + 1)
    rng = np.random.default_rng([int(seed), STREAMS["shift"]])  # not any surrogate's stream
    return rng.choice(choices, size=n, replace=n > len(choices))


def autocorrelations(x: pd.Series | np.ndarray, lags: int = 5) -> np.ndarray:
    """Sample autocorrelations at lags 1..``lags`` of the known values (NaN dropped)."""
    v = pd.Series(np.asarray(x, dtype=np.float64)).dropna().to_numpy()
    v = v - v.mean()
    denom = float(v @ v)
    return np.array([float(v[k:] @ v[:-k]) / denom for k in range(1, lags + 1)])
