"""When to trade: the sessions on which target weights are sent to the backtest."""

from __future__ import annotations

import pandas as pd


def rebalance_days(weights: pd.DataFrame, regime: pd.Series, rule: str) -> pd.Series:
    """Boolean mask of rebalance sessions for ``rule`` (daily, weekly, monthly, regime).

    Weekly and monthly rebalance on the last session of each week or month. Every rule also
    rebalances when the set of held names changes (a listing, a delisting, a regime flip).
    """
    index = weights.index
    if rule == "daily":
        mask = pd.Series(True, index=index)
    elif rule in ("weekly", "monthly"):
        period = index.to_period("W-FRI" if rule == "weekly" else "M")
        last = pd.Series(period, index=index).ne(pd.Series(period, index=index).shift(-1))
        mask = last
    elif rule == "regime":
        mask = regime.ne(regime.shift(1))
    else:
        raise ValueError(f"unknown rebalance rule {rule!r}")
    held = weights.fillna(0.0).ne(0.0)
    membership_change = held.ne(held.shift(1, fill_value=False)).any(axis=1)
    return (mask | membership_change).astype(bool)


def scheduled_orders(weights: pd.DataFrame, mask: pd.Series) -> pd.DataFrame:
    """Target weights on rebalance sessions, NaN (no order) on all others."""
    return weights.where(mask, axis=0)
