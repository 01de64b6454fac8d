"""``drain thesis``: test each claim of the thesis, for and against, and write its report.

Writes ``reports/thesis-<last session>/`` (or ``--name``) atomically: ``index.html``
(interactive charts; plotly.js shared from the reports folder) and ``thesis.json`` (every
statistic, NaN as null). A progress display on stderr names each stage while it runs.
Prints one table: claim, headline statistic, verdict. A claim without enough data (a short
window, crypto missing) is marked "insufficient data" with the reason; the command still succeeds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from drain_cli.args import load_config, parse_date, parse_date_range, run_name
from drain_core.errors import DrainError

VERDICT_STYLE = {"supported": "green", "mixed": "yellow", "not supported": "red",
                 "insufficient data": "dim"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--config, --start, --end, and a few overrides of the thesis parameters."""
    parser.add_argument("--config", metavar="F",
                        help="TOML file: [signal] and [strategy] sections (and an optional "
                             "[thesis] one); default: drain_core/configs/default.toml")
    parser.add_argument("--start", metavar="DATE", help="first session of the tests (YYYY-MM-DD)")
    parser.add_argument("--end", metavar="DATE",
                        help="last session: only data known at its close is used (YYYY-MM-DD)")
    parser.add_argument("--depletion-date", metavar="DATE", dest="depletion_date",
                        help="split date for claim 2 (default: derived from ON RRP)")
    parser.add_argument("--break-date", metavar="DATE", dest="break_date",
                        help="crypto structural-break date for claim 5 (default 2020-01-01)")
    parser.add_argument("--reps", type=int, metavar="N",
                        help="bootstrap replications (default 1000)")
    parser.add_argument("--name", metavar="NAME",
                        help="output folder under the reports root (default thesis-<end date>)")
    parser.add_argument("--no-progress", action="store_true", dest="no_progress",
                        help="no progress display (it shows only on a terminal anyway)")


def _configs(args: argparse.Namespace):
    config = load_config(args.config)  # every section checked, as every command checks it
    thesis = config.thesis
    changes = {}
    if args.depletion_date is not None:
        changes["depletion_date"] = str(parse_date(args.depletion_date, "--depletion-date").date())
    if args.break_date is not None:
        changes["break_date"] = str(parse_date(args.break_date, "--break-date").date())
    if args.reps is not None:
        if args.reps < 1:
            raise DrainError(f"--reps must be at least 1, got {args.reps}")
        changes["bootstrap_reps"] = args.reps
    return config, thesis.replace(**changes) if changes else thesis


def run(args: argparse.Namespace) -> int:
    """Load configs and data, test every claim, write the report, print the verdicts."""
    import time

    from drain_data import load_dataset
    from thesis import run_thesis, save_thesis_run

    started = time.perf_counter()
    config, thesis = _configs(args)  # a bad config fails before any work
    start, end = parse_date_range(args.start, args.end)
    name = run_name(args.name, None)
    dataset = load_dataset()
    first, last = dataset.sessions[0], dataset.sessions[-1]
    if end is not None and end < first:
        raise DrainError(f"--end {end.date()} is before the data begins ({first.date()}); the "
                         f"data covers {first.date()} to {last.date()}")
    with _progress(not args.no_progress and sys.stderr.isatty()) as progress:
        from thesis import CLAIMS

        task = progress.add_task("signal and inputs", total=len(CLAIMS) + 1)

        def on_claim(claim) -> None:
            progress.update(task, description=f"claim: {claim.title}", advance=1)

        result = run_thesis(dataset, signal_config=config.run.signal,
                            strategy=config.run.strategy, config=thesis,
                            start=start, end=end, on_claim=on_claim)
        progress.update(task, description="writing the report", advance=1)
        folder = save_thesis_run(result, name, command="drain thesis",
                                 config_file=str(config.path))
    _print_summary(result, folder, time.perf_counter() - started)
    return 0


def _progress(show: bool):
    """A rich progress display on stderr for the stages of ``drain thesis`` (hidden when not
    ``show``, and gone once done)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}", style="bold"), BarColumn(),
                    TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                    console=Console(stderr=True), disable=not show, transient=True)


def _print_summary(result, run_dir: Path, seconds: float) -> None:
    from rich.console import Console
    from rich.table import Table

    window = result.inputs.window
    span = (f"{window[0].date()} to {window[-1].date()}, {len(window)} sessions"
            if len(window) else "empty window")
    table = Table(title=f"drain thesis ({span})", show_lines=False)
    table.add_column("claim", max_width=34)
    table.add_column("headline statistic", ratio=1)
    table.add_column("verdict", no_wrap=True)
    for claim in result.claims:
        style = VERDICT_STYLE.get(claim.verdict, "")
        table.add_row(claim.title, claim.headline, f"[{style}]{claim.verdict}[/{style}]")
    console = Console(width=120)
    console.print(table)
    console.print(f"report: {run_dir / 'index.html'} and thesis.json ({seconds:.1f} s)")
