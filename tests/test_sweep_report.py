"""The tune report's pieces: the verdict, best.toml's TOML, the heatmap and stability pages."""

from __future__ import annotations

import math
import tomllib

import numpy as np
import pandas as pd

from backtests.report.tune_pages import (
    influence,
    write_heatmaps,
    write_stability,
)
from backtests.run.config import RunConfig
from backtests.sim.config import BacktestConfig
from backtests.tune.analysis import verdict
from backtests.tune.holdout import config_hash
from drain_core.tomlfile import read_toml, write_toml
from signals import SignalConfig
from strategies import StrategyConfig

GOOD = {"oos_sharpe": 1.2, "oos_sharpe_ci": [0.4, 2.0], "dsr": 0.97, "pbo": 0.2,
        "spa_pvalue": 0.01, "n_trials": 50, "spy_sharpe": 0.8}


def test_verdicts():
    assert verdict(GOOD).startswith("Robust edge: ")
    assert "(SPY buy-and-hold 0.80)" in verdict(GOOD)
    weak = verdict({**GOOD, "dsr": 0.4, "spa_pvalue": 0.3})
    assert weak.startswith("Weak evidence: ")
    assert "within what luck gives" in weak and "beats SPY" in weak
    none = verdict({**GOOD, "oos_sharpe": -0.3, "oos_sharpe_ci": [-1.0, 0.4], "pbo": 0.7})
    assert none.startswith("No reliable edge: ") and "lost out of sample" in none
    nan = verdict({**GOOD, "dsr": math.nan})
    assert "\n" not in nan and not nan.startswith("Robust")


def test_best_toml_round_trip_through_write_toml(tmp_path):
    """best.toml is written by drain_core.tomlfile.write_toml: a configuration with every kind
    of field (None, tuples, nested tables) reads back equal, and its hash is unchanged."""
    config = RunConfig(
        signal=SignalConfig(gate="step", weights={"issuance": 0.5}),
        strategy=StrategyConfig(vol_target=None, leg_size=0.3,
                                tilt={**StrategyConfig().tilt, "scarce": (0.6, 0.0, 0.0)}),
        backtest=BacktestConfig(lag=2),
    )
    path = write_toml(config.to_dict(), tmp_path / "best.toml")
    parsed = tomllib.loads(path.read_text())
    assert "vol_target" not in parsed["strategy"]  # TOML has no null: absent means None
    assert parsed["strategy"]["tilt"]["scarce"] == [0.6, 0.0, 0.0]
    again = RunConfig.from_dict(read_toml(path))
    assert again == config
    assert config_hash(again) == config_hash(config)


def test_heatmaps_and_stability_pages(tmp_path):
    rng = np.random.default_rng(1)
    table = pd.DataFrame({
        "signal.gate": ["none", "step"] * 8,
        "strategy.variant": ["a", "a", "b", "b"] * 4,
        "strategy.leg_size": [0.3] * 8 + [0.5] * 8,
        "sharpe": rng.normal(size=16),
    })
    table.loc[table["strategy.variant"] == "b", "sharpe"] += 5.0
    params = ["signal.gate", "strategy.variant", "strategy.leg_size"]
    assert influence(table, params).index[0] == "strategy.variant"
    write_heatmaps(table, params, tmp_path / "h.html")
    page = (tmp_path / "h.html").read_text()
    assert page.count("Plotly.newPlot") == 3  # every pair of the three parameters
    splits = pd.DataFrame({"test_start": pd.date_range("2020-01-01", periods=3, freq="MS"),
                           "chosen": [0, 3, 3]})
    write_stability(table, splits, params, tmp_path / "s.html")
    assert "Value chosen on each train window" in (tmp_path / "s.html").read_text()
