"""Tests for backtests.stats.overfitting: Sharpe SE, PSR, DSR, PBO (CSCV), bootstrap CIs, SPA.

Every expected value is either computed by hand (constants in the test) or by a second,
independent route (explicit moments, a naive CSCV loop, analytic CI widths).
"""

from __future__ import annotations

import math
import time
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from backtests.stats.overfitting import (
    EULER_MASCHERONI,
    bootstrap_confidence_intervals,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_ratio,
    sharpe_ratio_per_period,
    sharpe_standard_error,
    spa_pvalues,
    spa_test,
    stationary_indices,
)

SMALL_SAMPLE = np.array([0.012, -0.004, 0.021, 0.003, -0.011, 0.015, 0.007, -0.002, 0.030, 0.001])


# --------------------------------------------------------------------------------------
# Sharpe ratio and its standard error
# --------------------------------------------------------------------------------------


def test_sharpe_ratio_hand_case():
    r = [0.01, 0.02, 0.03]  # mean 0.02, sd(ddof=1) 0.01 -> SR 2 per period
    assert sharpe_ratio_per_period(r) == pytest.approx(2.0, rel=1e-12)
    assert sharpe_ratio(r) == pytest.approx(2.0 * math.sqrt(252), rel=1e-12)
    assert sharpe_ratio(pd.Series(r), periods_per_year=12) == pytest.approx(2.0 * math.sqrt(12))


def test_sharpe_ratio_rejects_constant_and_nan():
    with pytest.raises(ValueError, match="zero standard deviation"):
        sharpe_ratio([0.01, 0.01, 0.01])
    with pytest.raises(ValueError, match="NaN"):
        sharpe_ratio([0.01, np.nan, 0.02])


def test_sharpe_standard_error_hand_case_and_raw_kurtosis_trap():
    # SR=0.1, T=101, skew 0, raw kurtosis 3: (1 + (3-1)/4 * 0.01) / 100 = 1.005 / 100.
    se = sharpe_standard_error(0.1, 101, 0.0, 3.0)
    assert se == pytest.approx(0.1002496882788171, rel=1e-12)
    assert se == pytest.approx(math.sqrt((1 + 0.1**2 / 2) / 100), rel=1e-12)
    # Feeding EXCESS kurtosis (0) would give (1 - 0.25 * 0.01) / 100 -> a different number.
    wrong = sharpe_standard_error(0.1, 101, 0.0, 0.0)
    assert wrong == pytest.approx(0.0998749217771909, rel=1e-12)
    assert abs(se - wrong) > 3e-4
    # Skew term: 1 - g3*SR; positive skew lowers the SE.
    assert sharpe_standard_error(0.1, 101, 1.0, 3.0) == pytest.approx(
        math.sqrt((1 - 0.1 + 0.005) / 100), rel=1e-12
    )


def test_sharpe_standard_error_rejects_inconsistent_moments():
    # raw kurtosis 0 with SR 3: 1 + (0 - 1)/4 * 9 < 0 -> impossible moments.
    with pytest.raises(ValueError, match="raw_kurtosis"):
        sharpe_standard_error(3.0, 100, 0.0, 0.0)
    with pytest.raises(ValueError, match="n_obs"):
        sharpe_standard_error(0.1, 1, 0.0, 3.0)


def test_normal_sample_uses_raw_kurtosis_internally():
    rng = np.random.default_rng(42)
    r = rng.normal(0.0005, 0.01, 20_000)
    res = deflated_sharpe_ratio(r, [0.0], n_trials=1)
    assert res.raw_kurtosis == pytest.approx(3.0, abs=0.15)  # excess would be ~0
    assert res.skew == pytest.approx(0.0, abs=0.1)
    se = sharpe_standard_error(res.sr_per_period, r.size, res.skew, res.raw_kurtosis)
    se_normal = math.sqrt((1 + res.sr_per_period**2 / 2) / (r.size - 1))
    assert se == pytest.approx(se_normal, rel=0.01)


