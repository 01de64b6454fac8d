"""Grids from TOML, combination selection, shared signals and resumable chunked sweeps."""

from __future__ import annotations

import re
import tomllib

import numpy as np
import pandas as pd
import pytest

from backtests.sim.config import BacktestConfig
from backtests.tune.sweep import (
    SignalCache,
    grid_from_table,
    grid_section,
    prepare_chunk_dir,
    run_sweep,
    select,
    sweep_key,
    used_params,
)
from drain_core.configs import tune_config_path
from drain_core.errors import DrainError
from drain_data import load_dataset
from signals import SignalConfig, compute_signal
from strategies import StrategyConfig

BASE = (SignalConfig(), StrategyConfig(), BacktestConfig())


def _select(table: dict, **kwargs):
    return select(grid_from_table(table, "t"), *BASE, **kwargs)


def test_cartesian_product_in_order():
    grid = grid_from_table({"strategy": {"rebalance": ["weekly", "monthly"]},
                            "signal": {"gate": ["none", "step", "logistic"]}}, "t")
    assert grid.params == ("signal.gate", "strategy.rebalance")  # signal varies slowest
    assert grid.size == 6
    assert [grid.combination(i) for i in (0, 1, 5)] == [
        {"signal.gate": "none", "strategy.rebalance": "weekly"},
        {"signal.gate": "none", "strategy.rebalance": "monthly"},
        {"signal.gate": "logistic", "strategy.rebalance": "monthly"},
    ]
    selection = select(grid, *BASE)
    assert selection.n_trials == 6
    assert selection.combos[3].signal.gate == "step"
    assert selection.combos[3].strategy.rebalance == "monthly"


def test_dict_fields_and_lag():
    selection = _select({"signal": {"weights": {"issuance": [0.5, 2.0]}},
                         "strategy": {"variant": ["long_only_tilt"],
                                      "tilt": {"scarce": [[0.2, 0.0, 0.0]]}},
                         "backtest": {"lag": [1, 2]}})
    assert selection.n_trials == 4
    combo = selection.combos[-1]
    assert combo.signal.weight("issuance") == 2.0
    assert combo.signal.weight("capex_yoy") == SignalConfig().weight("capex_yoy")
    assert combo.strategy.tilt["scarce"] == (0.2, 0.0, 0.0)
    assert combo.strategy.tilt["abundant"] == StrategyConfig().tilt["abundant"]
    assert combo.lag == 2


@pytest.mark.parametrize(("table", "message"), [
    ({}, "grid 't' is empty"),
    ({"strategy": {}}, "grid 't' is empty"),
    ({"strategy": {"variant": []}}, "'strategy.variant' has an empty list"),
    ({"strategy": {"rebalanse": ["weekly"]}}, "unknown grid parameter 'strategy.rebalanse' "
                                               "(did you mean 'rebalance'?)"),
    ({"signal": {"weights": {"issuence": [1.0]}}}, "'signal.weights.issuence'"),
    ({"signals": {"gate": ["none"]}}, "unknown grid parameter 'signals'"),
    ({"backtest": {"init_cash": [1.0]}}, "'backtest.init_cash' cannot vary"),
    ({"strategy": {"variant": ["regime_long_short", "moon"]}},
     "grid parameter 'strategy.variant' = 'moon'"),
    ({"signal": {"buffer_window": [63, -1]}}, "grid parameter 'signal.buffer_window' = -1"),
])
def test_bad_grids_are_one_line_errors(table, message):
    with pytest.raises(DrainError, match=re.escape(message)) as err:
        _select(table)
    assert "\n" not in str(err.value)


