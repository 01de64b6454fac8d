"""Walk-forward splits, selection on train windows only, and the stitched out-of-sample series."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtests.tune.walkforward import (
    WalkForwardConfig,
    choose,
    make_splits,
    score,
    walk_forward,
)
from drain_core.errors import DrainError
from drain_data.calendar import nyse_sessions


def test_expanding_and_rolling_splits():
    config = WalkForwardConfig(scheme="expanding", train=100, test=30, embargo=5)
    splits = make_splits(200, config)
    assert [(s.train_start, s.train_end, s.test_start, s.test_end) for s in splits] == [
        (0, 100, 105, 135), (0, 130, 135, 165), (0, 160, 165, 195), (0, 190, 195, 200)]
    rolling = make_splits(200, WalkForwardConfig(scheme="rolling", train=100, test=30,
                                                 embargo=5))
    assert [(s.train_start, s.train_end) for s in rolling] == [(0, 100), (30, 130), (60, 160),
                                                               (90, 190)]
    for split in splits:  # the purge: embargo sessions between train and test
        assert split.test_start - split.train_end == 5
    with pytest.raises(DrainError, match="too few for a walk-forward"):
        make_splits(90, config)


@pytest.mark.parametrize(("values", "message"), [
    ({"scheme": "anchored"}, "scheme = 'anchored'"),
    ({"metric": "sortino"}, "metric = 'sortino'"),
    ({"train": 1}, "train must be a whole number >= 2"),
    ({"embargo": -1}, "embargo must be a whole number >= 0"),
    ({"gap": 3}, "unknown key tune.walkforward.gap"),
])
def test_config_errors(values, message):
    with pytest.raises(DrainError, match=message):
        WalkForwardConfig.from_dict(values)


def test_score_by_hand():
    r = np.array([[0.01, -0.02, 0.03], [0.0, 0.0, 0.0]])
    sharpe = score(r, "sharpe")
    assert sharpe[0] == pytest.approx(np.mean(r[0]) / np.std(r[0], ddof=1) * math.sqrt(252))
    assert np.isnan(sharpe[1])
    assert score(r, "total_return")[0] == pytest.approx(1.01 * 0.98 * 1.03 - 1)
    assert score(r, "cagr")[0] == pytest.approx((1.01 * 0.98 * 1.03) ** (252 / 3) - 1)


@pytest.fixture
def returns():
    rng = np.random.default_rng(11)
    return rng.normal(0.0003, 0.01, size=(40, 600)).astype(np.float32)


@pytest.mark.parametrize("scheme", ["expanding", "rolling"])
def test_choice_uses_nothing_at_or_after_the_test_window(returns, scheme):
    config = WalkForwardConfig(scheme=scheme, train=250, test=60, embargo=5)
    rng = np.random.default_rng(5)
    for split in make_splits(returns.shape[1], config):
        choice = choose(returns, split, "sharpe")
        altered = returns.copy()
        # everything from the purge gap on is rewritten: a large edge for another combination
        altered[:, split.train_end:] = rng.normal(0.0, 0.05, altered[:, split.train_end:].shape)
        altered[(choice + 1) % len(altered), split.train_end:] += 0.05
        assert choose(altered, split, "sharpe") == choice
    # ...while the train window does matter
    split = make_splits(returns.shape[1], config)[0]
    boosted = returns.copy()
    boosted[7, split.train_start:split.train_end] += 0.01
    assert choose(boosted, split, "sharpe") == 7


def test_stitched_out_of_sample_returns(returns):
    index = nyse_sessions("2020-01-02", None)[:returns.shape[1]]
    config = WalkForwardConfig(train=250, test=60, embargo=5)
    result = walk_forward(returns, pd.DatetimeIndex(index), config)
    splits = make_splits(returns.shape[1], config)
    assert len(result.splits) == len(splits)
    assert result.oos_returns.index[0] == index[splits[0].test_start]
    assert len(result.oos_returns) == returns.shape[1] - splits[0].test_start
    for row, split in zip(result.splits.itertuples(), splits, strict=True):
        piece = result.oos_returns.loc[row.test_start:row.test_end].to_numpy()
        np.testing.assert_array_equal(piece, returns[row.chosen, split.test_start:
                                                     split.test_end].astype(np.float64))
        train = returns[:, split.train_start:split.train_end]
        assert row.is_sharpe == pytest.approx(np.nanmax(score(train, "sharpe")))
        assert row.oos_sharpe == pytest.approx(
            score(returns[row.chosen:row.chosen + 1, split.test_start:split.test_end],
                  "sharpe")[0])
        assert 0.0 <= row.oos_percentile <= 1.0
