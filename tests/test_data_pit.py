"""The point-in-time data layer: publication lags checked by hand, and truncation invariance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drain_data import DrainError, load_dataset
from drain_data.releases import (
    capex_available_at,
    crypto_available_at,
    issuance_available_at,
    macro_available_at,
)
from drain_data.store import wide_prices


def ts(day: str) -> pd.Timestamp:
    return pd.Timestamp(day)


@pytest.fixture(scope="module")
def dataset():
    return load_dataset(use_cache=False)


# --- release lags, each checked against a calendar by hand -------------------------------------

def test_h41_wednesday_is_usable_on_friday():
    # Wed 2025-10-01 H.4.1 week; released Thu 10-02 16:30 ET after the close; first close Fri 10-03.
    assert macro_available_at("WALCL", ["2025-10-01"])[0] == ts("2025-10-03")
    # Wed 2025-11-26: Fri 11-28 is an NYSE session (half day) -> usable then.
    assert macro_available_at("WRESBAL", ["2025-11-26"])[0] == ts("2025-11-28")
    # Wed 2024-12-25 (Christmas, no NYSE session on the 25th) -> Fri 12-27.
    assert macro_available_at("WTREGEN", ["2024-12-25"])[0] == ts("2024-12-27")


def test_sofr_print_on_d_is_usable_on_the_next_business_day():
    assert macro_available_at("SOFR", ["2025-10-30"])[0] == ts("2025-10-31")  # Thu -> Fri
    assert macro_available_at("SOFR", ["2025-10-31"])[0] == ts("2025-11-03")  # Fri -> Mon
    # Fri before Columbus Day: the Fed is closed on Monday 2025-10-13, NYSE is open;
    # SOFR for Friday is published Tuesday, so it is usable Tuesday 10-14, not Monday.
    assert macro_available_at("SOFR", ["2025-10-10"])[0] == ts("2025-10-14")


def test_fomc_rates_are_known_on_their_effective_day():
    assert macro_available_at("IORB", ["2025-10-30"])[0] == ts("2025-10-30")
    # Effective on a Saturday -> first session on or after it.
    assert macro_available_at("DFEDTARU", ["2025-11-01"])[0] == ts("2025-11-03")


def test_weekly_indices_and_dollar_lags():
    assert macro_available_at("NFCI", ["2025-10-03"])[0] == ts("2025-10-08")  # Fri -> Wed
    assert macro_available_at("STLFSI4", ["2025-10-03"])[0] == ts("2025-10-10")  # Fri -> next Fri
    assert macro_available_at("DTWEXBGS", ["2025-10-01"])[0] == ts("2025-10-13")  # +10 days


def test_month_precision_bond_event_only_after_month_end():
    # Amazon 2022-11 (month precision): Nov 30 is the month end -> next business day Dec 1.
    assert issuance_available_at(["2022-11-01"], ["month"])[0] == ts("2022-12-01")
    # Week precision: Amazon 2021-05-10 (Mon): week ends Sun 05-16 -> Mon 05-17.
    assert issuance_available_at(["2021-05-10"], ["week"])[0] == ts("2021-05-17")
    # Day precision: priced Mon 2020-08-03 (news often after the close) -> Tue 08-04.
    assert issuance_available_at(["2020-08-03"], ["day"])[0] == ts("2020-08-04")
    with pytest.raises(DrainError, match="date_precision"):
        issuance_available_at(["2020-08-03"], ["fortnight"])


def test_capex_lag_quarter_and_fiscal_year_end():
    out = capex_available_at(["GOOGL", "MSFT", "MSFT"], ["2025-03-31", "2025-06-30", "2025-03-31"])
    assert out[0] == ts("2025-05-15")  # Mar 31 + 45 days
    assert out[1] == ts("2025-08-29")  # MSFT fiscal year ends in June: + 60 days
    assert out[2] == ts("2025-05-15")


def test_btc_sunday_close_lands_on_monday_session():
    assert crypto_available_at(["2025-10-05"])[0] == ts("2025-10-06")  # Sun -> Mon
    assert crypto_available_at(["2025-10-03"])[0] == ts("2025-10-06")  # Fri UTC day -> Mon
    rows = pd.DataFrame({
        "ticker": ["BTC-USD"] * 3 + ["SPY"] * 2,
        "date": pd.to_datetime(["2025-10-03", "2025-10-04", "2025-10-05", "2025-10-03",
                                "2025-10-06"]),
        "close": [100.0, 101.0, 102.0, 500.0, 501.0],
    })
    wide = wide_prices(rows)
    # Monday's session carries Sunday's close: the latest UTC day that ended before it.
    assert wide.loc["2025-10-06", "BTC-USD"] == 102.0
    assert np.isnan(wide.loc["2025-10-03", "BTC-USD"])  # Friday's UTC day is not yet over


def test_unknown_series_and_ticker_are_clear_errors(dataset):
    with pytest.raises(DrainError, match="did you mean 'SOFR'"):
        dataset.macro_daily("SOFT")
    with pytest.raises(DrainError, match="did you mean 'SPY'"):
        load_dataset(["SPYY"], use_cache=False)
    with pytest.raises(DrainError, match="no price data between"):
        load_dataset(start="2030-01-01", use_cache=False)


def test_gaps_stay_gaps(dataset):
    prices = dataset.prices
    assert prices["SNDK"].first_valid_index() == ts("2025-02-13")
    assert prices["SNDK"].loc[:"2025-02-12"].isna().all()
    assert prices["BTC-USD"].last_valid_index() == ts("2025-12-31")  # 12-30 UTC close
    assert prices["BTC-USD"].loc["2026-01-02":].isna().all()
    sofr = dataset.macro_daily("SOFR")["SOFR"]
    assert sofr.loc[:"2018-04-03"].isna().all()  # first print 04-03, usable 04-04
    assert sofr.loc["2018-04-04"] == pytest.approx(
        dataset.macro.query("series == 'SOFR'").set_index("date").loc["2018-04-03", "value"])
    assert dataset.prices.index.tz is None and str(dataset.prices.index.dtype) == "datetime64[ns]"


def test_snapshot_covers_the_documented_range(dataset):
    assert dataset.sessions[0] == ts("2014-01-02") and dataset.sessions[-1] == ts("2026-07-31")
    assert dataset.macro["date"].max() >= ts("2026-01-01")


# --- truncation invariance --------------------------------------------------------------------

def _truncate_raw(dataset, t):
    """Rebuild a dataset as if the files had ended at t: nothing observed after t exists."""
    from drain_data.store import Dataset

    macro = dataset.macro[dataset.macro["date"] <= t]
    return Dataset(
        prices=dataset.prices.loc[:t],
        macro=macro,
        capex=dataset.capex[dataset.capex["fiscal_period_end"] <= t],
        issuance=dataset.issuance[dataset.issuance["date"] <= t],
    )


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(day=st.integers(min_value=300, max_value=3150))
def test_known_at_t_is_identical_with_or_without_later_data(dataset, day):
    t = dataset.sessions[day]
    full = dataset.as_of(t)
    cut = _truncate_raw(dataset, t).as_of(t)
    pd.testing.assert_frame_equal(full.prices, cut.prices)
    for name in ("macro", "capex", "issuance"):
        pd.testing.assert_frame_equal(getattr(full, name).reset_index(drop=True),
                                      getattr(cut, name).reset_index(drop=True))
    series = ["SOFR", "WALCL", "RRPONTSYD", "NFCI", "DGS2"]
    daily_full = dataset.macro_daily(series).loc[:t]
    daily_cut = _truncate_raw(dataset, t).macro_daily(series).loc[:t]
    pd.testing.assert_frame_equal(daily_full, daily_cut)
    # Nothing known at t was published after t.
    assert (full.macro["available_at"] <= t).all()
    assert (full.macro["available_at"] >= full.macro["date"]).all()


def test_changing_data_after_t_changes_nothing_up_to_t(dataset):
    t = ts("2022-06-15")
    macro = dataset.macro.copy()
    later = macro["date"] > t
    macro.loc[later, "value"] = macro.loc[later, "value"] * 10 + 99
    from drain_data.store import Dataset

    altered = Dataset(prices=dataset.prices, macro=macro, capex=dataset.capex,
                      issuance=dataset.issuance)
    cols = sorted(set(dataset.macro["series"]))
    pd.testing.assert_frame_equal(altered.macro_daily(cols).loc[:t],
                                  dataset.macro_daily(cols).loc[:t])
    # ...while the same change does show after t, so the comparison can fail.
    assert not altered.macro_daily(["SOFR"]).loc["2022-07-01":].equals(
        dataset.macro_daily(["SOFR"]).loc["2022-07-01":])
