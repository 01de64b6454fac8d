"""``drain placebo``: would a signal without this timing, or random baskets, have done as well?

Runs ``--n`` timing placebos (the composite replaced by block-bootstrap surrogates and by
circular shifts of at least a year) and/or ``--n`` basket placebos (random baskets of the same
sizes) of the configuration, on the fast kernel, and writes ``reports/<name>/`` (placebo.html,
placebo.json, placebo_draws.csv). Prints the actual statistics against each placebo family.
"""

from __future__ import annotations

import argparse
from datetime import datetime

KIND_CHOICES = ("timing", "baskets", "both")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``drain placebo``."""
    parser.add_argument("--config", metavar="F", help="TOML file with [signal], [strategy], "
                        "[backtest] (default: the shipped drain_core/configs/default.toml)")
    parser.add_argument("--n", type=int, default=1000,
                        help="placebos per family (default 1000)")
    parser.add_argument("--kind", choices=KIND_CHOICES, default="both",
                        help="timing (block bootstrap and circular shifts of the composite), "
                             "baskets (random baskets), or both (default)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--start", help="first session traded (YYYY-MM-DD)")
    parser.add_argument("--end", help="last session used, for data and trades (YYYY-MM-DD)")
    parser.add_argument("--workers", metavar="N", type=int, default=None,
                        help="spread the placebos over a local Dask cluster of N worker "
                             "processes (default: in this process)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run the placebos on an existing "
                        "Dask scheduler, e.g. tcp://host:8786 (default: $DRAIN_DASK_SCHEDULER)")
    parser.add_argument("--name", help="run folder under reports/ (default: placebo-time)")


def run(args: argparse.Namespace) -> int:
    """Load the config, run the placebos (on a Dask cluster with ``--workers``,
    ``--scheduler`` or ``$DRAIN_DASK_SCHEDULER``), write the run folder, print the table."""
    from backtests.report.placebo_page import placebo_report
    from backtests.report.runs_index import update_index
    from backtests.tune.executor import open_executor
    from drain_cli.args import load_config, parse_date, run_name
    from drain_core.errors import DrainError
    from drain_core.paths import reports_root

    config = load_config(args.config).run
    for option, value in (("--start", args.start), ("--end", args.end)):
        parse_date(value, option)
    if args.n < 1:
        raise DrainError(f"--n must be at least 1, got {args.n}")
    name = run_name(args.name, f"placebo-{datetime.now():%Y%m%d-%H%M%S}")
    with open_executor(args.workers, args.scheduler) as pool:  # prints the dashboard address
        result, folder = placebo_report(config, name, kind=args.kind, n=args.n,
                                        seed=args.seed, start=args.start, end=args.end,
                                        executor=pool)
    update_index(reports_root())
    _print_table(result, folder)
    return 0


def _print_table(result, folder) -> None:
    from rich.console import Console
    from rich.table import Table

    from backtests.evidence.placebo import FAMILY_NAMES, STAT_LABELS

    table = Table(title=f"Placebo backtests ({folder}); Sharpe in excess of "
                        f"{result.settings['cash_rate_ticker']}")
    for col in ("family", "statistic", "actual", "placebo median", "percentile",
                "p-value (MC s.e.)", "N"):
        table.add_column(col, justify="left" if col in ("family", "statistic") else "right")
    for r in result.table().itertuples(index=False):
        pct = r.statistic in ("cagr", "max_drawdown")

        def fmt(v, pct=pct):
            return "-" if v != v else (f"{v:.1%}" if pct else f"{v:.3f}")

        table.add_row(FAMILY_NAMES[r.family], STAT_LABELS[r.statistic],
                      fmt(r.actual), fmt(r.placebo_median), f"{r.percentile:.1f}",
                      f"{r.p_value:.4f} ({r.p_value_se:.4f})", str(r.n))
    Console().print(table)
