"""Write a backtest run to ``reports/<run-name>/`` and (re)build its reports from those files.

A run folder holds the raw outputs (``returns.csv`` with the cash return credited each
session, ``equity.csv``, ``weights.csv``, ``signal.csv``, ``contributions.csv``, ``baskets.csv``),
``config.toml`` (rerun with ``drain backtest --config``), ``manifest.json`` (config, data
fingerprint, data notes, package versions, git commit), and the reports built from them alone:
``stats.json``, ``tearsheet.html`` (quantstats) and ``report.html`` (plotly).
``drain report <run-dir>`` rebuilds the reports from the raw outputs.

Sharpe, Sortino and the information ratio are of returns in excess of the cash return the
engine credited (``cash`` in ``returns.csv``); total return and CAGR are total. Every page and
``stats.json`` name the rate subtracted.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import tempfile
from concurrent.futures import Executor
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from backtests.report.data_notes import data_notes, no_notes
from backtests.report.integrity import checked_manifest, file_checksums, read_run_csv
from backtests.report.runs_index import update_index
from backtests.report.tearsheet import write_tearsheet
from backtests.stats.performance import excess, summary
from backtests.stats.regimes import REPS, regime_at_previous_close, regime_tables
from drain_core.errors import DrainError
from drain_core.fs import OWNER_FILE, claim, remove_stale_temp_dirs
from drain_core.paths import atomic_run_dir, reports_root
from drain_core.tomlfile import write_toml

if TYPE_CHECKING:
    from backtests.run.pipeline import PipelineResult

PACKAGES = ("liquidity-drain", "vectorbt", "quantstats", "pandas", "numpy", "numba", "yfinance",
            "exchange-calendars", "arch")
NOT_SERIES = ("turnover", "costs", "cash")  # columns of returns.csv that are not a return series
BENCHMARK = "SPY"  # the information ratio's benchmark and the tearsheet's
RAW_FILES = ("returns.csv", "equity.csv", "weights.csv", "signal.csv", "contributions.csv",
             "manifest.json")


def git_commit_of_checkout() -> str | None:
    """The commit this code runs from (``-dirty`` if changed), or None outside a checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True, cwd=Path(__file__).resolve().parent, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, cwd=Path(__file__).resolve().parent,
                               timeout=5).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def package_versions() -> dict[str, str]:
    """Python's and each recorded package's version, for a run's manifest."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def basket_contributions(run: PipelineResult) -> pd.DataFrame:
    """Daily return contribution of each basket: weights held at the previous close x returns.

    Gross of costs and cash interest; the difference to the strategy's return is shown as
    ``costs_and_cash``.
    """
    held = run.result.weights.shift(1).fillna(0.0)
    contrib = held * run.asset_returns[held.columns].fillna(0.0)
    strategy = run.config.strategy
    groups = {
        strategy.long_basket: strategy.baskets[strategy.long_basket],
        strategy.short_basket: strategy.baskets[strategy.short_basket],
    }
    out = {}
    assigned: set[str] = set()
    for name, members in groups.items():
        cols = [c for c in members if c in contrib.columns and c not in assigned]
        assigned.update(cols)
        out[name] = contrib[cols].sum(axis=1)
    rest = [c for c in contrib.columns if c not in assigned]
    out["hedge_and_other"] = contrib[rest].sum(axis=1)
    frame = pd.DataFrame(out)
    frame["costs_and_cash"] = run.result.returns - frame.sum(axis=1)
    return frame


def basket_returns(run: PipelineResult) -> pd.DataFrame:
    """Equal-weight daily return of each basket over its members priced that day, and the
    speculative-minus-cash-flow spread (short basket minus long basket) the thesis is about."""
    strategy = run.config.strategy
    out = {}
    for name in (strategy.long_basket, strategy.short_basket):
        members = [c for c in strategy.baskets[name] if c in run.asset_returns.columns]
        out[name] = run.asset_returns[members].mean(axis=1).fillna(0.0)
    frame = pd.DataFrame(out)
    frame[spread_name(strategy.short_basket, strategy.long_basket)] = (
        frame[strategy.short_basket] - frame[strategy.long_basket])
    return frame


def spread_name(short: str, long: str) -> str:
    """Column name of the basket spread in ``baskets.csv``."""
    return f"{short}_minus_{long}"


def cash_label(ticker: str) -> str:
    """How a page names the cash rate subtracted."""
    name = "the 13-week T-bill" if ticker == "IRX" else ticker
    return (f"{name} ({ticker}) rate known at the previous close, accrued ACT/360 as the "
            f"backtest credits cash")


def save_run(run: PipelineResult, run_dir: Path, *, name: str, argv: list[str],
             tearsheets: Executor | None = None, self_contained: bool = False) -> Path:
    """Write a run's raw outputs and manifest into ``run_dir``, then build its reports (the
    tearsheet by the ``tearsheets`` executor when given, else in this process)."""
    res = run.result
    returns = pd.DataFrame({"strategy": res.returns}).join(run.benchmarks)
    returns["turnover"] = res.turnover
    returns["costs"] = res.fees / res.equity.shift(1).fillna(run.config.backtest.init_cash)
    if run.cash_returns is not None:
        returns["cash"] = run.cash_returns.reindex(returns.index)
    returns.to_csv(run_dir / "returns.csv", index_label="date")
    equity = (1.0 + returns[["strategy", *run.benchmarks.columns]]).cumprod()
    basket_returns(run).to_csv(run_dir / "baskets.csv", index_label="date")
    equity.to_csv(run_dir / "equity.csv", index_label="date")
    res.weights.to_csv(run_dir / "weights.csv", index_label="date")
    signal = pd.DataFrame({
        "composite": run.signal.composite,
        "composite_ungated": run.signal.composite_ungated,
        "regime": run.signal.regime,
    }).reindex(res.returns.index)
    signal.to_csv(run_dir / "signal.csv", index_label="date")
    basket_contributions(run).to_csv(run_dir / "contributions.csv", index_label="date")
    write_toml(run.config.to_dict(), run_dir / "config.toml")
    manifest = {
        "name": name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": ["drain", *argv],
        "start": str(res.returns.index[0].date()),
        "end": str(res.returns.index[-1].date()),
        "data_fingerprint": run.data_fingerprint,
        "cash_rate": cash_label(run.config.backtest.cash_rate_ticker),
        **(data_notes(run.prices, res.weights) if run.prices is not None
           else no_notes()),
        "git_commit": git_commit_of_checkout(),
        "versions": package_versions(),
        "config": run.config.to_dict(),
        "checksums": file_checksums(run_dir, [*sorted(p.name for p in run_dir.glob("*.csv")),
                                              "config.toml"]),  # every CSV the run wrote
    }
    (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    build_reports(run_dir, tearsheets, self_contained=self_contained)
    return run_dir


def save_backtest_run(run: PipelineResult, name: str, *, argv: list[str],
                      tearsheets: Executor | None = None,
                      self_contained: bool = False) -> tuple[Path, dict[str, dict[str, float]]]:
    """Write ``reports/<name>/`` atomically (``save_run``), refresh the runs index, and return
    the folder and its statistics (``run_stats``, read back from the saved files)."""
    with atomic_run_dir(name) as tmp:
        save_run(run, tmp, name=name, argv=argv, tearsheets=tearsheets,
                 self_contained=self_contained)
        stats = run_stats(tmp)
    update_index(reports_root())
    return reports_root() / name, stats


def run_stats(run_dir: Path) -> dict[str, dict[str, float]]:
    """Summary statistics of the strategy and each benchmark, from the run's files: Sharpe,
    Sortino and the information ratio (against SPY) of returns in excess of the cash return."""
    returns = read_run_csv(run_dir, "returns.csv")
    weights = read_run_csv(run_dir, "weights.csv")
    cash = returns.get("cash", None)
    bench = returns.get(BENCHMARK, None)
    stats = {"strategy": summary(returns["strategy"], returns["turnover"], weights,
                                 cash_returns=cash, benchmark=bench)}
    for name in [c for c in returns.columns if c not in ("strategy", *NOT_SERIES)]:
        stats[name] = summary(returns[name], cash_returns=cash,
                              benchmark=bench if name != BENCHMARK else None)
    return stats


def regime_stats(run_dir: Path, *, reps: int = REPS) -> dict[str, pd.DataFrame]:
    """Per-regime performance of the strategy and each benchmark (regime known at the previous
    close), with stationary block-bootstrap intervals (``backtests.stats.regimes``)."""
    returns = read_run_csv(run_dir, "returns.csv")
    regime = regime_at_previous_close(read_run_csv(run_dir, "signal.csv")["regime"])
    cash = returns["cash"].fillna(0.0) if "cash" in returns else 0.0 * returns["strategy"]
    series = [name for name in returns.columns if name not in NOT_SERIES]
    return regime_tables(excess(returns[series].fillna(0.0), cash), regime, reps=reps)


def stats_document(run_dir: Path, manifest: dict, *, reps: int = REPS) -> dict:
    """What ``stats.json`` holds: the window, the rate subtracted, headline statistics, the
    per-regime tables and the data notes (non-finite numbers as null)."""
    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, float | np.floating):
            return float(value) if np.isfinite(value) else None
        return value

    returns = read_run_csv(run_dir, "returns.csv")
    regimes = regime_stats(run_dir, reps=reps)
    return clean({
        "window": {"start": manifest["start"], "end": manifest["end"],
                   "sessions": len(returns)},
        "excess_of": excess_label(manifest, returns),
        "statistics": run_stats(run_dir),
        "regimes": {name: table.to_dict(orient="index") for name, table in regimes.items()},
        "regime_note": (f"regime known at the previous close; intervals: 90% stationary "
                        f"block bootstrap, mean block 21 sessions, {reps} draws, seed 0"),
        "data_notes": manifest.get("data_notes", []),
    })


def excess_label(manifest: dict, returns: pd.DataFrame) -> str:
    """The cash rate the run's risk-adjusted statistics subtract, in words."""
    if "cash" not in returns:
        return "nothing: this run predates saved cash returns (rerun 'drain backtest')"
    return manifest.get("cash_rate") or cash_label("IRX")


