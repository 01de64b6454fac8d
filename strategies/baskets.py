"""Weights inside one basket: equal or inverse-volatility over members priced that day."""

from __future__ import annotations

import numpy as np
import pandas as pd

from drain_core.errors import DrainError


def check_members(prices: pd.DataFrame, members: tuple[str, ...], basket: str) -> None:
    """Every basket member must have price data; otherwise a one-line error with a suggestion."""
    import difflib

    for ticker in members:
        if ticker not in prices.columns:
            close = difflib.get_close_matches(ticker, list(prices.columns), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise DrainError(
                f"basket {basket!r} member {ticker!r} has no price data{hint}; fix the basket or "
                f"fetch it with 'drain data update --tickers {ticker}'"
            )


def tradable(prices: pd.DataFrame) -> pd.DataFrame:
    """True where a ticker has a real price that session (never filled forward)."""
    return prices.notna()


def basket_weights(
    prices: pd.DataFrame, members: tuple[str, ...], weighting: str, vol_lookback: int
) -> pd.DataFrame:
    """Weights summing to 1 each session over members with a real price (0 where none trades).

    ``inverse_vol`` uses the standard deviation of the last ``vol_lookback`` daily returns
    known at the close; a member without that much history gets no weight yet.
    """
    frame = prices[list(members)]
    live = tradable(frame)
    if weighting == "equal":
        raw = live.astype(float)
    elif weighting == "inverse_vol":
        returns = frame.pct_change(fill_method=None)
        vol = returns.rolling(vol_lookback, min_periods=vol_lookback).std()
        raw = (1.0 / vol).where(live & (vol > 0)).fillna(0.0)
    else:
        raise DrainError(f"unknown weighting {weighting!r}; use equal or inverse_vol")
    total = raw.sum(axis=1)
    weights = raw.div(total.where(total > 0), axis=0).fillna(0.0)
    return weights.astype(np.float64)
