"""Backtest-overfitting diagnostics.

Pure functions (array/Series/DataFrame in, floats/dataclasses out) implementing:

* annualised and per-period Sharpe ratios;
* the standard error of the Sharpe ratio under non-normal returns (Mertens / Opdyke form);
* the Probabilistic Sharpe Ratio (PSR) and the Deflated Sharpe Ratio (DSR) of
  Bailey & Lopez de Prado (2012, 2014);
* the Probability of Backtest Overfitting (PBO) by Combinatorially Symmetric
  Cross-Validation (CSCV) of Bailey, Borwein, Lopez de Prado & Zhu (2017);
* stationary-bootstrap percentile confidence intervals for Sharpe and CAGR;
* Hansen's (2005) test of Superior Predictive Ability (SPA): ``arch``'s p-values, for
  ``arch``'s bootstrap indices, as matrix products.

Conventions
-----------
* All Sharpe ratios used in PSR/DSR/PBO are PER PERIOD (not annualised) and use the
  sample standard deviation with ``ddof=1``.
* Skewness and kurtosis are the plain (biased, moment) sample estimators from
  ``scipy.stats``; kurtosis is RAW (``fisher=False``), i.e. 3 for a normal law.
* No function performs I/O, prints, or mutates its inputs.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from arch.bootstrap import StationaryBootstrap, optimal_block_length
from scipy import fft, stats

from backtests.stats import performance
from drain_core.conventions import PERIODS_PER_YEAR

__all__ = [
    "EULER_MASCHERONI",
    "DeflatedSharpe",
    "PBOResult",
    "SPAResult",
    "bootstrap_confidence_intervals",
    "cagr",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "sharpe_ratio",
    "sharpe_ratio_per_period",
    "sharpe_standard_error",
    "spa_pvalues",
    "spa_test",
    "stationary_indices",
]

EULER_MASCHERONI = 0.5772156649015329
"""Euler-Mascheroni constant (gamma) used in the expected-maximum Sharpe formula."""

_PBO_METRICS = ("sharpe", "mean")
_PBO_CHUNK = 512  # CSCV splits evaluated at a time


# --------------------------------------------------------------------------------------
# Input helpers
# --------------------------------------------------------------------------------------


def _as_returns_1d(returns: Any, name: str = "returns", min_obs: int = 2) -> np.ndarray:
    """Return ``returns`` as a finite 1-D float array, raising ValueError otherwise."""
    arr = np.asarray(returns, dtype=float)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got an array of shape {arr.shape}.")
    if arr.size < min_obs:
        raise ValueError(
            f"{name} needs at least {min_obs} observations; got {arr.size}. "
            "Pass a longer return series."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"{name} contains NaN or infinite values; drop or fill missing periods first."
        )
    return arr


def _sharpe_or_raise(arr: np.ndarray, name: str) -> float:
    """Per-period Sharpe of a validated array; ValueError when the std is zero."""
    sd = float(np.std(arr, ddof=1))
    if not sd > 0.0:
        raise ValueError(
            f"{name} has zero standard deviation, so its Sharpe ratio is undefined; "
            "pass a non-constant return series."
        )
    return float(np.mean(arr)) / sd


def _moments(arr: np.ndarray) -> tuple[float, float]:
    """Return (skewness, RAW kurtosis) of a validated array (biased moment estimators)."""
    skew = float(stats.skew(arr, bias=True))
    raw_kurt = float(stats.kurtosis(arr, fisher=False, bias=True))
    return skew, raw_kurt


# --------------------------------------------------------------------------------------
# Sharpe ratio, its standard error, PSR and DSR
# --------------------------------------------------------------------------------------


def sharpe_ratio_per_period(returns: Any) -> float:
    """Per-period Sharpe ratio ``mean / std(ddof=1)`` of simple returns (no risk-free rate).

    Raises ValueError for fewer than 2 observations, NaN/inf values or zero variance.
    """
    arr = _as_returns_1d(returns)
    return _sharpe_or_raise(arr, "returns")


def sharpe_ratio(returns: Any, periods_per_year: float = PERIODS_PER_YEAR) -> float:
    """Annualised Sharpe ratio ``mean / std(ddof=1) * sqrt(periods_per_year)``.

    Raises ValueError for fewer than 2 observations, NaN/inf values, zero variance or a
    non-positive ``periods_per_year``.
    """
    if not periods_per_year > 0:
        raise ValueError(f"periods_per_year must be positive; got {periods_per_year}.")
    return sharpe_ratio_per_period(returns) * math.sqrt(periods_per_year)


def sharpe_standard_error(
    sr_per_period: float, n_obs: int, skew: float, raw_kurtosis: float
) -> float:
    """Standard error of a per-period Sharpe ratio under non-normal i.i.d. returns.

    ``se = sqrt((1 - g3*SR + (g4 - 1)/4 * SR**2) / (T - 1))`` with ``g3`` the skewness and
    ``g4`` the RAW kurtosis (3 for normal returns, NOT the excess kurtosis 0). Under
    normality this reduces to ``sqrt((1 + SR**2 / 2) / (T - 1))``.

    Raises ValueError if ``n_obs < 2`` or if the moments are inconsistent (the radicand is
    negative, which cannot happen when ``raw_kurtosis >= 1 + skew**2`` as any
    distribution satisfies; a negative value usually means excess kurtosis was passed).
    """
    if n_obs < 2:
        raise ValueError(f"n_obs must be at least 2; got {n_obs}.")
    sr = float(sr_per_period)
    radicand = 1.0 - skew * sr + (raw_kurtosis - 1.0) / 4.0 * sr * sr
    if radicand < 0.0:
        raise ValueError(
            f"Inconsistent moments (skew={skew}, raw_kurtosis={raw_kurtosis}) give a negative "
            "variance for the Sharpe ratio; raw_kurtosis must be the RAW kurtosis "
            "(3 for a normal law), not the excess kurtosis."
        )
    return math.sqrt(radicand / (n_obs - 1))


def probabilistic_sharpe_ratio(returns: Any, sr_benchmark_per_period: float = 0.0) -> float:
    """Probabilistic Sharpe Ratio ``PSR = Phi((SR - SR*) / se(SR))`` on per-period SR.

    ``SR`` is the per-period Sharpe of ``returns``, ``se`` the non-normal standard error
    (sample skewness and raw kurtosis of ``returns``) and ``SR*`` the benchmark Sharpe,
    also per period. Returns the probability that the true Sharpe exceeds ``SR*``.
    """
    arr = _as_returns_1d(returns)
    sr = _sharpe_or_raise(arr, "returns")
    skew, raw_kurt = _moments(arr)
    se = sharpe_standard_error(sr, arr.size, skew, raw_kurt)
    return _psr_from_parts(sr, float(sr_benchmark_per_period), se)


def _psr_from_parts(sr: float, sr_benchmark: float, se: float) -> float:
    """``Phi((sr - sr_benchmark) / se)`` with a degenerate ``se == 0`` handled as a step."""
    if se > 0.0:
        return float(stats.norm.cdf((sr - sr_benchmark) / se))
    return 1.0 if sr > sr_benchmark else (0.5 if sr == sr_benchmark else 0.0)


def expected_max_sharpe(trial_sr_variance: float, n_trials: float) -> float:
    """Expected maximum per-period Sharpe among ``n_trials`` zero-skill trials (``SR0``).

    ``SR0 = sqrt(V) * ((1 - g) * PhiInv(1 - 1/N) + g * PhiInv(1 - 1/(N * e)))`` with
    ``g`` the Euler-Mascheroni constant, ``e`` Euler's number and ``V`` the variance of
    the trials' Sharpe ratios. Returns 0.0 when ``N == 1`` (no selection, no deflation)
    or when ``V == 0``.
    """
    if not n_trials >= 1:
        raise ValueError(f"n_trials must be at least 1; got {n_trials}.")
    if trial_sr_variance < 0 or not math.isfinite(trial_sr_variance):
        raise ValueError(
            f"trial_sr_variance must be finite and non-negative; got {trial_sr_variance}."
        )
    if n_trials == 1 or trial_sr_variance == 0.0:
        return 0.0
    g = EULER_MASCHERONI
    z = (1.0 - g) * stats.norm.ppf(1.0 - 1.0 / n_trials) + g * stats.norm.ppf(
        1.0 - 1.0 / (n_trials * math.e)
    )
    return float(math.sqrt(trial_sr_variance) * z)


@dataclass(frozen=True)
class DeflatedSharpe:
    """Result of :func:`deflated_sharpe_ratio` (all Sharpe ratios per period)."""

    dsr: float
    psr_zero: float
    sr0_per_period: float
    n_trials: float
    sr_per_period: float
    skew: float
    raw_kurtosis: float


def deflated_sharpe_ratio(
    returns_of_chosen: Any,
    trial_sharpes_per_period: Any,
    n_trials: float | None = None,
) -> DeflatedSharpe:
    """Deflated Sharpe Ratio of the selected strategy (Bailey & Lopez de Prado 2014).

    ``DSR = PSR(SR0)`` where ``SR0`` (see :func:`expected_max_sharpe`) is the expected
    maximum Sharpe of ``N`` unskilled trials. ``trial_sharpes_per_period`` holds the
    per-period Sharpe ratios of ALL configurations tried (normally including the chosen
    one); their sample variance (``ddof=1``) is ``Var[SR_n]``. ``n_trials`` defaults to
    ``len(trial_sharpes_per_period)``; pass a smaller effective number when trials are
    strongly correlated. ``N == 1`` gives ``SR0 = 0`` (DSR equals PSR against zero);
    identical trial Sharpes (zero variance) also give ``SR0 = 0``.
    """
    arr = _as_returns_1d(returns_of_chosen, name="returns_of_chosen")
    trials = np.asarray(trial_sharpes_per_period, dtype=float).reshape(-1)
    if trials.size == 0:
        raise ValueError("trial_sharpes_per_period is empty; pass at least one trial Sharpe.")
    if not np.all(np.isfinite(trials)):
        raise ValueError("trial_sharpes_per_period contains NaN or infinite values.")
    n = float(trials.size) if n_trials is None else float(n_trials)
    if not n >= 1:
        raise ValueError(f"n_trials must be at least 1; got {n_trials}.")
    if n == 1:
        variance = 0.0
    elif trials.size < 2:
        raise ValueError(
            "trial_sharpes_per_period needs at least 2 values to estimate Var[SR_n] when "
            f"n_trials={n_trials} > 1; pass every trial's Sharpe ratio."
        )
    else:
        variance = float(np.var(trials, ddof=1))
    sr0 = expected_max_sharpe(variance, n)
    sr = _sharpe_or_raise(arr, "returns_of_chosen")
    skew, raw_kurt = _moments(arr)
    se = sharpe_standard_error(sr, arr.size, skew, raw_kurt)
    return DeflatedSharpe(
        dsr=_psr_from_parts(sr, sr0, se),
        psr_zero=_psr_from_parts(sr, 0.0, se),
        sr0_per_period=sr0,
        n_trials=n,
        sr_per_period=sr,
        skew=skew,
        raw_kurtosis=raw_kurt,
    )


# --------------------------------------------------------------------------------------
# Probability of Backtest Overfitting (CSCV)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PBOResult:
    """Result of :func:`probability_of_backtest_overfitting`.

    Arrays are indexed by split, in ``itertools.combinations(range(n_blocks), n_blocks//2)``
    order of the in-sample block sets.
    """

    pbo: float
    logits: np.ndarray
    degradation_slope: float
    degradation_intercept: float
    prob_oos_loss: float
    n_splits: int
    n_blocks: int
    chosen: np.ndarray
    is_metric: np.ndarray
    oos_metric: np.ndarray
    rows_dropped: int


def _as_matrix(returns_matrix: Any) -> np.ndarray:
    """Validate a T x N returns matrix (DataFrame or ndarray) and return it as floats."""
    if isinstance(returns_matrix, pd.DataFrame):
        mat = returns_matrix.to_numpy(dtype=float)
    else:
        mat = np.asarray(returns_matrix, dtype=float)
    if mat.ndim != 2:
        raise ValueError(
            f"returns_matrix must be 2-D (rows = periods, columns = configurations); "
            f"got {mat.ndim} dimension(s)."
        )
    if mat.shape[1] < 2:
        raise ValueError(
            f"returns_matrix needs at least 2 columns (configurations) to rank; got "
            f"{mat.shape[1]}. Pass one column per strategy configuration."
        )
    if np.isnan(mat).any():
        raise ValueError(
            "returns_matrix contains NaN; fill (e.g. with 0 for flat periods) or drop "
            "those rows before calling."
        )
    if not np.all(np.isfinite(mat)):
        raise ValueError("returns_matrix contains infinite values; clean the input first.")
    return mat


def probability_of_backtest_overfitting(
    returns_matrix: Any, n_blocks: int = 16, metric: str = "sharpe"
) -> PBOResult:
    """Probability of Backtest Overfitting by CSCV (Bailey, Borwein, Lopez de Prado, Zhu 2017).

    ``returns_matrix`` is T x N (rows periods in time order, columns configurations; a
    DataFrame or ndarray). Rows are split into ``n_blocks`` (S, even) contiguous blocks of
    equal length ``T // S``; the ``T % S`` OLDEST rows (at the start) are dropped so that
    the blocks are equal. For each of the ``C(S, S/2)`` choices of S/2 in-sample (IS)
    blocks, the complement is out-of-sample (OOS); the configuration with the best IS
    metric (ties -> lowest column index) is chosen, its OOS rank among the N
    configurations (1 = worst, average ranks for ties) gives ``w = rank / (N + 1)`` and
    the logit ``l = ln(w / (1 - w))``. ``PBO = mean(l <= 0)``.

    ``metric`` is ``"sharpe"`` (per-period Sharpe, ddof=1) or ``"mean"`` (mean return).
    A zero-variance sample (e.g. a configuration that never trades) has Sharpe 0.

    Also returned: the OLS ``degradation_slope``/``degradation_intercept`` of the chosen
    configuration's OOS metric on its IS metric across splits (NaN if the IS metric does
    not vary), and ``prob_oos_loss``, the share of splits whose chosen configuration has
    a negative OOS Sharpe (equivalently mean) return.

    Vectorised: per-block sums and sums of squares are computed once; each split's moments
    are matrix products of a split-by-block indicator with those block sums. A split's OOS
    blocks are another split's IS blocks, so the metric is computed once per block set.
    """
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, (int, np.integer)):
        raise ValueError(f"n_blocks must be an even integer >= 2; got {n_blocks!r}.")
    if n_blocks < 2 or n_blocks % 2 != 0:
        raise ValueError(
            f"n_blocks must be an even integer >= 2 (S/2 blocks in- and out-of-sample); "
            f"got {n_blocks}. Use e.g. n_blocks=16."
        )
    if metric not in _PBO_METRICS:
        raise ValueError(f"metric must be one of {_PBO_METRICS}; got {metric!r}.")
    mat = _as_matrix(returns_matrix)
    n_rows, n_cols = mat.shape
    block_len = n_rows // n_blocks
    if block_len < 2:
        raise ValueError(
            f"returns_matrix has {n_rows} rows, too few for n_blocks={n_blocks} "
            f"(need at least 2 rows per block, i.e. >= {2 * n_blocks} rows); "
            "reduce n_blocks or pass more periods."
        )
    rows_dropped = n_rows - block_len * n_blocks
    mat = mat[rows_dropped:]

    # Centre each column on its full-sample mean for numerically stable variances.
    col_mean = mat.mean(axis=0)
    centred = (mat - col_mean).reshape(n_blocks, block_len, n_cols)
    block_sum = centred.sum(axis=1)  # S x N
    block_sumsq = (centred * centred).sum(axis=1)  # S x N
    blocks3 = mat.reshape(n_blocks, block_len, n_cols)
    block_nonconst = (blocks3.max(axis=1) != blocks3.min(axis=1)).astype(float)  # S x N
    col_scale = np.abs(centred).max(axis=(0, 1))  # N

    half = n_blocks // 2
    splits = list(combinations(range(n_blocks), half))
    n_splits = len(splits)
    position = {split: i for i, split in enumerate(splits)}
    # The OOS blocks of a split are the IS blocks of another split: its metric row is that one.
    complement = np.array([position[tuple(sorted(set(range(n_blocks)) - set(split)))]
                           for split in splits], dtype=np.intp)
    n_obs = half * block_len

    def split_metric(mask: np.ndarray) -> np.ndarray:
        s = mask @ block_sum
        mean = s / n_obs + col_mean
        if metric == "mean":
            return mean
        var = np.maximum((mask @ block_sumsq - s * s / n_obs) / (n_obs - 1), 0.0)
        sd = np.sqrt(var)  # 0 where rounding left a barely moving column no variance at all
        flat = ((mask @ block_nonconst == 0.0) & (var <= 1e-14 * col_scale**2)) | (sd == 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            sr = np.where(flat, 0.0, mean / np.where(flat, 1.0, sd))
        return sr

    is_vals = np.empty((n_splits, n_cols))  # the metric on each split's IS blocks
    for lo in range(0, n_splits, _PBO_CHUNK):  # chunks keep the temporaries in cache
        part = np.asarray(splits[lo:lo + _PBO_CHUNK], dtype=np.intp)
        mask = np.zeros((len(part), n_blocks))
        mask[np.arange(len(part))[:, None], part] = 1.0
        is_vals[lo:lo + len(part)] = split_metric(mask)

    rows = np.arange(n_splits)
    chosen = np.argmax(is_vals, axis=1)
    is_best = is_vals[rows, chosen]
    oos_best = is_vals[complement, chosen]
    n_less = np.empty(n_splits, dtype=np.int64)
    n_equal = np.empty(n_splits, dtype=np.int64)  # includes the chosen column
    for lo in range(0, n_splits, _PBO_CHUNK):
        oos = is_vals[complement[lo:lo + _PBO_CHUNK]]
        best = oos_best[lo:lo + _PBO_CHUNK, None]
        n_less[lo:lo + len(oos)] = (oos < best).sum(axis=1)
        n_equal[lo:lo + len(oos)] = (oos == best).sum(axis=1)
    rank = n_less + (n_equal + 1) / 2.0
    w = rank / (n_cols + 1.0)
    logits = np.log(w / (1.0 - w))

    x_dev = is_best - is_best.mean()
    sxx = float(x_dev @ x_dev)
    if sxx > 0.0:
        slope = float(x_dev @ (oos_best - oos_best.mean())) / sxx
        intercept = float(oos_best.mean() - slope * is_best.mean())
    else:
        slope = intercept = float("nan")

    return PBOResult(
        pbo=float(np.mean(logits <= 0.0)),
        logits=logits,
        degradation_slope=slope,
        degradation_intercept=intercept,
        prob_oos_loss=float(np.mean(oos_best < 0.0)),
        n_splits=int(n_splits),
        n_blocks=int(n_blocks),
        chosen=chosen,
        is_metric=is_best,
        oos_metric=oos_best,
        rows_dropped=int(rows_dropped),
    )


# --------------------------------------------------------------------------------------
# Bootstrap confidence intervals
# --------------------------------------------------------------------------------------


def cagr(returns: Any, periods_per_year: float = PERIODS_PER_YEAR) -> float:
    """Compound annual growth rate ``prod(1 + r) ** (ppy / T) - 1`` of simple returns.

    Returns -1.0 if wealth is wiped out (some ``r <= -1``).
    """
    arr = _as_returns_1d(returns, min_obs=1)
    return _cagr(arr, periods_per_year)


def _cagr(arr: np.ndarray, periods_per_year: float) -> float:
    if periods_per_year == PERIODS_PER_YEAR:
        return float(performance.cagr(arr))
    if np.any(arr <= -1.0):
        return -1.0
    return float(math.expm1(np.sum(np.log1p(arr)) * periods_per_year / arr.size))


def _sharpe_nan(arr: np.ndarray, periods_per_year: float) -> float:
    return float(performance.sharpe(arr)) * math.sqrt(periods_per_year / PERIODS_PER_YEAR)


def bootstrap_confidence_intervals(
    returns: Any,
    n_boot: int = 2000,
    block_size: int | None = None,
    level: float = 0.95,
    seed: int = 0,
    periods_per_year: float = PERIODS_PER_YEAR,
) -> dict[str, Any]:
    """Stationary-bootstrap percentile CIs for the annualised Sharpe ratio and CAGR.

    Uses ``arch.bootstrap.StationaryBootstrap`` with mean block length ``block_size``
    (default: ``arch.bootstrap.optimal_block_length`` stationary value, rounded, >= 1).
    Returns ``{"sharpe": (lo, point, hi), "cagr": (lo, point, hi), "block_size": b,
    "n_boot": n_boot}`` where ``point`` is the full-sample estimate and ``lo``/``hi`` the
    ``(1 - level)/2`` and ``(1 + level)/2`` percentiles of the bootstrap distribution.
    Resamples with zero variance (Sharpe undefined) are ignored in the Sharpe interval.
    """
    arr = _as_returns_1d(returns, min_obs=3)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1); got {level}.")
    if n_boot < 2:
        raise ValueError(f"n_boot must be at least 2; got {n_boot}.")
    if not periods_per_year > 0:
        raise ValueError(f"periods_per_year must be positive; got {periods_per_year}.")
    point_sharpe = _sharpe_or_raise(arr, "returns") * math.sqrt(periods_per_year)
    point_cagr = _cagr(arr, periods_per_year)
    if block_size is None:
        b_opt = float(optimal_block_length(arr)["stationary"].iloc[0])
        b = max(1, int(round(b_opt))) if math.isfinite(b_opt) else 1
    else:
        if int(block_size) < 1:
            raise ValueError(f"block_size must be a positive integer; got {block_size}.")
        b = int(block_size)

    def stat(x: np.ndarray) -> np.ndarray:
        return np.array([_sharpe_nan(x, periods_per_year), _cagr(x, periods_per_year)])

    draws = StationaryBootstrap(b, arr, seed=seed).apply(stat, reps=n_boot)
    alpha = (1.0 - level) / 2.0
    s_lo, s_hi = np.nanquantile(draws[:, 0], [alpha, 1.0 - alpha])
    c_lo, c_hi = np.quantile(draws[:, 1], [alpha, 1.0 - alpha])
    return {
        "sharpe": (float(s_lo), float(point_sharpe), float(s_hi)),
        "cagr": (float(c_lo), float(point_cagr), float(c_hi)),
        "block_size": b,
        "n_boot": int(n_boot),
    }


# --------------------------------------------------------------------------------------
# Hansen's SPA test
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SPAResult:
    """Result of :func:`spa_test`. Small p-values reject "no model beats the benchmark"."""

    pvalue_lower: float
    pvalue_consistent: float
    pvalue_upper: float
    best_model: Hashable
    best_model_index: int
    best_mean_excess: float
    n_models: int
    block_size: int
    reps: int


def spa_test(
    benchmark_returns: Any,
    model_returns_matrix: Any,
    reps: int = 1000,
    block_size: int | None = None,
    seed: int = 0,
) -> SPAResult:
    """Hansen's SPA test: does any model's mean return beat the benchmark's?

    The p-values are those of ``arch.bootstrap.SPA`` (stationary bootstrap, the same seed and
    so the same resampled indices), computed by :func:`spa_pvalues` as matrix products instead
    of one resample at a time. arch works on LOSSES, so NEGATIVE returns are used.
    ``model_returns_matrix`` is T x k (DataFrame or ndarray; a 1-D array is one model).
    ``block_size`` defaults to the median over models of ``optimal_block_length``
    (stationary) of the return differentials (model - benchmark), rounded and >= 1.
    ``best_model`` is the column label (DataFrame) or index with the highest mean return;
    ``best_mean_excess`` its mean per-period return over the benchmark.
    """
    bench = _as_returns_1d(benchmark_returns, name="benchmark_returns", min_obs=3)
    if isinstance(model_returns_matrix, pd.DataFrame):
        labels: list[Hashable] = list(model_returns_matrix.columns)
        models = model_returns_matrix.to_numpy(dtype=float)
    else:
        models = np.asarray(model_returns_matrix, dtype=float)
        if models.ndim == 1:
            models = models[:, None]
        labels = list(range(models.shape[1])) if models.ndim == 2 else []
    if models.ndim != 2 or models.shape[1] < 1:
        raise ValueError(
            f"model_returns_matrix must be T x k with k >= 1; got shape {models.shape}."
        )
    if models.shape[0] != bench.size:
        raise ValueError(
            f"model_returns_matrix has {models.shape[0]} rows but benchmark_returns has "
            f"{bench.size}; align them on the same periods."
        )
    if not np.all(np.isfinite(models)):
        raise ValueError("model_returns_matrix contains NaN or infinite values.")
    if reps < 1:
        raise ValueError(f"reps must be a positive integer; got {reps}.")
    diff = models - bench[:, None]
    if block_size is None:
        b_opt = optimal_block_length(diff)["stationary"].to_numpy(dtype=float)
        b_opt = b_opt[np.isfinite(b_opt)]
        b = max(1, int(round(float(np.median(b_opt))))) if b_opt.size else 1
    else:
        if int(block_size) < 1:
            raise ValueError(f"block_size must be a positive integer; got {block_size}.")
        b = int(block_size)
    pv = spa_pvalues(diff, stationary_indices(bench.size, b, reps, seed), b)
    mean_excess = diff.mean(axis=0)
    best = int(np.argmax(mean_excess))
    return SPAResult(
        pvalue_lower=pv["lower"],
        pvalue_consistent=pv["consistent"],
        pvalue_upper=pv["upper"],
        best_model=labels[best],
        best_model_index=best,
        best_mean_excess=float(mean_excess[best]),
        n_models=int(models.shape[1]),
        block_size=b,
        reps=int(reps),
    )


def stationary_indices(n_obs: int, block_size: int, reps: int, seed: int) -> np.ndarray:
    """(reps, n_obs) resampled row indices: those ``arch.bootstrap.StationaryBootstrap`` with
    ``seed`` draws, in order (so ``arch.bootstrap.SPA(..., seed=seed)`` uses the same)."""
    bootstrap = StationaryBootstrap(block_size, np.empty(n_obs), seed=seed)
    return np.stack([bootstrap.update_indices() for _ in range(reps)])


def _spa_variances(demeaned: np.ndarray, block_size: int) -> np.ndarray:
    """arch's (non-nested) SPA variance of each loss differential: the stationary-bootstrap
    kernel ``kappa_i`` weighting every autocovariance, all lags at once by FFT."""
    t = demeaned.shape[0]
    size = fft.next_fast_len(2 * t - 1, real=True)  # no wrap-around: zero-padded to 2t - 1
    spectrum = fft.rfft(np.ascontiguousarray(demeaned.T), n=size, axis=1)
    autocov = fft.irfft(spectrum.real**2 + spectrum.imag**2, n=size, axis=1)[:, 1:t]
    lags = np.arange(1, t)
    p = 1.0 / block_size
    kappa = (1.0 - lags / t) * (1.0 - p) ** lags + (lags / t) * (1.0 - p) ** (t - lags)
    return (np.sum(demeaned**2, axis=0) + 2.0 * autocov @ kappa) / t


def spa_pvalues(
    loss_diff: np.ndarray, indices: np.ndarray, block_size: int, chunk: int = 256
) -> dict[str, float]:
    """Lower, consistent and upper SPA p-values of ``arch.bootstrap.SPA`` for the resampled
    row ``indices`` (reps x T), at matrix speed.

    ``loss_diff`` is T x k: benchmark loss minus model loss (for returns: model minus
    benchmark return). As in arch (version 8, non-nested), each resample's mean differential
    is re-centred three ways (lower: only models better than the benchmark; consistent: only
    those within the ``sqrt(2 log log T)`` band of the variance; upper: all), and a p-value is
    the share of resamples whose largest re-centred mean exceeds the largest observed mean.
    The resampled means are one product of the resampling counts (reps x T) with the loss
    matrix, ``chunk`` resamples at a time to bound memory; they equal arch's to rounding.
    """
    loss = np.asarray(loss_diff, dtype=np.float64)
    t = loss.shape[0]
    mean = loss.mean(axis=0)
    variances = _spa_variances(loss - mean, block_size)
    valid = mean >= -np.sqrt(variances / t * 2.0 * np.log(np.log(t)))
    centres = np.stack([np.where(mean < 0.0, 0.0, mean), np.where(valid, mean, 0.0), mean])
    observed = mean.max()
    reps = indices.shape[0]
    exceed = np.zeros(3)
    for lo in range(0, reps, chunk):
        part = indices[lo:lo + chunk]
        n = part.shape[0]
        flat = (np.arange(n)[:, None] * t + part).ravel()
        counts = np.bincount(flat, minlength=n * t).reshape(n, t).astype(np.float64)
        means = counts @ loss / t
        for j in range(3):
            exceed[j] += np.count_nonzero((means - centres[j]).max(axis=1) > observed)
    lower, consistent, upper = exceed / reps
    return {"lower": float(lower), "consistent": float(consistent), "upper": float(upper)}
