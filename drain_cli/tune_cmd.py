"""``drain tune``: sweep a parameter grid, walk it forward, judge it for overfitting
(``backtests.tune.tuning.run_tune``), write the run folder (``backtests.report.tune_run``);
``--unseal RUN`` looks once at a sealed run's holdout."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from concurrent.futures import Executor

    import pandas as pd

    from backtests.run.config import RunConfig
    from backtests.tune.config import TuneConfig


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
    parser.add_argument("--unseal", metavar="RUN", help="evaluate the chosen configuration of "
                        "the sealed tune run RUN (a folder under reports/) on its holdout, once")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--workers", metavar="N", type=int, help="run the sweep on a local "
                        "Dask cluster of N worker processes (default: in this process)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run the sweep on an existing "
                        "Dask scheduler, e.g. tcp://host:8786 (default: $DRAIN_DASK_SCHEDULER)")


def run(args: argparse.Namespace) -> int:
    """Tune and write ``reports/<name>/`` (or unseal a run's holdout); print the verdict.

    A sidecar process, started once the arguments and config have passed their checks, loads
    vectorbt and the plotting libraries while this one sweeps, re-runs the chosen
    configurations through vectorbt while this one computes PBO, then draws the two tearsheets
    while this one computes the other statistics and pages."""
    from backtests.report.tearsheet import import_plotting
    from backtests.tune.analysis import import_reference_engine
    from drain_cli.args import load_config, parse_date, run_name
    from drain_cli.sidecar import Sidecar
    from drain_core.configs import tune_config_path

    if args.unseal is not None:
        return _unseal(args)
    start = parse_date(args.start, "--start")
    end = parse_date(args.end, "--end")
    loaded = load_config(args.config, tune_config_path())
    config, tune = loaded.run, loaded.tune
    grid = tune.grid(args.grid)
    name = run_name(args.name, f"tune-{grid.name}-{datetime.now():%Y%m%d-%H%M%S}")
    with Sidecar() as sidecar:
        sidecar.submit(import_reference_engine)
        sidecar.submit(import_plotting)
        return _tune(args, config, tune, name, start, end, sidecar)


def _tune(args: argparse.Namespace, config: RunConfig, tune: TuneConfig, name: str,
          start: pd.Timestamp | None, end: pd.Timestamp | None, sidecar: Executor) -> int:
    from backtests.report.tune_run import save_tune_run, sweep_dirs
    from backtests.report.tune_tearsheets import DraftTearsheets
    from backtests.tune.executor import open_executor
    from backtests.tune.progress import Progress
    from backtests.tune.tuning import run_tune

    progress = Progress(not args.no_progress and sys.stderr.isatty())
    staging, previous = sweep_dirs(name)
    with DraftTearsheets(sidecar, name) as drafts:
        with open_executor(args.workers, args.scheduler) as executor:
            result = run_tune(config, tune, grid=args.grid, sample=args.sample, seed=args.seed,
                              start=start, end=end, chunk_dir=staging, resume_from=previous,
                              progress=progress, executor=executor, on_pages=drafts.draw,
                              reference=sidecar)
        for note in result.repairs:
            sys.stderr.write(f"drain: warning: {note}\n")
        folder = save_tune_run(result, name, argv=sys.argv[1:], chunk_dir=staging,
                               progress=progress, drafts=drafts)
    _print_summary(result, folder)
    return 0


def _unseal(args: argparse.Namespace) -> int:
    from backtests.report.tune_run import unseal_run
    from drain_core.paths import reports_root
    from drain_data import load_dataset

    folder = reports_root() / args.unseal  # a run name, else a path to its folder
    if not folder.is_dir():
        folder = Path(args.unseal)
    record = unseal_run(folder, load_dataset())
    fig = record["figures"]
    s, spy = fig["strategy"], fig["SPY"]
    print(f"holdout {record['start']} to {record['end']} ({record['sessions']} sessions), "
          f"unsealed {record['unsealed_at']}\n"
          f"chosen configuration: Sharpe {s['sharpe']:.2f} (excess of T-bills), total return "
          f"{s['total_return']:.1%}, max drawdown {s['max_drawdown']:.1%}\n"
          f"SPY buy-and-hold:     Sharpe {spy['sharpe']:.2f}, total return "
          f"{spy['total_return']:.1%}, max drawdown {spy['max_drawdown']:.1%}\n"
          f"written: {folder / 'holdout.json'}")
    return 0


def _print_summary(result: Any, folder: Path) -> None:
    from backtests.report.tune_run import summary

    stats = summary(result, folder.name, [])

    def pct(x: float) -> str:
        return f"{x:.0%}" if x == x else "n/a"

    lo, hi = stats["oos_sharpe_ci"]
    reused = stats["chunks_reused"]
    lines = [
        f"trials: {stats['n_trials']:,} (grid {stats['grid']!r}: {stats['grid_size']:,} "
        f"combinations, {stats['duplicates']:,} duplicates, {stats['invalid']:,} invalid; "
        f"{stats['signal_configs']} signal configurations; daily returns kept for "
        f"{stats['returns_kept']:,})"
        + (f"; {reused} of {reused + stats['chunks_run']} sweep chunks reused from an earlier "
           f"run" if reused else ""),
        f"Sharpe ratios are of returns in excess of {stats['cash_rate']['ticker']} "
        f"(T-bills, {stats['cash_rate']['mean_annual']:.2%} a year on average)",
        f"best in-sample: {stats['best_label']}  Sharpe {stats['is_sharpe']:.2f}",
        f"walk-forward OOS Sharpe: {stats['oos_sharpe']:.2f} (95% CI {lo:.2f} to {hi:.2f}) over "
        f"{stats['n_splits']} splits; SPY {stats['spy_sharpe']:.2f}",
        f"DSR: {stats['dsr']:.3f}   PBO: {pct(stats['pbo'])}   SPA p vs SPY: "
        f"{stats['spa_pvalue']:.3f}",
        f"verdict: {stats['verdict']}",
    ]
    if stats["holdout_from"]:
        lines.append(f"holdout from {stats['holdout_from']} sealed; configuration SHA-256 "
                     f"{stats['chosen_config_sha256'][:16]}; look once with "
                     f"'drain tune --unseal {folder.name}'")
    lines.append(f"written: {folder}")
    print("\n".join(lines))
