"""The signal tearsheet: ``drain signal --evaluate`` writes it, its numbers are the library's."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from backtests.report.signal_eval import evaluate_signal, write_signal_eval
from backtests.stats.information import information, information_by, target_returns
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
    # by year and by regime: the composite against every target, each component the spread
    for table, labels in ((ev.by_year, pd.Series(composite.index.year, composite.index)),
                          (ev.by_regime, regime.astype(object))):
        pairs = set(zip(table["signal"], table["target"], strict=True))
        assert pairs == {("composite", t) for t in ("spread", "speculative", "cash_flow",
                                                    "SPY")} | {("noise", "spread")}
        noise21 = table[(table["signal"] == "noise") & (table["horizon"] == 21)]
        by_hand = information_by(noise, spread, labels, 21).set_index("group")
        for row in noise21.itertuples():
            assert row.pearson == pytest.approx(by_hand.loc[row.group, "pearson"], nan_ok=True)
            assert row.n == by_hand.loc[row.group, "n"]
    write_signal_eval(ev, tmp_path)
    saved = json.loads((tmp_path / "signal_eval.json").read_text())
    assert len(saved["ic"]) == 2 * 4 * 4  # (composite, noise) x 4 targets (no BTC) x horizons
    assert {r["signal"] for r in saved["by_year"]} == {"composite", "noise"}
    page = (tmp_path / "signal_eval.html").read_text()
    assert "Signal tearsheet" in page
    assert "By calendar year: composite and components vs the spread" in page
    assert "By regime: the composite vs each target" in page
    year = ev.by_year[(ev.by_year["signal"] == "noise") & (ev.by_year["horizon"] == 21)].iloc[0]
    assert f"{year['pearson']:+.2f} ({year['t']:+.1f})" in page


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
