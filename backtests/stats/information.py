"""How much a time-series signal says about future returns, before any strategy is built on it.

Timing (no look-ahead): the signal of day t is known at close t; a trade on it is placed at the
close ``lag`` sessions later (the engine's lag, 1 by default) and then held. So the forward return
that the signal may claim is the log return from close ``t + lag`` to close ``t + lag + h``:
``sum(log1p r[t + lag + 1 .. t + lag + h])`` where ``r[s]`` is the return from close s - 1 to
close s. The returns of days t + 1 .. t + lag are left out: nobody could have earned them.

Everything is measured on log returns of daily-rebalanced books (a basket is the equal-weight mean
of its priced members; the spread is the speculative basket minus the cash-flow basket, dollar
neutral), so h-session returns add up. Overlapping h-session windows make neighbouring
observations dependent: t-statistics come from the regression of the forward return on the
standardised signal with Newey-West errors with ``h`` lags and Hodrick's (1992) 1B errors, and
the reported ``t`` uses the larger of the two (``econometrics.overlapping_ols``).

``oos_information`` scores a signal on a sequence of test windows (each one's rank IC uses only
that window's signals and returns), so that parameter choices can be ranked by the information
they carry out of sample rather than by backtest P&L.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from backtests.stats.econometrics import cross_correlation, overlapping_ols
from drain_core.errors import InsufficientData

HORIZONS = (1, 5, 21, 63)
SPREAD = "spread"
MIN_OBS = 30


def log_returns(prices: pd.DataFrame | pd.Series):
    """Daily log returns from real closes (NaN where either close is missing)."""
    return np.log1p(prices.pct_change(fill_method=None)).replace([np.inf, -np.inf], np.nan)


def target_returns(prices: pd.DataFrame, baskets: dict[str, tuple[str, ...]], long_name: str,
                   short_name: str, assets=("SPY", "BTC-USD")) -> pd.DataFrame:
    """Daily log returns of the spread (short basket minus long basket: speculative minus cash
    flow), each basket and each asset that has prices."""
    members = {name: [m for m in baskets[name] if m in prices.columns]
               for name in (short_name, long_name)}
    simple = {name: prices[m].pct_change(fill_method=None).mean(axis=1, skipna=True)
              for name, m in members.items()}
    out = {SPREAD: np.log1p(simple[short_name] - simple[long_name]),
           short_name: np.log1p(simple[short_name]), long_name: np.log1p(simple[long_name])}
    for asset in assets:
        if asset in prices.columns:
            out[asset] = log_returns(prices[asset])
    return pd.DataFrame(out, index=prices.index)


def forward_returns(one_period: pd.Series | pd.DataFrame, horizon: int, lag: int = 1):
    """At t: ``sum(one_period[t + lag + 1 .. t + lag + horizon])`` (NaN if any is missing).

    Each window is summed on its own (not a running sum), so the value at t depends, to the
    last bit, on those ``horizon`` returns only."""
    values = one_period.to_numpy(dtype=np.float64)
    n = len(values)
    out = np.full(values.shape, np.nan)
    first = lag + 1  # the first return in the window of day t is t + lag + 1
    if n >= first + horizon:
        sums = sliding_window_view(values, horizon, axis=0).sum(axis=-1)  # sums[s]: s..s+h-1
        out[:n - first - horizon + 1] = sums[first:]
    if isinstance(one_period, pd.DataFrame):
        return pd.DataFrame(out, index=one_period.index, columns=one_period.columns)
    return pd.Series(out, index=one_period.index, name=one_period.name)


def _standardised(x: pd.Series) -> pd.Series:
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else x * np.nan


@dataclass(frozen=True)
class Information:
    """Correlations of a signal with one forward return and their overlap-robust t-statistics."""

    pearson: float
    spearman: float
    t: float  # the slope's t with the larger of the Newey-West and Hodrick 1B errors
    t_nw: float
    t_hodrick: float
    n: int

    def to_dict(self) -> dict[str, float]:
        """A JSON-friendly dict."""
        return {"pearson": self.pearson, "spearman": self.spearman, "t": self.t,
                "t_nw": self.t_nw, "t_hodrick": self.t_hodrick, "n": self.n}


NO_INFORMATION = Information(math.nan, math.nan, math.nan, math.nan, math.nan, 0)


def information(signal: pd.Series, one_period: pd.Series, horizon: int, lag: int = 1, *,
                min_obs: int = MIN_OBS) -> Information:
    """Pearson and Spearman correlation of ``signal`` at t with the forward return of
    ``one_period`` (``forward_returns``) and the t-statistic of the slope."""
    signal = signal.reindex(one_period.index)
    forward = forward_returns(one_period, horizon, lag)
    pair = pd.concat([signal, forward], axis=1).dropna()
    if len(pair) < min_obs or pair.iloc[:, 0].std() == 0 or pair.iloc[:, 1].std() == 0:
        return NO_INFORMATION
    pearson = float(pair.iloc[:, 0].corr(pair.iloc[:, 1]))
    spearman = rank_correlation(pair.iloc[:, 0].to_numpy(), pair.iloc[:, 1].to_numpy())
    try:
        fit = overlapping_ols(one_period.shift(-lag), _standardised(signal.where(
            forward.notna())).rename("signal"), horizon, min_obs=min_obs)
    except (InsufficientData, np.linalg.LinAlgError):
        return Information(pearson, spearman, math.nan, math.nan, math.nan, len(pair))
    nw, hodrick = fit.se_of({"signal": 1.0})
    slope = float(fit.params["signal"])
    se = max(s for s in (nw, hodrick) if math.isfinite(s))
    return Information(pearson, spearman, slope / se if se > 0 else math.nan,
                       slope / nw if nw > 0 else math.nan,
                       slope / hodrick if hodrick > 0 else math.nan, len(pair))


def information_table(signals: pd.DataFrame, targets: pd.DataFrame,
                      horizons=HORIZONS, lag: int = 1) -> pd.DataFrame:
    """One row per (signal, target, horizon): pearson, spearman, t, t_nw, t_hodrick, n."""
    rows = []
    for name in signals.columns:
        for target in targets.columns:
            for h in horizons:
                info = information(signals[name], targets[target], h, lag)
                rows.append({"signal": name, "target": target, "horizon": h, **info.to_dict()})
    return pd.DataFrame(rows)


def information_by(signal: pd.Series, one_period: pd.Series, labels: pd.Series, horizon: int,
                   lag: int = 1, *, min_obs: int = MIN_OBS) -> pd.DataFrame:
    """``information`` within each group of ``labels`` (the label known at t: a calendar year,
    a regime). Forward windows may run past a group's end: the label is the signal day's."""
    forward = forward_returns(one_period, horizon, lag)
    labels = labels.reindex(one_period.index)
    rows = []
    for label in pd.unique(labels.dropna()):
        inside = labels == label
        info = information(signal.where(inside), one_period, horizon, lag, min_obs=min_obs)
        if info.n == 0:
            info = Information(math.nan, math.nan, math.nan, math.nan, math.nan,
                               int((inside & signal.notna() & forward.notna()).sum()))
        rows.append({"group": label, **info.to_dict()})
    return pd.DataFrame(rows)


def quintile_means(signal: pd.Series, one_period: pd.Series, horizon: int, lag: int = 1,
                   buckets: int = 5) -> pd.DataFrame:
    """Mean forward return by signal quintile (edges from the whole sample: descriptive, not a
    rule anyone could have traded), with the count and the mean signal in each."""
    forward = forward_returns(one_period, horizon, lag)
    pair = pd.concat([signal.reindex(one_period.index).rename("signal"),
                      forward.rename("forward")], axis=1).dropna()
    if len(pair) < buckets:
        return pd.DataFrame(columns=["quintile", "mean_forward", "mean_signal", "n"])
    pair["quintile"] = pd.qcut(pair["signal"].rank(method="first"), buckets,
                               labels=range(1, buckets + 1)).astype(int)
    grouped = pair.groupby("quintile")
    return pd.DataFrame({"mean_forward": grouped["forward"].mean(),
                         "mean_signal": grouped["signal"].mean(),
                         "n": grouped.size()}).reset_index()


def lead_lag(signal: pd.Series, one_period: pd.Series, window: int = 21,
             max_lag: int = 126) -> pd.DataFrame:
    """``corr(signal[t], R[t + k])`` with ``R`` the ``window``-session return ending at close s,
    for k in -max_lag..max_lag. For k > window the return lies wholly after t (the signal
    leads); for k <= 0 wholly before (the signal follows the market)."""
    trailing = one_period.rolling(window, min_periods=window).sum()
    return cross_correlation(signal.reindex(one_period.index), trailing, max_lag)


def consecutive_windows(n_sessions: int, first: int, length: int) -> list[tuple[int, int]]:
    """Test windows ``[first, first + length)``, ``[first + length, ...)``, ... (ends exclusive;
    the last one may be shorter)."""
    return [(lo, min(lo + length, n_sessions)) for lo in range(first, n_sessions, length)]


@dataclass(frozen=True)
class OutOfSample:
    """A signal's rank IC on each test window, signed so that positive = as the thesis expects."""

    windows: list[tuple[int, int]]
    ics: np.ndarray
    sign: int

    @property
    def mean(self) -> float:
        """Mean signed IC over the windows with one (the score to rank parameters by)."""
        ok = self.ics[~np.isnan(self.ics)]
        return float(ok.mean()) if len(ok) else math.nan

    @property
    def t(self) -> float:
        """Mean over its standard error across windows (windows treated as independent)."""
        ok = self.ics[~np.isnan(self.ics)]
        if len(ok) < 2 or ok.std(ddof=1) == 0:
            return math.nan
        return float(ok.mean() / (ok.std(ddof=1) / math.sqrt(len(ok))))


