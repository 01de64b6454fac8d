"""When to trade: the sessions on which target weights are sent to the backtest."""

from __future__ import annotations

import pandas as pd

from drain_data.calendar import session_after


def rebalance_days(weights: pd.DataFrame, regime: pd.Series, rule: str) -> pd.Series:
    """Boolean mask of rebalance sessions for ``rule`` (daily, weekly, monthly, regime).

    Weekly and monthly rebalance on the last session of each week or month. Every rule also
    rebalances when the set of held names changes (a listing, a delisting, a regime flip).
    """
    index = weights.index
    if rule == "daily":
        mask = pd.Series(True, index=index)
    elif rule in ("weekly", "monthly"):
        mask = last_session_of_period(index, "W-FRI" if rule == "weekly" else "M")
    elif rule == "regime":
        mask = regime.ne(regime.shift(1))
    else:
        raise ValueError(f"unknown rebalance rule {rule!r}")
    held = weights.fillna(0.0).ne(0.0)
    membership_change = held.ne(held.shift(1, fill_value=False)).any(axis=1)
    return (mask | membership_change).astype(bool)


def last_session_of_period(index: pd.DatetimeIndex, freq: str) -> pd.Series:
    """True on the last NYSE session of each week ("W-FRI") or month ("M").

    Decided from the exchange calendar (published in advance), never from whether the data has
    a next row, so the answer for day t does not depend on data after t.
    """
    following = session_after(index)
    last = index.to_period(freq) != following.to_period(freq)
    return pd.Series(last, index=index)


def scheduled_orders(weights: pd.DataFrame, mask: pd.Series) -> pd.DataFrame:
    """Target weights on rebalance sessions, NaN (no order) on all others."""
    return weights.where(mask, axis=0)
