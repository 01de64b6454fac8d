"""Write a tune run to ``reports/<name>/`` atomically, and unseal its holdout once.

A tune run folder holds ``results.parquet`` (one row per trial), ``walkforward.parquet``,
``oos_returns.parquet``, ``signal_information.csv`` (each distinct composite's out-of-sample
rank IC with the forward spread), the pages (``overfitting.html``, ``heatmaps.html``,
``stability.html``, ``oos_tearsheet.html``, ``best_tearsheet.html``), ``best.toml`` (rerun
with ``drain backtest --config``), ``summary.json`` (the figures), ``manifest.json`` (inputs,
data fingerprint, versions, the chosen configuration's SHA-256) and ``sweep/`` (the resumable
chunks). With a sealed holdout, ``unseal_run`` adds ``holdout.json``, ``holdout.csv`` and
``holdout.html`` and records the time of the look in the manifest; a second look is refused.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.report.data_notes import data_notes
from backtests.report.run_folder import git_commit_of_checkout, package_versions
from backtests.report.runs_index import update_index
from backtests.report.tune_pages import (
    cash_sentence,
    write_heatmaps,
    write_holdout_page,
    write_overfitting_panel,
    write_stability,
)
from backtests.report.tune_tearsheets import DraftTearsheets, write_tune_tearsheets
from backtests.run.config import RunConfig
from backtests.tune.analysis import CASH_DESCRIPTION
from backtests.tune.holdout import config_hash, evaluate_holdout
from backtests.tune.progress import Progress
from backtests.tune.sweep import copy_chunks
from backtests.tune.tuning import TuneRun
from drain_core.errors import DrainError
from drain_core.paths import atomic_run_dir, reports_root
from drain_core.tomlfile import read_toml, write_toml

SELECTION_COLUMN = "excess_sharpe"  # the results column trials are ranked by


def sweep_dirs(name: str) -> tuple[Path, Path]:
    """(staging folder for the sweep's chunks, the chunks of an earlier run called ``name``)."""
    root = reports_root()
    return root / f".{name}.sweep", root / name / "sweep"


def summary(run: TuneRun, name: str, argv: list[str]) -> dict[str, Any]:
    """The figures of ``summary.json``: the analysis and how the run was made."""
    sweep = run.sweep
    return {
        **run.analysis.to_dict(),
        "grid": run.grid_name, "name": name, "argv": list(argv),
        "start": str(run.start.date()), "end": str(run.end.date()),
        "holdout_from": run.tune.holdout_from,
        "seconds_sweep": round(run.seconds_sweep, 2),
        "seconds_total": round(run.seconds_total, 2),
        "chunks_run": sweep.chunks_run, "chunks_reused": sweep.chunks_reused,
        "signal_configs": sweep.n_signals, "signal_computations": sweep.n_composites,
        "data_fingerprint": run.data_fingerprint,
        "chosen_config_sha256": run.chosen_hash,
        "dsr_earlier_runs": list(run.earlier.runs),
    }


def save_tune_run(run: TuneRun, name: str, *, argv: list[str], chunk_dir: Path | None = None,
                  progress: Progress | None = None,
                  drafts: DraftTearsheets | None = None) -> Path:
    """Write every file of the run into ``reports/<name>/`` (all or nothing), move the sweep's
    chunks from ``chunk_dir`` into it, update ``reports/index.html``; return the folder.

    ``drafts``: tearsheets already being drawn by another process (moved in when done); without
    them the tearsheets are drawn here."""
    progress = progress or Progress()
    stats = summary(run, name, argv)
    with progress.stage("reports", 8) as advance, atomic_run_dir(name) as folder:
        _write_files(folder, run, stats, argv, advance, drafts)
        if chunk_dir is not None:
            copy_chunks(chunk_dir, folder / "sweep")
    if chunk_dir is not None:
        shutil.rmtree(chunk_dir, ignore_errors=True)
    update_index(reports_root())
    return reports_root() / name


def results_table(run: TuneRun) -> pd.DataFrame:
    """The sweep's table with each trial's excess Sharpe (the selection metric) added."""
    return run.sweep.table.assign(**{SELECTION_COLUMN: run.analysis.excess_sharpes})


def information_table(run: TuneRun) -> pd.DataFrame:
    """Each distinct composite's rank IC with the forward spread, best out-of-sample first."""
    return run.analysis.information.table.sort_values("oos_ic", ascending=False,
                                                      kind="stable", na_position="last")


def walkforward_table(run: TuneRun) -> pd.DataFrame:
    """The walk-forward splits with each choice's parameters and its label."""
    table = run.sweep.table
    splits = run.analysis.walk_forward.result.splits.copy()
    rows = splits["chosen"].to_numpy()
    for param in run.selection.grid.varying():
        splits[param] = table[param].iloc[rows].to_numpy()
    splits["combo"] = table["combo"].iloc[rows].to_numpy()
    splits["label"] = list(run.analysis.walk_forward.labels)
    return splits


def _write_files(folder: Path, run: TuneRun, stats: dict[str, Any], argv: list[str],
                 advance, drafts: DraftTearsheets | None) -> None:
    analysis = run.analysis
    table = results_table(run)
    table.to_parquet(folder / "results.parquet", index=False)
    splits = walkforward_table(run)
    splits.to_parquet(folder / "walkforward.parquet", index=False)
    oos = analysis.walk_forward.oos_returns
    pd.DataFrame({"oos": oos, "oos_fast": analysis.walk_forward.result.oos_returns,
                  "SPY": analysis.spy_returns.reindex(oos.index)}).to_parquet(
        folder / "oos_returns.parquet")
    information = information_table(run)
    information.to_csv(folder / "signal_information.csv", index=False)
    advance()
    _write_best_toml(folder / "best.toml", run, stats)
    (folder / "summary.json").write_text(json.dumps(_clean(stats), indent=2))
    (folder / "manifest.json").write_text(json.dumps(_manifest(run, stats, argv), indent=2,
                                                     default=str))
    advance()
    varying = run.selection.grid.varying() or list(run.selection.grid.params)
    note = cash_sentence(stats)
    write_heatmaps(table, varying, folder / "heatmaps.html", metric=SELECTION_COLUMN, note=note)
    advance()
    write_stability(table, splits, varying, folder / "stability.html", metric=SELECTION_COLUMN,
                    note=note)
    advance()
    logits = analysis.pbo.logits if analysis.pbo is not None else np.array([])
    write_overfitting_panel(stats, splits, logits, folder / "overfitting.html",
                            information=information)
    advance()
    if drafts is not None and drafts.sent:
        drafts.move_into(folder, advance)
    else:
        write_tune_tearsheets(analysis.pages(), folder, advance)


def _write_best_toml(path: Path, run: TuneRun, stats: dict[str, Any]) -> None:
    """``best.toml``: the chosen configuration, with a header saying where it came from."""
    write_toml(run.chosen.to_dict(), path)
    vbt = stats["best_vectorbt"]
    rule = ("full-sample excess Sharpe among the trials of the composite with the best "
            "full-sample rank IC" if stats["select_by"] == "information"
            else "full-sample excess Sharpe")
    header = [
        f"drain tune: best of {stats['n_trials']:,} trials by {rule} "
        f"(grid {stats['grid']!r}, {stats['start']} to {stats['end']})",
        stats["best_label"],
        f"vectorbt re-run: total return {vbt['total_return']:.6f}, excess Sharpe "
        f"{vbt['sharpe']:.6f}",
        f"Overfitting: {stats['verdict']}",
        f"SHA-256 of this configuration: {run.chosen_hash}",
        "Run it: drain backtest --config best.toml",
    ]
    text = "".join(f"# {line}\n" for line in header) + "\n" + path.read_text()
    path.write_text(text)


def _manifest(run: TuneRun, stats: dict[str, Any], argv: list[str]) -> dict[str, Any]:
    return {
        "name": stats["name"],
        "kind": "tune",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": ["drain", *argv],
        "start": stats["start"],
        "end": stats["end"],
        "data_fingerprint": run.data_fingerprint,
        "git_commit": git_commit_of_checkout(),
        "versions": package_versions(),
        "config": run.config.to_dict(),
        "tune": run.tune.to_dict(),
        "grid": run.grid_name,
        "n_trials": run.selection.n_trials,  # what a later tune of the same data counts
        "chosen_config": run.chosen.to_dict(),
        "chosen_config_sha256": run.chosen_hash,
        "holdout": ({"from": run.tune.holdout_from, "sealed": True, "unsealed_at": None}
                    if run.sealed else None),
    }


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities as null, NumPy scalars and arrays as Python values."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------------------------
# Unsealing the holdout
# --------------------------------------------------------------------------------------------


def unseal_run(run_dir: Path, dataset) -> dict[str, Any]:
    """Evaluate a sealed tune run's chosen configuration on its holdout, once.

    Checks that the run was sealed, was never unsealed and that ``best.toml`` still has the
    SHA-256 recorded when the tune finished; then writes ``holdout.json`` and ``holdout.csv``
    and records the result and the time in ``manifest.json``. Returns the holdout record.
    """
    manifest_path = run_dir / "manifest.json"
    if not manifest_path.is_file():
        raise DrainError(f"{run_dir} is not a tune run folder (no manifest.json); pass the "
                         f"folder 'drain tune' wrote")
    manifest = json.loads(manifest_path.read_text())
    holdout = manifest.get("holdout")
    if manifest.get("kind") != "tune" or not holdout:
        raise DrainError(f"{run_dir.name} has no sealed holdout; set [tune] holdout_from and "
                         f"run 'drain tune' again")
    if holdout.get("unsealed_at") or (run_dir / "holdout.json").exists():
        raise DrainError(f"{run_dir.name}'s holdout was already unsealed at "
                         f"{holdout.get('unsealed_at')}; a new look needs a new tune run "
                         f"(one more trial)")
    chosen = RunConfig.from_dict(read_toml(run_dir / "best.toml"))
    digest = config_hash(chosen)
    if digest != manifest["chosen_config_sha256"]:
        raise DrainError(f"{run_dir.name}/best.toml is not the configuration the tune chose "
                         f"(SHA-256 {digest[:12]} != {manifest['chosen_config_sha256'][:12]}); "
                         f"restore it")
    start = pd.Timestamp(holdout["from"])
    result = evaluate_holdout(chosen, dataset, start)
    record = {
        "from": holdout["from"],
        "sealed": False,
        "unsealed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "start": str(result.start.date()),
        "end": str(result.end.date()),
        "sessions": len(result.returns),
        "chosen_config_sha256": digest,
        "data_fingerprint": dataset.fingerprint(),
        "sharpe_basis": f"Sharpe ratios are of daily returns in excess of "
                        f"{CASH_DESCRIPTION.format(ticker=chosen.backtest.cash_rate_ticker)}",
        "figures": result.figures(),
        **data_notes(result.prices, result.weights),
    }
    frame = pd.DataFrame({"strategy": result.returns, "SPY": result.spy_returns,
                          "cash": result.cash})
    _atomic_write(run_dir / "holdout.csv", frame.to_csv(index_label="date"))
    _atomic_write(run_dir / "holdout.json", json.dumps(_clean(record), indent=2))
    write_holdout_page(record, run_dir / "holdout.html")
    manifest["holdout"] = _clean(record)
    _atomic_write(manifest_path, json.dumps(manifest, indent=2, default=str))
    return record


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
