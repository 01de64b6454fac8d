"""The signal tearsheet: ``drain signal --evaluate`` writes it, its numbers are the library's."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from backtests.report.signal_eval import evaluate_signal, write_signal_eval
from backtests.stats.information import information, target_returns
from drain_cli.main import main
from tests import placebo_market as pm


class _Result:
    """The parts of a SignalResult the tearsheet reads."""

    def __init__(self, composite, regime, zscores):
        self.composite, self.regime, self.zscores = composite, regime, zscores


def test_tearsheet_on_a_planted_market(tmp_path):
    """The synthetic spread (speculative SA, SB minus cash flow LA, LB) falls when the
    composite says drain: negative, significant IC with the spread; the page is written."""
    prices, composite, regime = pm.market(4, n_days=800, edge=0.003)
    noise = pd.Series(np.random.default_rng(0).normal(size=len(composite)),
                      index=composite.index)
    result = _Result(composite, regime, pd.DataFrame({"noise": noise}))
    ev = evaluate_signal(prices, result, pm.strategy(), lag=1)
    comp = ev.ic[(ev.ic["signal"] == "composite") & (ev.ic["target"] == "spread")]
    assert (comp["t"] < -3).all() and (comp["pearson"] < 0).all()
    spread = target_returns(prices, pm.strategy().baskets, "cash_flow", "speculative")["spread"]
    by_hand = information(composite, spread, 21)
    row = comp[comp["horizon"] == 21].iloc[0]
    assert row["pearson"] == pytest.approx(by_hand.pearson) and row["t"] == by_hand.t
    noise_rows = ev.ic[(ev.ic["signal"] == "noise") & (ev.ic["target"] == "spread")]
    assert (noise_rows["pearson"].abs() < comp["pearson"].abs().to_numpy()).all()
    assert set(ev.by_regime["group"]) <= {"abundant", "draining", "scarce"}
    write_signal_eval(ev, tmp_path)
    saved = json.loads((tmp_path / "signal_eval.json").read_text())
    assert len(saved["ic"]) == 2 * 4 * 4  # (composite, noise) x 4 targets (no BTC) x horizons
    assert "Signal tearsheet" in (tmp_path / "signal_eval.html").read_text()


def test_drain_signal_evaluate_writes_the_tearsheet(tmp_path, capsys):
    code = main(["signal", "--evaluate", "--as-of", "2016-12-30", "--name", "sig"])
    assert code == 0
    folder = tmp_path / "reports" / "sig"
    saved = json.loads((folder / "signal_eval.json").read_text())
    targets = {r["target"] for r in saved["ic"] if r["signal"] == "composite"}
    assert targets == {"spread", "speculative", "cash_flow", "SPY", "BTC-USD"}
    assert saved["sample"][1] == "2016-12-30"
    assert (folder / "signal_eval.html").exists()
    assert "Composite vs forward log returns" in capsys.readouterr().out
