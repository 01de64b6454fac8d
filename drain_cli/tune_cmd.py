"""``drain tune``: sweep a parameter grid fast, walk it forward, and judge it for overfitting.

Steps: grid -> combinations (checked before anything is written) -> fast sweep in resumable
chunks -> walk-forward choice on train windows -> the chosen and the best configurations re-run
through vectorbt (``run_backtest``) -> deflated Sharpe, PBO, bootstrap CIs, SPA against SPY ->
one run folder under ``reports/``, written atomically.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from drain_core.conventions import PERIODS_PER_YEAR

KNOWN_SECTIONS = ("signal", "strategy", "backtest", "tune", "thesis")
TUNE_KEYS = ("cap", "chunk_size", "pbo_blocks", "pbo_max_configs", "spa_max_models",
             "bootstrap_reps", "walkforward", "grid", "grids")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``drain tune``."""
    parser.add_argument("--config", metavar="F", help="TOML file: base [signal], [strategy], "
                        "[backtest] and optionally [tune] (default: drain_core/configs/tune.toml)")
    parser.add_argument("--grid", metavar="SECTION", help="grid to sweep: NAME of a "
                        "[tune.grids.NAME] table (default: [tune.grid])")
    parser.add_argument("--name", metavar="NAME", help="run folder under reports/; rerunning "
                        "the same grid with the same name resumes an interrupted sweep")
    parser.add_argument("--sample", metavar="N", type=int,
                        help="run N combinations drawn at random (needed above the cap)")
    parser.add_argument("--seed", metavar="S", type=int, default=0,
                        help="seed of --sample and of the bootstraps (default 0)")
    parser.add_argument("--start", help="first session traded (YYYY-MM-DD)")
    parser.add_argument("--end", help="last session used, for data and trades (YYYY-MM-DD)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--workers", metavar="N", type=int, help="run the sweep on a local "
                        "Dask cluster of N worker processes (default: in this process)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run the sweep on an existing "
                        "Dask scheduler, e.g. tcp://host:8786 (default: $DRAIN_DASK_SCHEDULER)")