# --------------------------------------------------------------------------------------
# PSR
# --------------------------------------------------------------------------------------


def _psr_by_hand(r: np.ndarray, sr_star: float) -> float:
    """PSR from explicit central moments (second route; no scipy.stats.skew/kurtosis)."""
    t = r.size
    sr = r.mean() / r.std(ddof=1)
    d = r - r.mean()
    m2, m3, m4 = (d**2).mean(), (d**3).mean(), (d**4).mean()
    g3, g4 = m3 / m2**1.5, m4 / m2**2
    se = math.sqrt((1 - g3 * sr + (g4 - 1) / 4 * sr**2) / (t - 1))
    return float(stats.norm.cdf((sr - sr_star) / se))


def test_psr_matches_direct_scipy_computation():
    r = SMALL_SAMPLE
    for sr_star in (0.0, 0.1, -0.2):
        assert probabilistic_sharpe_ratio(r, sr_star) == pytest.approx(
            _psr_by_hand(r, sr_star), rel=1e-12
        )
    # Benchmark equal to the sample SR -> exactly one half.
    sr = r.mean() / r.std(ddof=1)
    assert probabilistic_sharpe_ratio(r, sr) == pytest.approx(0.5, abs=1e-12)
    # The excess-kurtosis mistake would change the answer noticeably on this sample.
    d = r - r.mean()
    g3 = (d**3).mean() / (d**2).mean() ** 1.5
    g4_excess = (d**4).mean() / (d**2).mean() ** 2 - 3
    se_wrong = math.sqrt((1 - g3 * sr + (g4_excess - 1) / 4 * sr**2) / (r.size - 1))
    wrong = stats.norm.cdf(sr / se_wrong)
    assert abs(probabilistic_sharpe_ratio(r) - wrong) > 0.005


# --------------------------------------------------------------------------------------
# DSR
# --------------------------------------------------------------------------------------


def test_dsr_single_trial_equals_psr_zero():
    r = SMALL_SAMPLE
    sr = r.mean() / r.std(ddof=1)
    res = deflated_sharpe_ratio(r, [sr])
    assert res.n_trials == 1
    assert res.sr0_per_period == 0.0
    assert res.dsr == pytest.approx(probabilistic_sharpe_ratio(r, 0.0), rel=1e-12)
    assert res.dsr == res.psr_zero
    # n_trials=1 overrides the list length: no deflation.
    res1 = deflated_sharpe_ratio(r, [sr, 0.3, -0.1], n_trials=1)
    assert res1.sr0_per_period == 0.0 and res1.dsr == pytest.approx(res.dsr)


def test_dsr_zero_variance_trials_and_missing_trials():
    r = SMALL_SAMPLE
    res = deflated_sharpe_ratio(r, [0.2] * 10)
    assert res.sr0_per_period == 0.0
    assert res.dsr == pytest.approx(res.psr_zero)
    with pytest.raises(ValueError, match="at least 2"):
        deflated_sharpe_ratio(r, [0.2], n_trials=50)
    with pytest.raises(ValueError, match="n_trials"):
        deflated_sharpe_ratio(r, [0.2, 0.1], n_trials=0)


def test_sr0_formula_by_hand_n100():
    # Var[SR_n] = 0.0004 exactly, N = 100.
    x = np.random.default_rng(3).normal(size=100)
    trials = 0.01 + 0.02 * (x - x.mean()) / x.std(ddof=1)
    # PhiInv(0.99) = 2.3263478740, PhiInv(1 - 1/(100 e)) = 2.6802104450.
    z = (1 - 0.5772156649) * 2.3263478740408408 + 0.5772156649 * 2.6802104449668875
    expected = 0.02 * z  # = 0.050612058
    assert expected == pytest.approx(0.050612058, rel=1e-8)
    assert expected_max_sharpe(0.0004, 100) == pytest.approx(expected, rel=1e-9)
    assert expected_max_sharpe(0.0004, 1) == 0.0  # PhiInv(0) = -inf must not leak out
    assert expected_max_sharpe(0.0, 100) == 0.0
    res = deflated_sharpe_ratio(SMALL_SAMPLE, trials)
    assert res.n_trials == 100
    assert res.sr0_per_period == pytest.approx(expected, rel=1e-9)
    assert res.dsr == pytest.approx(_psr_by_hand(SMALL_SAMPLE, expected), rel=1e-10)
    assert abs(EULER_MASCHERONI - 0.5772156649) < 1e-10


