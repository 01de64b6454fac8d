"""The fast screening kernel against the vectorbt engine, combination by combination."""

from __future__ import annotations

import dataclasses
import math
import random
import tomllib

import numpy as np
import pandas as pd
import pytest

from backtests.sim.accrual import cash_index, daily_rates
from backtests.sim.config import BacktestConfig
from backtests.sim.engine import run_backtest
from backtests.sim.fastsim import METRICS, FastSim, series_metrics
from backtests.tune.sweep import grid_from_table, grid_section, run_sweep, select
from drain_core.configs import tune_config_path
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


def _cash(window) -> pd.Series:
    """The cash return the engine credits each session: what the kernel's Sharpe subtracts."""
    return daily_rates(window["IRX"], window.index)


def _vectorbt(window, signal, strategy: StrategyConfig, lag: int):
    targets = build_targets(window, signal.composite, signal.regime, strategy)
    return run_backtest(targets.orders, window, window["IRX"], BacktestConfig(lag=lag))


def _assert_fast_matches_vectorbt(window, signals, combos) -> None:
    """Total return and (excess-return) Sharpe of each (signal name, strategy, lag) agree to
    ``TOL``."""
    metrics, _ = _fast(window, signals, combos)
    for k, (name, strategy, lag) in enumerate(combos):
        result = _vectorbt(window, signals[name], strategy, lag)
        ref = series_metrics(result.returns, result.turnover, _cash(window))
        assert abs(metrics[k, 0] - ref["total_return"]) < TOL, strategy
        assert abs(metrics[k, 2] - ref["sharpe"]) < TOL, strategy


def _fast(window, signals, combos):
    tickers = sorted(set().union(*(universe(s) for _, s, _ in combos)))
    sim = FastSim(window, tickers, BacktestConfig())
    ids = np.array([sim.add_signal(name, signals[name].composite, signals[name].regime)
                    for name, _, _ in combos])
    lags = np.array([lag for _, _, lag in combos])
    return sim.run(ids, [s for _, s, _ in combos], lags)


@pytest.mark.parametrize("grid", ["default", "benchmark"])
def test_sampled_grid_combinations_match_vectorbt(market, grid):
    """8 random combinations of a shipped grid, run the way a sweep runs them (shared signals,
    chunks), against the reference pipeline: compute_signal -> build_targets -> run_backtest."""
    dataset, window, _ = market
    document = tomllib.loads(tune_config_path().read_text())
    name, table = grid_section(document, grid)
    full = select(grid_from_table(table, name), SignalConfig(), StrategyConfig(),
                  BacktestConfig(), cap=10**6)
    picked = sorted(random.Random(7).sample(range(full.n_trials), 8))
    selection = dataclasses.replace(full, combos=[full.combos[i] for i in picked])
    sweep = run_sweep(selection, dataset, BacktestConfig(), start=START, chunk_size=3)
    for k, combo in enumerate(selection.combos):
        signal = compute_signal(dataset, combo.signal)
        result = _vectorbt(window, signal, combo.strategy, combo.lag)
        ref = series_metrics(result.returns, result.turnover, _cash(window))
        row = sweep.table.iloc[k]
        assert abs(row["total_return"] - ref["total_return"]) < TOL, combo.params
        assert abs(row["sharpe"] - ref["sharpe"]) < TOL, combo.params
        for metric in METRICS:
            assert row[metric] == pytest.approx(ref[metric], rel=1e-6, abs=1e-9), metric
        np.testing.assert_allclose(sweep.returns[k], result.returns.to_numpy(), rtol=0,
                                   atol=1e-7)


def test_hedged_spreads_at_odd_leg_sizes_match_vectorbt(market):
    """Whether the hedge asset is held turns on an exact zero (a sum of +-leg weights): the
    weights must be formed operation for operation as in strategies."""
    _, window, signals = market
    combos = [("loose", StrategyConfig(variant="beta_hedged", leg_size=leg, when_abundant=when,
                                       rebalance=rule, weighting="inverse_vol",
                                       vol_lookback=42, vol_target=target), lag)
              for leg, when, rule, target, lag in ((0.3, "reverse", "regime", 0.15, 2),
                                                   (0.7, "reverse", "monthly", 0.15, 2),
                                                   (0.3, "flat", "weekly", None, 1))]
    _assert_fast_matches_vectorbt(window, signals, combos)


def test_every_variant_and_rule_matches_vectorbt(market):
    """One combination per variant x rebalance rule (the sample above may miss some)."""
    _, window, signals = market
    combos = [("default", StrategyConfig(variant=v, rebalance=r, weighting="inverse_vol"), 1)
              for v, r in zip(("regime_long_short", "signal_long_short", "long_only_tilt",
                               "beta_hedged"), ("regime", "daily", "weekly", "monthly"),
                              strict=True)]
    _assert_fast_matches_vectorbt(window, signals, combos)


