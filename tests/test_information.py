"""Signal information: forward-return timing (no look-ahead), overlap-robust t-statistics, a
planted signal found, noise not, and the out-of-sample score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.stats.information import (
    consecutive_windows,
    forward_returns,
    information,
    information_by,
    information_table,
    lead_lag,
    oos_information,
    quintile_means,
    rank_correlation,
    target_returns,
)
from tests.placebo_market import ar1

INDEX = pd.bdate_range("2016-01-01", periods=1500)


def _planted(seed: int, beta: float, n: int = 1500, phi: float = 0.98):
    """A persistent signal and a return whose day t depends on the signal at t - 2 (a trade
    decided at close t - 2 is filled at close t - 1 and earns day t)."""
    rng = np.random.default_rng(seed)
    index = INDEX[:n]
    signal = pd.Series(ar1(n, phi, rng), index=index)
    returns = pd.Series(rng.normal(0.0, 0.01, n), index=index) + beta * signal.shift(2)
    return signal, returns


def test_forward_return_starts_after_the_fill():
    """lag 1: at t the sum of returns t + 2 .. t + 1 + h (close t + 1 to close t + 1 + h)."""
    r = pd.Series(np.arange(1.0, 11.0), index=INDEX[:10])
    fwd = forward_returns(r, 3, lag=1)
    assert fwd.iloc[0] == 3 + 4 + 5
    assert fwd.iloc[5] == 8 + 9 + 10  # r[s] is the value s + 1 here
    assert fwd.iloc[6:].isna().all()  # would need returns past the data
    assert forward_returns(r, 2, lag=0).iloc[0] == 2 + 3


def test_truncation_changes_nothing_known_before_the_cut():
    """Returns changed after t + lag + h leave the forward return at t alone, and so does the
    return of day t + 1 (earned before the fill); the table on data cut at D equals the table
    on all data with the signal stopped h + lag sessions before D."""
    signal, returns = _planted(0, 0.001)
    h, t = 21, 700
    later = returns.copy()
    later.iloc[t + 1 + h + 1:] += 1.0
    later.iloc[t + 1] += 1.0
    assert forward_returns(later, h).iloc[t] == forward_returns(returns, h).iloc[t]
    later.iloc[t + 2] += 1.0
    assert forward_returns(later, h).iloc[t] != forward_returns(returns, h).iloc[t]
    cut = 1000
    short = information_table(signal.iloc[:cut].to_frame("s"),
                              returns.iloc[:cut].to_frame("r"), (1, 21))
    for hz in (1, 21):
        stopped_h = signal.where(np.arange(len(signal)) < cut - hz - 1)
        full = information(stopped_h, returns, hz)
        row = short[short["horizon"] == hz].iloc[0]
        assert row["pearson"] == pytest.approx(full.pearson, abs=1e-12)
        assert row["n"] == full.n


def test_planted_signal_is_significant_at_every_horizon():
    signal, returns = _planted(1, 0.003)
    table = information_table(signal.to_frame("s"), returns.to_frame("r"), (1, 5, 21, 63))
    assert (table["t"] > 3).all()
    assert (table["pearson"] > 0).all() and (table["spearman"] > 0).all()
    assert (table["t"].abs() <= table[["t_nw", "t_hodrick"]].abs().max(axis=1) + 1e-12).all()


def test_noise_signal_rarely_significant_over_many_seeds():
    """50 independent persistent signals against iid returns, horizon 21: |t| > 1.96 (the
    larger of the NW and Hodrick errors) in at most 16% of them (nominal 5%; plain NW with
    overlapping windows and a persistent regressor rejects far more often)."""
    rejections = 0
    for seed in range(50):
        signal, returns = _planted(200 + seed, 0.0, n=1000)
        rejections += abs(information(signal, returns, 21).t) > 1.96
    assert rejections <= 8


def test_information_by_group_and_quintiles():
    signal, returns = _planted(2, 0.003)
    years = pd.Series(signal.index.year, index=signal.index)
    by_year = information_by(signal, returns, years, 5)
    assert set(by_year["group"]) == set(years.unique())
    assert (by_year["pearson"].dropna() > 0).mean() >= 0.8
    q = quintile_means(signal, returns, 21)
    assert q["n"].sum() == forward_returns(returns, 21).notna().sum()  # every day bucketed
    assert q["mean_forward"].is_monotonic_increasing
    ll = lead_lag(signal, returns, window=5, max_lag=20)
    assert ll.loc[10, "corr"] > 0.1 and abs(ll.loc[-10, "corr"]) < ll.loc[10, "corr"]


def test_out_of_sample_score_reads_only_its_windows():
    signal, returns = _planted(3, 0.003)
    windows = consecutive_windows(len(signal), 500, 250)
    assert windows[0] == (500, 750) and windows[-1] == (1250, 1500)
    score = oos_information(signal, returns, 21, windows, sign=1)
    assert score.mean > 0.1 and score.t > 2
    changed = returns.copy()
    changed.iloc[750:] = 0.5  # everything after the first window
    again = oos_information(signal, changed, 21, windows[:1], sign=1)
    assert again.ics[0] == score.ics[0]
    noise = oos_information(signal, pd.Series(np.random.default_rng(9).normal(0, 0.01, 1500),
                                              index=signal.index), 21, windows, sign=1)
    assert abs(noise.mean) < score.mean


def test_target_returns_spread_is_speculative_minus_cash_flow():
    prices = pd.DataFrame({"A": [100, 110, 121.0], "B": [100, 100, 100.0],
                           "C": [100, 90, 90.0], "SPY": [10, 11, 11.0]}, index=INDEX[:3])
    t = target_returns(prices, {"cash_flow": ("A", "B"), "speculative": ("C", "ZZZ")},
                       "cash_flow", "speculative")
    assert t["spread"].iloc[1] == pytest.approx(np.log1p(-0.10 - 0.05))
    assert t["speculative"].iloc[1] == pytest.approx(np.log(0.9))
    assert "BTC-USD" not in t


def test_spread_information_score_is_signed_for_the_thesis():
    """The synthetic spread (speculative minus cash flow) falls in drain regimes: a positive
    score; the same signal negated scores exactly the opposite."""
    from backtests.stats.information import spread_information_score
    from tests import placebo_market as pm

    prices, composite, _ = pm.market(7, n_days=900, edge=0.003)
    windows = consecutive_windows(len(prices), 100, 200)
    score = spread_information_score(composite, prices, pm.strategy().baskets, "cash_flow",
                                     "speculative", windows)
    assert score.mean > 0.1
    flipped = spread_information_score(-composite, prices, pm.strategy().baskets, "cash_flow",
                                       "speculative", windows)
    np.testing.assert_allclose(flipped.ics, -score.ics, atol=1e-12)


@pytest.mark.parametrize("ties", [False, True])
def test_rank_correlation_is_pandas_spearman(ties):
    """The fast rank IC equals pandas' Spearman correlation, ties (average ranks) included."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=400)
    y = 0.3 * x + rng.normal(size=400)
    if ties:
        x, y = np.round(x, 1), np.round(y, 0)
    expected = pd.Series(x).corr(pd.Series(y), method="spearman")
    assert rank_correlation(x, y) == pytest.approx(expected, abs=1e-15)
    assert rank_correlation(x, -x) == pytest.approx(-1.0, abs=1e-15)
