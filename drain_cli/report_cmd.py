"""``drain report RUN_DIR``: rebuild a run's reports from its saved outputs."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``drain report``."""
    parser.add_argument("run_dir", help="a folder written by 'drain backtest'")
    parser.add_argument("--self-contained", action="store_true", dest="self_contained",
                        help="inline plotly.js in report.html (one file to mail)")


def run(args: argparse.Namespace) -> int:
    """Rebuild stats.json, tearsheet.html and report.html in place, then the runs index."""
    from backtests.report.run_folder import build_reports
    from backtests.report.runs_index import update_index
    from drain_core.errors import DrainError

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise DrainError(f"{run_dir} is not a folder; pass a run folder under reports/")
    build_reports(run_dir, self_contained=args.self_contained)
    update_index(run_dir.parent)
    print(f"rebuilt reports in {run_dir}")
    return 0