def build_reports(run_dir: Path, tearsheets: Executor | None = None, *,
                  self_contained: bool = False) -> Path:
    """(Re)build stats.json, tearsheet.html and report.html from a run folder's raw files
    (the tearsheet by the ``tearsheets`` executor when given, while this process builds the
    rest; else in this process). ``report.html`` loads plotly.js from the reports folder unless
    ``self_contained``."""
    missing = [f for f in RAW_FILES if not (run_dir / f).is_file()]
    if missing:
        raise DrainError(f"{run_dir} is not a complete backtest run (missing {', '.join(missing)});"
                         f" rerun 'drain backtest'")
    manifest = checked_manifest(run_dir)  # damaged or changed files: a DrainError
    remove_stale_temp_dirs(run_dir, ".rebuild.")  # left by a rebuild that was killed
    staging = Path(tempfile.mkdtemp(prefix=".rebuild.", dir=run_dir))
    claim(staging)
    try:
        _build_into(run_dir, staging, manifest, tearsheets, self_contained)
        for built in staging.iterdir():
            if built.name != OWNER_FILE:
                os.replace(built, run_dir / built.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return run_dir


def _build_into(run_dir: Path, out: Path, manifest: dict, tearsheets: Executor | None,
                self_contained: bool) -> None:
    returns = read_run_csv(run_dir, "returns.csv")
    weights = read_run_csv(run_dir, "weights.csv")
    label = excess_label(manifest, returns)
    tearsheet = (returns["strategy"], returns[BENCHMARK], out / "tearsheet.html",
                 f"liquidity-drain: {manifest['name']} vs {BENCHMARK}")
    options = {"cash_returns": returns.get("cash", None),
               "exposure": weights.abs().sum(axis=1), "benchmark_name": BENCHMARK,
               "cash_label": label}
    pending = (tearsheets.submit(write_tearsheet, *tearsheet, **options)
               if tearsheets is not None else None)
    if pending is None:
        write_tearsheet(*tearsheet, **options)
    document = stats_document(run_dir, manifest)
    (out / "stats.json").write_text(json.dumps(document, indent=2))
    from backtests.report.plots import write_run_page

    write_run_page(run_dir, out / "report.html", manifest=manifest, document=document,
                   self_contained=self_contained)
    if pending is not None:
        pending.result()