def load_settings(path: str | None) -> dict[str, Any]:
    """Base configs and [tune] settings (the shipped [tune] fills what the file lacks)."""
    from backtests.sim.config import BacktestConfig
    from backtests.tune.walkforward import WalkForwardConfig
    from drain_core.configs import tune_config_path
    from drain_core.errors import DrainError
    from drain_core.tomlfile import read_toml
    from signals import SignalConfig
    from strategies import StrategyConfig

    document = read_toml(path) if path else {}
    unknown = sorted(set(document) - set(KNOWN_SECTIONS))
    if unknown:
        raise DrainError(f"unknown config section [{unknown[0]}]; known sections: "
                         f"{', '.join(KNOWN_SECTIONS)}")
    shipped = read_toml(tune_config_path())["tune"]
    own = document.get("tune", {})
    bad = sorted(set(own) - set(TUNE_KEYS))
    if bad:
        raise DrainError(f"unknown key tune.{bad[0]}; known keys: {', '.join(TUNE_KEYS)}")
    tune = {**shipped, **own}
    if "grid" in own or "grids" in own:  # a file with its own grids uses only those
        tune["grid"] = own.get("grid", {})
        tune["grids"] = own.get("grids", {})
        if not tune["grid"]:
            tune.pop("grid")
    tune["walkforward"] = {**shipped.get("walkforward", {}), **own.get("walkforward", {})}
    for key in ("cap", "chunk_size", "pbo_blocks", "pbo_max_configs", "spa_max_models",
                "bootstrap_reps"):
        value = tune[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise DrainError(f"tune.{key} must be a whole number >= 1, got {value!r}")
    return {
        "signal": SignalConfig.from_dict(document.get("signal", {})),
        "strategy": StrategyConfig.from_dict(document.get("strategy", {})),
        "backtest": BacktestConfig.from_dict(document.get("backtest", {})),
        "walkforward": WalkForwardConfig.from_dict(tune["walkforward"]),
        "tune": tune,
    }


def run(args: argparse.Namespace) -> int:
    """Check the grid, sweep, analyse, write ``reports/<name>/``, print the verdict."""
    from backtests.report.runs_index import update_index
    from backtests.tune.sweep import (
        copy_chunks,
        grid_from_table,
        grid_section,
        prepare_chunk_dir,
        run_sweep,
        select,
        sweep_key,
    )
    from backtests.tune.walkforward import make_splits
    from drain_cli.args import parse_date, run_name
    from drain_core.errors import DrainError
    from drain_core.paths import atomic_run_dir, reports_root
    from drain_data import load_dataset

    started = time.perf_counter()
    start = parse_date(args.start, "--start")
    end = parse_date(args.end, "--end")
    settings = load_settings(args.config)
    tune = settings["tune"]
    grid_name, table = grid_section({"tune": tune}, args.grid)
    grid = grid_from_table(table, grid_name)
    selection = select(grid, settings["signal"], settings["strategy"], settings["backtest"],
                       sample=args.sample, seed=args.seed, cap=tune["cap"])
    name = run_name(args.name, f"tune-{grid_name}-{datetime.now():%Y%m%d-%H%M%S}")
    dataset = load_dataset(end=end)
    window = dataset.prices.loc[start:] if start is not None else dataset.prices
    if len(window) < 3:
        raise DrainError(f"the date range {args.start} to {args.end} holds {len(window)} "
                         f"sessions; widen --start/--end")
    make_splits(len(window), settings["walkforward"])  # too short a window fails here, early
    if len(window) < 2 * tune["pbo_blocks"]:
        raise DrainError(f"{len(window)} sessions are too few for PBO with "
                         f"{tune['pbo_blocks']} blocks; widen --start/--end")
    backtest = settings["backtest"]
    key = sweep_key(selection, backtest, window.index, dataset.fingerprint(), tune["chunk_size"])
    staging = reports_root() / f".{name}.sweep"
    prepare_chunk_dir(staging, key, previous=reports_root() / name / "sweep")
    from backtests.tune.executor import open_executor

    with open_executor(args.workers, args.scheduler) as executor:
        result = run_sweep(selection, dataset, backtest, start=start, chunk_dir=staging,
                           chunk_size=tune["chunk_size"], executor=executor,
                           progress=not args.no_progress and sys.stderr.isatty())
    sweep_seconds = time.perf_counter() - started
    analysis = analyse(result, selection, dataset, settings, seed=args.seed, start=start)
    analysis["stats"].update({
        "grid": grid_name, "name": name, "argv": sys.argv[1:], "start": str(window.index[0].date()),
        "end": str(window.index[-1].date()), "seconds_sweep": round(sweep_seconds, 2),
        "seconds_total": round(time.perf_counter() - started, 2),
        "chunks_run": result.chunks_run, "chunks_reused": result.chunks_reused,
        "signal_configs": result.n_signals, "signal_computations": result.n_composites,
        "data_fingerprint": dataset.fingerprint(),
    })
    with atomic_run_dir(name) as tmp:
        write_run(tmp, result, selection, analysis, settings)
        copy_chunks(staging, tmp / "sweep")
    shutil.rmtree(staging, ignore_errors=True)
    update_index(reports_root())
    _print_summary(analysis["stats"], reports_root() / name)
    return 0


# --------------------------------------------------------------------------------------------
# Analysis
# --------------------------------------------------------------------------------------------


def rerun(dataset, window, combo, backtest):
    """One combination through the reference pipeline: compute_signal -> build_targets ->
    run_backtest (vectorbt)."""
    import dataclasses

    from backtests.sim.engine import run_backtest
    from signals import compute_signal
    from strategies import build_targets

    signal = compute_signal(dataset, combo.signal)
    targets = build_targets(window, signal.composite, signal.regime, combo.strategy)
    config = dataclasses.replace(backtest, lag=combo.lag)
    return run_backtest(targets.orders, window, window[config.cash_rate_ticker], config)


def spy_buy_and_hold(window, backtest):
    """SPY bought on the first session and held, through the same engine and costs."""
    import numpy as np
    import pandas as pd

    from backtests.sim.engine import run_backtest

    orders = pd.DataFrame({"SPY": np.nan}, index=window.index)
    orders.iloc[0] = 1.0
    return run_backtest(orders, window, window[backtest.cash_rate_ticker], backtest)


def analyse(result, selection, dataset, settings: dict[str, Any], *, seed: int,
            start=None) -> dict[str, Any]:
    """Walk-forward, vectorbt re-runs of the chosen and the best, and overfitting statistics."""
    import math

    import numpy as np
    import pandas as pd

    from backtests.report.tune_pages import verdict
    from backtests.sim.fastsim import METRICS, series_metrics
    from backtests.stats.overfitting import (
        bootstrap_confidence_intervals,
        deflated_sharpe_ratio,
        probability_of_backtest_overfitting,
        spa_test,
    )
    from backtests.tune.sweep import used_params
    from backtests.tune.walkforward import walk_forward

    tune = settings["tune"]
    backtest = settings["backtest"]
    window = dataset.prices.loc[start:] if start is not None else dataset.prices
    table = result.table
    sharpe = table["sharpe"].to_numpy(dtype=float)
    best = int(np.argmax(np.where(np.isnan(sharpe), -np.inf, sharpe)))
    runs: dict[int, Any] = {best: rerun(dataset, window, result.combos[best], backtest)}
    wf = walk_forward(result.returns, result.index, settings["walkforward"])
    for chosen in sorted(set(wf.splits["chosen"])):
        if chosen not in runs:
            runs[chosen] = rerun(dataset, window, result.combos[chosen], backtest)
    pieces = [runs[row.chosen].returns.loc[row.test_start:row.test_end]
              for row in wf.splits.itertuples()]
    oos = pd.concat(pieces).rename("oos")
    max_diff = max(float(np.max(np.abs(run.returns.to_numpy() - result.returns[i])))
                   for i, run in runs.items())
    best_run = runs[best]
    best_metrics = series_metrics(best_run.returns, best_run.turnover)
    agreement = max(abs(best_metrics[m] - float(table[m].iloc[best]))
                    for m in ("total_return", "sharpe"))
    spy = spy_buy_and_hold(window, backtest).returns.rename("SPY")

    failed: list[str] = []

    def attempt(label: str, compute):  # degenerate inputs make a statistic n/a, not a crash
        try:
            return compute()
        except ValueError as exc:
            failed.append(f"{label} not computed: {exc}")
            return None

    nan = math.nan
    trial_sr = sharpe[np.isfinite(sharpe)] / math.sqrt(PERIODS_PER_YEAR)
    dsr = attempt("DSR", lambda: deflated_sharpe_ratio(
        best_run.returns.to_numpy(), trial_sr, n_trials=selection.n_trials))
    rng = np.random.default_rng(seed)
    n = len(table)
    pbo_cols = (np.sort(rng.choice(n, tune["pbo_max_configs"], replace=False))
                if n > tune["pbo_max_configs"] else np.arange(n))
    pbo = attempt("PBO", lambda: probability_of_backtest_overfitting(
        result.returns[pbo_cols].T.astype(np.float64), n_blocks=tune["pbo_blocks"]))
    reps = tune["bootstrap_reps"]
    no_ci = {"sharpe": (nan, nan, nan), "cagr": (nan, nan, nan)}
    boot_oos = attempt("OOS bootstrap", lambda: bootstrap_confidence_intervals(
        oos.to_numpy(), n_boot=reps, seed=seed)) or no_ci
    boot_is = attempt("IS bootstrap", lambda: bootstrap_confidence_intervals(
        best_run.returns.to_numpy(), n_boot=reps, seed=seed)) or no_ci
    order = np.argsort(np.where(np.isnan(sharpe), -np.inf, -sharpe), kind="stable")
    spa_cols = np.sort(order[:tune["spa_max_models"]])
    spa = attempt("SPA", lambda: spa_test(
        spy.to_numpy(), result.returns[spa_cols].T.astype(np.float64), reps=1000, seed=seed))
    logits = pbo.logits if pbo is not None else np.array([])

    best_combo = result.combos[best]
    notes = [
        f"Sweep returns come from the fast kernel; the best configuration and every "
        f"walk-forward choice were re-run through vectorbt (run_backtest) and those runs are "
        f"reported (largest daily return difference {max_diff:.1e}; best total return and "
        f"Sharpe agree to {agreement:.1e}).",
        f"Walk-forward: {settings['walkforward'].scheme} train windows of "
        f"{settings['walkforward'].train} sessions, test windows of "
        f"{settings['walkforward'].test}, {settings['walkforward'].embargo} sessions purged "
        f"between them, chosen by {settings['walkforward'].metric}.",
    ]
    notes.extend(failed)
    if len(pbo_cols) < n:
        notes.append(f"PBO uses a seeded random subset of {len(pbo_cols):,} of the {n:,} "
                     f"configurations to bound memory.")
    if len(spa_cols) < n:
        notes.append(f"SPA tests the {len(spa_cols):,} configurations with the best Sharpe "
                     f"(of {n:,}); pre-selecting them makes its p-value optimistic.")
    stats: dict[str, Any] = {
        "n_trials": selection.n_trials,
        "grid_size": selection.grid.size,
        "sampled": selection.sampled,
        "invalid": selection.invalid,
        "duplicates": selection.duplicates,
        "best_index": best,
        "best_combo": best_combo.number,
        "best_label": ", ".join(f"{k.split('.', 1)[1]}={best_combo.params[k]}"
                                for k in used_params(best_combo)
                                if k in selection.grid.varying()) or "the base configuration",
        "is_sharpe": best_metrics["sharpe"],
        "is_total_return": best_metrics["total_return"],
        "oos_sharpe": series_metrics(oos)["sharpe"],
        "oos_sharpe_ci": [boot_oos["sharpe"][0], boot_oos["sharpe"][2]],
        "oos_cagr_ci": list(boot_oos["cagr"]),
        "is_sharpe_ci": list(boot_is["sharpe"]),
        "dsr": dsr.dsr if dsr else nan,
        "sr0_annual": dsr.sr0_per_period * math.sqrt(PERIODS_PER_YEAR) if dsr else nan,
        "skew": dsr.skew if dsr else nan,
        "kurtosis": dsr.raw_kurtosis if dsr else nan,
        "pbo_configs": int(len(pbo_cols)),
        "pbo_blocks": tune["pbo_blocks"],
        "pbo": pbo.pbo if pbo else nan,
        "degradation_slope": pbo.degradation_slope if pbo else nan,
        "prob_oos_loss": pbo.prob_oos_loss if pbo else nan,
        "pbo_splits": pbo.n_splits if pbo else 0,
        "spa_pvalue": spa.pvalue_consistent if spa else nan,
        "spa_pvalue_lower": spa.pvalue_lower if spa else nan,
        "spa_pvalue_upper": spa.pvalue_upper if spa else nan,
        "spa_models": spa.n_models if spa else 0,
        "spy_sharpe": series_metrics(spy)["sharpe"],
        "max_return_diff": max_diff,
        "best_agreement": agreement,
        "best_fast": {m: float(table[m].iloc[best]) for m in METRICS},
        "best_vectorbt": best_metrics,
        "n_splits": len(wf.splits),
        "notes": " ".join(notes),
    }
    stats["verdict"] = verdict(stats)
    returns = pd.DataFrame({"oos": oos, "oos_fast": wf.oos_returns,
                            "SPY": spy.reindex(oos.index)})
    return {"stats": stats, "wf": wf, "oos": returns, "best": best, "best_run": best_run,
            "logits": logits, "spy": spy}


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def write_run(folder: Path, result, selection, analysis: dict[str, Any],
              settings: dict[str, Any]) -> None:
    """Every file of the run folder."""
    import dataclasses

    from backtests.report.tearsheet import write_tearsheet
    from backtests.report.tune_pages import (
        toml_text,
        write_heatmaps,
        write_overfitting_panel,
        write_stability,
    )

    stats = analysis["stats"]
    table = result.table
    table.to_parquet(folder / "results.parquet", index=False)
    splits = analysis["wf"].splits.copy()
    for param in selection.grid.varying():
        splits[param] = table[param].iloc[splits["chosen"].to_numpy()].to_numpy()
    splits["combo"] = table["combo"].iloc[splits["chosen"].to_numpy()].to_numpy()
    splits.to_parquet(folder / "walkforward.parquet", index=False)
    analysis["oos"].to_parquet(folder / "oos_returns.parquet")
    varying = selection.grid.varying() or list(selection.grid.params)
    write_heatmaps(table, varying, folder / "heatmaps.html")
    write_stability(table, analysis["wf"].splits, varying, folder / "stability.html")
    write_overfitting_panel(stats, analysis["wf"].splits, analysis["logits"],
                            folder / "overfitting.html")
    oos = analysis["oos"]
    write_tearsheet(oos["oos"], analysis["spy"], folder / "oos_tearsheet.html",
                    "drain tune: stitched walk-forward out-of-sample returns vs SPY")
    combo = result.combos[analysis["best"]]
    backtest = dataclasses.replace(settings["backtest"], lag=combo.lag)
    header = (f"drain tune: best of {stats['n_trials']:,} trials by full-sample Sharpe "
              f"(grid {stats['grid']!r}, {stats['start']} to {stats['end']})\n"
              f"{stats['best_label']}\n"
              f"vectorbt re-run: total return {stats['best_vectorbt']['total_return']:.6f}, "
              f"Sharpe {stats['best_vectorbt']['sharpe']:.6f}\n"
              f"Overfitting: {stats['verdict']}\n"
              f"Run it: drain backtest --config best.toml")
    sections = {
        "signal": combo.signal.to_dict(),
        "strategy": dataclasses.asdict(combo.strategy),
        "backtest": dataclasses.asdict(backtest),
    }
    (folder / "best.toml").write_text(toml_text(sections, header))
    (folder / "summary.json").write_text(json.dumps(stats, indent=2, default=_json_default))


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _print_summary(stats: dict[str, Any], folder: Path) -> None:
    def pct(x: float) -> str:
        return f"{x:.0%}" if x == x else "n/a"

    lo, hi = stats["oos_sharpe_ci"]
    lines = [
        f"trials: {stats['n_trials']:,} (grid {stats['grid']!r}: {stats['grid_size']:,} "
        f"combinations, {stats['duplicates']:,} duplicates, {stats['invalid']:,} invalid; "
        f"{stats['signal_configs']} signal configurations)"
        + (f"; {stats['chunks_reused']} of {stats['chunks_reused'] + stats['chunks_run']} "
           f"sweep chunks reused from an earlier run" if stats["chunks_reused"] else ""),
        f"best in-sample: {stats['best_label']}  Sharpe {stats['is_sharpe']:.2f}",
        f"walk-forward OOS Sharpe: {stats['oos_sharpe']:.2f} (95% CI {lo:.2f} to {hi:.2f}) over "
        f"{stats['n_splits']} splits",
        f"DSR: {stats['dsr']:.3f}   PBO: {pct(stats['pbo'])}   SPA p vs SPY: "
        f"{stats['spa_pvalue']:.3f}",
        f"verdict: {stats['verdict']}",
        f"written: {folder}",
    ]
    print("\n".join(lines))