def test_dsr_low_for_best_of_noise_family():
    dsrs, psrs = [], []
    for seed in range(20):
        rets = np.random.default_rng(seed).normal(0.0, 0.01, (1000, 200))
        srs = rets.mean(axis=0) / rets.std(axis=0, ddof=1)
        best = int(np.argmax(srs))
        res = deflated_sharpe_ratio(rets[:, best], srs)
        dsrs.append(res.dsr)
        psrs.append(res.psr_zero)
    # Naive PSR is fooled by selection, DSR is not: centred near 1/2, never convincing.
    assert min(psrs) > 0.95
    assert abs(np.mean(dsrs) - 0.5) < 0.15
    assert max(dsrs) < 0.9


def test_dsr_high_for_single_strong_strategy():
    r = np.random.default_rng(7).normal(0.001, 0.01, 2500)
    res = deflated_sharpe_ratio(r, [r.mean() / r.std(ddof=1)])
    assert res.dsr > 0.95


# --------------------------------------------------------------------------------------
# PBO (CSCV)
# --------------------------------------------------------------------------------------


def _block(sr: float) -> list[float]:
    """Three returns with mean sr*0.01 and sd(ddof=1) 0.01, i.e. per-period Sharpe = sr."""
    return [sr * 0.01 - 0.01, sr * 0.01, sr * 0.01 + 0.01]


def test_pbo_hand_case_two_blocks():
    # Block A (rows 1-3) Sharpes: 2, 1, 1.5, 1.2; block B (rows 4-6): 1.2, 1.5, -1, 0.
    a = [2.0, 1.0, 1.5, 1.2]
    b = [1.2, 1.5, -1.0, 0.0]
    cols = [[5.0] + _block(sa) + _block(sb) for sa, sb in zip(a, b, strict=True)]
    mat = np.array(cols).T  # 7 x 4; the first (garbage) row must be dropped
    res = probability_of_backtest_overfitting(mat, n_blocks=2)
    assert res.rows_dropped == 1
    assert res.n_splits == 2 and res.n_blocks == 2
    # Split 1: IS=A picks col 0; OOS (B) rank of 1.2 among {1.2,1.5,-1,0} = 3 -> w=3/5.
    # Split 2: IS=B picks col 1; OOS (A) rank of 1.0 among {2,1,1.5,1.2} = 1 -> w=1/5.
    np.testing.assert_allclose(res.logits, [math.log(1.5), math.log(0.25)], rtol=1e-9)
    assert res.pbo == 0.5
    np.testing.assert_array_equal(res.chosen, [0, 1])
    np.testing.assert_allclose(res.is_metric, [2.0, 1.5], rtol=1e-9)
    np.testing.assert_allclose(res.oos_metric, [1.2, 1.0], rtol=1e-9)
    # OLS through (2, 1.2) and (1.5, 1.0): slope 0.4, intercept 0.4.
    assert res.degradation_slope == pytest.approx(0.4, rel=1e-9)
    assert res.degradation_intercept == pytest.approx(0.4, rel=1e-9)
    assert res.prob_oos_loss == 0.0


