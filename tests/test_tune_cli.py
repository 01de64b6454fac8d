"""``drain tune`` end to end on a tiny grid, and its one-line errors."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from backtests.sim.accrual import daily_rates
from backtests.sim.config import BacktestConfig
from backtests.sim.engine import run_backtest
from backtests.sim.fastsim import series_metrics
from backtests.stats import performance
from drain_cli.main import main
from drain_core.paths import reports_root
from drain_data import load_dataset
from signals import SignalConfig, compute_signal
from strategies import StrategyConfig, build_targets

START, END = "2019-01-02", "2021-12-31"
TINY = """
[strategy]
weighting = "equal"

[tune]
chunk_size = 3
bootstrap_reps = 200

[tune.walkforward]
train = 250
test = 126

[tune.grid.signal]
gate = ["none", "step"]
hysteresis = [0.05, 0.15]

[tune.grid.strategy]
variant = ["regime_long_short", "long_only_tilt"]
rebalance = ["weekly"]
"""


def _config(tmp_path, text: str):
    path = tmp_path / "tune.toml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(("grid", "message"), [
    ("[tune.grid.strategy]\nvariant = []\n", "'strategy.variant' has an empty list"),
    ("[tune.grid.strategy]\nvariants = ['beta_hedged']\n", "unknown grid parameter "
                                                          "'strategy.variants'"),
    ("[tune]\ncap = 10\n[tune.grid.strategy]\nvol_lookback = [10, 20, 30, 40]\n"
     "leg_size = [0.1, 0.2, 0.3]\n", "12 combinations, more than the cap of 10"),
    ("[tune.grid]\n", "no default grid"),
    ("[tune.grid.backtest]\nlag = [1, 0]\n", "grid parameter 'backtest.lag' = 0: backtest.lag "
                                             "must be a whole number >= 1"),
    ("[tune.grid.signal]\nz_window = [504, 5000]\n", "grid parameter 'signal.z_window' = 5000 "
                                                     "is too long for the data"),
    ("[tune.grid.strategy]\nleg_size = [0.5, nan]\n", "'strategy.leg_size' = nan is not a "
                                                      "finite number"),
])
def test_bad_grids_exit_2_in_one_line_and_write_nothing(tmp_path, capsys, grid, message):
    code = main(["tune", "--config", _config(tmp_path, grid), "--name", "bad", "--start", START,
                 "--end", END, "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and err.startswith("drain: error: ")
    assert not reports_root().exists() or not any(reports_root().iterdir())


@pytest.mark.parametrize(("option", "message"), [
    (["--start", "2019-13-01"], "--start: '2019-13-01' is not a date"),
    (["--name", "a/b"], "--name: 'a/b' is not a plain folder name"),
    (["--sample", "0"], "the sample size must be at least 1"),
    (["--sample", "3000000"], "a sample of 3,000,000 is above the cap of 2,000,000"),
])
def test_bad_options_exit_2_in_one_line(tmp_path, capsys, option, message):
    code = main(["tune", "--config", _config(tmp_path, TINY), "--no-progress", *option])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1
    assert not reports_root().exists() or not any(reports_root().iterdir())


def test_unknown_grid_name(tmp_path, capsys):
    code = main(["tune", "--grid", "nope", "--name", "bad", "--no-progress"])
    assert code == 2
    assert "unknown grid 'nope'" in capsys.readouterr().err


def test_tune_writes_the_run_and_best_toml_reproduces_it(tmp_path, capsys):
    code = main(["tune", "--config", _config(tmp_path, TINY), "--name", "tiny", "--start", START,
                 "--end", END, "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    assert "verdict: " in out and "DSR: " in out
    run = reports_root() / "tiny"
    for name in ("results.parquet", "walkforward.parquet", "oos_returns.parquet",
                 "heatmaps.html", "stability.html", "overfitting.html", "oos_tearsheet.html",
                 "best.toml", "summary.json", "sweep/chunk-00000.parquet",
                 "sweep/chunk-00002.parquet"):
        assert (run / name).exists(), name
    assert not [p for p in reports_root().iterdir() if p.name.startswith(".")]  # no leftovers
    results = pd.read_parquet(run / "results.parquet")
    assert len(results) == 8
    assert {"signal.gate", "strategy.variant", "total_return", "cagr", "sharpe",
            "max_drawdown", "turnover"} <= set(results.columns)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["n_trials"] == 8
    assert summary["verdict"] in out
    for key in ("dsr", "pbo", "oos_sharpe", "spa_pvalue"):
        assert math.isfinite(summary[key]), key
    walk = pd.read_parquet(run / "walkforward.parquet")
    assert {"is_sharpe", "oos_sharpe", "strategy.variant", "label"} <= set(walk.columns)
    page = (run / "overfitting.html").read_text()
    for label in walk["label"]:  # each choice named by its parameters, in the splits table
        assert f"<td>{label}</td>" in page and ("variant=" in label or "gate=" in label)
    assert "in excess of the 13-week T-bill rate (IRX)" in page
    assert "e-0" not in page.split("<h2>Walk-forward splits")[1].split("Notes:")[0]
    assert (run / "best_tearsheet.html").exists()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["kind"] == "tune" and manifest["holdout"] is None
    assert len(manifest["chosen_config_sha256"]) == 64
    capsys.readouterr()
    assert main(["tune", "--unseal", "tiny"]) == 2  # nothing was sealed: nothing to unseal
    err = capsys.readouterr().err
    assert "tiny has no sealed holdout" in err and err.count("\n") == 1
    assert main(["tune", "--unseal", "nope"]) == 2
    assert "not a tune run folder" in capsys.readouterr().err

    # best.toml through the `drain backtest` pipeline gives the sweep's numbers
    best = run / "best.toml"
    signal = SignalConfig.from_toml(best)
    strategy = StrategyConfig.from_toml(best)
    backtest = BacktestConfig.from_toml(best)
    dataset = load_dataset(end=END)
    window = dataset.prices.loc[START:]
    result = compute_signal(dataset, signal)
    targets = build_targets(window, result.composite, result.regime, strategy)
    again = run_backtest(targets.orders, window, window["IRX"], backtest)
    metrics = series_metrics(again.returns, cash_returns=daily_rates(window["IRX"], window.index))
    row = results.iloc[summary["best_index"]]
    assert row["excess_sharpe"] == results["excess_sharpe"].max()  # ranked by excess Sharpe
    assert abs(metrics["total_return"] - row["total_return"]) < 1e-6
    cash = daily_rates(window["IRX"], window.index)
    assert abs(performance.sharpe((again.returns - cash).to_numpy()) - row["excess_sharpe"]) \
        < 1e-6
    assert abs(summary["is_sharpe"] - row["excess_sharpe"]) < 1e-6
    assert summary["cash_rate"]["ticker"] == "IRX"
    assert strategy.variant == row["strategy.variant"] and signal.gate == row["signal.gate"]
    assert signal.hysteresis == row["signal.hysteresis"]


def test_a_large_tune_says_how_many_returns_it_kept(tmp_path, capsys):
    """Above [tune] keep_returns the run keeps every trial's metrics but fewer return series,
    and the summary line, summary.json and the overfitting page say how many of each."""
    text = TINY.replace("bootstrap_reps = 200", "bootstrap_reps = 200\nkeep_returns = 4\n"
                        "keep_per_window = 1\nspa_max_models = 2\npbo_max_configs = 3\n"
                        "pbo_blocks = 4")
    code = main(["tune", "--config", _config(tmp_path, text), "--name", "kept", "--start",
                 START, "--end", END, "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    run = reports_root() / "kept"
    summary = json.loads((run / "summary.json").read_text())
    kept = summary["returns_kept"]
    assert summary["n_trials"] == 8 and summary["dsr_n_trials"] == 8
    assert 3 <= kept < 8  # at least PBO's sample of 3, fewer than every trial
    assert f"daily returns kept for {kept:,})" in out.splitlines()[0]
    assert f"8 trials were run; the daily returns of {kept} of them were kept" in \
        summary["notes"]
    assert len(pd.read_parquet(run / "results.parquet")) == 8  # every trial's metrics
    page = (run / "overfitting.html").read_text()
    assert "Daily-return series kept" in page


def test_drain_tune_leaves_vectorbt_to_its_sidecar(tmp_path):
    """``drain tune``'s own process never imports vectorbt (about 2 s): its sidecar process
    imports it while the sweep runs and does the reference re-runs; the run still completes."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    config = tmp_path / "tune.toml"
    config.write_text(TINY)
    code = ("import sys\nfrom drain_cli.main import main\n"
            f"code = main(['tune', '--config', {str(config)!r}, '--name', 'v', '--start', "
            f"{START!r}, '--end', {END!r}, '--no-progress'])\n"
            "print('exit', code, 'vectorbt imported:', 'vectorbt' in sys.modules)\n")
    env = {**os.environ, "DRAIN_REPORTS_DIR": str(tmp_path / "reports"),
           "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1],
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert "exit 0 vectorbt imported: False" in done.stdout, done.stderr[-2000:]
    assert (tmp_path / "reports" / "v" / "best_tearsheet.html").is_file()
