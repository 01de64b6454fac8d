"""`drain backtest` and `drain report` end to end, statistics cross-checks, and bad input."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from backtests.stats.performance import summary
from drain_cli.main import main
from tests.runs_kit import backtest_into, check_ended_tickers

START = "2025-06-02"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return backtest_into(tmp_path_factory.mktemp("reports"), "e2e", START)


def test_run_folder_holds_every_output(run_dir):
    for name in ("returns.csv", "equity.csv", "weights.csv", "signal.csv", "contributions.csv",
                 "manifest.json", "config.toml", "stats.json", "tearsheet.html", "report.html"):
        assert (run_dir / name).stat().st_size > 0, name
    assert (run_dir.parent / "index.html").read_text().count("<a href='e2e/report.html'>e2e<") == 1
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["start"] >= START and len(manifest["data_fingerprint"]) == 16
    assert manifest["versions"]["vectorbt"].startswith("1.2")
    assert not list(run_dir.parent.glob(".*"))  # no temp folder left behind


def test_stats_agree_with_quantstats_and_vectorbt(run_dir):
    import quantstats as qs
    import vectorbt as vbt

    returns = pd.read_csv(run_dir / "returns.csv", index_col="date", parse_dates=["date"])
    r = returns["strategy"]
    ours = summary(r)
    assert ours["sharpe"] == pytest.approx(qs.stats.sharpe(r, periods=252), rel=1e-9)
    assert ours["sortino"] == pytest.approx(qs.stats.sortino(r, periods=252), rel=1e-9)
    assert ours["cagr"] == pytest.approx(qs.stats.cagr(r, periods=252), rel=1e-9)
    assert ours["max_drawdown"] == pytest.approx(qs.stats.max_drawdown(r), rel=1e-9)
    acc = r.vbt.returns(freq="1D", year_freq="252 days")
    assert ours["sharpe"] == pytest.approx(acc.sharpe_ratio(), rel=1e-9)
    assert ours["cagr"] == pytest.approx(acc.annualized(), rel=1e-9)
    # The engine sets vectorbt's default to 252 days, so the two agree without being told.
    assert vbt.settings.returns["year_freq"] == "252 days"
    # The report's Sharpe and Sortino are of returns in excess of the cash return the engine
    # credited, which is saved beside them; quantstats agrees on the difference.
    stats = json.loads((run_dir / "stats.json").read_text())
    assert "13-week T-bill (IRX)" in stats["excess_of"]
    cash = returns["cash"]
    reported = stats["statistics"]["strategy"]
    assert reported["sharpe"] == pytest.approx(qs.stats.sharpe(r - cash, periods=252), rel=1e-9)
    assert reported["sortino"] == pytest.approx(qs.stats.sortino(r - cash, periods=252),
                                                rel=1e-9)
    assert reported["cagr"] == pytest.approx(ours["cagr"], rel=1e-12)  # total, not excess
    spy = returns["SPY"]
    assert stats["statistics"]["SPY"]["sharpe"] == pytest.approx(
        qs.stats.sharpe(spy - cash, periods=252), rel=1e-9)
    assert reported["information_ratio"] == pytest.approx(
        qs.stats.sharpe(r - spy, periods=252), rel=1e-9)
    # the cash column is the engine's own accrual: the strategy's equity over a flat stretch
    flat = (pd.read_csv(run_dir / "weights.csv", index_col="date").abs().sum(axis=1) == 0)
    flat_days = flat & flat.shift(1, fill_value=False)
    assert flat_days.sum() > 5
    np.testing.assert_allclose(r[flat_days.to_numpy()], cash[flat_days.to_numpy()], atol=1e-12)


def test_pages_share_plotly_name_the_rate_and_show_regimes_and_ended_tickers(run_dir):
    from drain_core.pages import plotly_file_name

    page = (run_dir / "report.html").read_text()
    assert f"src='../{plotly_file_name()}'" in page
    assert (run_dir.parent / plotly_file_name()).is_file()
    assert (run_dir / "report.html").stat().st_size < 1_500_000
    assert (run_dir / "tearsheet.html").stat().st_size < 1_500_000
    assert "in excess of the 13-week T-bill (IRX)" in page
    tearsheet = (run_dir / "tearsheet.html").read_text()
    assert "Benchmark: SPY" in tearsheet and 'onload="save()"' not in tearsheet
    assert "in excess of the 13-week T-bill (IRX)" in tearsheet
    stats = json.loads((run_dir / "stats.json").read_text())
    regimes = stats["regimes"]["strategy"]
    assert set(regimes) == {"abundant", "draining", "scarce"}
    shares = sum(r["share"] for r in regimes.values())
    assert 0.99 < shares <= 1.0  # the first session has no regime known before it
    for row in regimes.values():
        if row["sessions"] > 20:
            assert row["sharpe_low"] <= row["sharpe"] <= row["sharpe_high"]
    # BTC-USD and ETH-USD data end inside this window: the dates and weights are noted
    manifest = json.loads((run_dir / "manifest.json").read_text())
    ended = {r["ticker"]: r for r in manifest["ended_tickers"]}
    assert {"BTC-USD", "ETH-USD"} <= set(ended)
    weights = pd.read_csv(run_dir / "weights.csv", index_col="date")
    check_ended_tickers(manifest["ended_tickers"], weights)
    assert ended["BTC-USD"]["stale_sessions"] > 0  # held when its data ended
    for record, note in zip(manifest["ended_tickers"], manifest["data_notes"], strict=True):
        assert note.startswith(record["ticker"]) and f"{record['stale_sessions']} session" in note
    assert "BTC-USD: price data ends" in page and stats["data_notes"] == manifest["data_notes"]


def test_report_can_inline_plotly_for_one_mailable_file(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "mail" / "run"
    shutil.copytree(run_dir, copy)
    assert main(["report", str(copy), "--self-contained"]) == 0
    page = (copy / "report.html").read_text()
    assert "src='../plotly" not in page and len(page) > 4_000_000


def test_report_rebuilds_the_same_stats_and_tearsheet(run_dir):
    def undated(page: str) -> str:  # matplotlib stamps each SVG figure with the time
        return re.sub(r"<dc:date>[^<]*</dc:date>", "", page)

    before = (run_dir / "stats.json").read_text()
    tearsheet = (run_dir / "tearsheet.html").read_text()  # drawn in drain backtest's worker
    (run_dir / "stats.json").unlink()
    (run_dir / "tearsheet.html").unlink()
    assert main(["report", str(run_dir)]) == 0  # drawn in this process's figure workers
    assert (run_dir / "stats.json").read_text() == before
    assert undated((run_dir / "tearsheet.html").read_text()) == undated(tearsheet)


def test_rerun_from_saved_config_reproduces_the_numbers(run_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("DRAIN_REPORTS_DIR", str(tmp_path))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    code = main(["backtest", "--config", str(run_dir / "config.toml"), "--start",
                 manifest["start"], "--name", "again"])
    assert code == 0
    first = pd.read_csv(run_dir / "returns.csv", index_col="date")
    second = pd.read_csv(tmp_path / "again" / "returns.csv", index_col="date")
    np.testing.assert_allclose(second.to_numpy(), first.to_numpy(), rtol=0, atol=1e-12)


def _bad(capsys, tmp_path, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("drain: error:"), err
    reports = tmp_path / "reports"
    assert not reports.exists() or not any(reports.iterdir())
    return err


def test_bad_input_is_one_line_exit_2_nothing_written(capsys, tmp_path):
    bad_basket = tmp_path / "basket.toml"
    bad_basket.write_text('[strategy.baskets]\ncash_flow = ["MU", "NVDAA"]\n')
    assert "did you mean 'NVDA'" in _bad(capsys, tmp_path, ["backtest", "--config",
                                                            str(bad_basket)])
    assert "variant" in _bad(capsys, tmp_path, ["backtest", "--strategy", "momentum"])
    bad_key = tmp_path / "key.toml"
    bad_key.write_text("[strategy]\nleg_sise = 0.5\n")
    assert "strategy.leg_sise" in _bad(capsys, tmp_path, ["backtest", "--config", str(bad_key)])
    lag0 = tmp_path / "lag.toml"
    lag0.write_text("[backtest]\nlag = 0\n")
    assert "lag" in _bad(capsys, tmp_path, ["backtest", "--config", str(lag0)])
    assert "in the future" in _bad(capsys, tmp_path, ["backtest", "--start", "2031-01-01"])
    assert "no price data between" in _bad(capsys, tmp_path, ["backtest", "--end", "2001-01-01"])
    assert "not a date" in _bad(capsys, tmp_path, ["backtest", "--start", "last year"])
    broken = tmp_path / "broken.toml"
    broken.write_text("[strategy\n")
    assert "not valid TOML" in _bad(capsys, tmp_path, ["backtest", "--config", str(broken)])
    assert "does not exist" in _bad(capsys, tmp_path, ["backtest", "--config",
                                                       str(tmp_path / "nope.toml")])
    rate = tmp_path / "rate.toml"
    rate.write_text("[backtest]\ncash_rate_ticker = 'TBILL'\n")
    assert "cash_rate_ticker" in _bad(capsys, tmp_path, ["backtest", "--config", str(rate)])
    assert "not a complete backtest run" in _bad(capsys, tmp_path, ["report", str(tmp_path)])


def test_index_lists_runs_of_every_kind_newest_first(tmp_path):
    import time

    from backtests.report.runs_index import update_index

    manifest = json.dumps({"start": "2020-01-02", "end": "2021-06-30",
                           "created_at": "2026-01-02T10:00:00+00:00",
                           "config": {"strategy": {"variant": "long_only_tilt"}}})
    for folder, files in {
        "bt": {"report.html": "", "tearsheet.html": "", "manifest.json": manifest,
               "stats.json": '{"statistics": {"strategy": {"cagr": 0.1, "sharpe": 1.5, '
                             '"max_drawdown": -0.2}}}'},
        "tn": {"overfitting.html": "", "heatmaps/leg_size.html": "", "stability.html": "",
               "summary.json": '{"n_trials": 12, "oos_sharpe": 0.5, "dsr": 0.3, "pbo": 0.25}'},
        "th": {"index.html": "", "thesis.json": '{"meta": {"start": "2015-01-02", "end": '
               '"2025-12-31"}, "claims": [{"verdict": "mixed"}, {"verdict": "mixed"}]}'},
        "sg": {"signal.html": "", "signal.png": ""},
        "pl": {"placebo.html": "", "placebo.json": '{"table": [{"family": "shift", '
               '"statistic": "sharpe", "p_value": 0.12}, {"family": "shift", '
               '"statistic": "cagr", "p_value": 0.5}]}'},
        "broken": {"report.html": "", "stats.json": "{not json"},
        ".tmp-run": {"report.html": "", "stats.json": "{}"},
        "junk": {"notes.txt": ""},
    }.items():
        for name, text in files.items():
            (tmp_path / folder / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / folder / name).write_text(text)
        time.sleep(0.01)  # mtimes in creation order for the folders without a manifest
    page = update_index(tmp_path).read_text()
    assert "CAGR 10.0%, Sharpe 1.50, max drawdown -20.0%" in page
    assert "12 trials, OOS Sharpe 0.50, DSR 0.30, PBO 25.0%" in page
    assert "2020-01-02 to 2021-06-30" in page and "long_only_tilt" in page
    assert "2015-01-02 to 2025-12-31" in page and "2 mixed" in page
    assert "shift: Sharpe p 0.12" in page and "p 0.50" not in page
    for link in ("bt/report.html", "bt/tearsheet.html", "tn/overfitting.html",
                 "tn/heatmaps/leg_size.html", "tn/stability.html", "th/index.html",
                 "sg/signal.html", "pl/placebo.html"):
        assert f"href='{link}'" in page
    assert ".tmp-run" not in page and "junk" not in page
    assert "broken: skipped, it cannot be read (JSONDecodeError" in page
    order = [page.index(f"href='{run}/") for run in ("pl", "sg", "th", "tn", "bt")]
    assert order == sorted(order)  # newest first; bt's manifest says 2026-01-02