def rank_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation of two NaN-free arrays: Pearson's on their average ranks
    (ties share a rank), as ``pd.Series.corr(method="spearman")`` computes it, without its
    per-call overhead."""
    from scipy.stats import rankdata

    rx, ry = rankdata(x), rankdata(y)
    rx -= rx.mean()
    ry -= ry.mean()
    return float(rx @ ry / math.sqrt((rx @ rx) * (ry @ ry)))


def oos_information(signal: pd.Series, one_period: pd.Series, horizon: int,
                    windows: list[tuple[int, int]], *, lag: int = 1, sign: int = -1,
                    min_obs: int = MIN_OBS) -> OutOfSample:
    """Spearman IC of ``signal`` with the forward return on each test window (positions on
    ``one_period``'s index), times ``sign`` (-1: the composite should predict a falling
    speculative-minus-cash-flow spread). A window uses only signal days whose forward return
    ends inside it, so no window reads a return after its end."""
    signal = signal.reindex(one_period.index).to_numpy(dtype=float)
    forward = forward_returns(one_period, horizon, lag).to_numpy(dtype=float)
    ics = []
    for lo, hi in windows:
        last = hi - horizon - lag  # signal days whose forward window ends by hi - 1
        s, f = signal[lo:max(last, lo)], forward[lo:max(last, lo)]
        ok = ~np.isnan(s) & ~np.isnan(f)
        if ok.sum() < min_obs or np.std(s[ok]) == 0 or np.std(f[ok]) == 0:
            ics.append(math.nan)
            continue
        ics.append(sign * rank_correlation(s[ok], f[ok]))
    return OutOfSample(windows=list(windows), ics=np.array(ics, dtype=float), sign=sign)


def spread_information_score(composite: pd.Series, prices: pd.DataFrame,
                             baskets: dict[str, tuple[str, ...]], long_name: str,
                             short_name: str, windows: list[tuple[int, int]], *,
                             horizon: int = 21, lag: int = 1) -> OutOfSample:
    """The composite's out-of-sample information about the spread, for ranking signal
    parameters: rank IC with the forward speculative-minus-cash-flow return on each test window
    (positions on ``prices.index``, e.g. ``(s.test_start, s.test_end)`` of walk-forward splits),
    signed so that positive = the thesis' direction (a higher composite, a falling spread)."""
    spread = target_returns(prices, baskets, long_name, short_name, assets=())[SPREAD]
    return oos_information(composite, spread, horizon, windows, lag=lag, sign=-1)