def test_cap_and_sampling():
    table = {"signal": {"buffer_window": list(range(20, 60))},
             "strategy": {"vol_lookback": list(range(20, 70)),
                          "weighting": ["inverse_vol"]}}
    with pytest.raises(DrainError, match="2,000 combinations, more than the cap of 1,000; "
                                         "draw a random sample of at most 1,000 of them"):
        _select(table, cap=1000)
    with pytest.raises(DrainError, match="above the cap"):
        _select(table, cap=1000, sample=1001)
    one = _select(table, cap=1000, sample=50, seed=3)
    two = _select(table, cap=1000, sample=50, seed=3)
    other = _select(table, cap=1000, sample=50, seed=4)
    assert [c.number for c in one.combos] == [c.number for c in two.combos]
    assert [c.number for c in one.combos] != [c.number for c in other.combos]
    assert one.n_trials == 50 and one.sampled == 50
    assert all(0 <= c.number < 2000 for c in one.combos)


def test_jointly_invalid_and_duplicate_combinations_are_dropped():
    selection = _select({"signal": {"draining_above": [0.25, 0.9], "scarce_above": [0.75, 1.5]},
                         "strategy": {"variant": ["regime_long_short", "signal_long_short"],
                                      "signal_scale": [1.0, 2.0]}})
    # draining 0.9 with scarce 0.75 is rejected; signal_scale only matters to the signal
    # variant, whose composite ignores the thresholds unless it rebalances on regimes.
    assert selection.invalid == 4
    assert selection.n_trials == 3 * 1 + 2  # regime variant per thresholds; signal variant x2
    assert selection.duplicates == 16 - 4 - selection.n_trials
    assert "scarce_above" in selection.first_invalid


def test_shipped_grids_load_and_fit_the_cap():
    document = tomllib.loads(tune_config_path().read_text())
    for name in [None, *document["tune"]["grids"]]:
        grid_name, table = grid_section(document, name)
        grid = grid_from_table(table, grid_name)
        if grid_name not in ("benchmark", "wide"):  # these two are sampled (above the cap)
            assert select(grid, *BASE, cap=document["tune"]["cap"]).n_trials > 0
        else:
            assert grid.size > document["tune"]["cap"]
            assert select(grid, *BASE, sample=200, seed=1, cap=document["tune"]["cap"],
                          sample_cap=10**6).n_trials > 0
    with pytest.raises(DrainError, match="unknown grid 'quik' \\(did you mean 'quick'\\?\\)"):
        grid_section(document, "quik")


@pytest.fixture(scope="module")
def dataset():
    return load_dataset(end="2020-12-31")


def test_shared_signals_equal_compute_signal(dataset):
    """Threshold variants re-derived from one shared composite equal their own compute_signal,
    including the first sessions, whose hysteresis state comes from the warm-up history."""
    cache = SignalCache(dataset)
    configs = [SignalConfig(gate=gate, draining_above=draining, hysteresis=h)
               for gate in ("none", "step") for draining in (0.0, 0.25) for h in (0.05, 0.15)]
    for config in configs:
        composite, regime = cache.get(config)
        reference = compute_signal(dataset, config)
        pd.testing.assert_series_equal(composite, reference.composite)
        pd.testing.assert_series_equal(regime, reference.regime)
    assert cache.shared is True
    assert cache.n_signals == 8 and cache.n_composites == 2 + 1  # 2 groups, 1 check


def test_interrupted_sweep_resumes_to_the_same_result(dataset, tmp_path):
    selection = _select({"signal": {"gate": ["none", "step"]},
                         "strategy": {"variant": ["regime_long_short", "long_only_tilt"],
                                      "rebalance": ["weekly", "monthly", "regime"]}})
    backtest = BacktestConfig()
    start = "2019-06-03"
    window = dataset.prices.loc[start:].index
    key = sweep_key(selection, backtest, window, dataset.fingerprint(), 5)
    whole = run_sweep(selection, dataset, backtest, start=start, chunk_size=5)

    folder = tmp_path / "chunks"
    prepare_chunk_dir(folder, key)

    def stop(k: int) -> None:
        if k == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(selection, dataset, backtest, start=start, chunk_dir=folder, chunk_size=5,
                  on_chunk=stop)
    assert sorted(p.name for p in folder.glob("chunk-*.parquet")) == [
        "chunk-00000.parquet", "chunk-00001.parquet"]
    prepare_chunk_dir(folder, key)  # the same sweep: finished chunks are kept
    resumed = run_sweep(selection, dataset, backtest, start=start, chunk_dir=folder,
                        chunk_size=5)
    assert (resumed.chunks_reused, resumed.chunks_run) == (2, 1)
    pd.testing.assert_frame_equal(resumed.table, whole.table)
    np.testing.assert_array_equal(resumed.returns, whole.returns)

    prepare_chunk_dir(folder, "another-sweep")  # a different sweep starts afresh
    assert not list(folder.glob("chunk-*.parquet"))


