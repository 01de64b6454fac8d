"""Write a backtest run to ``reports/<run-name>/`` and (re)build its reports from those files.

A run folder holds the raw outputs (``returns.csv``, ``equity.csv``, ``weights.csv``,
``signal.csv``, ``contributions.csv``), ``config.toml`` (rerun with ``drain backtest --config``),
``manifest.json`` (config, data fingerprint, package versions, git commit), and the reports built
from them alone: ``stats.json``, ``tearsheet.html`` (quantstats) and ``report.html`` (plotly).
``drain report <run-dir>`` rebuilds the reports from the raw outputs.
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

import numpy as np
import pandas as pd

from backtests.report.integrity import checked_manifest, file_checksums
from backtests.report.tearsheet import write_tearsheet
from backtests.run.pipeline import PipelineResult
from backtests.stats.performance import summary
from drain_core.errors import DrainError
from drain_core.fs import OWNER_FILE, claim, remove_stale_temp_dirs
from drain_core.tomlfile import write_toml

PACKAGES = ("liquidity-drain", "vectorbt", "quantstats", "pandas", "numpy", "numba", "yfinance",
            "exchange-calendars", "arch")
RAW_FILES = ("returns.csv", "equity.csv", "weights.csv", "signal.csv", "contributions.csv",
             "manifest.json")


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True, cwd=Path(__file__).resolve().parent, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, cwd=Path(__file__).resolve().parent,
                               timeout=5).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _versions() -> dict[str, str]:
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


def save_run(run: PipelineResult, run_dir: Path, *, name: str, argv: list[str],
             tearsheets: Executor | None = None) -> Path:
    """Write a run's raw outputs and manifest into ``run_dir``, then build its reports (the
    tearsheet by the ``tearsheets`` executor when given, else in this process)."""
    res = run.result
    returns = pd.DataFrame({"strategy": res.returns}).join(run.benchmarks)
    returns["turnover"] = res.turnover
    returns["costs"] = res.fees / res.equity.shift(1).fillna(run.config.backtest.init_cash)
    returns.to_csv(run_dir / "returns.csv", index_label="date")
    equity = (1.0 + returns[["strategy", *run.benchmarks.columns]]).cumprod()
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
        "git_commit": _git_commit(),
        "versions": _versions(),
        "config": run.config.to_dict(),
        "checksums": file_checksums(run_dir, [f for f in (*RAW_FILES, "config.toml")
                                             if f != "manifest.json"]),
    }
    (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    build_reports(run_dir, tearsheets)
    return run_dir


def _read(run_dir: Path, file: str) -> pd.DataFrame:
    return pd.read_csv(run_dir / file, index_col="date", parse_dates=["date"])


def run_stats(run_dir: Path) -> dict[str, dict[str, float]]:
    """Summary statistics of the strategy and each benchmark, from the run's files."""
    returns = _read(run_dir, "returns.csv")
    weights = _read(run_dir, "weights.csv")
    stats = {"strategy": summary(returns["strategy"], returns["turnover"], weights)}
    for bench in [c for c in returns.columns if c not in ("strategy", "turnover", "costs")]:
        stats[bench] = summary(returns[bench])
    return stats


def build_reports(run_dir: Path, tearsheets: Executor | None = None) -> Path:
    """(Re)build stats.json, tearsheet.html and report.html from a run folder's raw files
    (the tearsheet by the ``tearsheets`` executor when given, while this process builds the
    rest; else in this process)."""
    missing = [f for f in RAW_FILES if not (run_dir / f).is_file()]
    if missing:
        raise DrainError(f"{run_dir} is not a complete backtest run (missing {', '.join(missing)});"
                         f" rerun 'drain backtest'")
    manifest = checked_manifest(run_dir)  # damaged or changed files: a DrainError
    remove_stale_temp_dirs(run_dir, ".rebuild.")  # left by a rebuild that was killed
    staging = Path(tempfile.mkdtemp(prefix=".rebuild.", dir=run_dir))
    claim(staging)
    try:
        _build_into(run_dir, staging, manifest, tearsheets)
        for built in staging.iterdir():
            if built.name != OWNER_FILE:
                os.replace(built, run_dir / built.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return run_dir


def _build_into(run_dir: Path, out: Path, manifest: dict,
                tearsheets: Executor | None) -> None:
    returns = _read(run_dir, "returns.csv")
    tearsheet = (returns["strategy"], returns["SPY"], out / "tearsheet.html",
                 f"liquidity-drain: {manifest['name']} vs SPY")
    pending = tearsheets.submit(write_tearsheet, *tearsheet) if tearsheets is not None else None
    if pending is None:
        write_tearsheet(*tearsheet)
    stats = run_stats(run_dir)
    clean = {k: {m: (None if not np.isfinite(v) else v) for m, v in s.items()}
             for k, s in stats.items()}
    (out / "stats.json").write_text(json.dumps(clean, indent=2))
    from backtests.report.plots import run_figure

    figure = run_figure(
        equity=_read(run_dir, "equity.csv"),
        weights=_read(run_dir, "weights.csv"),
        signal=_read(run_dir, "signal.csv"),
        contributions=_read(run_dir, "contributions.csv"),
        title=f"{manifest['name']}: {manifest['start']} to {manifest['end']}",
    )
    figure.write_html(out / "report.html", include_plotlyjs=True, full_html=True)
    if pending is not None:
        pending.result()
