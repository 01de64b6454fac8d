"""The tune's library parts called directly: TuneConfig, the grid checks, and analyse()."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from backtests.run.config import RunConfig
from backtests.stats.overfitting import spa_test
from backtests.tune.analysis import analyse
from backtests.tune.config import MAX_BOOTSTRAP_REPS, TuneConfig
from backtests.tune.grid import check_against_data, grid_from_table, select
from backtests.tune.sweep import run_sweep
from backtests.tune.walkforward import WalkForwardConfig
from drain_core.errors import DrainError
from drain_data import load_dataset
from strategies import StrategyConfig

START, END = "2019-01-02", "2021-12-31"
BASE = RunConfig(strategy=StrategyConfig(weighting="equal"))
TUNE = TuneConfig(bootstrap_reps=200, spa_reps=200,
                  walkforward=WalkForwardConfig(train=250, test=126))


# --------------------------------------------------------------------------------------------
# TuneConfig
# --------------------------------------------------------------------------------------------


def test_tune_config_round_trips_and_is_hashable():
    shipped = TuneConfig.load()
    assert shipped.grid().size == 2 ** 7 * 4 * 2 * 2  # the default grid's product
    assert TuneConfig.from_dict(shipped.to_dict()) == shipped
    assert hash(shipped) == hash(TuneConfig.from_dict(shipped.to_dict()))
    own = TuneConfig.load({"bootstrap_reps": 300, "walkforward": {"train": 500},
                           "grid": {"strategy": {"variant": ["beta_hedged"]}}})
    assert own.bootstrap_reps == 300 and own.walkforward.train == 500
    assert own.walkforward.test == shipped.walkforward.test  # the rest comes from the shipped
    assert [g.name for g in own.grids] == ["default"]  # own grids replace the shipped ones


@pytest.mark.parametrize(("values", "message"), [
    ({"bootstrap_rep": 10}, "unknown key tune.bootstrap_rep (did you mean 'bootstrap_reps'?)"),
    ({"bootstrap_reps": MAX_BOOTSTRAP_REPS + 1}, "<= 100000 (more resamples do not narrow"),
    ({"spa_reps": 0}, "tune.spa_reps must be a whole number >= 1"),
    ({"pbo_blocks": 15}, "tune.pbo_blocks must be even"),
    ({"cap": 10 ** 7}, "tune.cap must be a whole number >= 1 and <= 2000000 (every trial's"),
    ({"cap": "many"}, "tune.cap must be a whole number >= 1 and <= 2000000"),
    ({"keep_returns": 300_000}, "tune.keep_returns must be a whole number >= 1 and <= 200000 "
                                "(up to this many trials, every daily return is held"),
    ({"keep_per_window": 0}, "tune.keep_per_window must be a whole number >= 1 and <= 1000"),
    ({"spa_reps": 2.5}, "tune.spa_reps must be a whole number >= 1 and <= 20000"),
    ({"holdout_from": "2025-13-01"}, "tune.holdout_from = '2025-13-01' is not a date"),
])
def test_tune_config_refuses_in_one_line(values, message):
    with pytest.raises(DrainError) as err:
        TuneConfig.load(values)
    assert message in str(err.value) and "\n" not in str(err.value)


# --------------------------------------------------------------------------------------------
# Grid values through the config classes, and against the data
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("table", "message"), [
    ({"backtest": {"lag": [0]}}, "grid parameter 'backtest.lag' = 0: backtest.lag must be"),
    ({"strategy": {"leg_size": [0.5, math.nan]}}, "grid parameter 'strategy.leg_size' = nan "
                                                 "is not a finite number"),
    ({"signal": {"buffer_window": [-5]}}, "grid parameter 'signal.buffer_window' = -5"),
])
def test_bad_grid_values_are_refused_before_the_sweep(table, message):
    with pytest.raises(DrainError) as err:
        select(grid_from_table(table, "t"), BASE.signal, BASE.strategy, BASE.backtest)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(("table", "message"), [
    ({"signal": {"z_window": [504, 5000]}}, "'signal.z_window' = 5000 is too long for the data "
                                            "(3,000 sessions of history)"),
    ({"strategy": {"vol_lookback": [63, 800]}}, "'strategy.vol_lookback' = 800 is too long"),
    ({"backtest": {"lag": [1, 750]}}, "'backtest.lag' = 750 is too long for the data "
                                      "(750 sessions traded)"),
])
def test_windows_longer_than_the_data_are_refused(table, message):
    with pytest.raises(DrainError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_against_data(grid_from_table(table, "t"), n_history=3000, n_window=750)
    check_against_data(grid_from_table(table, "t"), n_history=10_000, n_window=10_000)


# --------------------------------------------------------------------------------------------
# analyse() on a small real sweep, checked by a second computation
# --------------------------------------------------------------------------------------------


def _hand_cash(window: pd.DataFrame) -> pd.Series:
    """The T-bill accrual written out: yesterday's annual % / 100 x calendar days / 360."""
    yesterday = window["IRX"].ffill().shift(1) / 100.0
    days = pd.Series(window.index, index=window.index).diff().dt.days
    return (yesterday * days / 360.0).fillna(0.0)


