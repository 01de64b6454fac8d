"""Performance statistics, written once: Sharpe, Sortino, CAGR, drawdown and the summary table.

Every function takes daily simple returns as a NumPy array (or anything ``np.asarray`` takes),
one series along ``axis`` (default 0: sessions down the rows, one column per series), and
annualises with ``PERIODS_PER_YEAR`` sessions (the convention quantstats uses and vectorbt is
told). NaN results mark undefined statistics (fewer than two sessions, zero volatility).
Tuning, walk-forward, the fast kernel's reruns and the run reports all call these.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drain_core.conventions import PERIODS_PER_YEAR

EXPOSURE_FLOOR = 1e-9  # gross weight below which a session counts as flat (out of the market)


def _array(returns) -> np.ndarray:
    return np.asarray(returns, dtype=np.float64)


def excess(returns, cash_returns):
    """Returns in excess of the cash rate (``returns - cash_returns``, aligned on the index for
    pandas inputs): what Sharpe, Sortino and the information ratio are computed on."""
    if isinstance(returns, pd.Series | pd.DataFrame):
        if not isinstance(cash_returns, pd.Series):  # an array lines up by position
            if len(cash_returns) != len(returns):
                raise ValueError(f"{len(cash_returns)} cash returns for {len(returns)} sessions")
            cash_returns = pd.Series(np.asarray(cash_returns, dtype=float), index=returns.index)
        return returns.sub(cash_returns.reindex(returns.index), axis=0)
    r, c = _array(returns), _array(cash_returns)
    return r - (c if r.ndim == 1 else c.reshape(-1, *([1] * (r.ndim - 1))))


def total_return(returns, axis: int = 0) -> np.ndarray | float:
    """Compounded return ``prod(1 + r) - 1``."""
    r = _array(returns)
    return np.expm1(np.log1p(np.maximum(r, -1.0)).sum(axis=axis))


def cagr(returns, axis: int = 0) -> np.ndarray | float:
    """Compound annual growth rate ``prod(1 + r) ** (252 / T) - 1``; -1 once wealth is gone."""
    r = _array(returns)
    n = r.shape[axis]
    with np.errstate(divide="ignore"):
        growth = np.log1p(np.maximum(r, -1.0)).sum(axis=axis)
    return np.expm1(growth * (PERIODS_PER_YEAR / n)) if n else np.nan * growth


def volatility(returns, axis: int = 0) -> np.ndarray | float:
    """Annualised standard deviation (ddof 1)."""
    r = _array(returns)
    if r.shape[axis] < 2:
        return np.full(np.delete(r.shape, axis), np.nan) if r.ndim > 1 else np.nan
    return r.std(axis=axis, ddof=1) * np.sqrt(PERIODS_PER_YEAR)


def sharpe(returns, axis: int = 0) -> np.ndarray | float:
    """Annualised Sharpe ratio ``mean / std(ddof 1) * sqrt(252)``; NaN when std is 0.

    Pass returns in excess of the cash rate for a risk-adjusted figure."""
    r = _array(returns)
    if r.shape[axis] < 2:
        return np.full(np.delete(r.shape, axis), np.nan) if r.ndim > 1 else np.nan
    sd = r.std(axis=axis, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = r.mean(axis=axis) / sd * np.sqrt(PERIODS_PER_YEAR)
    return np.where(sd > 0, value, np.nan) if np.ndim(value) else (
        float(value) if sd > 0 else np.nan)


def sortino(returns, axis: int = 0) -> np.ndarray | float:
    """Annualised Sortino ratio: mean over the root mean square of the negative returns (as
    quantstats computes its downside deviation)."""
    r = _array(returns)
    downside = np.sqrt(np.mean(np.minimum(r, 0.0) ** 2, axis=axis))
    with np.errstate(invalid="ignore", divide="ignore"):
        value = r.mean(axis=axis) / downside * np.sqrt(PERIODS_PER_YEAR)
    return np.where(downside > 0, value, np.nan) if np.ndim(value) else (
        float(value) if downside > 0 else np.nan)


def max_drawdown(returns, axis: int = 0) -> np.ndarray | float:
    """Largest peak-to-trough fall of the compounded equity curve (a negative fraction)."""
    r = np.nan_to_num(_array(returns))
    wealth = np.cumprod(1.0 + r, axis=axis)
    peak = np.maximum(np.maximum.accumulate(wealth, axis=axis), 1.0)
    return (wealth / peak - 1.0).min(axis=axis)


def information_ratio(returns, benchmark, axis: int = 0) -> np.ndarray | float:
    """Annualised information ratio: the Sharpe ratio of ``returns - benchmark`` (the cash rate
    cancels, so it is the same on total and on excess returns)."""
    r, b = _array(returns), _array(benchmark)
    return sharpe(r - (b if r.ndim == b.ndim else b.reshape(-1, *([1] * (r.ndim - 1)))),
                  axis=axis)


def summary(returns: pd.Series, turnover: pd.Series | None = None,
            weights: pd.DataFrame | None = None, *, cash_returns: pd.Series | None = None,
            benchmark: pd.Series | None = None) -> dict[str, float]:
    """Total return, CAGR, volatility, Sharpe, Sortino, max drawdown, Calmar; the information
    ratio against ``benchmark``, turnover and exposure when given.

    Total return, CAGR, volatility and drawdown are of the total returns. Sharpe = mean / std
    (ddof 1) x sqrt(252) and Sortino (root mean square of the negative days as downside
    deviation, as quantstats) are of the returns in excess of ``cash_returns`` (the daily cash
    return the engine credits, ``backtests.sim.accrual.daily_rates``); without it they are of
    the total returns, which counts interest on idle cash as performance.
    """
    r = returns.fillna(0.0)
    x = (excess(r, cash_returns.fillna(0.0)) if cash_returns is not None else r).to_numpy()
    r = r.to_numpy()
    out = {
        "total_return": float(total_return(r)),
        "cagr": float(cagr(r)),
        "volatility": float(volatility(r)),
        "sharpe": float(sharpe(x)),
        "sortino": float(sortino(x)),
        "max_drawdown": float(max_drawdown(r)),
    }
    out["calmar"] = out["cagr"] / abs(out["max_drawdown"]) if out["max_drawdown"] < 0 else np.nan
    if cash_returns is not None:
        out["excess_return"] = float(x.mean() * PERIODS_PER_YEAR)
        out["cash_cagr"] = float(cagr(cash_returns.reindex(returns.index).fillna(0.0)))
    if benchmark is not None:
        b = benchmark.reindex(returns.index).fillna(0.0).to_numpy()
        out["information_ratio"] = float(information_ratio(r, b))
    if turnover is not None:
        out["turnover"] = float(turnover.mean() * PERIODS_PER_YEAR)
    if weights is not None:
        out["gross_exposure"] = float(weights.abs().sum(axis=1).mean())
        out["net_exposure"] = float(weights.sum(axis=1).mean())
        out["time_in_market"] = float((weights.abs().sum(axis=1) > EXPOSURE_FLOOR).mean())
    return out
