"""Placebo backtests: surrogates keep what they should, p-values are right under the null and
small when the signal's timing was planted, and the kernel's runs match vectorbt."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from backtests.evidence.placebo import (
    PlaceboSetup,
    basket_pool,
    draw_baskets,
    p_value,
    percentile,
    placebo_strategy,
    run_actual,
    run_basket_chunk,
    run_placebos,
    run_timing_chunk,
    surrogate,
)
from backtests.evidence.surrogates import (
    autocorrelations,
    block_surrogate,
    rng_for,
    shift_surrogate,
    shift_surrogates_shifts,
)
from backtests.sim.accrual import daily_rates
from backtests.sim.config import BacktestConfig
from backtests.sim.engine import run_backtest
from backtests.stats import performance
from signals.config import SignalConfig
from strategies import build_targets
from tests import placebo_market as pm
from tests.placebo_market import THRESHOLDS


def _setup(seed: int, edge: float = 0.0, **market) -> PlaceboSetup:
    prices, composite, regime = pm.market(seed, edge=edge, **market)
    signal = SignalConfig(draining_above=THRESHOLDS[0], scarce_above=THRESHOLDS[1],
                          hysteresis=THRESHOLDS[2])
    return PlaceboSetup(window=prices, composite=composite, regime=regime, signal=signal,
                        strategy=pm.strategy(), backtest=BacktestConfig(), mean_block=40,
                        min_shift=100)


def _vectorbt_stats(setup: PlaceboSetup, composite, regime, strategy) -> np.ndarray:
    targets = build_targets(setup.window, composite, regime, strategy)
    result = run_backtest(targets.orders, setup.window, setup.window["IRX"], setup.backtest)
    r = result.returns.to_numpy()
    cash = daily_rates(setup.window["IRX"], setup.window.index).to_numpy()
    return np.array([performance.sharpe(r - cash), performance.cagr(r),
                     performance.max_drawdown(r)])


# --- surrogates -----------------------------------------------------------------------------


def test_block_surrogate_keeps_distribution_and_short_autocorrelation():
    """Stationary bootstrap, mean block 126, of a persistent path (phi 0.99, 3000 sessions):
    the values come from the path (two-sample KS p > 0.01 on 20 surrogates pooled; mean and
    standard deviation within 0.15 of the path's) and the lag k = 1..5 autocorrelations within
    0.02 of ``(1 - 1/126)^k rho_k`` (a block join breaks a lag-k pair with probability about
    k/126), so within 0.02 + k/126 of the path's own."""
    rng = np.random.default_rng(3)
    path = pd.Series(pm.ar1(3000, 0.99, rng))
    path.iloc[:50] = np.nan
    real = path.dropna().to_numpy()
    acf = autocorrelations(path)
    pooled, acfs = [], []
    for i in range(20):
        s = block_surrogate(path, rng_for(1, "block", i), 126)
        assert s.iloc[:50].isna().all() and s.iloc[50:].notna().all()
        values = s.dropna().to_numpy()
        assert np.isin(values, real).all()
        pooled.append(values)
        acfs.append(autocorrelations(s))
    pooled = np.concatenate(pooled)
    assert sps.ks_2samp(pooled[::20], real).pvalue > 0.01
    assert abs(pooled.mean() - real.mean()) < 0.15
    assert abs(pooled.std() - real.std()) < 0.15
    shrink = (1.0 - 1.0 / 126) ** np.arange(1, 6)
    assert np.abs(np.mean(acfs, axis=0) - shrink * acf).max() < 0.02


def test_shift_surrogate_is_a_rotation_by_at_least_the_minimum():
    path = pd.Series([np.nan, np.nan, *range(10)], dtype=float)
    shifted = shift_surrogate(path, 3)
    assert shifted.iloc[:2].isna().all()
    assert shifted.iloc[2:].tolist() == [7, 8, 9, 0, 1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(autocorrelations(shift_surrogate(path, 4)),
                               autocorrelations(np.roll(np.arange(10.0), 4)))


def test_surrogates_do_not_depend_on_the_split_into_tasks():
    setup = _setup(0)
    one = run_timing_chunk(setup, "block", 5, [0, 1, 2, 3], [None] * 4)
    two = np.vstack([run_timing_chunk(setup, "block", 5, [0, 1], [None] * 2),
                     run_timing_chunk(setup, "block", 5, [2, 3], [None] * 2)])
    np.testing.assert_array_equal(one, two)


# --- agreement with vectorbt ----------------------------------------------------------------


def test_actual_and_placebo_runs_match_vectorbt():
    """The actual run, a block surrogate, a shifted one and a random-basket one, each against
    build_targets -> run_backtest: excess Sharpe, CAGR and drawdown to 1e-6."""
    setup = _setup(1, edge=0.001)
    actual = run_actual(setup)
    ref = _vectorbt_stats(setup, setup.composite, setup.regime, setup.strategy)
    np.testing.assert_allclose([actual["sharpe"], actual["cagr"], actual["max_drawdown"]], ref,
                               atol=1e-6, rtol=0)
    for family, shift in (("block", None), ("shift", 150)):
        fast = run_timing_chunk(setup, family, 9, [2], [shift])[0]
        composite = surrogate(setup, family, 9, 2, shift)
        s = setup.signal
        from signals.transforms import regimes_with_hysteresis

        regime = regimes_with_hysteresis(composite, s.draining_above, s.scarce_above,
                                         s.hysteresis)
        np.testing.assert_allclose(fast, _vectorbt_stats(setup, composite, regime,
                                                         setup.strategy), atol=1e-6, rtol=0)
    pool = basket_pool(setup)
    fast = run_basket_chunk(setup, pool, 4, [0, 1])
    for row, i in enumerate([0, 1]):
        strategy = placebo_strategy(setup, draw_baskets(pool, setup.basket_sizes, 4, i))
        np.testing.assert_allclose(fast[row], _vectorbt_stats(setup, setup.composite,
                                                              setup.regime, strategy),
                                   atol=1e-6, rtol=0)


# --- baskets --------------------------------------------------------------------------------


def test_basket_pool_leaves_out_tickers_without_prices_over_the_window():
    setup = _setup(2)
    prices = setup.window.copy()
    prices.loc[prices.index[:100], "PA"] = np.nan  # joins late
    prices.loc[prices.index[-30:], "PB"] = np.nan  # ends early
    prices.loc[prices.index[100:130], "PC"] = np.nan  # a 6% gap
    prices.loc[prices.index[200:203], "PD"] = np.nan  # a 0.6% gap: kept
    prices["PE"] = 100.0 * (1.0 + np.random.default_rng(0).normal(0, 0.005, len(prices))
                            ).cumprod()  # 8% a year: cash-like, left out
    setup = PlaceboSetup(window=prices, composite=setup.composite, regime=setup.regime,
                         signal=setup.signal, strategy=setup.strategy, backtest=setup.backtest)
    pool = basket_pool(setup)
    assert pool == sorted(["LA", "LB", "SA", "SB", "PD", "PF"])  # no SPY, IRX either
    for i in range(50):
        long, short = draw_baskets(pool, (2, 2), 0, i)
        assert set(long) <= set(pool) and set(short) <= set(pool)
        assert not set(long) & set(short)


def test_p_value_and_percentile_by_hand():
    draws = np.array([1.0, 2.0, 3.0, 3.0, np.nan])
    assert p_value(3.0, draws) == pytest.approx(((1 + 2) / 5, np.sqrt(0.6 * 0.4 / 4)))
    assert p_value(9.0, draws)[0] == pytest.approx(1 / 5)
    assert percentile(3.0, draws) == pytest.approx(100 * (2 + 1) / 4)


# --- planted and null signals ---------------------------------------------------------------


def test_planted_timing_gives_small_p_values():
    """The spread pays 0.3% a day when the signal says drain: no surrogate or random basket
    comes close (p = 1 / (N + 1))."""
    setup = _setup(11, edge=0.003)
    result = run_placebos(setup, kind="both", n=39, seed=1)
    table = result.table().set_index(["family", "statistic"])
    for family in ("block", "shift", "baskets"):
        assert table.loc[(family, "sharpe"), "p_value"] == pytest.approx(1 / 40)
        assert table.loc[(family, "sharpe"), "percentile"] == 100.0


def test_noise_signal_gives_uniform_p_values():
    """50 markets of 600 sessions whose returns ignore the signal: the Sharpe p-values of the
    block-bootstrap, circular-shift (by 100 to 490 sessions, so the shifted paths are not
    copies of one another) and basket placebos (9 each, so p lives on the grid 1/10 .. 1) are
    spread evenly: KS distance to the uniform below its 1% critical value plus the grid step,
    mean within 3 standard errors of 0.55, and no more p <= 0.1 than a Binomial(50, 0.1) gives
    at 0.1%."""
    pvalues: dict[str, list[float]] = {"block": [], "shift": [], "baskets": []}
    nine = list(range(9))
    for seed in range(50):
        setup = _setup(100 + seed, n_days=600, warmup=10)
        actual = run_actual(setup)["sharpe"]
        shifts = shift_surrogates_shifts(setup.composite, 9, seed, setup.min_shift).tolist()
        draws = {"block": run_timing_chunk(setup, "block", seed, nine, [None] * 9),
                 "shift": run_timing_chunk(setup, "shift", seed, nine, shifts),
                 "baskets": run_basket_chunk(setup, basket_pool(setup), seed, nine)}
        for family, sharpe in draws.items():
            pvalues[family].append(p_value(actual, sharpe[:, 0])[0])
    for family, values in pvalues.items():
        values = np.array(values)
        grid = np.arange(1, 11) / 10
        ecdf = np.array([(values <= g + 1e-12).mean() for g in grid])
        assert np.abs(ecdf - grid).max() < 1.63 / np.sqrt(50) + 1 / 10, family  # KS at 1%
        assert abs(values.mean() - 0.55) < 3 * 0.29 / np.sqrt(50), family
        assert (values <= 0.1).sum() <= sps.binom.ppf(0.999, 50, 0.1), family


# --- the embedded data ----------------------------------------------------------------------


def test_embedded_data_placebo_run_folder_and_actual_match_the_pipeline(tmp_path):
    """``drain placebo`` on 2019-2021, 4 placebos a family: the folder is written, and its
    actual statistics equal the vectorbt pipeline's (``drain backtest``'s) to 1e-6."""
    import json

    from backtests.run.config import RunConfig
    from backtests.run.pipeline import run_pipeline
    from drain_cli.main import main
    from drain_data import load_dataset

    code = main(["placebo", "--n", "4", "--start", "2019-01-02", "--end", "2021-12-31",
                 "--seed", "3", "--name", "pl"])
    assert code == 0
    folder = tmp_path / "reports" / "pl"
    saved = json.loads((folder / "placebo.json").read_text())
    assert {"placebo.html", "placebo_draws.csv"} <= {p.name for p in folder.iterdir()}
    draws = pd.read_csv(folder / "placebo_draws.csv")
    assert sorted(draws["family"].unique()) == ["baskets", "block", "shift"]
    assert len(draws) == 12
    pool = set(saved["settings"]["basket_pool"])
    assert {"SNDK", "HOOD", "IRX", "SPY"}.isdisjoint(pool)  # listed after 2019 / not eligible
    result = run_pipeline(RunConfig(), start="2019-01-02", end="2021-12-31")
    r = result.result.returns.to_numpy()
    index = result.result.returns.index
    cash = daily_rates(load_dataset(end="2021-12-31").prices["IRX"], index).to_numpy()
    expected = [performance.sharpe(r - cash), performance.cagr(r), performance.max_drawdown(r)]
    actual = [saved["actual"][k] for k in ("sharpe", "cagr", "max_drawdown")]
    np.testing.assert_allclose(actual, expected, atol=1e-6, rtol=0)


def test_placebo_page_notes_the_tickers_whose_data_ends_in_the_actual_run(tmp_path):
    """A window across the crypto data's end (2025-12-31): the actual run's data notes are
    those of ``drain backtest`` over the same window, and they match its held weights."""
    import json

    from backtests.report.data_notes import data_notes
    from backtests.report.placebo_page import placebo_report
    from backtests.run.config import RunConfig
    from backtests.run.pipeline import run_pipeline
    from tests.runs_kit import check_ended_tickers

    window = {"start": "2025-06-02", "end": "2026-03-31"}
    _, folder = placebo_report(RunConfig(), "pl", kind="baskets", n=2, **window)
    saved = json.loads((folder / "placebo.json").read_text())
    run = run_pipeline(RunConfig(), **window)
    assert saved["ended_tickers"] == data_notes(run.prices, run.result.weights)["ended_tickers"]
    assert {"BTC-USD", "ETH-USD"} <= {r["ticker"] for r in saved["ended_tickers"]}
    weights = run.result.weights.set_axis(run.result.weights.index.strftime("%Y-%m-%d"))
    check_ended_tickers(saved["ended_tickers"], weights)
    page = (folder / "placebo.html").read_text()
    assert "<h2>Data notes</h2>" in page and saved["data_notes"][0] in page
    assert saved["data_notes"][0].startswith("BTC-USD: price data ends 2025-12-31")


def test_cli_rejects_a_bad_count_in_one_line(capsys):
    from drain_cli.main import main

    assert main(["placebo", "--n", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--n must be at least 1" in err


def test_an_executor_gives_the_same_draws_as_in_process():
    """Tasks through a thread pool (any ``.submit -> future`` object) and a pickle round trip
    of their inputs (what a process or Dask worker receives) change nothing."""
    import pickle
    from concurrent.futures import ThreadPoolExecutor

    setup = _setup(5, edge=0.001)
    here = run_placebos(setup, kind="both", n=12, seed=2, chunk_sizes={"block": 5, "shift": 5,
                                                                       "baskets": 5})
    with ThreadPoolExecutor(max_workers=2) as pool:
        there = run_placebos(pickle.loads(pickle.dumps(setup)), kind="both", n=12, seed=2,
                             executor=pool)
    assert here.actual == there.actual
    for family in here.draws:
        pd.testing.assert_frame_equal(here.draws[family], there.draws[family])


def test_a_local_dask_cluster_gives_the_same_draws_and_gets_the_setup_once():
    """On a ``LocalCluster`` (threads of this process) the draws are those of the in-process
    run for the same seed, through ``DaskExecutor`` and a bare ``Client`` alike, and the
    ``PlaceboSetup`` is scattered once per run: no task carries it."""
    from distributed import Future

    from backtests.tune.executor import open_executor

    setup = _setup(5, edge=0.001)
    chunks = {"block": 5, "shift": 5, "baskets": 5}
    here = run_placebos(setup, kind="both", n=12, seed=2, chunk_sizes=chunks)
    with open_executor(workers=2, processes=False, quiet=True) as executor:
        scattered, sent = [], []

        class Recording:  # the executor's submit and scatter, recorded
            def scatter(self, value):
                scattered.append(value)
                return executor.scatter(value)

            def submit(self, fn, *args):
                sent.append(args)
                return executor.submit(fn, *args)

        there = run_placebos(setup, kind="both", n=12, seed=2, chunk_sizes=chunks,
                             executor=Recording())
        bare = run_placebos(setup, kind="timing", n=12, seed=2, chunk_sizes=chunks,
                            executor=executor.client)
    assert scattered == [setup]
    assert len(sent) == 1 + 3 * 3  # the actual run and three chunks of each family
    assert all(isinstance(args[0], Future) for args in sent)
    assert not any(isinstance(a, PlaceboSetup) for args in sent for a in args)
    for result in (there, bare):
        assert result.actual == here.actual
        for family in result.draws:
            pd.testing.assert_frame_equal(result.draws[family], here.draws[family],
                                          check_exact=True)
    assert set(bare.draws) == {"block", "shift"}


def test_cli_uses_the_scheduler_of_the_environment_and_prints_its_dashboard(
        capsys, monkeypatch):
    """``drain placebo`` honours ``DRAIN_DASK_SCHEDULER`` as ``drain tune`` does (``--scheduler``
    takes the same path): its tasks run on that cluster, and the dashboard address is printed."""
    import json

    from distributed import LocalCluster

    from drain_cli.main import main
    from drain_core.paths import reports_root

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                      dashboard_address=":0") as cluster:
        monkeypatch.setenv("DRAIN_DASK_SCHEDULER", cluster.scheduler_address)
        code = main(["placebo", "--n", "3", "--kind", "timing", "--start", "2024-01-02",
                     "--name", "pl"])
        tasks = set(cluster.scheduler.task_prefixes)
    assert code == 0
    err = capsys.readouterr().err
    assert "dask: 1 workers, dashboard http" in err
    assert {"run_actual", "run_timing_chunk"} <= set(tasks)
    saved = json.loads((reports_root() / "pl" / "placebo.json").read_text())
    assert saved["settings"]["n"] == 3 and saved["settings"]["families"] == ["block", "shift"]
