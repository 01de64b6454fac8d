"""compare_configs: two configurations and their benchmarks in one table, checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backtests import BacktestConfig, RunConfig, compare_configs, prepare_run, run_backtest
from backtests.sim.accrual import daily_rates
from drain_core.errors import DrainError
from drain_data import load_dataset
from strategies import StrategyConfig

START, END = "2021-01-04", "2023-12-29"


@pytest.fixture(scope="module")
def compared():
    dataset = load_dataset(end=END)
    configs = {
        "weekly": RunConfig(),
        "monthly, lag 2": RunConfig(strategy=StrategyConfig(rebalance="monthly"),
                                    backtest=BacktestConfig(lag=2)),
    }
    return dataset, configs, compare_configs(configs, dataset, start=START, end=END)


def test_one_column_per_config_then_each_distinct_benchmark(compared):
    _, _, table = compared
    # the lagged run trades its benchmarks a day later: they are not the first run's
    assert list(table.columns) == ["weekly", "monthly, lag 2", "SPY", "60/40",
                                   "SPY (monthly, lag 2)", "60/40 (monthly, lag 2)"]
    assert list(table.index) == ["total_return", "cagr", "volatility", "sharpe", "sortino",
                                 "max_drawdown", "turnover", "gross_exposure"]
    assert np.isnan(table.loc["turnover", "SPY"]) and table.loc["turnover", "weekly"] > 0


def test_statistics_match_a_hand_computation_on_excess_returns(compared):
    dataset, configs, table = compared
    prepared = prepare_run(configs["weekly"], dataset, start=START, end=END)
    window = prepared.window
    returns = run_backtest(prepared.targets.orders, window, window["IRX"],
                           configs["weekly"].backtest).returns
    excess = returns - daily_rates(window["IRX"], window.index)
    column = table["weekly"]
    assert column["sharpe"] == pytest.approx(
        excess.mean() / excess.std(ddof=1) * math.sqrt(252), rel=1e-9)
    assert column["total_return"] == pytest.approx(np.prod(1 + returns) - 1, rel=1e-9)
    total_sharpe = returns.mean() / returns.std(ddof=1) * math.sqrt(252)
    assert abs(column["sharpe"] - total_sharpe) > 0.01  # the bill rate was subtracted
    downside = np.sqrt(np.mean(np.minimum(excess, 0.0) ** 2))
    assert column["sortino"] == pytest.approx(excess.mean() / downside * math.sqrt(252),
                                              rel=1e-9)


def test_the_frame_says_which_rate_was_subtracted(compared):
    _, _, table = compared
    assert table.attrs["cash_rate"] == "IRX"
    assert table.attrs["start"] == START and table.attrs["end"] == END
    assert "in excess of the cash rate" in table.attrs["caption"]
    assert "IRX" in table.attrs["caption"]


def test_no_configuration_is_a_user_error():
    with pytest.raises(DrainError, match="at least one"):
        compare_configs({})
