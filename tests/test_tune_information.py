"""drain tune's signal information: the OOS rank-IC table, selection by it, and earlier runs'
trials in the deflated Sharpe's N."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from backtests.report.tune_run import save_tune_run
from backtests.run.config import RunConfig
from backtests.stats import performance
from backtests.stats.information import spread_information_score
from backtests.tune.config import TuneConfig
from backtests.tune.tuning import earlier_tune_trials, run_tune
from backtests.tune.walkforward import Split, choose, make_splits, walk_forward
from drain_core.paths import reports_root
from drain_data import load_dataset
from signals import compute_signal
from strategies import StrategyConfig

START, END = "2019-01-02", "2022-06-30"
BASE = RunConfig(strategy=StrategyConfig(weighting="equal"))
TUNE = TuneConfig.from_dict({
    "bootstrap_reps": 100, "spa_reps": 100,
    "walkforward": {"train": 250, "test": 126},
    "grid": {"signal": {"buffer_window": [21, 126], "gate": ["none", "step"]},
             "strategy": {"variant": ["regime_long_short", "long_only_tilt"]}},
})


@pytest.fixture(scope="module")
def dataset():
    return load_dataset(end=END)


@pytest.fixture(scope="module")
def runs(dataset, tmp_path_factory):
    """The same small tune selected by Sharpe (default), by Sharpe explicitly and by
    information, each in an empty reports root."""
    mp = pytest.MonkeyPatch()
    out = {}
    try:
        for name, tune in (("default", TUNE), ("sharpe", TUNE.replace(select_by="sharpe")),
                           ("information", TUNE.replace(select_by="information"))):
            mp.setenv("DRAIN_REPORTS_DIR", str(tmp_path_factory.mktemp(name)))
            out[name] = run_tune(BASE, tune, dataset, start=START)
    finally:
        mp.undo()
    return out


def _by_hand(run, dataset):
    """Second method: each composite straight from compute_signal, scored with
    spread_information_score on the given windows."""
    window = dataset.prices.loc[START:]
    composites = {}
    for combo in run.sweep.combos:
        key = (combo.signal.buffer_window, combo.signal.gate)
        if key not in composites:
            composites[key] = compute_signal(dataset, combo.signal).composite
    strategy = BASE.strategy

    def score(windows):
        return {key: spread_information_score(c, window, strategy.baskets,
                                               strategy.long_basket, strategy.short_basket,
                                               windows, horizon=21, lag=1)
                for key, c in composites.items()}
    return score


def test_information_table_matches_a_direct_score(runs, dataset):
    run = runs["default"]
    table = run.analysis.information.table
    assert len(table) == 4  # buffer_window x gate; regime thresholds are not varied here
    splits = make_splits(len(run.sweep.index), TUNE.walkforward)
    direct = _by_hand(run, dataset)([(s.test_start, s.test_end) for s in splits])
    for row in table.itertuples():
        out = direct[(int(row.buffer_window), row.gate)]
        assert row.oos_ic == pytest.approx(out.mean, abs=1e-12)
        assert row.oos_ic_t == pytest.approx(out.t, abs=1e-9)
        assert row.windows == int(np.isfinite(out.ics).sum()) == len(splits)
        assert row.trials == 2
    best = run.analysis.information.best()
    assert best["oos_ic"] == pytest.approx(table["oos_ic"].max())


def test_selection_by_information_takes_the_best_train_ic_then_the_best_sharpe(runs, dataset):
    run = runs["information"]
    combos, returns = run.sweep.combos, run.sweep.returns
    cash = run.analysis.cash_returns.to_numpy()
    score = _by_hand(run, dataset)
    chosen = run.analysis.walk_forward.result.splits["chosen"].to_list()
    splits = make_splits(len(run.sweep.index), TUNE.walkforward)
    differs = 0
    for split, pick in zip(splits, chosen, strict=True):
        ics = {k: float(v.ics[0]) for k, v in
               score([(split.train_start, split.train_end)]).items()}
        signal = max(ics, key=ics.get)
        rows = [i for i, c in enumerate(combos)
                if (c.signal.buffer_window, c.signal.gate) == signal]
        train = slice(split.train_start, split.train_end)
        sharpes = [performance.sharpe(returns[i, train].astype(float) - cash[train])
                   for i in rows]
        assert pick == rows[int(np.argmax(sharpes))]
        differs += pick != runs["default"].analysis.walk_forward.result.splits["chosen"][
            split.number]
    assert differs > 0  # the rule changed at least one choice: this test can tell them apart
    full = {k: float(v.ics[0]) for k, v in score([(0, len(run.sweep.index))]).items()}
    best = combos[run.analysis.best.index]
    assert (best.signal.buffer_window, best.signal.gate) == max(full, key=full.get)


def test_choices_by_information_do_not_read_later_data(runs, dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("DRAIN_REPORTS_DIR", str(tmp_path))
    run = runs["information"]
    splits = make_splits(len(run.sweep.index), TUNE.walkforward)
    cut = run.sweep.index[splits[2].test_start]  # prices from split 2's test window on change
    prices = dataset.prices.copy()
    late = prices.index >= cut
    rng = np.random.default_rng(3)
    prices.loc[late] = prices.loc[late] * rng.uniform(0.7, 1.3, size=prices.loc[late].shape)
    altered = run_tune(BASE, TUNE.replace(select_by="information"),
                       dataclasses.replace(dataset, prices=prices), start=START)
    before = run.analysis.walk_forward.result.splits.iloc[:3]
    after = altered.analysis.walk_forward.result.splits.iloc[:3]
    assert list(before["chosen"]) == list(after["chosen"])
    np.testing.assert_allclose(run.analysis.information.train_ics[:, :3],
                               altered.analysis.information.train_ics[:, :3], atol=1e-12)
    assert not np.allclose(run.analysis.information.table["oos_ic"],
                           altered.analysis.information.table["oos_ic"])


def test_default_selection_is_unchanged(runs):
    default, explicit = runs["default"].analysis, runs["sharpe"].analysis
    returns, index = runs["default"].sweep.returns, runs["default"].sweep.index
    cash = default.cash_returns.to_numpy()
    plain = walk_forward(returns, index, TUNE.walkforward, cash)  # today's rule, no mask
    pd.testing.assert_frame_equal(default.walk_forward.result.splits, plain.splits)
    assert default.best.index == int(np.nanargmax(default.excess_sharpes))
    assert default.select_by == "sharpe" and TUNE.select_by == "sharpe"
    pd.testing.assert_series_equal(default.walk_forward.oos_returns,
                                   explicit.walk_forward.oos_returns)
    assert json.dumps(default.to_dict(), default=str) == json.dumps(explicit.to_dict(),
                                                                    default=str)


def test_choose_with_a_mask_plants_the_answer():
    # per-session Sharpe by hand: 19.5, 0.26, 2.6 (x sqrt 252), undefined
    returns = np.array([[0.01, 0.01, 0.01, 0.009], [0.01, -0.01, 0.01, 0.0],
                        [0.004, 0.002, 0.004, 0.002], [np.nan] * 4, [0.0] * 4])
    split = Split(0, 0, 4, 4, 5)
    assert choose(returns, split, "sharpe") == 0
    mask = np.array([False, True, True, False, False])
    assert choose(returns, split, "sharpe", allowed=mask) == 2
    assert choose(returns, split, "sharpe", allowed=~mask) == 0
    assert choose(returns, split, "sharpe", allowed=np.array([False, True, False, True,
                                                             False])) == 1
    assert choose(returns, split, "sharpe", allowed=np.array([False, False, False, True,
                                                             True])) == 3  # none scored


def _analytic_dsr(excess: np.ndarray, trial_sharpes_annual: np.ndarray, n: int) -> float:
    """Bailey & Lopez de Prado (2014), written out: SR0 from the trials' variance and N."""
    sr_trials = trial_sharpes_annual[np.isfinite(trial_sharpes_annual)] / math.sqrt(252)
    v = np.var(sr_trials, ddof=1)
    gamma = 0.5772156649015329
    sr0 = math.sqrt(v) * ((1 - gamma) * norm.ppf(1 - 1 / n)
                          + gamma * norm.ppf(1 - 1 / (n * math.e)))
    sr = excess.mean() / excess.std(ddof=1)
    z = (excess - excess.mean()) / excess.std(ddof=0)
    skew, kurt = (z ** 3).mean(), (z ** 4).mean()
    return float(norm.cdf((sr - sr0) * math.sqrt(len(excess) - 1)
                          / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr ** 2)))


