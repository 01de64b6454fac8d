"""Summary statistics, annualised with 252 sessions (the same convention as quantstats)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from drain_core.conventions import PERIODS_PER_YEAR


def max_drawdown(returns: pd.Series) -> float:
    """Largest peak-to-trough fall of the compounded equity curve (a negative fraction)."""
    equity = (1.0 + returns.fillna(0.0)).cumprod()
    return float((equity / equity.cummax() - 1.0).min())


def summary(returns: pd.Series, turnover: pd.Series | None = None,
            weights: pd.DataFrame | None = None) -> dict[str, float]:
    """CAGR, volatility, Sharpe, Sortino, max drawdown, Calmar; turnover and exposure if given.

    Sharpe = mean / std (ddof 1) x sqrt(252) on daily returns (no risk-free deduction: cash
    already earns the bill rate inside the portfolio). Sortino uses the root mean square of the
    negative daily returns as downside deviation, as quantstats does.
    """
    r = returns.fillna(0.0).to_numpy()
    n = len(r)
    total = float(np.prod(1.0 + r) - 1.0)
    std = r.std(ddof=1)
    downside = np.sqrt(np.mean(np.minimum(r, 0.0) ** 2))
    out = {
        "total_return": total,
        "cagr": (1.0 + total) ** (PERIODS_PER_YEAR / n) - 1.0 if total > -1 else -1.0,
        "volatility": float(std * np.sqrt(PERIODS_PER_YEAR)),
        "sharpe": float(r.mean() / std * np.sqrt(PERIODS_PER_YEAR)) if std > 0 else float("nan"),
        "sortino": (float(r.mean() / downside * np.sqrt(PERIODS_PER_YEAR))
                    if downside > 0 else float("nan")),
        "max_drawdown": max_drawdown(returns),
    }
    out["calmar"] = out["cagr"] / abs(out["max_drawdown"]) if out["max_drawdown"] < 0 else np.nan
    if turnover is not None:
        out["turnover"] = float(turnover.mean() * PERIODS_PER_YEAR)
    if weights is not None:
        out["gross_exposure"] = float(weights.abs().sum(axis=1).mean())
        out["net_exposure"] = float(weights.sum(axis=1).mean())
    return out
