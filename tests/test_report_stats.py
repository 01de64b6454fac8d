"""Excess-return statistics, per-regime performance and ended tickers, on hand-checkable cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtests.stats.performance import information_ratio, sharpe, sortino, summary
from backtests.stats.regimes import regime_at_previous_close, regime_table


def test_summary_subtracts_the_cash_return_from_sharpe_and_sortino_only():
    index = pd.bdate_range("2024-01-01", periods=5)
    r = pd.Series([0.01, 0.002, -0.004, 0.003, 0.001], index=index)
    cash = pd.Series(0.001, index=index)
    out = summary(r, cash_returns=cash, benchmark=r * 0.5)
    x = np.array([0.009, 0.001, -0.005, 0.002, 0.0])
    assert out["sharpe"] == pytest.approx(x.mean() / x.std(ddof=1) * math.sqrt(252), rel=1e-12)
    downside = math.sqrt(0.005 ** 2 / 5)
    assert out["sortino"] == pytest.approx(x.mean() / downside * math.sqrt(252), rel=1e-12)
    assert out["excess_return"] == pytest.approx(x.mean() * 252, rel=1e-12)
    assert out["cagr"] == summary(r)["cagr"]  # total, not excess
    assert out["total_return"] == pytest.approx(np.prod(1 + r.to_numpy()) - 1, rel=1e-12)
    active = (r * 0.5).to_numpy()
    assert out["information_ratio"] == pytest.approx(
        active.mean() / active.std(ddof=1) * math.sqrt(252), rel=1e-12)


def test_a_book_that_only_earns_cash_has_no_risk_adjusted_return():
    index = pd.bdate_range("2024-01-01", periods=50)
    cash = pd.Series(np.linspace(1e-4, 2e-4, 50), index=index)
    out = summary(cash, cash_returns=cash)
    assert math.isnan(out["sharpe"]) and math.isnan(out["sortino"])
    assert sharpe(cash.to_numpy()) > 20  # what the total-return Sharpe said about T-bills
    assert out["cagr"] > 0


def test_information_ratio_ignores_the_cash_rate():
    rng = np.random.default_rng(1)
    r, b, c = rng.normal(0, 0.01, (3, 300))
    assert information_ratio(r, b) == pytest.approx(information_ratio(r - c, b - c), rel=1e-12)
    assert np.allclose(information_ratio(np.c_[r, b], b), [information_ratio(r, b), np.nan],
                       equal_nan=True)
    assert sortino(np.zeros(5)) != sortino(np.zeros(5))  # NaN without downside


HAND = pd.DataFrame({
    "excess": [0.01, -0.02, 0.03, 0.0, 0.01, -0.01],
    "regime": ["abundant", "abundant", "scarce", "scarce", "abundant", None],
}, index=pd.bdate_range("2024-01-01", periods=6))


def test_regime_table_on_a_hand_case():
    table = regime_table(HAND["excess"], HAND["regime"], reps=0)
    a, s, d = table.loc["abundant"], table.loc["scarce"], table.loc["draining"]
    assert a["sessions"] == 3 and a["share"] == pytest.approx(0.5)
    assert a["excess_return"] == pytest.approx(0.0, abs=1e-15)
    assert a["hit_rate"] == pytest.approx(2 / 3)
    assert a["max_drawdown"] == pytest.approx(0.9898 / 1.01 - 1.0, rel=1e-12)  # 1.01 -> 0.9898
    assert s["share"] == pytest.approx(1 / 3)
    assert s["excess_return"] == pytest.approx(0.015 * 252, rel=1e-12)
    assert s["volatility"] == pytest.approx(np.std([0.03, 0.0], ddof=1) * math.sqrt(252))
    assert s["sharpe"] == pytest.approx(0.015 / np.std([0.03, 0.0], ddof=1) * math.sqrt(252))
    assert s["hit_rate"] == 1.0 and s["max_drawdown"] == 0.0  # the flat 0.0 day is no miss
    assert d["sessions"] == 0 and d["share"] == 0.0 and math.isnan(d["sharpe"])


def test_a_flat_sessions_rounding_is_neither_hit_nor_miss():
    index = pd.bdate_range("2024-01-01", periods=4)
    excess = pd.Series([1e-19, -1e-19, 0.01, -0.01], index=index)
    table = regime_table(excess, pd.Series("scarce", index=index), reps=0)
    assert table.loc["scarce", "hit_rate"] == 0.5  # one hit of the two active sessions


def test_regime_is_the_one_known_at_the_previous_close():
    lagged = regime_at_previous_close(HAND["regime"])
    assert lagged.isna().iloc[0] and lagged.iloc[3] == "scarce" and lagged.iloc[2] == "abundant"


def test_bootstrap_interval_is_seeded_and_matches_the_normal_interval_for_iid_days():
    rng = np.random.default_rng(3)
    n = 3000
    index = pd.bdate_range("2010-01-01", periods=n)
    excess = pd.Series(rng.normal(2e-4, 0.01, n), index=index)
    regime = pd.Series(np.where(np.arange(n) % 2, "abundant", "scarce"), index=index)
    table = regime_table(excess, regime, reps=400, block=1, seed=5)
    assert table.equals(regime_table(excess, regime, reps=400, block=1, seed=5))
    assert not table.equals(regime_table(excess, regime, reps=400, block=1, seed=6))
    row = table.loc["abundant"]
    width = row["excess_return_high"] - row["excess_return_low"]
    chosen = excess[regime == "abundant"]
    normal = 2 * 1.645 * chosen.std() / math.sqrt(len(chosen)) * 252
    assert width == pytest.approx(normal, rel=0.2)  # the iid bootstrap is the normal interval
    assert row["share_low"] < 0.5 < row["share_high"]
    constant = regime_table(pd.Series(1e-4, index=index), regime, reps=50, seed=1)
    assert constant.loc["scarce", "excess_return_low"] == pytest.approx(1e-4 * 252)
    assert constant.loc["scarce", "excess_return_high"] == pytest.approx(1e-4 * 252)


def test_ended_tickers_from_weights_and_prices_on_a_hand_case():
    from backtests.report.data_notes import describe, ended_tickers

    index = pd.bdate_range("2025-12-29", periods=6)  # Mon 29 Dec .. Mon 5 Jan
    prices = pd.DataFrame({"BTC": [100.0, 101.0, np.nan, np.nan, np.nan, np.nan],
                           "ETH": [10.0, 11.0, 12.0, np.nan, np.nan, np.nan],
                           "SPY": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]}, index=index)
    weights = pd.DataFrame({"BTC": [-0.05, -0.04, -0.04, -0.04, 0.0, 0.0],
                            "ETH": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                            "SPY": [0.5] * 6}, index=index)
    btc, eth = ended_tickers(prices, weights)
    # held at the 30th, 31st and 1st closes, so the 31st, 1st and 2nd book zero return; the
    # 2nd's close closes it
    assert btc == {"ticker": "BTC", "last_price": "2025-12-30", "weight_at_last_price": -0.04,
                   "stale_sessions": 3, "first_stale": "2025-12-31", "last_stale": "2026-01-02",
                   "max_stale_weight": 0.04, "closed_on": "2026-01-02"}
    assert eth["last_price"] == "2025-12-31" and eth["stale_sessions"] == 0
    note = describe(btc)
    assert "closed on 2026-01-02" in note and "3 sessions (2025-12-31 to 2026-01-02" in note
    assert "no position was held" in describe(eth)
    held = weights.assign(BTC=-0.04)
    still = ended_tickers(prices, held)[0]
    assert still["closed_on"] is None and still["last_stale"] == "2026-01-05"
    assert still["stale_sessions"] == 4 and "still held at the window's end" in describe(still)
    closed_at_once = ended_tickers(prices, weights.assign(BTC=[-0.05, -0.04, 0, 0, 0, 0]))[0]
    assert closed_at_once["stale_sessions"] == 1 and closed_at_once["closed_on"] == "2025-12-31"
    assert "1 session (2025-12-31;" in describe(closed_at_once)


def test_tables_read_without_exponents_or_a_default_index():
    from drain_core.pages import format_number, table_html

    frame = pd.DataFrame({"p_value": [6.154e-05, 0.0123], "n": [12, 1500],
                          "when": pd.to_datetime(["2024-01-02", None]), "name": ["a", None]})
    page = table_html(frame)
    assert "e-0" not in page and "<td>0</td>" not in page and "<th>p value</th>" in page
    assert "0.0000615" in table_html(frame.iloc[:1]) and "1,500" in page
    assert "2024-01-02" in page and "00:00" not in page and page.count("–") == 2
    assert [format_number(v) for v in (6.154e-05, 0.5, 12.34, 123456.7, float("nan"))] == [
        "0.0000615", "0.500", "12.3", "123,457", "–"]
    assert ">2024-01-03</td>" in table_html(frame.set_index(pd.DatetimeIndex(
        ["2024-01-03", "2024-01-04"])))


def test_tables_of_several_series_share_the_paths_and_match_one_by_one():
    from backtests.stats.regimes import regime_tables

    rng = np.random.default_rng(2)
    index = pd.bdate_range("2020-01-01", periods=300)
    frame = pd.DataFrame(rng.normal(0, 0.01, (300, 2)), index=index, columns=["a", "b"])
    regime = pd.Series(np.repeat(["abundant", "draining", "scarce"], 100), index=index)
    tables = regime_tables(frame, regime, reps=100, seed=4)
    for name in frame:
        pd.testing.assert_frame_equal(tables[name],
                                      regime_table(frame[name], regime, reps=100, seed=4))


def test_excess_lines_an_array_up_by_position_and_a_series_by_date():
    import numpy as np
    import pandas as pd

    from backtests.stats.performance import excess

    r = pd.Series([0.01, 0.02, 0.03], index=pd.date_range("2020-01-01", periods=3))
    assert excess(r, np.array([0.001, 0.001, 0.002])).tolist() == pytest.approx(
        [0.009, 0.019, 0.028], abs=1e-15)
    by_date = excess(r, pd.Series([0.005], index=r.index[1:2]))
    assert by_date.iloc[1] == pytest.approx(0.015) and by_date.isna().sum() == 2
    with pytest.raises(ValueError, match="2 cash returns for 3 sessions"):
        excess(r, np.array([0.0, 0.0]))
