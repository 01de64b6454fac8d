"""``drain data show`` and ``drain data update``."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-actions: show (coverage table) and update (live refresh into the cache)."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    show = actions.add_parser("show", help="coverage of every ticker and series, and its source")
    show.add_argument("--no-cache", action="store_true", help="show the embedded snapshot only")
    show.add_argument("--cache-dir", help="cache folder (default: $DRAIN_CACHE_DIR or user cache)")


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen action."""
    if args.action == "show":
        return _show(args)
    raise AssertionError(f"unhandled action {args.action}")


def _show(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from drain_data import coverage

    table_data = coverage(use_cache=not args.no_cache, cache_dir=args.cache_dir)
    table = Table(title="liquidity-drain data coverage")
    for col in ("kind", "name", "first", "last", "rows", "source"):
        table.add_column(col, justify="right" if col == "rows" else "left")
    for row in table_data.itertuples(index=False):
        table.add_row(row.kind, row.name, str(row.first), str(row.last), str(row.rows), row.source)
    Console(width=100).print(table)
    return 0
