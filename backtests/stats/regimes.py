"""Performance by liquidity regime, with stationary block-bootstrap intervals.

A session's regime is the one known at the previous close (the signal's regime lagged one
session, ``regime_at_previous_close``): the regime a trader could act on before that session's
return. For each regime the table gives the share of sessions, the annualised mean excess
return, the annualised volatility, the Sharpe ratio, the hit rate (share of the regime's active
sessions whose excess return is positive; a flat book's sessions, zero excess return but for
rounding below ``FLAT``, are neither hits nor misses) and the worst drawdown of the
excess-return curve that compounds only that regime's sessions, in order. Intervals come from
a stationary block bootstrap (seeded) of the whole joint path of returns and regimes, so that
regime spells and volatility clustering survive the resampling; every statistic is recomputed
per regime on each resampled path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drain_core.conventions import PERIODS_PER_YEAR, REGIMES

STATISTICS = ("share", "excess_return", "volatility", "sharpe", "hit_rate", "max_drawdown")
BLOCK = 21  # mean block length of the bootstrap, in sessions (about a month)
REPS = 1000
LEVEL = 0.90
FLAT = 1e-12  # an excess return this close to zero is a flat session's rounding


def regime_at_previous_close(regime: pd.Series) -> pd.Series:
    """The regime known when each session opened: the signal's regime one session earlier."""
    return regime.shift(1)


def _statistics(values: np.ndarray, codes: np.ndarray, code: int,
                log_growth: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every statistic of the regime numbered ``code`` on each row of ``values`` / ``codes``
    (paths x sessions): the regime's sessions are taken in order, the others skipped (the
    drawdown is computed on log wealth, which skipping leaves unchanged). ``log_growth`` is
    ``log1p(max(values, -1))``, computed once for all regimes when given."""
    chosen = codes == code
    n = chosen.sum(axis=1)
    x = np.where(chosen, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = x.sum(axis=1) / n
        var = ((x * x).sum(axis=1) - n * mean * mean) / (n - 1)
        sd = np.where(n > 1, np.sqrt(np.maximum(var, 0.0)), np.nan)
        active = (chosen & (np.abs(values) > FLAT)).sum(axis=1)
        if log_growth is None:
            log_growth = np.log1p(np.maximum(values, -1.0))
        log_wealth = np.cumsum(np.where(chosen, log_growth, 0.0), axis=1)
        peak = np.maximum.accumulate(np.maximum(log_wealth, 0.0), axis=1)
        return {
            "share": n / values.shape[1],
            "excess_return": mean * PERIODS_PER_YEAR,
            "volatility": sd * np.sqrt(PERIODS_PER_YEAR),
            "sharpe": np.where(sd > 0, mean / sd * np.sqrt(PERIODS_PER_YEAR), np.nan),
            "hit_rate": (chosen & (values > FLAT)).sum(axis=1) / active,
            "max_drawdown": np.where(n > 0, np.expm1((log_wealth - peak).min(axis=1)), np.nan),
        }


def bootstrap_paths(sessions: int, *, reps: int = REPS, block: int = BLOCK,
                    seed: int = 0) -> np.ndarray:
    """``reps`` x ``sessions`` positions of a stationary block bootstrap (Politis and Romano
    1994, seeded): each path starts at a uniform position and at every session, with
    probability ``1 / block``, jumps to a new uniform position, else moves one session on
    (wrapping round). Drawn for all paths at once: each position is its block's start plus the
    sessions since that start."""
    if reps <= 0 or sessions < 2:
        return np.empty((0, sessions), dtype=np.int64)
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, sessions, size=(reps, sessions))
    new_block = rng.random((reps, sessions)) < 1.0 / block
    new_block[:, 0] = True
    t = np.arange(sessions)
    began = np.maximum.accumulate(np.where(new_block, t, 0), axis=1)  # the block's first session
    return (np.take_along_axis(starts, began, axis=1) + (t - began)) % sessions


def regime_tables(excess: pd.DataFrame, regime: pd.Series, *, reps: int = REPS,
                  block: int = BLOCK, level: float = LEVEL, seed: int = 0,
                  regimes: tuple[str, ...] = REGIMES) -> dict[str, pd.DataFrame]:
    """``regime_table`` of each column of ``excess``, all on the same bootstrap paths."""
    paths = bootstrap_paths(len(excess), reps=reps, block=block, seed=seed)
    return {name: _table(excess[name], regime, paths, level, regimes) for name in excess.columns}


def regime_table(excess: pd.Series, regime: pd.Series, *, reps: int = REPS, block: int = BLOCK,
                 level: float = LEVEL, seed: int = 0,
                 regimes: tuple[str, ...] = REGIMES) -> pd.DataFrame:
    """One row per regime: each statistic with its ``level`` bootstrap interval.

    ``excess`` is daily returns in excess of cash; ``regime`` is aligned on the same sessions and
    already known at the previous close (see ``regime_at_previous_close``). Sessions without a
    regime count towards no regime but do count in the shares' denominator. Columns are
    ``<stat>``, ``<stat>_low``, ``<stat>_high`` and ``sessions``.
    """
    paths = bootstrap_paths(len(excess), reps=reps, block=block, seed=seed)
    return _table(excess, regime, paths, level, regimes)


def _table(excess: pd.Series, regime: pd.Series, paths: np.ndarray, level: float,
           regimes: tuple[str, ...]) -> pd.DataFrame:
    labels = regime.reindex(excess.index).astype(object).to_numpy()
    codes = np.full(len(labels), -1)
    for code, name in enumerate(regimes):
        codes[labels == name] = code
    values = excess.fillna(0.0).to_numpy(dtype=np.float64)
    points = {name: _statistics(values[None, :], codes[None, :], k)
              for k, name in enumerate(regimes)}
    values_drawn, codes_drawn = values[paths], codes[paths]
    log_drawn = np.log1p(np.maximum(values_drawn, -1.0))
    draws = {name: _statistics(values_drawn, codes_drawn, k, log_drawn)
             for k, name in enumerate(regimes)}
    tail = (1.0 - level) / 2.0
    rows = {}
    for name in regimes:
        row: dict[str, float] = {"sessions": int((labels == name).sum())}
        for key in STATISTICS:
            row[key] = float(points[name][key][0])
            sample = draws[name][key]
            sample = sample[np.isfinite(sample)]
            low, high = (np.quantile(sample, [tail, 1.0 - tail]) if len(sample)
                         else (np.nan, np.nan))
            row[f"{key}_low"], row[f"{key}_high"] = float(low), float(high)
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")
