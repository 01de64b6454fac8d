"""``drain backtest``: run the configured rotation strategy and write its report folder."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backtests.run.config import RunConfig
    from drain_cli.sidecar import Sidecar


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``drain backtest``."""
    parser.add_argument("--config", help="TOML file with [signal], [strategy], [backtest] "
                        "(default: the shipped drain_core/configs/default.toml)")
    parser.add_argument("--strategy", help="variant: regime_long_short, signal_long_short, "
                        "long_only_tilt or beta_hedged (overrides the config)")
    parser.add_argument("--start", help="first session traded (YYYY-MM-DD)")
    parser.add_argument("--end", help="last session used, for data and trades (YYYY-MM-DD)")
    parser.add_argument("--name", help="run folder name under reports/ (default: variant-time)")
    parser.add_argument("--self-contained", action="store_true", dest="self_contained",
                        help="inline plotly.js in report.html (one file to mail, ~5 MB more) "
                             "instead of sharing one copy in the reports folder")


def run(args: argparse.Namespace) -> int:
    """Run the pipeline, save the run atomically, refresh reports/index.html, print a table.

    A sidecar process, started first, computes the signal and target weights and then loads
    the tearsheet's libraries while this process imports vectorbt; it draws the tearsheet while
    this process writes the other reports.
    """
    from drain_cli.args import load_config
    from drain_cli.sidecar import Sidecar

    config = load_config(args.config).run  # a bad config fails before any process or data
    if args.strategy:
        config = config.replace(strategy=config.strategy.replace(variant=args.strategy))
    with Sidecar() as sidecar:
        return _run(args, config, sidecar)


def _run(args: argparse.Namespace, config: RunConfig, sidecar: Sidecar) -> int:
    from backtests.report.tearsheet import import_plotting
    from backtests.run.prepare import prepare_run
    from drain_cli.args import parse_date_range, run_name

    parse_date_range(args.start, args.end)  # before the data loads
    name = run_name(args.name, f"{config.strategy.variant}-{datetime.now():%Y%m%d-%H%M%S}")
    prepared = sidecar.submit(prepare_run, config, start=args.start, end=args.end)
    sidecar.submit(import_plotting)

    from backtests.report.run_folder import cash_label, save_backtest_run
    from backtests.run.pipeline import simulate  # vectorbt: about 2 s, beside the sidecar's work

    folder, stats = save_backtest_run(simulate(prepared.result()), name, argv=sys.argv[1:],
                                      tearsheets=sidecar, self_contained=args.self_contained)
    _print_summary(stats, folder, cash_label(config.backtest.cash_rate_ticker))
    return 0


def _print_summary(stats: dict[str, dict[str, float]], run_dir, excess_of: str) -> None:
    from rich.console import Console
    from rich.table import Table

    rows = [("Total return", "total_return", "pct"), ("CAGR", "cagr", "pct"),
            ("Volatility", "volatility", "pct"), ("Sharpe (excess)", "sharpe", "num"),
            ("Sortino (excess)", "sortino", "num"),
            ("Information ratio vs SPY", "information_ratio", "num"),
            ("Max drawdown", "max_drawdown", "pct"), ("Time in market", "time_in_market", "pct"),
            ("Turnover / year", "turnover", "num"), ("Gross exposure", "gross_exposure", "num"),
            ("Net exposure", "net_exposure", "num")]
    table = Table(title=f"Backtest summary ({run_dir})")
    table.add_column("metric")
    for col in stats:
        table.add_column(col, justify="right")
    for label, key, kind in rows:
        cells = []
        for col in stats:
            value = stats[col].get(key)
            if value is None or value != value:
                cells.append("")
            else:
                cells.append(f"{value:.1%}" if kind == "pct" else f"{value:.2f}")
        table.add_row(label, *cells)
    console = Console(width=110)
    console.print(table)
    console.print(f"Sharpe, Sortino and information ratio: returns in excess of {excess_of}; "
                  f"total return and CAGR are total.")
