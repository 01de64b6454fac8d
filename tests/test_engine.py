"""The vectorbt engine against hand arithmetic and an independent dollar simulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.sim.accrual import accrual_index, daily_rates
from backtests.sim.config import BacktestConfig, CostConfig
from backtests.sim.engine import run_backtest
from drain_data import DrainError, load_dataset
from drain_data.calendar import nyse_sessions
from signals import SignalConfig, compute_signal
from strategies import StrategyConfig, build_targets
from tests.dollar_sim import simulate_dollars

FEE = {"etf": 0.0, "equity": 10.0, "hard_to_borrow": 20.0, "crypto": 0.0}
SLIP = {"etf": 0.0, "equity": 5.0, "hard_to_borrow": 30.0, "crypto": 0.0}
BORROW = {"etf": 0.0, "equity": 0.02, "hard_to_borrow": 0.10, "crypto": 0.0}


@pytest.fixture(scope="module")
def two_assets():
    index = nyse_sessions("2024-01-02", "2024-01-16")  # 10 sessions; MLK day 01-15 is closed
    assert len(index) == 10
    prices = pd.DataFrame({
        "AAA": [100, 101, 103, 102, 104, 106, 105, 107, 108, 110],
        "GME": [20, 21, 19, 22, 23, 21, 20, 22, 24, 23],
    }, index=index, dtype=float)
    orders = pd.DataFrame(np.nan, index=index, columns=prices.columns)
    orders.iloc[0] = [0.6, -0.4]  # decided at close 0, traded at close 1
    orders.iloc[5] = [0.3, -0.5]  # the one rebalance: decided at close 5, traded at close 6
    cash_yield = pd.Series(5.0, index=index)  # 5% a year
    config = BacktestConfig(init_cash=1000.0, costs=CostConfig(
        fee_bps=FEE, slippage_bps=SLIP, borrow_rate=BORROW))
    return prices, orders, cash_yield, config


def test_two_assets_ten_days_by_hand(two_assets):
    prices, orders, cash_yield, config = two_assets
    res = run_backtest(orders, prices, cash_yield, config)
    # Hand arithmetic, session by session (AAA: equity, 10 bp fee, 5 bp slip;
    # GME: hard to borrow, 20 bp fee, 30 bp slip, 10% borrow). Days between sessions:
    # Tue Jan 2 ... Fri 5 | Mon 8 (weekend: 3 days) ... Fri 12 | Tue 16 (weekend + MLK: 4 days)
    days = [0, 1, 1, 1, 3, 1, 1, 1, 1, 4]
    assert list(prices.index.to_series().diff().dt.days.fillna(0).astype(int)) == days
    r = 0.05
    cash, qa, liab = 1000.0, 0.0, 0.0
    equity, aaa_weight = [], []
    for t in range(10):
        if t:
            cash *= 1 + r * days[t] / 360
            liab *= prices["GME"].iloc[t] / prices["GME"].iloc[t - 1] * (1 + 0.10 * days[t] / 360)
        pa = prices["AAA"].iloc[t]
        value = cash + qa * pa - liab
        if t == 1:  # buy 0.6 V of AAA, short 0.4 V of GME
            cash -= 0.6 * value * 1.0005 * 1.001
            qa = 0.6 * value / pa
            cash += 0.4 * value * (1 - 0.003) * (1 - 0.002)
            liab = 0.4 * value
        if t == 6:  # sell AAA down to 0.3 V, add GME short up to 0.5 V
            sell = qa * pa - 0.3 * value
            cash += sell * (1 - 0.0005) * (1 - 0.001)
            qa = 0.3 * value / pa
            more = 0.5 * value - liab
            cash += more * (1 - 0.003) * (1 - 0.002)
            liab = 0.5 * value
        equity.append(cash + qa * pa - liab)
        aaa_weight.append(qa * pa / equity[-1])
    np.testing.assert_allclose(res.equity.to_numpy(), equity, rtol=0, atol=1e-10 * 1000)
    np.testing.assert_allclose(res.weights["AAA"].to_numpy(), aaa_weight, rtol=0, atol=1e-10)
    # Turnover on the rebalance day: traded value / pre-trade equity.
    assert res.turnover.iloc[1] == pytest.approx(1.0, rel=2e-3)
    assert res.turnover.iloc[[0, 2, 3, 4, 5, 7, 8, 9]].eq(0).all()


def test_nothing_trades_on_the_signal_bar(two_assets):
    prices, orders, cash_yield, config = two_assets
    res = run_backtest(orders, prices, cash_yield, config)
    assert res.equity.iloc[0] == 1000.0  # the order decided at close 0 is not filled at close 0
    assert res.weights.iloc[0].abs().sum() == 0.0
    lagged = run_backtest(orders, prices, cash_yield,
                          BacktestConfig(lag=2, init_cash=1000.0, costs=config.costs))
    assert lagged.weights.iloc[1].abs().sum() == 0.0 and lagged.weights.iloc[2].abs().sum() > 0


def test_cash_earns_the_bill_rate_exactly():
    index = nyse_sessions("2024-01-02", "2024-03-28")
    prices = pd.DataFrame({"SPY": np.linspace(100, 120, len(index))}, index=index)
    orders = pd.DataFrame({"SPY": np.r_[0.0, [np.nan] * (len(index) - 1)]}, index=index)
    yields = pd.Series(np.linspace(5.0, 4.0, len(index)), index=index)
    res = run_backtest(orders, prices, yields, BacktestConfig(init_cash=100.0))
    growth = np.prod([1 + yields.iloc[t - 1] / 100 * (index[t] - index[t - 1]).days / 360
                      for t in range(1, len(index))])
    assert res.equity.iloc[-1] == pytest.approx(100.0 * growth, rel=1e-12)
    assert accrual_index(daily_rates(yields, index)).iloc[-1] == pytest.approx(growth, rel=1e-12)


def test_lag_zero_is_refused():
    with pytest.raises(DrainError, match="lag must be a whole number >= 1"):
        BacktestConfig(lag=0)


@pytest.fixture(scope="module")
def default_run():
    dataset = load_dataset(use_cache=False)
    signal = compute_signal(dataset, SignalConfig())
    config = StrategyConfig()
    targets = build_targets(dataset.prices, signal.composite, signal.regime, config)
    backtest = BacktestConfig()
    res = run_backtest(targets.orders, dataset.prices, dataset.prices["IRX"], backtest)
    return dataset, signal, config, targets, backtest, res


def _numpy_equity(targets, dataset, backtest):
    costs = backtest.costs
    cols = targets.orders.columns
    return simulate_dollars(
        targets.orders, dataset.prices, dataset.prices["IRX"],
        fees=np.array([costs.fee(c) for c in cols]),
        slippage=np.array([costs.slippage(c) for c in cols]),
        borrow=np.array([costs.borrow(c) for c in cols]),
        init_cash=backtest.init_cash,
    )


def test_default_strategy_matches_an_independent_numpy_simulation(default_run):
    dataset, _, _, targets, backtest, res = default_run
    equity = _numpy_equity(targets, dataset, backtest)
    total_numpy = equity.iloc[-1] / backtest.init_cash - 1
    total_vbt = res.equity.iloc[-1] / backtest.init_cash - 1
    assert abs(total_numpy - total_vbt) < 1e-6
    assert res.turnover.sum() > 10  # the run really trades: the comparison is not vacuous
    assert res.weights.lt(0).any(axis=1).sum() > 500  # and holds shorts that pay borrow


@pytest.mark.parametrize("variant", ["signal_long_short", "beta_hedged", "long_only_tilt"])
def test_other_variants_match_the_numpy_simulation(default_run, variant):
    dataset, signal, config, _, backtest, _ = default_run
    config = config.replace(variant=variant, rebalance="monthly")
    targets = build_targets(dataset.prices, signal.composite, signal.regime, config)
    res = run_backtest(targets.orders, dataset.prices, dataset.prices["IRX"], backtest)
    equity = _numpy_equity(targets, dataset, backtest)
    assert abs(equity.iloc[-1] / res.equity.iloc[-1] - 1) < 1e-6


def test_weights_and_trades_up_to_t_ignore_later_data(default_run):
    dataset, _, config, targets, backtest, res = default_run
    for t in ("2019-09-16", "2022-03-01", "2025-10-31"):
        cut = dataset.as_of(t)
        signal = compute_signal(cut, SignalConfig())
        cut_targets = build_targets(cut.prices, signal.composite, signal.regime, config)
        pd.testing.assert_frame_equal(cut_targets.weights, targets.weights.loc[:t])
        pd.testing.assert_frame_equal(cut_targets.orders, targets.orders.loc[:t])
        cut_res = run_backtest(cut_targets.orders, cut.prices, cut.prices["IRX"], backtest)
        np.testing.assert_allclose(cut_res.equity.to_numpy(), res.equity.loc[:t].to_numpy(),
                                   rtol=1e-12)


def test_unlisted_and_ended_members_get_no_weight(default_run):
    dataset, _, _, targets, _, _ = default_run
    w = targets.weights
    assert (w.loc[:"2025-02-12", "SNDK"] == 0).all()
    assert (w.loc["2026-01-02":, "BTC-USD"] == 0).all()  # crypto data ends 2025-12-30
    legs = w.abs().sum(axis=1)
    assert legs.max() <= 1.0 + 1e-12  # 50/50 book: gross at most 1 at decision time


def _etf_prices() -> tuple[pd.DataFrame, pd.Series]:
    index = nyse_sessions("2024-01-02", "2024-04-30")
    steps = np.random.default_rng(3).normal(0.0, 0.01, (len(index), 2))
    prices = pd.DataFrame(100.0 * np.cumprod(1.0 + steps, axis=0), index=index,
                          columns=["SPY", "IEF"])
    return prices, pd.Series(5.0, index=index)


def test_buy_and_hold_is_the_price_after_its_one_costly_fill():
    """Bought at close 1 (lag 1), all cash spent on SPY and its costs: from then on each daily
    return is SPY's own; the fill day loses the fee and slippage paid (2 bp + 1 bp on ETFs)."""
    from backtests.sim.benchmarks import buy_and_hold

    prices, cash_yield = _etf_prices()
    config = BacktestConfig(costs=CostConfig(fee_bps={**FEE, "etf": 2.0},
                                             slippage_bps={**SLIP, "etf": 1.0}))
    returns = buy_and_hold(prices, cash_yield, config)
    assert returns.name == "SPY" and returns.index.equals(prices.index)
    spy = prices["SPY"].pct_change().to_numpy()
    np.testing.assert_allclose(returns.to_numpy()[2:], spy[2:], rtol=0, atol=1e-12)
    assert returns.iloc[0] == 0.0  # decided at close 0, nothing held yet
    # close 1: a day of interest on the cash, then (1 + fee)(1 + slip) per dollar of SPY bought
    interest = 0.05 * (prices.index[1] - prices.index[0]).days / 360
    assert returns.iloc[1] == pytest.approx((1 + interest) / (1.0002 * 1.0001) - 1, abs=1e-12)


def test_benchmark_registry_runs_every_benchmark_through_the_engine():
    """SPY and 60/40 are monthly-rebalanced mixes; a new benchmark is any object with a name
    and orders, here a buy-and-hold of IEF (which must equal ``buy_and_hold``)."""
    from backtests.sim.benchmarks import BENCHMARKS, BuyAndHold, benchmark_returns, buy_and_hold

    prices, cash_yield = _etf_prices()
    config = BacktestConfig()
    table = benchmark_returns(prices, cash_yield, config)
    assert list(table.columns) == [b.name for b in BENCHMARKS] == ["SPY", "60/40"]
    mix = dict(BENCHMARKS[1].mix)
    orders = BENCHMARKS[1].orders(prices.index).dropna()
    month_ends = prices.index.to_series().groupby(prices.index.to_period("M")).max()
    assert list(orders.index) == [prices.index[0], *month_ends]  # first session + month ends
    assert (orders == pd.Series(mix)).all().all()
    ief = benchmark_returns(prices, cash_yield, config, [BuyAndHold("IEF")])["IEF"]
    pd.testing.assert_series_equal(ief, buy_and_hold(prices, cash_yield, config, "IEF"))
