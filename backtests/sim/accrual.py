"""Interest on cash and borrow on shorts, accrued daily (ACT/360): no vectorbt, no numba.

The vectorbt engine, the fast sweep kernel and every excess-return statistic use these, so the
cash rate a report subtracts is exactly the one the portfolio earned.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drain_core.conventions import DAY_COUNT


def elapsed_days(index: pd.DatetimeIndex) -> pd.Series:
    """Calendar days since the previous session (NaN on the first)."""
    return pd.Series(index.to_numpy(), index=index).diff().dt.days


def daily_rates(annual_percent: pd.Series, index: pd.DatetimeIndex) -> pd.Series:
    """Interest for each session: the rate known at the previous close x days elapsed / 360.

    This is also the cash return that excess-return statistics subtract."""
    known = annual_percent.reindex(index).ffill() / 100.0
    return (known.shift(1) * elapsed_days(index) / DAY_COUNT).fillna(0.0)


def accrual_index(rates: pd.Series) -> pd.Series:
    """Cumulative growth factor of 1 + rate, 1.0 on the first session."""
    return (1.0 + rates).cumprod()


def cash_index(cash_yield: pd.Series, index: pd.DatetimeIndex) -> np.ndarray:
    """The T-bill cash growth factor on ``index`` as a float64 array."""
    return accrual_index(daily_rates(cash_yield, index)).to_numpy(dtype=np.float64)


def borrow_index(annual_rate: float, index: pd.DatetimeIndex) -> np.ndarray:
    """Growth factor of a short liability that accrues ``annual_rate`` on calendar days / 360."""
    days = elapsed_days(index).fillna(0.0).to_numpy()
    return np.cumprod(1.0 + annual_rate * days / DAY_COUNT)
