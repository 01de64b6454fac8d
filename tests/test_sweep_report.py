"""The tune report's pieces: the verdict, best.toml's TOML, the heatmap and stability pages."""

from __future__ import annotations

import math
import tomllib

import numpy as np
import pandas as pd

from backtests.report.tune_pages import (
    influence,
    toml_text,
    verdict,
    write_heatmaps,
    write_stability,
)

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


def test_toml_round_trip():
    sections = {
        "signal": {"gate": "step", "z_clip": 3.0, "components": ["issuance", "dollar"],
                   "spread_exclude_turns": True, "weights": {"issuance": 0.5}},
        "strategy": {"vol_target": None, "leg_size": 0.3,
                     "baskets": {"cash_flow": ("BRK-B", "MU")}, "tilt": {"scarce": (0.6, 0, 0)}},
        "backtest": {"lag": 2, "costs": {"fee_bps": {"etf": 0.5}}},
    }
    text = toml_text(sections, header="best of 3\nrun it")
    assert text.startswith("# best of 3\n# run it\n")
    parsed = tomllib.loads(text)
    assert parsed["signal"]["weights"] == {"issuance": 0.5}
    assert parsed["signal"]["spread_exclude_turns"] is True
    assert "vol_target" not in parsed["strategy"]
    assert parsed["strategy"]["baskets"]["cash_flow"] == ["BRK-B", "MU"]
    assert parsed["strategy"]["tilt"]["scarce"] == [0.6, 0, 0]
    assert parsed["backtest"] == {"lag": 2, "costs": {"fee_bps": {"etf": 0.5}}}


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