def _naive_pbo(mat: np.ndarray, n_blocks: int):
    """Slow reference CSCV: re-slice the matrix for every split."""
    t, n = mat.shape
    blen = t // n_blocks
    m = mat[t - blen * n_blocks :]
    blocks = [m[i * blen : (i + 1) * blen] for i in range(n_blocks)]
    logits, chosen, is_m, oos_m = [], [], [], []
    for combo in combinations(range(n_blocks), n_blocks // 2):
        is_rows = np.vstack([blocks[i] for i in combo])
        oos_rows = np.vstack([blocks[i] for i in range(n_blocks) if i not in combo])
        is_sr = is_rows.mean(0) / is_rows.std(0, ddof=1)
        oos_sr = oos_rows.mean(0) / oos_rows.std(0, ddof=1)
        k = int(np.argmax(is_sr))
        w = stats.rankdata(oos_sr)[k] / (n + 1)
        logits.append(math.log(w / (1 - w)))
        chosen.append(k)
        is_m.append(is_sr[k])
        oos_m.append(oos_sr[k])
    logits = np.array(logits)
    slope, intercept = np.polyfit(is_m, oos_m, 1)
    return {
        "pbo": float(np.mean(logits <= 0)),
        "logits": logits,
        "chosen": np.array(chosen),
        "is": np.array(is_m),
        "oos": np.array(oos_m),
        "slope": slope,
        "intercept": intercept,
        "loss": float(np.mean(np.array(oos_m) < 0)),
    }


def test_pbo_vectorised_matches_naive_loop():
    rng = np.random.default_rng(11)
    mat = rng.normal(0.0002, 0.01, (6 * 15 + 4, 5))
    mat[:, 2] += 0.001
    res = probability_of_backtest_overfitting(mat, n_blocks=6)
    ref = _naive_pbo(mat, 6)
    assert res.n_splits == 20 and res.rows_dropped == 4
    assert res.pbo == ref["pbo"]
    np.testing.assert_array_equal(res.chosen, ref["chosen"])
    np.testing.assert_allclose(res.logits, ref["logits"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.is_metric, ref["is"], rtol=1e-9)
    np.testing.assert_allclose(res.oos_metric, ref["oos"], rtol=1e-9)
    assert res.degradation_slope == pytest.approx(ref["slope"], rel=1e-8)
    assert res.degradation_intercept == pytest.approx(ref["intercept"], rel=1e-8, abs=1e-12)
    assert res.prob_oos_loss == ref["loss"]
    # DataFrame input gives the same answer.
    res_df = probability_of_backtest_overfitting(pd.DataFrame(mat), n_blocks=6)
    np.testing.assert_array_equal(res_df.logits, res.logits)


def test_pbo_pure_noise_is_about_one_half():
    pbos = []
    for seed in range(20):
        mat = np.random.default_rng(seed).normal(0.0, 0.01, (1600, 50))
        res = probability_of_backtest_overfitting(mat, n_blocks=16)
        assert res.n_splits == 12_870
        pbos.append(res.pbo)
    # A single noise family's PBO is very dispersed (splits share data); the mean is not.
    assert abs(np.mean(pbos) - 0.5) < 0.15


def test_pbo_planted_edge_is_low():
    mat = np.random.default_rng(0).normal(0.0, 0.01, (1600, 50))
    mat[:, 7] += 0.002
    res = probability_of_backtest_overfitting(mat)
    assert res.pbo < 0.05
    assert np.mean(res.chosen == 7) > 0.95
    assert res.prob_oos_loss < 0.05


def test_pbo_flat_column_gets_sharpe_zero():
    # Every column loses money except a never-trading (all-zero) configuration.
    mat = np.random.default_rng(5).normal(-0.003, 0.01, (400, 6))
    mat[:, 0] = 0.0
    res = probability_of_backtest_overfitting(mat, n_blocks=8)
    np.testing.assert_array_equal(res.chosen, np.zeros(res.n_splits, dtype=int))
    np.testing.assert_array_equal(res.is_metric, 0.0)
    np.testing.assert_allclose(res.logits, math.log(6.0))  # OOS rank 6 of 6 -> w = 6/7
    assert res.pbo == 0.0


def test_pbo_is_fast_on_3000_by_200():
    mat = np.random.default_rng(1).normal(0.0, 0.01, (3000, 200))
    start = time.perf_counter()
    res = probability_of_backtest_overfitting(mat, n_blocks=16)
    elapsed = time.perf_counter() - start
    assert res.n_splits == 12_870 and res.logits.shape == (12_870,)
    assert elapsed < 10.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_blocks": 7}, "n_blocks"),
        ({"n_blocks": 0}, "n_blocks"),
        ({"metric": "sortino"}, "metric"),
    ],
)
def test_pbo_rejects_bad_arguments(kwargs, match):
    mat = np.random.default_rng(0).normal(size=(200, 4))
    with pytest.raises(ValueError, match=match):
        probability_of_backtest_overfitting(mat, **kwargs)


