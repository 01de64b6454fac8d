"""Point-in-time plumbing: observations tagged ``available_at`` onto NYSE sessions, with staleness.

Everything here is backward looking: the value on a session comes only from rows whose
``available_at`` is on or before that session, so a truncated ``Dataset.as_of(t)`` gives identical
values on every session up to ``t``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from pandas.tseries.holiday import USFederalHolidayCalendar

from drain_data.calendar import nyse_sessions

NS = "datetime64[ns]"


def as_ns(values) -> np.ndarray:
    """Dates as a numpy ``datetime64[ns]`` array (pandas 3 may hand out microseconds)."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "M":
        return values.astype(NS, copy=False)
    if isinstance(values, (pd.Series, pd.Index)) and values.dtype.kind == "M":
        return values.to_numpy().astype(NS, copy=False)
    return np.asarray(pd.DatetimeIndex(values).astype(NS).to_numpy(), dtype=NS)


def split_macro(macro: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Macro rows per series (date, value, available_at), each sorted by date (stable)."""
    codes, names = pd.factorize(macro["series"])
    dates = as_ns(macro["date"])
    order = np.lexsort((dates, codes))  # by series, then date; ties keep their row order
    codes = codes[order]
    dates = dates[order]
    values = macro["value"].to_numpy(dtype=float)[order]
    avail = as_ns(macro["available_at"])[order]
    bounds = np.flatnonzero(np.diff(codes)) + 1
    out = {}
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(codes)], strict=True):
        if hi > lo:
            out[str(names[codes[lo]])] = pd.DataFrame(
                {"date": dates[lo:hi], "value": values[lo:hi], "available_at": avail[lo:hi]}
            )
    return out


def warmup_sessions(dataset) -> pd.DatetimeIndex:
    """NYSE sessions from the first macro release (or the first price, if earlier) to the last
    price session: macro history before the prices start warms up the expanding z-scores."""
    sessions = dataset.sessions
    if len(sessions) == 0 or len(dataset.macro) == 0:
        return sessions
    first = min(sessions[0], dataset.macro["available_at"].min())
    return nyse_sessions(first, sessions[-1])


class Prepared:
    """A ``Dataset`` seen once per ``compute_signal`` call (or shared by several): macro split
    by series, shared memo.

    Components accept either a plain ``Dataset`` or this wrapper; with the wrapper, work shared
    by several components (splitting the macro table, smoothing ON RRP) is done once. Calls with
    other configs may share it: every memo key names each config value its computation reads.
    """

    def __init__(self, dataset) -> None:
        self.dataset = dataset
        self.macro = dataset.macro
        self.capex = dataset.capex
        self.issuance = dataset.issuance
        self.sessions = warmup_sessions(dataset)
        self.prices = dataset.prices.reindex(self.sessions)
        self.macro_split = split_macro(dataset.macro)
        self.memo: dict = {}


_EMPTY = pd.DataFrame({"date": pd.Series(dtype=NS), "value": pd.Series(dtype=float),
                       "available_at": pd.Series(dtype=NS)})


def macro_obs(dataset, series: str) -> pd.DataFrame:
    """One series' rows (date, value, available_at), sorted by date; empty if none is known."""
    split = getattr(dataset, "macro_split", None)
    if split is not None:
        return split.get(series, _EMPTY)
    macro = dataset.macro
    rows = macro.loc[macro["series"] == series, ["date", "value", "available_at"]]
    return rows.sort_values("date", kind="stable").reset_index(drop=True)


def memo(dataset, key, compute):
    """``compute()`` once per ``Prepared`` dataset and ``key``; plain datasets just compute."""
    store = getattr(dataset, "memo", None)
    if store is None:
        return compute()
    if key not in store:
        store[key] = compute()
    return store[key]


def on_sessions(available_at, values, sessions, *, max_age: int | None = None,
                dates=None) -> np.ndarray:
    """Latest value published on or before each session (NaN before the first one).

    Several rows published the same day: the one with the latest observation ``dates`` wins (as
    ``Dataset.macro_daily``). ``max_age``: a value whose release is more than ``max_age`` sessions
    old counts as missing, so a series that stopped updating drops out instead of going stale.
    """
    sessions = as_ns(sessions)
    avail = as_ns(available_at)
    vals = np.asarray(values, dtype=float)
    out = np.full(len(sessions), np.nan)
    if len(avail) == 0 or len(sessions) == 0:
        return out
    keys = (as_ns(dates), avail) if dates is not None else (np.arange(len(avail)), avail)
    order = np.lexsort(keys)
    avail, vals = avail[order], vals[order]
    last_of_day = np.r_[avail[1:] != avail[:-1], True]
    avail, vals = avail[last_of_day], vals[last_of_day]
    pos = np.searchsorted(avail, sessions, side="right") - 1
    known = pos >= 0
    out[known] = vals[pos[known]]
    if max_age is not None:
        released = np.searchsorted(sessions, avail[pos[known]], side="left")
        age = np.arange(len(sessions))[known] - released
        stale = np.zeros(len(sessions), dtype=bool)
        stale[known] = age > max_age
        out[stale] = np.nan
    return out


def macro_on_sessions(dataset, series: str, *, max_age: int | None = None) -> pd.Series:
    """``Dataset.macro_daily`` for one series, with staleness; NaN if the series is unknown."""
    rows = macro_obs(dataset, series)
    values = on_sessions(rows["available_at"], rows["value"], dataset.sessions,
                         max_age=max_age, dates=rows["date"])
    return pd.Series(values, index=dataset.sessions, name=series)


@lru_cache(maxsize=1)
def _turn_days() -> np.ndarray:
    """First and last Fed business day of every month (month and quarter turns), 2005-2030."""
    holidays = USFederalHolidayCalendar().holidays("2005-01-01", "2030-12-31")
    days = pd.bdate_range("2005-01-01", "2030-12-31", freq="C", holidays=holidays)
    frame = pd.Series(days, index=days).groupby(days.to_period("M"))
    turns = pd.DatetimeIndex(np.concatenate([frame.min().to_numpy(), frame.max().to_numpy()]))
    return np.sort(as_ns(turns))


def is_month_turn(dates) -> np.ndarray:
    """True on the first or last business day of a month (a calendar fact, not a data one)."""
    return np.isin(as_ns(dates), _turn_days())

