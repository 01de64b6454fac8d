"""Publication rules: the first NYSE close at which each observation may be used (``available_at``).

The rules follow the data folder's RELEASES.md, always on the conservative side. Each rule maps
observation dates to ``available_at`` session dates; everything downstream filters on that column.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from drain_core.errors import DrainError
from drain_data.calendar import (
    as_naive_dates,
    business_day_after,
    session_after,
    session_on_or_after,
)

Rule = Callable[[pd.DatetimeIndex], pd.DatetimeIndex]


def _same_day(dates: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return session_on_or_after(dates)


def _calendar_days_later(days: int) -> Rule:
    def rule(dates: pd.DatetimeIndex) -> pd.DatetimeIndex:
        return session_on_or_after(dates + pd.Timedelta(days=days))

    return rule


# series -> (rule, human description of the publication lag, unit kind). The unit kind names the
# plausible range of the series' values (``drain_data.validate.UNIT_RANGES``): "percent" a rate in
# percent, "spread" a difference of rates in percentage points, "balance" a dollar amount
# (millions or billions), "stress index" a standardised index around 0, "index level" an index
# around 100.
MACRO_RULES: dict[str, tuple[Rule, str, str]] = {
    "RRPONTSYD": (business_day_after, "NY Fed same day ~13:15 ET; used the next business day",
                  "balance"),
    "SOFR": (business_day_after, "NY Fed D+1 08:00 ET", "percent"),
    "EFFR": (business_day_after, "NY Fed D+1 09:00 ET", "percent"),
    "DFF": (business_day_after, "NY Fed D+1 09:00 ET", "percent"),
    "IORB": (_same_day, "FOMC-set, known before it takes effect", "percent"),
    "DFEDTARU": (_same_day, "FOMC-set, known before it takes effect", "percent"),
    "DFEDTARL": (_same_day, "FOMC-set, known before it takes effect", "percent"),
    "DGS2": (business_day_after, "Treasury curve late on D; FRED next morning", "percent"),
    "DGS10": (business_day_after, "Treasury curve late on D; FRED next morning", "percent"),
    "DGS30": (business_day_after, "Treasury curve late on D; FRED next morning", "percent"),
    "DGS3MO": (business_day_after, "Treasury curve late on D; FRED next morning", "percent"),
    "T10Y2Y": (business_day_after, "Treasury curve late on D; FRED next morning", "spread"),
    "WALCL": (_calendar_days_later(2), "H.4.1 Thursday 16:30 ET; Wednesday level used Friday",
              "balance"),
    "WRESBAL": (_calendar_days_later(2), "H.4.1 Thursday 16:30 ET; used Friday", "balance"),
    "WTREGEN": (_calendar_days_later(2), "H.4.1 Thursday 16:30 ET; used Friday", "balance"),
    "NFCI": (_calendar_days_later(5), "Wednesday after the week ending Friday", "stress index"),
    "ANFCI": (_calendar_days_later(5), "Wednesday after the week ending Friday", "stress index"),
    "STLFSI4": (_calendar_days_later(7), "Thursday after the week ending Friday", "stress index"),
    "DTWEXBGS": (_calendar_days_later(10), "H.10 the following Monday", "index level"),
}

# Fiscal-year-end month per hyperscaler (capex filed later for a fiscal-year end: 10-K).
FISCAL_YEAR_END_MONTH = {"MSFT": 6, "ORCL": 5, "GOOGL": 12, "AMZN": 12, "META": 12}
CAPEX_LAG_DAYS = 45
CAPEX_FISCAL_YEAR_END_LAG_DAYS = 60


def macro_available_at(series: str, dates) -> pd.DatetimeIndex:
    """``available_at`` for observations of a FRED series dated ``dates``."""
    if series not in MACRO_RULES:
        known = ", ".join(sorted(MACRO_RULES))
        raise DrainError(
            f"no publication rule for series {series!r}; add one to drain_data/releases.py "
            f"(known series: {known})"
        )
    return MACRO_RULES[series][0](as_naive_dates(dates))


def capex_available_at(tickers, period_ends) -> pd.DatetimeIndex:
    """Quarter end + 45 days (+ 60 for a fiscal-year end), rolled to the next NYSE session."""
    ends = as_naive_dates(period_ends)
    fy_month = pd.Series(list(tickers)).map(FISCAL_YEAR_END_MONTH).fillna(12).to_numpy()
    is_fy_end = ends.month.to_numpy() == fy_month
    lag = pd.to_timedelta(
        [CAPEX_FISCAL_YEAR_END_LAG_DAYS if fy else CAPEX_LAG_DAYS for fy in is_fy_end], unit="D"
    )
    return session_on_or_after(ends + lag)


def issuance_available_at(dates, precisions) -> pd.DatetimeIndex:
    """Pricing day + 1 business day; for week/month precision, the business day after its end."""
    dates = as_naive_dates(dates)
    precisions = pd.Series(list(precisions), dtype="string").str.lower().to_numpy()
    unknown = sorted(set(precisions) - {"day", "week", "month"})
    if unknown:
        raise DrainError(
            f"bond issuance date_precision {unknown} not understood; use day, week or month"
        )
    period_end = dates.to_series(index=range(len(dates))).copy()
    week_end = dates + pd.to_timedelta(6 - dates.day_of_week, unit="D")  # Sunday of that week
    month_end = dates + pd.offsets.MonthEnd(0)
    period_end[precisions == "week"] = week_end[precisions == "week"]
    period_end[precisions == "month"] = month_end[precisions == "month"]
    return business_day_after(period_end)


def crypto_available_at(dates) -> pd.DatetimeIndex:
    """A UTC-day close (after the NYSE close) is first usable at the next NYSE session."""
    return session_after(dates)