def test_pbo_rejects_bad_matrices():
    mat = np.random.default_rng(0).normal(size=(200, 4))
    with_nan = mat.copy()
    with_nan[10, 2] = np.nan
    with pytest.raises(ValueError, match="returns_matrix contains NaN"):
        probability_of_backtest_overfitting(with_nan)
    with pytest.raises(ValueError, match="returns_matrix needs at least 2 columns"):
        probability_of_backtest_overfitting(mat[:, :1])
    with pytest.raises(ValueError, match="rows"):
        probability_of_backtest_overfitting(mat[:31], n_blocks=16)
    with pytest.raises(ValueError, match="2-D"):
        probability_of_backtest_overfitting(mat[:, 0])


# --------------------------------------------------------------------------------------
# Bootstrap confidence intervals
# --------------------------------------------------------------------------------------


def test_bootstrap_ci_basic_properties_and_reproducibility():
    r = np.random.default_rng(21).normal(0.0005, 0.01, 1500)
    out = bootstrap_confidence_intervals(r, n_boot=500, seed=3)
    for key in ("sharpe", "cagr"):
        lo, point, hi = out[key]
        assert lo < point < hi
    assert out["sharpe"][1] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(252))
    assert out["cagr"][1] == pytest.approx(np.prod(1 + r) ** (252 / r.size) - 1, rel=1e-10)
    assert out["n_boot"] == 500 and out["block_size"] >= 1
    assert bootstrap_confidence_intervals(r, n_boot=500, seed=3) == out
    assert bootstrap_confidence_intervals(r, n_boot=500, seed=4) != out
    assert bootstrap_confidence_intervals(r, n_boot=50, block_size=7)["block_size"] == 7


def test_bootstrap_sharpe_ci_width_matches_analytic():
    t = 2000
    r = np.random.default_rng(8).normal(0.0005, 0.01, t)
    sr = r.mean() / r.std(ddof=1)
    analytic = 2 * 1.96 * math.sqrt((1 + sr**2 / 2) / t) * math.sqrt(252)
    for block_size in (None, 1):
        lo, _, hi = bootstrap_confidence_intervals(r, n_boot=2000, block_size=block_size)["sharpe"]
        assert (hi - lo) == pytest.approx(analytic, rel=0.30)
    # Same seed -> same draws, so the width ratio across levels is a pure quantile check:
    # near-normal bootstrap distribution -> z(0.90) / z(0.975) = 1.2816 / 1.9600.
    lo95, _, hi95 = bootstrap_confidence_intervals(r, n_boot=2000, level=0.95)["sharpe"]
    lo80, _, hi80 = bootstrap_confidence_intervals(r, n_boot=2000, level=0.80)["sharpe"]
    w95, w80 = hi95 - lo95, hi80 - lo80
    assert w80 / w95 == pytest.approx(1.2816 / 1.9600, rel=0.08)


# --------------------------------------------------------------------------------------
# SPA
# --------------------------------------------------------------------------------------


