"""Each statistic of ``drain thesis`` recovers a planted effect and finds none where none is."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from backtests.stats.econometrics import (
    chow_test,
    conditional_means,
    cross_correlation,
    event_study,
    forward_return,
    group_difference,
    hac_cov,
    nw_ols,
    regime_means,
    slope_change,
    sup_wald_pvalue,
    sup_wald_test,
)
from drain_data.calendar import nyse_sessions
from thesis.result import (
    INSUFFICIENT,
    MIXED,
    NOT_SUPPORTED,
    SUPPORTED,
    InsufficientData,
    combine_verdicts,
    verdict_for,
)

N = 1500
DAYS = nyse_sessions("2015-01-02")[:N]


def _ar1(rng, n, phi, scale=1.0):
    out = np.zeros(n)
    for t in range(1, n):
        out[t] = phi * out[t - 1] + scale * rng.standard_normal()
    return out


def _regimes(rng, n=N):
    """Persistent two-state labels (spells of about 60 sessions)."""
    state, labels = 0, []
    for _ in range(n):
        if rng.random() < 1 / 60:
            state = 1 - state
        labels.append("draining" if state else "abundant")
    return pd.Series(labels, index=DAYS[:n], dtype=object)


# --- Newey-West ------------------------------------------------------------------------------


def test_hac_cov_matches_statsmodels():
    rng = np.random.default_rng(0)
    x = sm.add_constant(rng.standard_normal((300, 2)))
    y = x @ [0.1, 0.5, -0.2] + _ar1(rng, 300, 0.6)
    ref = sm.OLS(y, x).fit(cov_type="HAC", cov_kwds={"maxlags": 7})
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    ours = np.sqrt(np.diag(hac_cov(x, y - x @ beta, 7)))
    np.testing.assert_allclose(ours, ref.bse, rtol=1e-10)


def test_newey_west_slope_recovers_a_planted_beta_with_overlap():
    rng = np.random.default_rng(1)
    x = pd.Series(rng.standard_normal(N), index=DAYS)
    noise = pd.Series(rng.standard_normal(N), index=DAYS).rolling(20).sum()  # overlapping
    planted = pd.Series(0.5 * x + noise, index=DAYS)
    fit = nw_ols(planted, x.rename("x"), lags=20)
    assert abs(fit.params["x"] - 0.5) < 3 * fit.se["x"]
    assert fit.t["x"] > 2
    null = nw_ols(pd.Series(noise, index=DAYS), x.rename("x"), lags=20)
    assert abs(null.t["x"]) < 2


def test_newey_west_needs_enough_observations():
    x = pd.Series([1.0, 2.0, 3.0], index=DAYS[:3])
    with pytest.raises(InsufficientData):
        nw_ols(x * 2, x.rename("x"))


# --- regime-conditional means ----------------------------------------------------------------


def test_regime_mean_difference_recovers_a_planted_gap():
    rng = np.random.default_rng(2)
    labels = _regimes(rng)
    noise = pd.Series(rng.normal(0, 1.0, N), index=DAYS)  # one-session changes
    # each session's change is +0.2 higher when the previous close was in 'draining'
    step = noise + 0.2 * (labels.shift(1) == "draining")
    means = regime_means(step, labels, ("abundant", "draining", "scarce"), 20)
    assert math.isnan(means.loc["scarce", "mean"]) and means.loc["scarce", "n"] == 0
    assert means.loc["draining", "mean"] > means.loc["abundant", "mean"]
    diff = group_difference(step, labels == "draining", 20)
    # a 20-session window starting in 'draining' spends most of it there: gap a bit below 4.0
    assert 2.0 < diff.value < 4.5 and diff.t > 2
    null = group_difference(noise, labels == "draining", 20)
    assert abs(null.t) < 2


def test_bootstrap_conditional_means_recover_a_planted_regime_return():
    rng = np.random.default_rng(3)
    labels = _regimes(rng)
    base = rng.normal(0.0, 0.01, N)
    planted = base + np.where(labels == "draining", 0.002, 0.0)  # ~0.5 a year
    frame = pd.DataFrame({"planted": planted, "null": base}, index=DAYS)
    out = conditional_means(frame, labels, {"abundant": ("abundant",), "drain": ("draining",)},
                            {"drain - abundant": ("drain", "abundant")}, block=21, reps=300,
                            seed=0)
    row = out[(out["column"] == "planted") & (out["group"] == "drain - abundant")].iloc[0]
    assert row["ci_low"] > 0 and row["ci_low"] < 0.002 * 252 < row["ci_high"]
    null = out[(out["column"] == "null") & (out["group"] == "drain - abundant")].iloc[0]
    assert null["ci_low"] < 0 < null["ci_high"]


# --- event study -----------------------------------------------------------------------------


def _event_frame(rng, events, jump_offset, size):
    market = pd.Series(rng.normal(0.0003, 0.01, N), index=DAYS, name="SPY")
    asset = market * 1.2 + rng.normal(0, 0.01, N)
    for day0 in events:
        pos = DAYS.get_loc(day0) + jump_offset
        asset.iloc[pos] += size
    return pd.DataFrame({"asset": asset, "SPY": market}, index=DAYS), market


def test_event_study_recovers_a_planted_post_event_jump():
    rng = np.random.default_rng(4)
    events = pd.Series({f"e{i}": DAYS[200 + 120 * i] for i in range(10)})
    returns, market = _event_frame(rng, events, +3, 0.05)
    study = event_study(returns, market, events, pre=5, post=20)
    row = study.summary.loc["asset"]
    assert row["n"] == 10 and abs(row["caar"] - 0.05) < 0.02 and row["t"] > 2
    assert abs(study.paths.loc[3, "asset"] - study.paths.loc[2, "asset"] - 0.05) < 0.02
    assert set(study.per_event["model"]) == {"market model", "mean-adjusted"}
    null_returns, _ = _event_frame(np.random.default_rng(5), events, 0, 0.0)
    null = event_study(null_returns, market, events, pre=5, post=20).summary.loc["asset"]
    assert null["ci_low"] < 0 < null["ci_high"]


@pytest.mark.parametrize("offset", [-1, 0])
def test_event_study_counts_only_sessions_after_day0_as_post_event(offset):
    rng = np.random.default_rng(6)
    events = pd.Series({f"e{i}": DAYS[200 + 120 * i] for i in range(10)})
    returns, market = _event_frame(rng, events, offset, 0.10)
    study = event_study(returns, market, events, pre=5, post=20)
    per = study.per_event[study.per_event["asset"] == "asset"]
    assert abs(per["car_post"].mean()) < 0.03  # the jump is not post-event
    assert per["car_pre"].mean() > 0.07  # it sits in the pre-window (-5..0)


def test_event_study_skips_events_without_a_full_window():
    rng = np.random.default_rng(7)
    events = pd.Series({"late": DAYS[-5], "early": DAYS[2], "ok": DAYS[400]})
    returns, market = _event_frame(rng, pd.Series(dtype=object), 0, 0.0)
    study = event_study(returns, market, events, pre=5, post=20)
    assert set(study.per_event["event"]) == {"ok"}


# --- structural breaks -----------------------------------------------------------------------


def _break_data(rng, change):
    weeks = pd.date_range("2015-01-02", periods=500, freq="W-FRI")
    x = pd.DataFrame({"spy": rng.normal(0, 0.02, 500)}, index=weeks)
    beta = np.where(weeks >= pd.Timestamp("2019-01-01"), 0.2 + change, 0.2)
    y = pd.Series(beta * x["spy"] + rng.normal(0, 0.02, 500), index=weeks)
    return y, x


def test_chow_and_sup_wald_find_a_planted_break():
    y, x = _break_data(np.random.default_rng(8), 1.5)
    test = chow_test(y, x, "2019-01-01")
    assert test.f_p < 0.01 and test.wald_p < 0.01
    assert abs(test.change["spy"] - 1.5) < 3 * test.change_se["spy"]
    stat, date, p = sup_wald_test(y, x, 0.15)
    assert p < 0.01 and abs((date - pd.Timestamp("2019-01-01")).days) < 120


def test_break_tests_find_nothing_in_a_stable_relation():
    y, x = _break_data(np.random.default_rng(9), 0.0)
    assert chow_test(y, x, "2019-01-01").f_p > 0.05
    assert sup_wald_test(y, x, 0.15)[2] > 0.05


def test_sup_wald_null_distribution_matches_andrews_critical_value():
    # Andrews (1993), one restriction, trimming 15%: 5% critical value 8.68.
    assert 0.03 < sup_wald_pvalue(8.68, 1, 0.15, reps=4000) < 0.07


# --- split-sample slopes ---------------------------------------------------------------------


PHI, H = 0.95, 20
MULT = (1 - PHI**H) / (1 - PHI)  # E[sum of x over the next H sessions | x_t] = MULT * x_t


def _slope_data(rng, change, before=0.01):
    x = pd.Series(_ar1(rng, N, PHI, 0.3), index=DAYS)
    after = pd.Series(np.arange(N) >= 1000, index=DAYS)
    slope = np.where(after, before + change, before)
    # one-session returns predicted by x at the previous close
    step = pd.Series(slope * x.shift(1).fillna(0.0) + rng.normal(0, 0.05, N), index=DAYS)
    return step, x, after


def test_slope_change_recovers_a_planted_change():
    step, x, after = _slope_data(np.random.default_rng(10), 0.02)
    fit = slope_change(step, x, after, H)
    assert abs(fit.difference.value - 0.02 * MULT) < 3 * fit.difference.se
    assert fit.difference.t > 2
    assert abs(fit.before.value - 0.01 * MULT) < 3 * fit.before.se
    assert fit.t_nw > fit.difference.t or fit.t_hodrick >= fit.difference.t
    null_step, x, after = _slope_data(np.random.default_rng(11), 0.0)
    assert abs(slope_change(null_step, x, after, 20).difference.t) < 2


def test_overlap_errors_keep_their_size_where_newey_west_alone_over_rejects():
    rejections_nw = rejections = 0
    for seed in range(60):
        step, x, after = _slope_data(np.random.default_rng(100 + seed), 0.0, before=0.0)
        fit = slope_change(step, x, after, H)
        rejections_nw += abs(fit.t_nw) > 2
        rejections += abs(fit.difference.t) > 2
    assert rejections <= rejections_nw
    assert rejections / 60 < 0.15


def test_slope_change_needs_both_sides():
    x = pd.Series(np.arange(300.0), index=DAYS[:300])
    with pytest.raises(InsufficientData):
        slope_change(x, x, pd.Series(False, index=x.index), 20)


# --- helpers and verdict rules ---------------------------------------------------------------


def test_cross_correlation_finds_the_lead():
    rng = np.random.default_rng(11)
    x = pd.Series(rng.standard_normal(600))
    y = x.shift(2) + 0.5 * rng.standard_normal(600)  # x leads y by 2
    xcorr = cross_correlation(x, y, 5)
    assert xcorr["corr"].idxmax() == 2 and xcorr.loc[2, "corr"] > xcorr.loc[2, "band"]


def test_forward_return_compounds_the_next_sessions():
    r = pd.Series([0.1, 0.1, -0.5, 0.2])
    fwd = forward_return(r, 2)
    assert fwd.iloc[0] == pytest.approx(1.1 * 0.5 - 1)
    assert math.isnan(fwd.iloc[2])


@pytest.mark.parametrize("estimate, sign, t, ci, expected", [
    (0.5, +1, 2.5, (math.nan, math.nan), SUPPORTED),
    (0.5, +1, 1.0, (math.nan, math.nan), MIXED),
    (0.5, +1, math.nan, (0.1, 0.9), SUPPORTED),
    (0.5, +1, math.nan, (-0.1, 0.9), MIXED),
    (-0.5, +1, -3.0, (math.nan, math.nan), NOT_SUPPORTED),
    (-0.5, -1, -3.0, (math.nan, math.nan), SUPPORTED),
    (math.nan, +1, math.nan, (math.nan, math.nan), INSUFFICIENT),
])
def test_verdict_rule(estimate, sign, t, ci, expected):
    assert verdict_for(estimate, sign, t, ci) == expected


@pytest.mark.parametrize("verdicts, expected", [
    ([SUPPORTED, SUPPORTED, MIXED], SUPPORTED),
    ([SUPPORTED, MIXED, MIXED], MIXED),
    ([SUPPORTED, NOT_SUPPORTED], MIXED),
    ([NOT_SUPPORTED, NOT_SUPPORTED, MIXED], NOT_SUPPORTED),
    ([INSUFFICIENT, SUPPORTED], SUPPORTED),
    ([INSUFFICIENT, INSUFFICIENT], INSUFFICIENT),
])
def test_combine_rule(verdicts, expected):
    assert combine_verdicts(verdicts) == expected
