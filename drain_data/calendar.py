"""Trading and publication calendars: NYSE sessions and Federal Reserve business days.

Every date the engine produces is a tz-naive ``datetime64[ns]`` NYSE session date. Publication
rules that say "next business day" step over both NYSE holidays and US federal holidays (when the
Fed and FRED do not publish), which is the conservative choice for a point-in-time backtest.
"""

from __future__ import annotations

import os
import tempfile
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.holiday import USFederalHolidayCalendar

from drain_data.cache import cache_dir

CALENDAR_START = "2005-01-03"
CALENDAR_END = "2030-12-31"


def as_naive_dates(values) -> pd.DatetimeIndex:
    """Coerce dates to tz-naive midnight timestamps at nanosecond resolution."""
    index = pd.DatetimeIndex(pd.to_datetime(values))
    if index.tz is not None:
        index = index.tz_localize(None)
    return index.normalize().astype("datetime64[ns]")


@lru_cache(maxsize=1)
def _all_sessions() -> pd.DatetimeIndex:
    """NYSE sessions from exchange_calendars, kept in the cache folder: building them takes
    about 0.4 s a run. The file is named by the library's version, so an update that changes
    the holidays builds a new one."""
    path = (cache_dir() / "calendars" /
            f"XNYS-{CALENDAR_START}-{CALENDAR_END}-{version('exchange-calendars')}.npy")
    try:
        return pd.DatetimeIndex(np.load(path, allow_pickle=False))
    except (OSError, ValueError, EOFError):  # not built yet, or unreadable: build it again
        pass
    import exchange_calendars as xcals

    xnys = xcals.get_calendar("XNYS", start=CALENDAR_START, end=CALENDAR_END)
    sessions = as_naive_dates(xnys.sessions)
    _save_quietly(path, sessions.to_numpy())
    return sessions


def _save_quietly(path: Path, values: np.ndarray) -> None:
    """Write ``values`` to ``path`` atomically; a cache folder that cannot be written is
    skipped (the calendar is then built on every run)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".calendar.", suffix=".tmp", dir=path.parent)
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, values, allow_pickle=False)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)


@lru_cache(maxsize=1)
def _fed_business_days() -> pd.DatetimeIndex:
    holidays = USFederalHolidayCalendar().holidays(CALENDAR_START, CALENDAR_END)
    days = pd.bdate_range(CALENDAR_START, CALENDAR_END, freq="C", holidays=holidays)
    return as_naive_dates(days)


@lru_cache(maxsize=1)
def _publication_days() -> pd.DatetimeIndex:
    return _all_sessions().intersection(_fed_business_days())


def nyse_sessions(start=None, end=None) -> pd.DatetimeIndex:
    """NYSE session dates between ``start`` and ``end`` inclusive."""
    sessions = _all_sessions()
    lo = sessions[0] if start is None else pd.Timestamp(start)
    hi = sessions[-1] if end is None else pd.Timestamp(end)
    return sessions[(sessions >= lo) & (sessions <= hi)]


def _step(days: pd.DatetimeIndex, dates, *, strictly_after: bool) -> pd.DatetimeIndex:
    dates = as_naive_dates(dates)
    side = "right" if strictly_after else "left"
    pos = days.searchsorted(dates, side=side)
    if len(pos) and pos.max() >= len(days):
        raise ValueError(f"date beyond the calendar end {CALENDAR_END}: {dates.max().date()}")
    return pd.DatetimeIndex(np.asarray(days)[pos])


def session_on_or_after(dates) -> pd.DatetimeIndex:
    """The first NYSE session on or after each date."""
    return _step(_all_sessions(), dates, strictly_after=False)


def session_after(dates) -> pd.DatetimeIndex:
    """The first NYSE session strictly after each date."""
    return _step(_all_sessions(), dates, strictly_after=True)


def business_day_after(dates) -> pd.DatetimeIndex:
    """The first day after each date that is both a Fed business day and an NYSE session."""
    return _step(_publication_days(), dates, strictly_after=True)
