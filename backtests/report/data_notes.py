"""Data notes of a backtest run: tickers whose price data ends before the window does.

The engine values a position at the last real price carried forward, and the strategy cannot
target a ticker without a real price, so a position still held when its data ends books zero
return until the next rebalance closes it at that last price. ``ended_tickers`` finds those
tickers and says, from the weights held and the prices, which dates and weights were affected.
"""

from __future__ import annotations

import pandas as pd

HELD = 1e-9  # absolute weight above which a position counts as held


def ended_tickers(prices: pd.DataFrame, weights: pd.DataFrame) -> list[dict]:
    """One record per ticker whose last real price falls before the window's last session.

    ``prices`` are real closes on the window's sessions (NaN where there is none) and
    ``weights`` the weights held at each close. A record holds the ticker, its last real price
    date, the weight held at that close, the sessions after it on which a position was still
    held (at the stale price, zero return), the first and last of them, the largest weight held
    on them, and the session the position was closed (None if never).
    """
    records = []
    end = prices.index[-1]
    for ticker in prices.columns:
        last = prices[ticker].last_valid_index()
        if last is None or last >= end:
            continue
        held = weights[ticker].reindex(prices.index).fillna(0.0) if ticker in weights else None
        after = held.loc[held.index > last] if held is not None else pd.Series(dtype=float)
        stale = after[after.abs() > HELD]
        closed = after.index[after.abs() <= HELD]
        records.append({
            "ticker": ticker,
            "last_price": str(last.date()),
            "weight_at_last_price": float(held.loc[last]) if held is not None else 0.0,
            "stale_sessions": len(stale),
            "first_stale": str(stale.index[0].date()) if len(stale) else None,
            "last_stale": str(stale.index[-1].date()) if len(stale) else None,
            "max_stale_weight": float(stale.abs().max()) if len(stale) else 0.0,
            "closed_on": (str(closed[0].date()) if len(stale) and len(closed) else None),
        })
    return records


def describe(record: dict) -> str:
    """One sentence for a report's data notes."""
    head = f"{record['ticker']}: price data ends {record['last_price']}"
    if not record["stale_sessions"]:
        return f"{head}; no position was held after it."
    closed = (f"closed on {record['closed_on']}" if record["closed_on"]
              else "still held at the window's end")
    return (f"{head}; the position held then ({record['weight_at_last_price']:+.1%} of equity, "
            f"at most {record['max_stale_weight']:.1%} after) was valued at that last price, "
            f"booking zero return, for {record['stale_sessions']} session"
            f"{'s' if record['stale_sessions'] > 1 else ''} "
            f"({record['first_stale']} to {record['last_stale']}), {closed} at that price.")
