"""Data notes of a backtest run: tickers whose price data ends before the window does.

The engine values a position at the last real price carried forward, and the strategy cannot
target a ticker without a real price, so a position still held when its data ends books zero
return until the next rebalance closes it at that last price. ``ended_tickers`` finds those
tickers and says, from the weights held and the prices, which dates and weights were affected;
``data_notes`` is the pair of fields every run folder records (``drain backtest``'s manifest,
``drain tune --unseal``'s holdout, ``drain placebo``'s actual run), and ``prepared_run_notes``
finds the weights of a prepared run through the vectorbt engine when a traded ticker ends.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from backtests.run.prepare import PreparedRun

HELD = 1e-9  # absolute weight above which a position counts as held


def no_notes() -> dict[str, list]:
    """``data_notes`` of a run with nothing to note."""
    return {"data_notes": [], "ended_tickers": []}


def ended_tickers(prices: pd.DataFrame, weights: pd.DataFrame) -> list[dict]:
    """One record per ticker whose last real price falls before the window's last session.

    ``prices`` are real closes on the window's sessions (NaN where there is none) and
    ``weights`` the weights held at each close. A session's return comes from the weights held
    at the previous close, so the sessions that book zero return on the stale price are those
    after the last real price whose previous close still held the position: from the session
    after the last price up to and including the one whose close closes the position. A record
    holds the ticker, its last real price date, the weight held at that close, those stale
    sessions (how many, the first and last), the largest weight carried into them, and the
    session whose close closed the position (None if never).
    """
    records = []
    end = prices.index[-1]
    for ticker in prices.columns:
        last = prices[ticker].last_valid_index()
        if last is None or last >= end:
            continue
        held = (weights[ticker].reindex(prices.index).fillna(0.0) if ticker in weights
                else pd.Series(0.0, index=prices.index))
        carried = held.shift(1).fillna(0.0)  # the weight each session's return comes from
        after = held.index > last
        stale = carried[after & (carried.abs() > HELD)]
        closed = held.index[after & (held.abs() <= HELD)]
        records.append({
            "ticker": ticker,
            "last_price": str(last.date()),
            "weight_at_last_price": float(held.loc[last]),
            "stale_sessions": len(stale),
            "first_stale": str(stale.index[0].date()) if len(stale) else None,
            "last_stale": str(stale.index[-1].date()) if len(stale) else None,
            "max_stale_weight": float(stale.abs().max()) if len(stale) else 0.0,
            "closed_on": (str(closed[0].date()) if len(stale) and len(closed) else None),
        })
    return records


def describe(record: dict) -> str:
    """One sentence for a report's data notes: the stale sessions that booked zero return (each
    one's return came from a position held at the previous close) and when it was closed."""
    head = f"{record['ticker']}: price data ends {record['last_price']}"
    n = record["stale_sessions"]
    if not n:
        return f"{head}; no position was held after it."
    closed = (f"closed on {record['closed_on']} at that price" if record["closed_on"]
              else "still held at the window's end")
    span = (record["first_stale"] if record["first_stale"] == record["last_stale"]
            else f"{record['first_stale']} to {record['last_stale']}")
    return (f"{head}; the position held then ({record['weight_at_last_price']:+.1%} of equity) "
            f"was valued at that last price, booking zero return on {n} session"
            f"{'s' if n > 1 else ''} ({span}; at most {record['max_stale_weight']:.1%} of "
            f"equity held into them), {closed}.")


def data_notes(prices: pd.DataFrame, weights: pd.DataFrame) -> dict[str, list]:
    """``{"data_notes": [sentence, ...], "ended_tickers": [record, ...]}`` of a run whose
    ``weights`` were held at each close of ``prices`` (real closes of its tickers)."""
    ended = ended_tickers(prices, weights)
    return {"data_notes": [describe(r) for r in ended], "ended_tickers": ended}


def notes_html(notes: list[str]) -> str:
    """A page's "Data notes" section (empty without notes)."""
    if not notes:
        return ""
    return ("<h2>Data notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes)
            + "</ul>")


def prepared_run_notes(prepared: PreparedRun) -> dict[str, list]:
    """``data_notes`` of a prepared run (``backtests.run.prepare``) as ``drain backtest``
    trades it: when a traded ticker's data ends inside the window, the weights held come from
    the vectorbt engine (imported only then); otherwise there is nothing to note."""
    window, targets = prepared.window, prepared.targets
    prices = window[targets.weights.columns]
    last = prices.apply(pd.Series.last_valid_index).dropna()
    if not (last < prices.index[-1]).any():
        return no_notes()
    from backtests.sim.engine import run_backtest

    backtest = prepared.config.backtest
    result = run_backtest(targets.orders, window, window[backtest.cash_rate_ticker], backtest)
    return data_notes(prices, result.weights)