def _hand_sharpe(returns: pd.Series) -> float:
    return float(returns.mean() / returns.std(ddof=1) * math.sqrt(252))


@pytest.fixture(scope="module")
def tuned():
    dataset = load_dataset(end=END)
    grid = grid_from_table({"signal": {"gate": ["none", "step"]},
                            "strategy": {"variant": ["regime_long_short", "long_only_tilt"]}},
                           "t")
    selection = select(grid, BASE.signal, BASE.strategy, BASE.backtest)
    sweep = run_sweep(selection, dataset, BASE.backtest, start=START)
    analysis = analyse(sweep, selection, dataset, BASE, TUNE, seed=0, start=START)
    return dataset, sweep, analysis


def test_best_is_the_argmax_of_the_excess_sharpe(tuned):
    dataset, sweep, analysis = tuned
    window = dataset.prices.loc[START:]
    cash = _hand_cash(window)
    by_hand = [_hand_sharpe(pd.Series(row.astype(float), index=window.index) - cash)
               for row in sweep.returns]
    np.testing.assert_allclose(analysis.excess_sharpes, by_hand, rtol=1e-9)
    assert analysis.best.index == int(np.argmax(by_hand))
    best = analysis.best_returns - cash
    assert analysis.best.sharpe == pytest.approx(_hand_sharpe(best), rel=1e-9)
    total = _hand_sharpe(analysis.best_returns)
    assert analysis.best.sharpe < total  # cash earned a positive rate: excess is lower
    assert analysis.best.fast["sharpe"] == pytest.approx(analysis.best.sharpe, abs=1e-5)


def test_spy_and_walk_forward_sharpe_are_of_excess_returns(tuned):
    dataset, _, analysis = tuned
    window = dataset.prices.loc[START:]
    cash = _hand_cash(window)
    assert analysis.spy_sharpe == pytest.approx(_hand_sharpe(analysis.spy_returns - cash),
                                                rel=1e-9)
    oos = analysis.walk_forward.oos_returns
    assert analysis.walk_forward.sharpe == pytest.approx(
        _hand_sharpe(oos - cash.reindex(oos.index)), rel=1e-9)
    assert analysis.cash.mean_annual == pytest.approx(cash.mean() * 252, rel=1e-9)
    splits = analysis.walk_forward.result.splits
    assert len(analysis.walk_forward.labels) == len(splits)
    assert all("gate=" in label or "variant=" in label for label in analysis.walk_forward.labels)


def test_spa_p_value_does_not_depend_on_the_cash_subtracted(tuned):
    """SPA compares mean returns with SPY's: the cash cancels in the differential."""
    dataset, sweep, analysis = tuned
    total = spa_test(analysis.spy_returns.to_numpy(), sweep.returns.T.astype(np.float64),
                     reps=TUNE.spa_reps, seed=0)
    assert analysis.spa.pvalue == pytest.approx(total.pvalue_consistent, abs=1e-12)


def test_to_dict_is_json_and_carries_the_rate(tuned):
    _, _, analysis = tuned
    stats = analysis.to_dict()
    json.dumps(stats)
    assert stats["cash_rate"]["ticker"] == "IRX"
    assert "excess of" in stats["notes"] and "T-bill" in stats["cash_rate"]["description"]
    assert stats["verdict"] == analysis.verdict and stats["n_trials"] == 4
    assert stats["dsr"] == analysis.dsr.dsr and 0.0 <= stats["pbo"] <= 1.0

