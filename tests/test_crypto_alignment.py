"""Crypto against SPY: same-calendar-day closes recovered from the session data, and both
alignments on the thesis page."""

from __future__ import annotations

import numpy as np
import pandas as pd

from drain_data.calendar import nyse_sessions
from drain_data.store import wide_prices
from thesis.crypto_gauge import SAME_DAY, anchored_weekly, calendar_day_closes


def _market() -> pd.DataFrame:
    """BTC-USD on every UTC day and SPY on NYSE sessions, both at the same level ``f(day)``
    (a random walk over calendar days): same-day returns are identical."""
    days = pd.date_range("2021-01-01", "2022-12-31", freq="D")
    level = pd.Series(100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.02,
                                                                                len(days)))),
                      index=days)
    sessions = nyse_sessions(days[0], days[-1])
    obs = pd.concat([
        pd.DataFrame({"ticker": "BTC-USD", "date": days, "close": level.to_numpy()}),
        pd.DataFrame({"ticker": "SPY", "date": sessions, "close": level[sessions].to_numpy()}),
    ], ignore_index=True)
    return wide_prices(obs), level


def test_calendar_day_closes_recover_the_same_date():
    prices, level = _market()
    same = calendar_day_closes(prices)
    following = pd.Series(prices.index, index=prices.index).shift(-1)
    next_day = (following - prices.index.to_series()) == pd.Timedelta(days=1)
    assert next_day.sum() > 300
    np.testing.assert_array_equal(same["BTC-USD"][next_day].to_numpy(),
                                  level[prices.index[next_day.to_numpy()]].to_numpy())
    assert same["BTC-USD"][~next_day].isna().all()  # Fridays, days before holidays, the last
    assert same["SPY"].equals(prices["SPY"])
    # the sessions hold the previous UTC day's close: next-session alignment
    tuesday = prices.index[prices.index.day_of_week == 1][5]
    assert prices.loc[tuesday, "BTC-USD"] == level[tuesday - pd.Timedelta(days=1)]


def test_same_day_weeks_line_up_and_next_session_weeks_do_not():
    prices, _ = _market()
    for weekday in range(4):
        same = anchored_weekly(calendar_day_closes(prices), weekday).dropna()
        assert len(same) > 60  # two years of weeks, less those next to a holiday
        np.testing.assert_allclose(same["BTC-USD"], same["SPY"], rtol=1e-12)
        nxt = anchored_weekly(prices, weekday).dropna()
        assert nxt["BTC-USD"].corr(nxt["SPY"]) < 0.97


def test_thesis_page_shows_both_alignments():
    from drain_data import load_dataset
    from thesis import crypto_gauge
    from thesis.config import ThesisConfig
    from thesis.inputs import build_inputs

    inputs = build_inputs(load_dataset(end="2023-12-29"), start="2017-01-03",
                          config=ThesisConfig())
    table = crypto_gauge.comovement_summary(crypto_gauge.comovement(inputs))
    btc = table[(table["asset"] == "BTC-USD") & table["period"].str.startswith("after")]
    assert set(btc["alignment"]) == {SAME_DAY, crypto_gauge.NEXT_SESSION}
    assert (btc["anchors"] == 4).all()
    row = btc.set_index("alignment")
    assert row.loc[SAME_DAY, "corr_low"] <= row.loc[SAME_DAY, "corr_with_spy"] <= row.loc[
        SAME_DAY, "corr_high"]
