"""Drain betas: each asset's weekly return on the weekly change of the composite (Newey-West)."""

from __future__ import annotations

import math

import pandas as pd

from backtests.stats.econometrics import nw_ols
from thesis.inputs import MARKET, SPREAD, ThesisInputs
from thesis.result import InsufficientData


def _group(inputs: ThesisInputs, column: str) -> str:
    if column in (inputs.short_name, inputs.long_name, SPREAD):
        return "basket"
    for name, members in inputs.baskets.items():
        if column in members:
            return name
    return "market" if column == MARKET else "other"


def drain_betas(inputs: ThesisInputs, since=None, until=None) -> pd.DataFrame:
    """Beta of every weekly return series on the weekly composite change, ranked (most negative
    first), with Newey-West t-stats; ``beta_ex_market`` also controls for SPY's weekly return."""
    weekly = inputs.weekly_returns
    change = inputs.weekly_composite_change
    if since is not None:
        weekly, change = weekly[weekly.index >= since], change[change.index >= since]
    if until is not None:
        weekly, change = weekly[weekly.index < until], change[change.index < until]
    min_weeks = inputs.config.min_weeks
    rows = []
    for column in weekly.columns:
        try:
            fit = nw_ols(weekly[column], change, min_obs=min_weeks)
        except InsufficientData:
            continue
        row = {"asset": column, "group": _group(inputs, column), "beta": fit.params.iloc[1],
               "t": fit.t.iloc[1], "weeks": fit.n, "beta_ex_market": math.nan,
               "t_ex_market": math.nan}
        if MARKET in weekly and column != MARKET:
            try:
                both = pd.concat([change, weekly[MARKET].rename("spy")], axis=1)
                partial = nw_ols(weekly[column], both, min_obs=min_weeks)
                row["beta_ex_market"] = partial.params.iloc[1]
                row["t_ex_market"] = partial.t.iloc[1]
            except InsufficientData:
                pass
        rows.append(row)
    if not rows:
        raise InsufficientData(f"no asset has {min_weeks} weeks of returns and composite changes")
    table = pd.DataFrame(rows).sort_values("beta").reset_index(drop=True)
    table.index = pd.RangeIndex(1, len(table) + 1, name="rank")
    return table
