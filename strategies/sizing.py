"""Book-level sizing: scale target weights to a volatility target, capped in leverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from drain_core.conventions import PERIODS_PER_YEAR


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


def cap_long_side(weights: pd.DataFrame, cash_buffer: float) -> pd.DataFrame:
    """Scale the long side down where it would need a margin loan.

    Longs may be funded by equity plus short proceeds, less ``cash_buffer`` of equity that stays
    in cash to pay fees: sum(longs) <= 1 - cash_buffer + sum(|shorts|).
    """
    longs = weights.clip(lower=0.0)
    shorts = weights.clip(upper=0.0)
    room = 1.0 - cash_buffer - shorts.sum(axis=1)
    total = longs.sum(axis=1)
    scale = (room / total).where(total > room, 1.0)
    return longs.mul(scale, axis=0) + shorts
