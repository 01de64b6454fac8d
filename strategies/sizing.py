"""Book-level sizing: scale target weights to a volatility target, capped in leverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

PERIODS_PER_YEAR = 252


def book_volatility(weights: pd.DataFrame, prices: pd.DataFrame, lookback: int) -> pd.Series:
    """Annualised volatility of today's weights applied to the last ``lookback`` daily returns.

    Only returns up to and including day t enter the estimate for day t.
    """
    returns = prices[weights.columns].pct_change(fill_method=None).fillna(0.0).to_numpy()
    w = weights.fillna(0.0).to_numpy()
    out = np.full(len(weights), np.nan)
    if len(weights) >= lookback:
        windows = sliding_window_view(returns, lookback, axis=0)  # (T-L+1, N, L)
        book = np.einsum("tnl,tn->tl", windows, w[lookback - 1 :])
        out[lookback - 1 :] = book.std(axis=1, ddof=1) * np.sqrt(PERIODS_PER_YEAR)
    return pd.Series(out, index=weights.index)


def target_volatility(
    weights: pd.DataFrame, prices: pd.DataFrame, target: float, lookback: int, max_leverage: float
) -> pd.DataFrame:
    """Scale each day's weights by target / estimated book vol, at most ``max_leverage``.

    Days without an estimate (warm-up) or with zero estimated vol keep a scale of 1.
    """
    vol = book_volatility(weights, prices, lookback)
    scale = (target / vol).where(vol > 0).clip(upper=max_leverage).fillna(1.0)
    return weights.mul(scale, axis=0)
