"""Vectorised, backward-looking transforms: z-scores, winsorising, the gate, PCA, regimes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from drain_core.conventions import REGIMES


def expanding_zscore(values: pd.DataFrame | pd.Series, min_periods: int = 2):
    """``(x_t - mean(x_<=t)) / std(x_<=t)`` over all past non-NaN values (ddof 1), by cumsums.

    NaN where ``x_t`` is NaN, before ``min_periods`` observations, or where the past has no
    spread. Each column is shifted by its first valid value before summing (the z-score does not
    change, the sums stay small), so the result is exact to float rounding and identical on any
    truncated prefix of the data.
    """
    is_series = isinstance(values, pd.Series)
    frame = values.to_frame() if is_series else values
    x = frame.to_numpy(dtype=float, copy=True)
    if x.size == 0:
        return values.astype(float)
    valid = ~np.isnan(x)
    first = np.argmax(valid, axis=0)
    x0 = np.where(valid.any(axis=0), x[first, np.arange(x.shape[1])], 0.0)
    c = np.where(valid, x - x0, 0.0)
    n = np.cumsum(valid, axis=0)
    s1 = np.cumsum(c, axis=0)
    s2 = np.cumsum(c * c, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / n
        var = (s2 - s1 * mean) / (n - 1)
        scale = np.maximum(s2 / n, 1e-300)
        z = (c - mean) / np.sqrt(var)
    bad = ~valid | (n < max(int(min_periods), 2)) | ~(var > 1e-14 * scale)
    z[bad] = np.nan
    out = pd.DataFrame(z, index=frame.index, columns=frame.columns)
    return out.iloc[:, 0] if is_series else out


def rolling_zscore(values: pd.DataFrame | pd.Series, window: int, min_periods: int):
    """Z-score against the trailing ``window`` observations (including today)."""
    roll = values.rolling(window, min_periods=max(int(min_periods), 2))
    mean, std = roll.mean(), roll.std()
    z = (values - mean) / std.where(std > 0)
    return z.where(values.notna())


def winsorise(z, clip: float):
    """Clip z-scores to ``[-clip, clip]`` (NaN stays NaN)."""
    return z.clip(lower=-clip, upper=clip)


def gate_factor(kind: str, *, depleted: pd.Series, buffer_z: pd.Series, k: float,
                center: float, steepness: float) -> pd.Series:
    """The multiplier of the gated components on each day.

    ``none``: 1. ``step``: ``1 + k`` where the buffer is depleted, else 1. ``logistic``:
    ``1 + k / (1 + exp(-steepness * (buffer_z - center)))``; where ``buffer_z`` is unknown the
    factor is 1 (no evidence of depletion, no amplification).
    """
    index = depleted.index
    if kind == "none":
        return pd.Series(1.0, index=index, name="gate")
    if kind == "step":
        return pd.Series(np.where(depleted.to_numpy(dtype=bool), 1.0 + k, 1.0), index=index,
                         name="gate")
    if kind == "logistic":
        zb = buffer_z.to_numpy(dtype=float)
        with np.errstate(over="ignore"):
            factor = 1.0 + k / (1.0 + np.exp(-steepness * (zb - center)))
        return pd.Series(np.where(np.isnan(zb), 1.0, factor), index=index, name="gate")
    raise ValueError(f"unknown gate {kind!r}")


def weighted_composite(z: pd.DataFrame, weights: pd.Series, min_components: int) -> pd.Series:
    """Weighted mean of the z-scores available each day (weights re-normalised over them)."""
    w = weights.reindex(z.columns).fillna(0.0).to_numpy(dtype=float)
    x = z.to_numpy(dtype=float)
    avail = ~np.isnan(x)
    # Column by column, not a BLAS product: the sum order (hence every bit of the result) must
    # not depend on how many rows there are, or a truncated dataset would differ in the last bit.
    num = np.zeros(len(x))
    den = np.zeros(len(x))
    for j, wj in enumerate(w):
        num += np.where(avail[:, j], x[:, j], 0.0) * wj
        den += avail[:, j] * abs(wj)
    count = (avail & (w != 0)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[(count < min_components) | (den <= 0)] = np.nan
    return pd.Series(out, index=z.index)


def pca_loadings(z: pd.DataFrame, min_periods: int) -> pd.DataFrame:
    """First principal component loadings refit at each month's first session on the past only.

    The fit for month m uses the rows strictly before its first session: a pairwise correlation
    matrix of the z-scores (each pair over the days both exist; z-scores are already centred and
    scaled on the past, so second moments stand in for covariances). Components with fewer than
    ``min_periods`` past observations get loading 0. The sign is fixed so that the loadings sum
    to a positive number: every component is oriented "higher = more drain", so the factor is too.
    Rows before the first fit are NaN. Built from cumulative sums: one pass, no refit loop over
    the data.
    """
    x = z.to_numpy(dtype=float)
    n_rows, k = x.shape
    valid = ~np.isnan(x)
    x0 = np.where(valid, x, 0.0)
    v = valid.astype(float)
    # cumulative pair sums: sum x_i x_j, sum x_i^2 [j valid], count of both valid
    cross = np.cumsum(np.einsum("ti,tj->tij", x0, x0), axis=0)
    sq_i = np.cumsum(np.einsum("ti,tj->tij", x0 * x0, v), axis=0)
    pairs = np.cumsum(np.einsum("ti,tj->tij", v, v), axis=0)
    index = z.index
    month = index.to_period("M")
    starts = np.flatnonzero(np.r_[True, month[1:] != month[:-1]])
    loadings = np.full((n_rows, k), np.nan)
    for s, start in enumerate(starts):
        end = starts[s + 1] if s + 1 < len(starts) else n_rows
        if start == 0:
            continue
        past = start - 1
        count = np.diag(pairs[past])
        ok = count >= min_periods
        if ok.sum() < 1:
            continue
        sub = np.ix_(ok, ok)
        with np.errstate(invalid="ignore", divide="ignore"):
            denom = np.sqrt(sq_i[past][sub] * sq_i[past][sub].T)
            corr = np.where(denom > 0, cross[past][sub] / denom, 0.0)
        np.fill_diagonal(corr, 1.0)
        _, vectors = np.linalg.eigh(corr)
        first = vectors[:, -1]
        if first.sum() < 0:
            first = -first
        row = np.zeros(k)
        row[ok] = first
        loadings[start:end] = row
    return pd.DataFrame(loadings, index=index, columns=z.columns)


def pca_composite(z: pd.DataFrame, loadings: pd.DataFrame, min_components: int) -> pd.Series:
    """Project the available z-scores on the loadings, scaled by the sum of |loadings| used."""
    x = z.to_numpy(dtype=float)
    w = loadings.to_numpy(dtype=float)
    avail = ~np.isnan(x) & ~np.isnan(w) & (w != 0)
    num = np.zeros(len(x))
    den = np.zeros(len(x))
    for j in range(x.shape[1]):  # fixed summation order, as in weighted_composite
        num += np.where(avail[:, j], x[:, j] * w[:, j], 0.0)
        den += np.where(avail[:, j], np.abs(w[:, j]), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[(avail.sum(axis=1) < min_components) | (den <= 0)] = np.nan
    return pd.Series(out, index=z.index)


def regimes_with_hysteresis(composite: pd.Series, draining_above: float, scarce_above: float,
                            hysteresis: float) -> pd.Series:
    """Abundant / draining / scarce from thresholds on the composite, with a hysteresis band.

    Enter a higher regime only above its threshold + h, leave it only below its threshold - h.
    The first known day is classified by the plain thresholds. Days without a composite are NaN
    and the state carries over them. Returns an ordered categorical over ``REGIMES``
    (``.cat.codes``: 0 abundant, 1 draining, 2 scarce, -1 unknown).
    """
    values = composite.to_numpy(dtype=float).tolist()  # Python floats: a faster loop
    codes = [-1] * len(values)
    thresholds = (draining_above, scarce_above)
    enter = (thresholds[0] + hysteresis, thresholds[1] + hysteresis, math.inf)  # from 0, 1
    leave = (-math.inf, thresholds[0] - hysteresis, thresholds[1] - hysteresis)  # from 1, 2
    state = -1
    for i, c in enumerate(values):
        if c != c:  # NaN
            continue
        if state < 0:
            state = int(c > thresholds[0]) + int(c > thresholds[1])
        else:
            while c > enter[state]:  # never past 2: enter[2] is infinite
                state += 1
            while c < leave[state]:  # never below 0
                state -= 1
        codes[i] = state
    regime = pd.Categorical.from_codes(np.array(codes, dtype=np.int8), categories=list(REGIMES),
                                       ordered=True)
    return pd.Series(regime, index=composite.index, name="regime")
