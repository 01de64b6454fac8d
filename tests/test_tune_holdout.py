"""The sealed holdout: nothing a tune writes depends on data after it; one look, then refused."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from backtests.report.tune_run import save_tune_run, unseal_run
from backtests.run.config import RunConfig
from backtests.tune.config import TuneConfig
from backtests.tune.holdout import config_hash
from backtests.tune.tuning import run_tune
from drain_cli.main import main
from drain_core.errors import DrainError
from drain_core.paths import reports_root
from drain_core.tomlfile import read_toml
from drain_data import load_dataset
from drain_data.store import Dataset
from strategies import StrategyConfig

START, END, HOLDOUT = "2019-01-02", "2022-06-30", "2021-10-01"
BASE = RunConfig(strategy=StrategyConfig(weighting="equal"))
TUNE = TuneConfig.from_dict({
    "bootstrap_reps": 100, "spa_reps": 100, "holdout_from": HOLDOUT,
    "walkforward": {"train": 250, "test": 126},
    "grid": {"signal": {"gate": ["none", "step"]},
             "strategy": {"variant": ["regime_long_short", "long_only_tilt"]}},
})
# what a sealed tune writes at least; the truncation test compares every file the folder holds
RUN_FILES = ("results.parquet", "walkforward.parquet", "oos_returns.parquet", "best.toml",
             "summary.json", "manifest.json", "signal_information.csv", "overfitting.html",
             "heatmaps.html", "stability.html", "best_tearsheet.html", "oos_tearsheet.html")
# left out of the comparison: when and where the run was made, how long it took ...
VARIABLE = {"seconds_sweep", "seconds_total", "created_at", "name", "git_commit"}
# ... plotly's random div ids, and the time matplotlib drew each tearsheet figure (SVG metadata)
UNSTABLE = (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
            re.compile(r"<dc:date>[^<]*</dc:date>"))


def _altered(dataset: Dataset, after: pd.Timestamp) -> Dataset:
    """Prices from ``after`` on scrambled, macro/capex/issuance released from then changed."""
    rng = np.random.default_rng(7)
    prices = dataset.prices.copy()
    late = prices.index >= after
    prices.loc[late] = prices.loc[late] * rng.uniform(0.5, 1.5, size=prices.loc[late].shape)
    macro = dataset.macro.copy()
    macro.loc[macro["available_at"] >= after, "value"] *= -3.0
    capex = dataset.capex.copy()
    capex.loc[capex["available_at"] >= after, "capex_usd"] *= 5
    return Dataset(prices=prices, macro=macro, capex=capex, issuance=dataset.issuance)


def _contents(folder) -> dict[str, object]:
    """Every file of a run folder (its path inside the folder as key), read for comparison."""
    out: dict[str, object] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if name.endswith(".parquet"):
            out[name] = pd.read_parquet(path)
        elif name.endswith(".csv"):
            out[name] = pd.read_csv(path)
        elif name.endswith(".json"):
            data = json.loads(path.read_text())
            out[name] = {k: v for k, v in data.items() if k not in VARIABLE}
        elif name.endswith(".html"):
            text = path.read_text()
            for pattern in UNSTABLE:
                text = pattern.sub("X", text)
            out[name] = text
        else:
            out[name] = path.read_bytes()
    return out


@pytest.fixture(scope="module")
def sealed_runs(tmp_path_factory):
    """The same sealed tune on the real data and on data altered after the holdout start."""
    root = tmp_path_factory.mktemp("reports")
    dataset = load_dataset(end=END)
    mp = pytest.MonkeyPatch()
    try:
        folders = []
        for name, data in (("real", dataset), ("altered", _altered(dataset, TUNE.holdout_start))):
            # each in its own reports root: a second tune beside the first counts its trials
            mp.setenv("DRAIN_REPORTS_DIR", str(root / name))
            run = run_tune(BASE, TUNE, data, start=START)
            folders.append(save_tune_run(run, name, argv=["tune"]))
    finally:
        mp.undo()
    return dataset, folders


def test_nothing_written_before_unsealing_depends_on_the_holdout(sealed_runs):
    _, (real, altered) = sealed_runs
    summary = json.loads((real / "summary.json").read_text())
    assert summary["end"] < HOLDOUT and summary["holdout_from"] == HOLDOUT
    a, b = _contents(real), _contents(altered)
    assert set(a) == set(b) and set(RUN_FILES) <= set(a)
    for name in a:
        if isinstance(a[name], pd.DataFrame):
            pd.testing.assert_frame_equal(a[name], b[name], obj=name)
        else:
            assert a[name] == b[name], name


def test_the_choice_is_recorded_before_the_look_and_unsealed_once(sealed_runs, monkeypatch,
                                                                   tmp_path, capsys):
    dataset, (real, _) = sealed_runs
    manifest = json.loads((real / "manifest.json").read_text())
    chosen = RunConfig.from_dict(read_toml(real / "best.toml"))
    assert manifest["chosen_config_sha256"] == config_hash(chosen)
    assert manifest["holdout"] == {"from": HOLDOUT, "sealed": True, "unsealed_at": None}

    record = unseal_run(real, dataset)
    assert record["start"] >= HOLDOUT and record["end"] == END
    holdout = pd.read_csv(real / "holdout.csv", index_col="date", parse_dates=["date"])
    assert holdout.index[0] >= pd.Timestamp(HOLDOUT)
    total = float((1 + holdout["strategy"]).prod() - 1)
    assert record["figures"]["strategy"]["total_return"] == pytest.approx(total, rel=1e-9)
    excess = holdout["strategy"] - holdout["cash"]
    assert record["figures"]["strategy"]["sharpe"] == pytest.approx(
        excess.mean() / excess.std() * np.sqrt(252), rel=1e-9)
    page = (real / "holdout.html").read_text()
    assert manifest["chosen_config_sha256"] in page and "in excess of" in page
    after = json.loads((real / "manifest.json").read_text())
    assert after["holdout"]["unsealed_at"] and after["chosen_config_sha256"] == \
        manifest["chosen_config_sha256"]

    with pytest.raises(DrainError, match="already unsealed"):
        unseal_run(real, dataset)
    monkeypatch.setenv("DRAIN_REPORTS_DIR", str(real.parent))
    code = main(["tune", "--unseal", real.name])
    err = capsys.readouterr().err
    assert code == 2 and "already unsealed" in err and err.count("\n") == 1
    assert reports_root() == real.parent


def test_the_holdout_notes_the_tickers_whose_data_ends_in_it(tmp_path):
    """A sealed run (its folder written by hand) whose holdout spans the crypto data's end
    (2025-12-31), chosen the default configuration, whose speculative basket holds BTC-USD:
    holdout.json and holdout.html name the stale sessions its held weights give."""
    from backtests.report.data_notes import data_notes
    from backtests.tune.holdout import evaluate_holdout
    from drain_core.tomlfile import write_toml
    from tests.runs_kit import check_ended_tickers

    chosen, start = RunConfig(), "2025-10-01"
    folder = tmp_path / "sealed"
    folder.mkdir()
    write_toml(chosen.to_dict(), folder / "best.toml")
    (folder / "manifest.json").write_text(json.dumps({
        "kind": "tune", "chosen_config_sha256": config_hash(chosen),
        "holdout": {"from": start, "sealed": True, "unsealed_at": None}}))
    dataset = load_dataset(end="2026-03-31")
    record = unseal_run(folder, dataset)
    saved = json.loads((folder / "holdout.json").read_text())
    assert saved["ended_tickers"] == record["ended_tickers"]
    result = evaluate_holdout(chosen, dataset, pd.Timestamp(start))
    assert record["ended_tickers"] == data_notes(result.prices, result.weights)["ended_tickers"]
    btc = next(r for r in record["ended_tickers"] if r["ticker"] == "BTC-USD")
    assert btc["last_price"] == "2025-12-31" and btc["stale_sessions"] > 0
    check_ended_tickers(record["ended_tickers"],
                        result.weights.set_axis(result.weights.index.strftime("%Y-%m-%d")))
    page = (folder / "holdout.html").read_text()
    assert "<h2>Data notes</h2>" in page
    assert all(note in page for note in saved["data_notes"])


def test_a_changed_best_toml_is_refused(sealed_runs, tmp_path):
    dataset, (_, altered) = sealed_runs
    best = altered / "best.toml"
    best.write_text(best.read_text().replace("lag = 1", "lag = 2"))
    with pytest.raises(DrainError, match="is not the configuration the tune chose"):
        unseal_run(altered, dataset)
    assert not (altered / "holdout.json").exists()