def test_a_finished_run_seeds_the_chunks_of_the_same_sweep(tmp_path):
    finished = tmp_path / "run" / "sweep"
    finished.mkdir(parents=True)
    (finished / "sweep.json").write_text('{"key": "abc"}')
    (finished / "chunk-00000.parquet").write_bytes(b"x")
    staging = tmp_path / ".run.sweep"
    prepare_chunk_dir(staging, "abc", previous=finished)
    assert (staging / "chunk-00000.parquet").exists()
    other = tmp_path / ".other.sweep"
    prepare_chunk_dir(other, "def", previous=finished)  # another sweep: nothing reused
    assert not list(other.glob("chunk-*.parquet"))


def test_used_params_leave_out_what_the_configuration_ignores():
    selection = _select({"signal": {"standardise": ["expanding"], "z_window": [504],
                                    "gate": ["none"], "gate_k": [2.0], "hysteresis": [0.05]},
                         "strategy": {"variant": ["signal_long_short", "long_only_tilt"],
                                      "signal_scale": [0.5], "leg_size": [0.3]}})
    signal_variant, tilt = selection.combos
    # z_window: expanding z-scores; gate_k: no gate; hysteresis: the signal variant off the
    # regime schedule; signal_scale and leg_size: the tilt
    assert used_params(signal_variant) == ["signal.standardise", "signal.gate",
                                           "strategy.variant", "strategy.signal_scale",
                                           "strategy.leg_size"]
    assert used_params(tilt) == ["signal.standardise", "signal.gate", "signal.hysteresis",
                                 "strategy.variant"]


def test_a_failed_deferred_signal_check_redoes_the_sweep_with_plain_signals(dataset,
                                                                             monkeypatch):
    """The in-process sweep checks the shared signals while the kernel runs the first chunk; if
    that check ever failed, every chunk is redone with a plain compute_signal per config (here
    forced: they agree in fact, so the numbers must be those of the normal sweep)."""
    selection = _select({"signal": {"gate": ["none", "step"], "draining_above": [0.0, 0.25]},
                         "strategy": {"rebalance": ["weekly", "regime"]}})
    backtest = BacktestConfig()
    normal = run_sweep(selection, dataset, backtest, start="2019-06-03", chunk_size=3)
    assert normal.n_composites == 2 + 1  # 2 groups, 1 check
    monkeypatch.setattr(SignalCache, "_agrees", lambda self, direct, full: False)
    redone = run_sweep(selection, dataset, backtest, start="2019-06-03", chunk_size=3)
    # the first group's shared call and its check, then one plain call per distinct config
    assert redone.n_composites == 2 + 4
    pd.testing.assert_frame_equal(redone.table, normal.table)
    np.testing.assert_array_equal(redone.returns, normal.returns)


def test_deferred_check_gives_the_same_signals(dataset):
    """``defer_check`` only moves the check to ``check()``: the same signals, the same calls."""
    configs = [SignalConfig(gate=gate, draining_above=draining)
               for gate in ("none", "step") for draining in (0.0, 0.25)]
    now, later = SignalCache(dataset), SignalCache(dataset, defer_check=True)
    for config in configs:
        for a, b in zip(now.get(config), later.get(config), strict=True):
            pd.testing.assert_series_equal(a, b)
    assert later.shared is None and later.n_composites == 2
    assert later.check() is True and later.shared is True
    assert later.check() is True and later.n_composites == now.n_composites == 3
