"""The NYSE calendar kept in the cache folder is the one exchange_calendars builds."""

from __future__ import annotations

import exchange_calendars as xcals
import pandas as pd

from drain_data import calendar


def _fresh_sessions() -> pd.DatetimeIndex:
    calendar._all_sessions.cache_clear()
    return calendar._all_sessions()


def test_cached_sessions_are_exchange_calendars_sessions(tmp_path):
    built = _fresh_sessions()  # conftest points the cache folder at an empty tmp_path
    files = list((tmp_path / "cache" / "calendars").glob("XNYS-*.npy"))
    assert len(files) == 1 and xcals.__version__ in files[0].name
    read = _fresh_sessions()  # from the file this time
    expected = xcals.get_calendar("XNYS", start=calendar.CALENDAR_START,
                                  end=calendar.CALENDAR_END).sessions.tz_localize(None)
    assert read.equals(built) and read.equals(pd.DatetimeIndex(expected).astype("<M8[ns]"))
    assert pd.Timestamp("2025-01-09") not in read  # closed for President Carter's funeral


def test_unreadable_calendar_file_is_rebuilt(tmp_path):
    good = _fresh_sessions()
    (path,) = (tmp_path / "cache" / "calendars").glob("XNYS-*.npy")
    path.write_bytes(path.read_bytes()[:100])  # truncated, as by a full disk
    assert _fresh_sessions().equals(good)
    assert _fresh_sessions().equals(good)  # and the rebuilt file is whole again
    calendar._all_sessions.cache_clear()