def _spa_data(edges: list[float], seed: int = 0):
    rng = np.random.default_rng(seed)
    t = 1000
    bench = rng.normal(0.0003, 0.01, t)
    models = pd.DataFrame(
        {f"m{i}": bench + rng.normal(edge, 0.005, t) for i, edge in enumerate(edges)}
    )
    return bench, models


def test_spa_detects_planted_edge():
    bench, models = _spa_data([0.0, 0.0, 0.002, 0.0, 0.0])
    res = spa_test(bench, models, reps=500, seed=1)
    assert res.pvalue_consistent < 0.05
    assert res.pvalue_lower <= res.pvalue_consistent <= res.pvalue_upper
    assert res.best_model == "m2" and res.best_model_index == 2
    assert res.best_mean_excess == pytest.approx((models["m2"] - bench).mean())
    assert res.n_models == 5 and res.reps == 500 and res.block_size >= 1


def test_spa_noise_models_not_significant_and_reproducible():
    # Under the null a single draw's p-value is ~uniform, so check several draws: the
    # typical p-value is large and 5 % rejections stay rare (size control).
    pvals = []
    for seed in range(10):
        bench, models = _spa_data([0.0] * 5, seed=seed)
        pvals.append(spa_test(bench, models.to_numpy(), reps=500, seed=1).pvalue_consistent)
    assert np.median(pvals) > 0.2
    assert sum(p < 0.05 for p in pvals) <= 2
    bench, models = _spa_data([0.0] * 5, seed=0)
    res = spa_test(bench, models.to_numpy(), reps=500, seed=1)
    assert res.pvalue_consistent > 0.1
    assert isinstance(res.best_model, int)
    assert spa_test(bench, models.to_numpy(), reps=500, seed=1) == res


def test_spa_sign_convention_worse_models_give_high_pvalue():
    # Models that clearly LOSE against the benchmark must not look superior (returns are
    # converted to losses by negation; a sign slip would make these look like winners).
    bench, models = _spa_data([-0.002] * 3, seed=4)
    res = spa_test(bench, models, reps=300, seed=1)
    assert res.pvalue_upper > 0.5


def test_spa_rejects_misaligned_inputs():
    bench, models = _spa_data([0.0, 0.0])
    with pytest.raises(ValueError, match="benchmark_returns"):
        spa_test(bench[:-1], models)
    bad = models.copy()
    bad.iloc[3, 1] = np.nan
    with pytest.raises(ValueError, match="model_returns_matrix"):
        spa_test(bench, bad)


@pytest.mark.parametrize(("t", "edges", "block", "seed"), [
    (300, [0.0, 0.001, -0.0005, 0.0], 5, 1),
    (500, [0.0] * 6 + [-0.01] * 4, 12, 2),  # far-worse models: consistent != upper
    (257, [0.0002], 1, 0),
])
def test_fast_spa_equals_arch_for_the_same_seed(t, edges, block, seed):
    from arch.bootstrap import SPA

    rng = np.random.default_rng(seed + 10)
    bench = rng.normal(0.0003, 0.01, t)
    models = bench[:, None] + rng.normal(edges, 0.004, (t, len(edges)))
    reference = SPA(-bench, -models, block_size=block, reps=400, bootstrap="stationary",
                    seed=seed)
    reference.compute()
    indices = stationary_indices(t, block, 400, seed)
    fast = spa_pvalues(models - bench[:, None], indices, block, chunk=150)  # uneven chunks
    assert fast == {key: float(value) for key, value in reference.pvalues.items()}
    assert spa_test(bench, models, reps=400, block_size=block, seed=seed).pvalue_upper == \
        fast["upper"]
    if edges[-1] == -0.01:
        assert fast["consistent"] < fast["upper"]


def test_stationary_indices_are_arch_resamples():
    from arch.bootstrap import StationaryBootstrap

    data = np.arange(50.0)
    drawn = [x[0][0].copy() for x in StationaryBootstrap(4, data, seed=7).bootstrap(5)]
    np.testing.assert_array_equal(stationary_indices(50, 4, 5, 7), np.stack(drawn))
