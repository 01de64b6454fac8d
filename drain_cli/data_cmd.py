"""``drain data show`` and ``drain data update``."""

from __future__ import annotations

import argparse
import sys

UPDATE_EPILOG = """\
With neither --tickers nor --series every ticker and series of the embedded snapshot is
refreshed; naming one of them refreshes only what is named. Without --since each series is
fetched from the snapshot's first date, so a whole price history sits on one dividend
adjustment; with --since older rows keep their old adjustment (a warning says so).

exit status:
  0  the cache was updated (one line per table: rows fetched, new, revised, cache file)
  1  the network is unavailable, Yahoo/FRED kept refusing or sent a broken answer (an HTML
     page, a truncated body, a redirect loop, no answer within the deadline), or the cache
     folder cannot be written: not a mistake in the command, but nothing was updated; the
     engine keeps working from the cache and the embedded snapshot
  2  a mistake to fix: unknown series, bad --since, a symbol Yahoo has no data for, an
     unreadable cache file, or another update holding the cache lock
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-actions: show (coverage table) and update (live refresh into the cache)."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    show = actions.add_parser("show", help="coverage of every ticker and series, and its source")
    show.add_argument("--no-cache", action="store_true", help="show the embedded snapshot only")
    show_cache_help = "cache folder (default: $DRAIN_CACHE_DIR or user cache)"
    show.add_argument("--cache-dir", help=show_cache_help)
    update = actions.add_parser(
        "update",
        help="download fresh Yahoo prices and FRED series into the cache",
        description="Download fresh Yahoo prices and FRED series into the local cache, which\n"
        "overrides the embedded snapshot for the same ticker/series and date.",
        epilog=UPDATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    update.add_argument("--tickers", nargs="+", metavar="T",
                        help="tickers to refresh (engine names, e.g. SPY BTC-USD VIX)")
    update.add_argument("--series", nargs="+", metavar="S",
                        help="FRED series to refresh (those with a publication rule)")
    update.add_argument("--since", metavar="DATE", help="first date to fetch, YYYY-MM-DD")
    update.add_argument("--cache-dir", help=show_cache_help)
    update.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen action."""
    if args.action == "show":
        return _show(args)
    if args.action == "update":
        return _update(args)
    raise AssertionError(f"unhandled action {args.action}")


def _show(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from drain_data import coverage

    notes: list[str] = []  # damaged cache files or rows: left out of the table, named here
    table_data = coverage(use_cache=not args.no_cache, cache_dir=args.cache_dir, notes=notes)
    table = Table(title="liquidity-drain data coverage")
    for col in ("kind", "name", "first", "last", "rows", "source"):
        table.add_column(col, justify="right" if col == "rows" else "left")
    for row in table_data.itertuples(index=False):
        table.add_row(row.kind, row.name, str(row.first), str(row.last), str(row.rows), row.source)
    Console(width=100).print(table)
    for note in notes:
        sys.stderr.write(f"drain: {note}\n")
    return 0


def _update(args: argparse.Namespace) -> int:
    from drain_data.fetch_args import parse_since
    from drain_data.update import update

    since = parse_since(args.since, "--since") if args.since is not None else None
    tickers, series = args.tickers, args.series
    if tickers is not None or series is not None:  # refresh only what is named
        tickers, series = tickers or [], series or []
    summary = update(  # a network or source fault is an EnvironmentFault: exit status 1
        tickers=tickers,
        series=series,
        since=since,
        cache_dir=args.cache_dir,
        progress=not args.no_progress,
    )
    for line in summary.lines():
        print(line)
    for note in summary.warnings:
        sys.stderr.write(f"drain: warning: {note}\n")
    return 0
