"""The fast screening kernel against the vectorbt engine, combination by combination."""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pytest

from backtests.config import BacktestConfig
from backtests.engine import run_backtest
from backtests.fastsim import METRICS, FastSim, cash_index, series_metrics
from drain_data import load_dataset
from signals import SignalConfig, compute_signal
from strategies import StrategyConfig, build_targets, universe

START, END = "2019-01-02", "2021-12-31"
TOL = 1e-6


@pytest.fixture(scope="module")
def market():
    dataset = load_dataset(end=END)
    window = dataset.prices.loc[START:]
    signals = {
        "default": compute_signal(dataset, SignalConfig()),
        "loose": compute_signal(dataset, SignalConfig(gate="none", draining_above=0.0,
                                                      hysteresis=0.05)),
    }
    return dataset, window, signals


def _strategy_grid() -> list[tuple[str, StrategyConfig, int]]:
    """Every (signal, strategy, lag) of a grid spanning all variants and schedule rules."""
    out = []
    for signal in ("default", "loose"):
        for variant in ("regime_long_short", "signal_long_short", "long_only_tilt",
                        "beta_hedged"):
            for rebalance in ("daily", "weekly", "monthly", "regime"):
                for weighting in ("equal", "inverse_vol"):
                    for vol_target in (None, 0.12):
                        for when in ("flat", "reverse"):
                            for lag in (1, 2):
                                out.append((signal, StrategyConfig(
                                    variant=variant, rebalance=rebalance, weighting=weighting,
                                    vol_target=vol_target, when_abundant=when, signal_scale=0.7,
                                    leg_size=0.4 if lag == 2 else 0.5), lag))
    return out


def _vectorbt(window, signal, strategy: StrategyConfig, lag: int):
    targets = build_targets(window, signal.composite, signal.regime, strategy)
    return run_backtest(targets.orders, window, window["IRX"], BacktestConfig(lag=lag))


def _fast(window, signals, combos):
    tickers = sorted(set().union(*(universe(s) for _, s, _ in combos)))
    sim = FastSim(window, tickers, BacktestConfig())
    ids = np.array([sim.add_signal(name, signals[name].composite, signals[name].regime)
                    for name, _, _ in combos])
    lags = np.array([lag for _, _, lag in combos])
    return sim.run(ids, [s for _, s, _ in combos], lags)


def test_sampled_combinations_match_vectorbt(market):
    _, window, signals = market
    combos = random.Random(7).sample(_strategy_grid(), 8)
    metrics, returns = _fast(window, signals, combos)
    for k, (name, strategy, lag) in enumerate(combos):
        result = _vectorbt(window, signals[name], strategy, lag)
        ref = series_metrics(result.returns, result.turnover)
        assert abs(metrics[k, METRICS.index("total_return")] - ref["total_return"]) < TOL
        assert abs(metrics[k, METRICS.index("sharpe")] - ref["sharpe"]) < TOL
        for j, metric in enumerate(METRICS):
            assert metrics[k, j] == pytest.approx(ref[metric], rel=1e-6, abs=1e-9), metric
        np.testing.assert_allclose(returns[k], result.returns.to_numpy(), rtol=0, atol=1e-7)


def test_every_variant_and_rule_matches_vectorbt(market):
    """One combination per variant x rebalance rule (the sample above may miss some)."""
    _, window, signals = market
    combos = [("default", StrategyConfig(variant=v, rebalance=r, weighting="inverse_vol"), 1)
              for v, r in zip(("regime_long_short", "signal_long_short", "long_only_tilt",
                               "beta_hedged"), ("regime", "daily", "weekly", "monthly"),
                              strict=True)]
    metrics, _ = _fast(window, signals, combos)
    for k, (name, strategy, lag) in enumerate(combos):
        result = _vectorbt(window, signals[name], strategy, lag)
        ref = series_metrics(result.returns, result.turnover)
        assert abs(metrics[k, 0] - ref["total_return"]) < TOL, strategy.variant
        assert abs(metrics[k, 2] - ref["sharpe"]) < TOL, strategy.variant


def test_partial_fills_when_cash_runs_short_match_vectorbt(market):
    """A fully invested long-only book paying fees: vectorbt fills the last buy partially."""
    _, window, signals = market
    if "cash_buffer" not in StrategyConfig.__dataclass_fields__:
        strategy = StrategyConfig(variant="long_only_tilt", rebalance="weekly")
    else:
        strategy = StrategyConfig(variant="long_only_tilt", rebalance="weekly", cash_buffer=0.0)
    strategy = strategy.replace(tilt={"abundant": (0.0, 0.3, 0.7), "draining": (0.5, 0.0, 0.5),
                                      "scarce": (1.0, 0.0, 0.0)})
    result = _vectorbt(window, signals["loose"], strategy, 1)
    records = result.portfolio.orders.records
    sizes = result.turnover[result.turnover > 0]
    assert len(records) and len(sizes)
    cash = result.portfolio.cash()
    assert (cash.to_numpy() < 1e-6).any()  # vectorbt ran out of cash: partial fills happened
    metrics, returns = _fast(window, signals, [("loose", strategy, 1)])
    ref = series_metrics(result.returns, result.turnover)
    assert abs(metrics[0, 0] - ref["total_return"]) < TOL
    assert abs(metrics[0, 2] - ref["sharpe"]) < TOL


def test_irrelevant_parameters_give_identical_returns(market):
    """The sweep drops duplicates whose only differences are fields the variant ignores."""
    _, window, signals = market
    base = StrategyConfig(variant="regime_long_short", weighting="equal")
    combos = [("default", base, 1),
              ("default", base.replace(signal_scale=3.0, beta_lookback=63, vol_lookback=21,
                                       tilt={"abundant": (0.0, 0.0, 1.0)}), 1)]
    _, returns = _fast(window, signals, combos)
    np.testing.assert_array_equal(returns[0], returns[1])


def test_cash_index_matches_engine(market):
    from backtests.engine import accrual_index, daily_rates

    _, window, _ = market
    expected = accrual_index(daily_rates(window["IRX"], window.index)).to_numpy()
    np.testing.assert_array_equal(cash_index(window["IRX"], window.index), expected)


def test_series_metrics_by_hand():
    returns = pd.Series([0.01, -0.02, 0.03, 0.0])
    out = series_metrics(returns)
    wealth = np.cumprod(1 + returns.to_numpy())
    assert out["total_return"] == pytest.approx(wealth[-1] - 1)
    assert out["sharpe"] == pytest.approx(returns.mean() / returns.std() * math.sqrt(252))
    assert out["max_drawdown"] == pytest.approx(wealth[1] / wealth[0] - 1)
    assert out["cagr"] == pytest.approx(wealth[-1] ** (252 / 4) - 1)