def _manifest(folder, **fields):
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"kind": "tune", **fields}))


def test_earlier_runs_count_in_the_deflated_sharpe(dataset, runs, monkeypatch, tmp_path):
    root = tmp_path / "reports"
    monkeypatch.setenv("DRAIN_REPORTS_DIR", str(root))
    fingerprint = runs["default"].data_fingerprint
    _manifest(root / "earlier", data_fingerprint=fingerprint, holdout=None, n_trials=500)
    _manifest(root / "other-data", data_fingerprint="0" * 16, holdout=None, n_trials=7)
    _manifest(root / "sealed", data_fingerprint=fingerprint, holdout={"from": "2021-01-04"},
              n_trials=9)
    (root / "damaged").mkdir()
    (root / "damaged" / "manifest.json").write_text("{not json")
    (root / "backtest").mkdir()
    (root / "backtest" / "manifest.json").write_text(json.dumps({"kind": "backtest"}))

    earlier = earlier_tune_trials(reports_root(), fingerprint, None)
    assert earlier.runs == ("earlier",) and earlier.trials == (500,)
    assert len(earlier.notes) == 1 and "damaged" in earlier.notes[0]

    run = run_tune(BASE, TUNE, dataset, start=START)
    analysis = run.analysis
    n = run.selection.n_trials + 500
    assert analysis.dsr.n_trials == n == 508
    excess = analysis.best_returns.to_numpy() - analysis.cash_returns.to_numpy()
    assert analysis.dsr.dsr == pytest.approx(_analytic_dsr(excess, analysis.excess_sharpes, n),
                                             abs=1e-9)
    assert analysis.dsr.dsr < runs["default"].analysis.dsr.dsr  # more trials, more deflation

    folder = save_tune_run(run, "now", argv=["tune"])
    summary = json.loads((folder / "summary.json").read_text())
    assert (summary["dsr_n_trials"], summary["dsr_prior_runs"], summary["dsr_prior_trials"]) \
        == (508, 1, 500)
    assert summary["dsr_earlier_runs"] == ["earlier"] and "damaged" in summary["notes"]
    page = (folder / "overfitting.html").read_text()
    assert "508 = 8 + 500 (1 runs / 500 trials)" in page
    assert "Signal information" in page and "buffer_window" in page
    assert json.loads((folder / "manifest.json").read_text())["n_trials"] == 8
    table = pd.read_csv(folder / "signal_information.csv")
    assert list(table["oos_ic"]) == sorted(table["oos_ic"], reverse=True)