def test_long_lags_and_the_reversed_signal_variant_match_vectorbt(market):
    """The kernel skips days on which nothing can change and queues decisions for their fill:
    several decisions in flight at once (lag 3, daily) and a signal exposure that turns on and
    off with the composite's sign (``reverse``) must give the same book as vectorbt."""
    _, window, signals = market
    combos = [("loose", StrategyConfig(variant="signal_long_short", when_abundant="reverse",
                                       rebalance="weekly", signal_scale=0.5), 3),
              ("default", StrategyConfig(variant="beta_hedged", rebalance="daily",
                                         vol_target=0.1), 3),
              ("default", StrategyConfig(variant="long_only_tilt", rebalance="regime"), 2)]
    _assert_fast_matches_vectorbt(window, signals, combos)


def test_partial_fills_when_cash_runs_short_match_vectorbt(market):
    """A fully invested long-only book paying fees (no cash buffer): vectorbt fills the last
    buy partially. The shipped grids keep the 1% cash buffer, so this is the exception."""
    _, window, signals = market
    strategy = StrategyConfig(variant="long_only_tilt", rebalance="weekly", cash_buffer=0.0,
                              tilt={"abundant": (0.0, 0.3, 0.7), "draining": (0.5, 0.0, 0.5),
                                    "scarce": (1.0, 0.0, 0.0)})
    result = _vectorbt(window, signals["loose"], strategy, 1)
    cash = result.portfolio.cash()
    assert (cash.to_numpy() < 1e-6).any()  # vectorbt ran out of cash: partial fills happened
    metrics, returns = _fast(window, signals, [("loose", strategy, 1)])
    ref = series_metrics(result.returns, result.turnover, _cash(window))
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
    from backtests.sim.accrual import accrual_index, daily_rates

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
    cash = pd.Series([0.0, 0.001, 0.001, 0.002])
    excess = returns - cash
    with_cash = series_metrics(returns, cash_returns=cash)
    assert with_cash["sharpe"] == pytest.approx(excess.mean() / excess.std() * math.sqrt(252))
    assert with_cash["total_return"] == out["total_return"]  # total return stays total


def test_kernel_sharpe_is_on_returns_in_excess_of_the_cash_it_earned(market):
    """The default strategy is flat (in T-bills) much of the time: its Sharpe on excess returns
    is the one vectorbt's returns give once the engine's cash return is subtracted, and well
    below the Sharpe of its total returns; total return and CAGR stay total."""
    _, window, signals = market
    strategy = StrategyConfig()
    metrics, _ = _fast(window, signals, [("default", strategy, 1)])
    returns = _vectorbt(window, signals["default"], strategy, 1).returns
    excess = returns - _cash(window)
    by_hand = excess.mean() / excess.std(ddof=1) * math.sqrt(252)
    total = returns.mean() / returns.std(ddof=1) * math.sqrt(252)
    assert metrics[0, METRICS.index("sharpe")] == pytest.approx(by_hand, abs=TOL)
    assert total - by_hand > 0.05  # the bill rate was being counted as performance
    wealth = float(np.prod(1.0 + returns.to_numpy()))
    assert metrics[0, METRICS.index("total_return")] == pytest.approx(wealth - 1.0, abs=TOL)


def test_returns_up_to_t_do_not_change_when_later_data_is_cut(market):
    """The kernel looks ahead only to skip days on which nothing can change: cutting prices and
    signals after t must leave every return up to t as it was."""
    _, window, signals = market
    combos = [(name, StrategyConfig(variant=v, rebalance=r, vol_target=0.1), lag)
              for name, v, r, lag in (("default", "regime_long_short", "weekly", 1),
                                      ("loose", "signal_long_short", "daily", 2),
                                      ("default", "long_only_tilt", "regime", 1),
                                      ("loose", "beta_hedged", "monthly", 3))]
    _, full = _fast(window, signals, combos)
    cut = "2020-06-15"
    short_window = window.loc[:cut]
    short_signals = {name: dataclasses.replace(s, composite=s.composite.loc[:cut],
                                               regime=s.regime.loc[:cut])
                     for name, s in signals.items()}
    _, short = _fast(short_window, short_signals, combos)
    assert short.shape[1] == len(short_window) < full.shape[1]
    np.testing.assert_array_equal(short, full[:, :len(short_window)])


def test_kernel_module_is_numba_functions_on_arrays():
    """The mechanical boundary: the kernel module holds numba functions and numbers only (no
    pandas, no Python-level functions), and its codes come from the other stages' names."""
    from types import FunctionType, ModuleType

    from numba.core.registry import CPUDispatcher

    from backtests.sim import kernel
    from backtests.sim.enums import Rebalance, Regime, Variant
    from drain_core.conventions import REGIMES
    from strategies.config import REBALANCES, VARIANTS

    public = {name: value for name, value in vars(kernel).items() if not name.startswith("__")}
    modules = {v.__name__ for v in public.values() if isinstance(v, ModuleType)}
    assert not any(name.startswith("pandas") for name in modules), modules
    assert not [n for n, v in public.items()
                if isinstance(v, FunctionType) and v.__module__ == kernel.__name__]
    assert {n for n, v in public.items() if isinstance(v, CPUDispatcher)} >= {"simulate_many"}
    assert [v.name.lower() for v in Variant] == list(VARIANTS)
    assert [v.name.lower() for v in Rebalance] == list(REBALANCES)
    assert [r.name.lower() for r in Regime if r is not Regime.NONE] == list(REGIMES)
    assert [int(r) for r in Regime] == [-1, *range(len(REGIMES))]
