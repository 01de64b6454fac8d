"""A large tune keeps only the daily returns its statistics need: the same answers as keeping all.

A small grid is swept twice: keeping every return, and with the tune's ``returns_policy`` made
tiny (one trial per walk-forward train window, a handful for SPA and PBO). The best, every
walk-forward split, the DSR, PBO and SPA must be identical; the kept rows must be exactly the
union a second computation on the full returns matrix gives.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from backtests.run.config import RunConfig
from backtests.sim.accrual import daily_rates
from backtests.tune.analysis import analyse, composite_groups
from backtests.tune.config import TuneConfig
from backtests.tune.grid import grid_from_table, select
from backtests.tune.sweep import prepare_chunk_dir, run_sweep, sweep_key
from backtests.tune.tuning import returns_policy
from backtests.tune.walkforward import WalkForwardConfig, make_splits, score
from drain_data import load_dataset
from strategies import StrategyConfig

START, END = "2019-01-02", "2021-12-31"
BASE = RunConfig(strategy=StrategyConfig(weighting="equal"))
TUNE = TuneConfig(bootstrap_reps=200, spa_reps=200, spa_max_models=6, pbo_max_configs=10,
                  pbo_blocks=8, keep_returns=1, keep_per_window=1,
                  walkforward=WalkForwardConfig(train=250, test=126))
GRID = {"signal": {"gate": ["none", "step"], "buffer_window": [42, 63],
                   "draining_above": [0.0, 0.25]},
        "strategy": {"variant": ["regime_long_short", "signal_long_short", "long_only_tilt"],
                     "rebalance": ["weekly", "monthly"]}}
SEED = 3


@pytest.fixture(scope="module")
def data():
    dataset = load_dataset(end=END)
    selection = select(grid_from_table(GRID, "kept"), BASE.signal, BASE.strategy,
                       BASE.backtest)
    window = dataset.prices.loc[START:]
    everything = run_sweep(selection, dataset, BASE.backtest, start=START)
    return dataset, selection, window, everything


def _policy(data, tune):
    dataset, selection, window, _ = data
    return returns_policy(tune, selection, window, BASE.backtest, SEED)


@pytest.fixture(scope="module", params=["sharpe", "information"])
def pair(request, data):
    """(tune, keep-all analysis, kept sweep, kept analysis) for one select_by."""
    dataset, selection, window, everything = data
    tune = TUNE.replace(select_by=request.param)
    kept = run_sweep(selection, dataset, BASE.backtest, start=START, keep=_policy(data, tune))
    full = analyse(everything, selection, dataset, BASE, tune, seed=SEED, start=START)
    small = analyse(kept, selection, dataset, BASE, tune, seed=SEED, start=START)
    return tune, full, kept, small


def _expected_kept(data, tune) -> np.ndarray:
    """The rows a second computation says the policy keeps, from the full returns matrix."""
    dataset, selection, window, everything = data
    returns, n = everything.returns, everything.n_trials
    cash = daily_rates(window["IRX"], window.index).to_numpy()

    def top(values: np.ndarray, k: int, rows: np.ndarray) -> list[int]:
        ranked = sorted(rows, key=lambda i: (-(values[i] if values[i] == values[i]
                                                else -np.inf), i))
        return list(ranked[:k])

    whole = score(returns, "sharpe", cash)
    rows = np.arange(n)
    kept = top(whole, tune.spa_max_models, rows)
    kept += list(np.random.default_rng(SEED).choice(n, tune.pbo_max_configs, replace=False))
    windows = [(s.train_start, s.train_end) for s in make_splits(len(window), tune.walkforward)]
    for lo, hi in windows:
        kept += top(score(returns[:, lo:hi], "sharpe", cash[lo:hi]), tune.keep_per_window, rows)
    if tune.select_by == "information":
        groups = composite_groups(selection.combos)
        for g in np.unique(groups):
            members = np.flatnonzero(groups == g)
            kept += top(whole, tune.keep_per_window, members)
            for lo, hi in windows:
                kept += top(score(returns[:, lo:hi], "sharpe", cash[lo:hi]),
                            tune.keep_per_window, members)
    return np.unique(np.array(kept, dtype=np.int64))


def test_the_kept_rows_are_the_union_the_statistics_need(data, pair):
    tune, full, kept, small = pair
    expected = _expected_kept(data, tune)
    np.testing.assert_array_equal(kept.kept, expected)
    assert kept.n_trials == data[1].n_trials == len(data[3].table)
    assert kept.n_returns_kept == len(expected) < kept.n_trials
    np.testing.assert_array_equal(kept.returns, data[3].returns[expected])
    assert small.trials.returns_kept == len(expected) and small.trials.n_trials == kept.n_trials
    assert full.trials.returns_kept == full.trials.n_trials
    stats = small.to_dict()
    assert stats["returns_kept"] == len(expected) and stats["n_trials"] == kept.n_trials
    assert f"{kept.n_trials:,} trials were run; the daily returns of {len(expected):,}" in \
        stats["notes"]


def test_kept_returns_give_the_same_choices_and_statistics(pair):
    tune, full, kept, small = pair
    np.testing.assert_array_equal(small.excess_sharpes, full.excess_sharpes)
    assert small.best.index == full.best.index
    assert small.best.sharpe == full.best.sharpe
    pd.testing.assert_frame_equal(small.walk_forward.result.splits,
                                  full.walk_forward.result.splits, check_exact=True)
    assert small.walk_forward.labels == full.walk_forward.labels
    pd.testing.assert_series_equal(small.walk_forward.oos_returns, full.walk_forward.oos_returns)
    assert dataclasses.asdict(small.dsr) == dataclasses.asdict(full.dsr)
    assert small.dsr.n_trials == kept.n_trials  # N: every trial run, not the ones kept
    for stat in ("pbo", "spa"):
        a, b = getattr(small, stat), getattr(full, stat)
        assert (a is None) == (b is None)
        if a is not None:
            assert {k: v for k, v in dataclasses.asdict(a).items() if k != "logits"} == \
                {k: v for k, v in dataclasses.asdict(b).items() if k != "logits"}
    assert small.pbo.n_configs == tune.pbo_max_configs and small.spa.n_models == \
        tune.spa_max_models
    assert small.verdict == full.verdict


def test_the_walk_forward_candidates_come_from_train_windows_only(data):
    """Changing every return after a split's train window cannot change what is kept for it:
    the candidates of the first window are the same with the later sessions scrambled."""
    dataset, selection, window, everything = data
    policy = _policy(data, TUNE)
    wf = policy.walkforward
    lo, hi = wf.trains[0]
    returns = everything.returns.copy()
    scrambled = returns.copy()
    scrambled[:, hi:] = np.random.default_rng(0).permutation(scrambled[:, hi:], axis=0)
    np.testing.assert_array_equal(wf.scores(returns)[:, 1], wf.scores(scrambled)[:, 1])
    assert not np.array_equal(wf.scores(returns)[:, 0], wf.scores(scrambled)[:, 0])


def test_a_resumed_kept_sweep_reuses_its_scores(data, tmp_path):
    dataset, selection, window, everything = data
    policy = _policy(data, TUNE)
    folder = tmp_path / "chunks"
    prepare_chunk_dir(folder, sweep_key(selection, BASE.backtest, window.index,
                                        dataset.fingerprint(), 7))
    run = {"start": START, "chunk_size": 7, "chunk_dir": folder, "keep": policy}
    first = run_sweep(selection, dataset, BASE.backtest, **run)
    again = run_sweep(selection, dataset, BASE.backtest, **run)
    assert again.chunks_run == 0 and again.chunks_reused == first.chunks_run
    np.testing.assert_array_equal(again.kept, first.kept)
    np.testing.assert_array_equal(again.scores.test_sharpes, first.scores.test_sharpes)
    np.testing.assert_array_equal(again.scores.excess_sharpe, first.scores.excess_sharpe)
    other = dataclasses.replace(policy, best=policy.best + 1)  # another policy: run again
    rerun = run_sweep(selection, dataset, BASE.backtest, **{**run, "keep": other})
    assert rerun.chunks_reused == 0 and rerun.chunks_run == first.chunks_run


def test_an_interrupted_distributed_kept_sweep_resumes_to_the_same_rows(data, tmp_path):
    """Chunks finish in another order on a cluster and a resume reads saved scores: the kept
    rows, their returns and every trial's scores are those of the in-process sweep."""
    from backtests.tune.executor import open_executor

    dataset, selection, window, everything = data
    policy = _policy(data, TUNE.replace(select_by="information"))
    here = run_sweep(selection, dataset, BASE.backtest, start=START, chunk_size=5, keep=policy)
    folder = tmp_path / "chunks"
    prepare_chunk_dir(folder, sweep_key(selection, BASE.backtest, window.index,
                                        dataset.fingerprint(), 5))
    stopped: list[int] = []

    def stop(k: int) -> None:
        stopped.append(k)
        if len(stopped) == 4:
            raise KeyboardInterrupt

    with open_executor(workers=2, processes=False, quiet=True) as executor:
        run = {"start": START, "chunk_size": 5, "chunk_dir": folder, "keep": policy,
               "executor": executor}
        with pytest.raises(KeyboardInterrupt):
            run_sweep(selection, dataset, BASE.backtest, on_chunk=stop, **run)
        resumed = run_sweep(selection, dataset, BASE.backtest, **run)
    assert resumed.chunks_reused == 4
    np.testing.assert_array_equal(resumed.kept, here.kept)
    np.testing.assert_array_equal(resumed.returns, here.returns)
    np.testing.assert_array_equal(resumed.scores.excess_sharpe, here.scores.excess_sharpe)
    np.testing.assert_array_equal(resumed.scores.test_sharpes, here.scores.test_sharpes)
    pd.testing.assert_frame_equal(resumed.table, everything.table, check_exact=True)
