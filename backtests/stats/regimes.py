"""Performance by liquidity regime, with stationary block-bootstrap intervals.

A session's regime is the one known at the previous close (the signal's regime lagged one
session, ``regime_at_previous_close``): the regime a trader could act on before that session's
return. For each regime the table gives the share of sessions, the annualised mean excess
return, the annualised volatility, the Sharpe ratio, the hit rate (share of sessions whose excess
return is positive; a flat book's excess return, zero but for rounding below ``FLAT``, is not a
hit) and the worst drawdown of the excess-return curve that compounds only that
regime's sessions, in order. Intervals come from a stationary block bootstrap (arch) of the whole
joint path of returns and regimes, so that regime spells and volatility clustering survive the
resampling; every statistic is recomputed per regime on each resampled path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtests.stats.performance import max_drawdown, sharpe, volatility
from drain_core.conventions import PERIODS_PER_YEAR, REGIMES

STATISTICS = ("share", "excess_return", "volatility", "sharpe", "hit_rate", "max_drawdown")
BLOCK = 21  # mean block length of the bootstrap, in sessions (about a month)
REPS = 1000
LEVEL = 0.90
FLAT = 1e-12  # an excess return this close to zero is a flat session's rounding


def regime_at_previous_close(regime: pd.Series) -> pd.Series:
    """The regime known when each session opened: the signal's regime one session earlier."""
    return regime.shift(1)


def _point(excess: np.ndarray, labels: np.ndarray, regime: str) -> dict[str, float]:
    chosen = excess[labels == regime]
    n = len(chosen)
    if n == 0:
        return {"share": 0.0, **{k: np.nan for k in STATISTICS[1:]}}
    return {
        "share": n / len(labels),
        "excess_return": float(chosen.mean() * PERIODS_PER_YEAR),
        "volatility": float(volatility(chosen)),
        "sharpe": float(sharpe(chosen)),
        "hit_rate": float((chosen > FLAT).mean()),
        "max_drawdown": float(max_drawdown(chosen)),
    }


def regime_table(excess: pd.Series, regime: pd.Series, *, reps: int = REPS, block: int = BLOCK,
                 level: float = LEVEL, seed: int = 0,
                 regimes: tuple[str, ...] = REGIMES) -> pd.DataFrame:
    """One row per regime: each statistic with its ``level`` bootstrap interval.

    ``excess`` is daily returns in excess of cash; ``regime`` is aligned on the same sessions and
    already known at the previous close (see ``regime_at_previous_close``). Sessions without a
    regime count towards no regime but do count in the shares' denominator. Columns are
    ``<stat>``, ``<stat>_low``, ``<stat>_high`` and ``sessions``.
    """
    from arch.bootstrap import StationaryBootstrap

    labels = regime.reindex(excess.index).astype(object).to_numpy()
    values = excess.fillna(0.0).to_numpy(dtype=np.float64)
    points = {name: _point(values, labels, name) for name in regimes}
    draws = {name: {k: [] for k in STATISTICS} for name in regimes}
    if reps > 0 and len(values) > 1:
        bootstrap = StationaryBootstrap(block, np.arange(len(values)),
                                        seed=np.random.default_rng(seed))
        for (positions,), _ in bootstrap.bootstrap(reps):
            for name in regimes:
                for key, value in _point(values[positions], labels[positions], name).items():
                    draws[name][key].append(value)
    tail = (1.0 - level) / 2.0
    rows = {}
    for name in regimes:
        row: dict[str, float] = {"sessions": int((labels == name).sum())}
        for key in STATISTICS:
            row[key] = points[name][key]
            sample = np.asarray(draws[name][key], dtype=np.float64)
            sample = sample[np.isfinite(sample)]
            low, high = (np.quantile(sample, [tail, 1.0 - tail]) if len(sample)
                         else (np.nan, np.nan))
            row[f"{key}_low"], row[f"{key}_high"] = float(low), float(high)
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")
