"""Check long data tables where they are read: the snapshot, the cache, fresh downloads.

A table is ``key, date, value`` rows (``ticker/close`` for prices, ``series/value`` for macro).
``damaged_names`` returns, per ticker or series, why its rows cannot be used: a date that is not
a date or lies outside the exchange calendar, a date repeated, a value that is not finite, a
price that is not positive, a series the project has no publication rule for, a ticker that is
not a symbol, a macro value outside its series' plausible range (``RANGES``, from the unit kind
of each series in ``releases.MACRO_RULES``). ``check_columns`` refuses a table whose name column
is not names (a file written by something else: no row can be told apart); ``check_values``
names a value or date column of the wrong type, which spoils every name of the table. Plain
pandas and numpy, no validation library: the checks run once per distinct name where they can,
about 35 ms on the 141k snapshot price rows and 18 ms on the 59k macro rows (measured on a busy
2-core machine), with nothing more to import.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from drain_data.calendar import CALENDAR_END, CALENDAR_START
from drain_data.releases import MACRO_RULES

KEYS = {"prices": ("ticker", "close"), "macro": ("series", "value")}
TICKER_RE = re.compile(r"^[A-Z0-9^][A-Z0-9.^=_-]{0,19}$")
# Yahoo's Treasury yield indices (in percent): zero or below is a real value, not a damaged price
YIELD_TICKERS = frozenset({"IRX", "FVX", "TNX", "TYX"})
FIRST_DATE = pd.Timestamp("1900-01-01")  # macro history may start long before the calendar
UNKNOWN_SERIES = "a series the project has no publication rule for"
NOT_A_SYMBOL = "a name that is not a ticker symbol"
UNKNOWN_NAME = frozenset({UNKNOWN_SERIES, NOT_A_SYMBOL})  # no update can refresh these rows
# Plausible values per unit kind of a macro series, generous: beyond them a value is an error
# of the source or of a file, not a market event (highest rates ever seen are near 20%).
UNIT_RANGES: dict[str, tuple[float, float]] = {
    "percent": (-5.0, 50.0),
    "spread": (-20.0, 20.0),
    "balance": (0.0, 1e9),  # millions or billions of dollars: a quadrillion at most
    "stress index": (-20.0, 50.0),
    "index level": (1.0, 1000.0),
}
RANGES: dict[str, tuple[float, float]] = {
    name: UNIT_RANGES[unit] for name, (_rule, _lag, unit) in MACRO_RULES.items()
}


def check_columns(table: str, frame: pd.DataFrame) -> str | None:
    """Why ``frame`` cannot be a ``table`` at all (its name column is not names), or None."""
    key = KEYS[table][0]
    if not (pd.api.types.is_object_dtype(frame[key]) or pd.api.types.is_string_dtype(frame[key])):
        return f"column {key!r} holds {frame[key].dtype} instead of names"
    return None


def check_values(table: str, frame: pd.DataFrame) -> str | None:
    """Why no row of ``frame`` can be used (its value or date column has the wrong type), or
    None."""
    value = KEYS[table][1]
    if not pd.api.types.is_numeric_dtype(frame[value]) or pd.api.types.is_bool_dtype(frame[value]):
        return f"a {value!r} column of {frame[value].dtype} instead of numbers"
    if not pd.api.types.is_datetime64_any_dtype(frame["date"]):
        return f"a 'date' column of {frame['date'].dtype} instead of dates"
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
        checks.append((~symbol[codes], NOT_A_SYMBOL))
    elif known is not None:
        checks.append((~np.isin(uniques, list(known))[codes], UNKNOWN_SERIES))
    out: dict[str, str] = {}
    for bad, reason in checks:
        for name in uniques[np.unique(codes[np.asarray(bad)])]:
            out.setdefault(str(name), reason)
    if table == "macro":
        out = {**_implausible(values.to_numpy(), codes, uniques), **out}
    return out


def _implausible(values: np.ndarray, codes: np.ndarray, uniques) -> dict[str, str]:
    """``{series: reason}`` for each series with a value outside its ``RANGES`` bounds."""
    bounds = np.array([RANGES.get(str(name), (-np.inf, np.inf)) for name in uniques])
    bounds = bounds.reshape(-1, 2)
    outside = (values < bounds[codes, 0]) | (values > bounds[codes, 1])
    out = {}
    for code in np.unique(codes[outside]):
        name, (low, high) = str(uniques[code]), bounds[code]
        out[name] = (f"a value outside the plausible range of a {MACRO_RULES[name][2]} series "
                     f"([{low:g}, {high:g}], drain_data.validate.RANGES)")
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


__all__ = ["NOT_A_SYMBOL", "RANGES", "UNIT_RANGES", "UNKNOWN_NAME", "UNKNOWN_SERIES",
           "check_columns", "check_values", "damaged_names"]
