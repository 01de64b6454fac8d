"""Check long data tables where they are read: the snapshot, the cache, fresh downloads.

A table is ``key, date, value`` rows (``ticker/close`` for prices, ``series/value`` for macro).
``damaged_names`` returns, per ticker or series, why its rows cannot be used: a date that is not
a date or lies outside the exchange calendar, a date repeated, a value that is not finite, a
price that is not positive, a series the project has no publication rule for, a ticker that is
not a symbol. ``check_columns`` refuses a table whose columns have the wrong type altogether (a
file written by something else). Plain pandas and numpy, no validation library: the checks run
once per distinct name where they can, about 35 ms on the 141k snapshot price rows and 18 ms on
the 59k macro rows (measured on a busy 2-core machine), with nothing more to import.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from drain_data.calendar import CALENDAR_END, CALENDAR_START

KEYS = {"prices": ("ticker", "close"), "macro": ("series", "value")}
TICKER_RE = re.compile(r"^[A-Z0-9^][A-Z0-9.^=_-]{0,19}$")
# Yahoo's Treasury yield indices (in percent): zero or below is a real value, not a damaged price
YIELD_TICKERS = frozenset({"IRX", "FVX", "TNX", "TYX"})
FIRST_DATE = pd.Timestamp("1900-01-01")  # macro history may start long before the calendar


def check_columns(table: str, frame: pd.DataFrame) -> str | None:
    """Why ``frame`` cannot be a ``table`` at all (wrong column types), or None."""
    key, value = KEYS[table]
    if not (pd.api.types.is_object_dtype(frame[key]) or pd.api.types.is_string_dtype(frame[key])):
        return f"column {key!r} holds {frame[key].dtype} instead of names"
    if not pd.api.types.is_numeric_dtype(frame[value]) or pd.api.types.is_bool_dtype(frame[value]):
        return f"column {value!r} holds {frame[value].dtype} instead of numbers"
    if not pd.api.types.is_datetime64_any_dtype(frame["date"]):
        return f"column 'date' holds {frame['date'].dtype} instead of dates"
    return None


def damaged_names(table: str, frame: pd.DataFrame, known: set[str] | None = None) -> dict[str, str]:
    """``{name: reason}`` for each ticker/series whose rows in ``frame`` are unusable.

    ``known`` (macro only): the series the project can use; any other series is named.
    """
    key, value = KEYS[table]
    names = frame[key].astype(str)
    codes, uniques = pd.factorize(names)  # checks by name run once per distinct name
    dates = frame["date"]
    values = pd.to_numeric(frame[value], errors="coerce").astype("float64")
    first = pd.Timestamp(CALENDAR_START) if table == "prices" else FIRST_DATE
    days = dates.to_numpy("datetime64[D]").astype(np.int64)  # NaT is caught by its own check
    same_day = _repeated((codes.astype(np.int64) << 32) + days)
    checks = [
        (dates.isna(), "a date that is missing or not a date"),
        ((dates < first) | (dates > pd.Timestamp(CALENDAR_END)),
         f"a date outside the calendar ({first.date()} to {CALENDAR_END})"),
        (same_day, "the same date twice"),
        (~values.abs().lt(float("inf")), "a value that is missing, NaN or infinite"),
    ]
    if table == "prices":
        checks.append(((values <= 0).to_numpy() & ~np.isin(uniques, list(YIELD_TICKERS))[codes],
                       "a close that is zero or negative"))
        symbol = np.array([TICKER_RE.fullmatch(name) is not None for name in uniques])
        checks.append((~symbol[codes], "a name that is not a ticker symbol"))
    elif known is not None:
        checks.append((~np.isin(uniques, list(known))[codes],
                       "a series the project has no publication rule for"))
    out: dict[str, str] = {}
    for bad, reason in checks:
        for name in uniques[np.unique(codes[np.asarray(bad)])]:
            out.setdefault(str(name), reason)
    return out


def _repeated(keys: np.ndarray) -> np.ndarray:
    """Which entries of ``keys`` occur more than once (a sort: faster than hashing here)."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    same = ordered[1:] == ordered[:-1]
    repeated = np.zeros(len(keys), dtype=bool)
    repeated[1:] |= same
    repeated[:-1] |= same
    out = np.empty(len(keys), dtype=bool)
    out[order] = repeated
    return out


__all__ = ["check_columns", "damaged_names"]
