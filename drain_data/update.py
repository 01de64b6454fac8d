"""``drain data update``: refresh the on-disk cache from Yahoo and FRED, all or nothing.

``update`` validates the request, takes the cache lock, clears temp files a killed writer left,
downloads every ticker (``yahoo``) and series (``fred``), merges the new rows into the cache
tables and writes each table atomically, then says what changed (``UpdateSummary``), warning
when fresh closes sit on another dividend adjustment than the older rows kept. Any error before
the write leaves the cache files untouched.

Conventions of the rows written (the same as the embedded snapshot's):
    prices  ticker, date, close, fetched_at   Yahoo auto-adjusted close; crypto keeps its UTC day
    macro   series, date, value, fetched_at   FRED's own units and dates; "." markers dropped
``fetched_at`` is the UTC time of the download, tz-naive. Bars that are not final yet (today's
equity bar before the NYSE close, today's UTC crypto bar) are never stored as closes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import requests
import tenacity

from drain_core.errors import DrainError, EnvironmentFault
from drain_core.fs import describe, undone_if_failed
from drain_data import cache, store
from drain_data.fetch_args import parse_since, split_names
from drain_data.fetch_errors import BadAnswer, EmptyDownload, command_deadline
from drain_data.fred import check_series, fetch_fred
from drain_data.validate import damaged_names
from drain_data.yahoo import engine_ticker, fetch_prices

STALE_TEMP_SECONDS = 300


@dataclass(frozen=True)
class TableUpdate:
    """What one update did to one cache table."""

    table: str
    names: tuple[str, ...]
    fetched_rows: int
    new_rows: int
    revised_rows: int
    path: Path

    def line(self) -> str:
        """One human line: rows fetched, new and revised rows, the cache file."""
        kind = "tickers" if self.table == "prices" else "series"
        return (
            f"{self.table}: {self.fetched_rows:,} rows fetched for {len(self.names)} {kind}, "
            f"{self.new_rows:,} new, {self.revised_rows:,} revised -> {self.path}"
        )


@dataclass(frozen=True)
class UpdateSummary:
    """The result of ``update``: one entry per table written, plus warnings worth reading."""

    tables: tuple[TableUpdate, ...]
    warnings: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """One line per table."""
        return [table.line() for table in self.tables]


def _remove_stale_temp_files(folder: Path) -> None:
    """Delete temp files left by a killed writer (only called while holding the lock)."""
    cutoff = time.time() - STALE_TEMP_SECONDS
    for table in cache.TABLES:
        for tmp in folder.glob(f".{table}.*.tmp"):
            try:
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
            except OSError:
                pass


def _old_rows(table: str, folder: Path, notes: list[str]) -> pd.DataFrame:
    """A cache table's usable rows; damaged ones are dropped (the table is rewritten without
    them), with a note naming them."""
    frame, damaged = cache.read_checked(table, folder)
    for name, reason in damaged.items():
        notes.append(f"{table}: dropped the cached rows of {name!r} (they held {reason})")
    return frame


def _check_fetched(table: str, fetched: pd.DataFrame | None) -> None:
    """A download whose rows fail the cache's checks is a bad answer: nothing is written."""
    if fetched is None:
        return
    damaged = damaged_names(table, fetched)
    if damaged:
        name, reason = next(iter(damaged.items()))
        source = "Yahoo" if table == "prices" else "FRED"
        raise BadAnswer(f"{source}'s answer for {name!r} holds {reason}; nothing was updated, "
                        f"try again later")


def _compare(
    known: pd.DataFrame, fetched: pd.DataFrame, key: str, value: str
) -> tuple[int, int]:
    """(new, revised): fetched rows absent from ``known``, and rows whose value changed."""
    joined = fetched[[key, "date", value]].merge(
        known[[key, "date", value]], on=[key, "date"], how="left", suffixes=("", "_old")
    )
    old = joined[f"{value}_old"]
    new = int(old.isna().sum())
    present = old.notna()
    same = np.isclose(joined.loc[present, value], old[present], rtol=1e-9, atol=0.0)
    return new, int((~same).sum())


def _seam_warnings(known: pd.DataFrame, fetched: pd.DataFrame) -> list[str]:
    """Tickers whose fresh closes sit on a different adjustment basis than the older rows kept."""
    out = []
    for ticker, rows in fetched.groupby("ticker", sort=True):
        first = rows["date"].min()
        history = known[known["ticker"] == ticker]
        if not (history["date"] < first).any():
            continue
        overlap = history.loc[history["date"] == first, "close"]
        if overlap.empty:
            continue
        fresh = float(rows.loc[rows["date"] == first, "close"].iloc[0])
        old = float(overlap.iloc[-1])
        if old and abs(fresh / old - 1) > 1e-5:
            out.append(
                f"{ticker}: closes before {first.date()} stay on an older dividend/split "
                f"adjustment ({fresh / old - 1:+.3%} at {first.date()}); update without a start "
                f"date to refresh the whole history"
            )
    return out


def _known_rows(snapshot: pd.DataFrame, cached: pd.DataFrame, key: str, value: str):
    both = pd.concat([snapshot[[key, "date", value]], cached[[key, "date", value]]])
    return both.drop_duplicates([key, "date"], keep="last")


def update(
    tickers: Iterable[str] | None = None,
    series: Iterable[str] | None = None,
    since: Any = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    *,
    lock_timeout: float | None = None,
    wait: tenacity.wait.wait_base | None = None,
    session: Any = None,
    fred_session: requests.Session | None = None,
) -> UpdateSummary:
    """Download prices and FRED series and merge them into the cache; return what changed.

    ``tickers``/``series`` None means every ticker/series of the embedded snapshot, an empty
    list means none. ``since`` None refreshes from the snapshot's first date (so every cached
    price series sits on one dividend-adjustment basis). The cache lock is held throughout
    (``lock_timeout`` seconds to get it, else DrainError); all downloads finish before any
    file is written, so a failed update leaves the cache as it was (and removes the cache
    folder if it created it).
    """
    start = parse_since(since) if since is not None else None
    snap_prices = store.price_observations(use_cache=False)
    snap_macro = store.macro_observations(use_cache=False)
    if tickers is None:
        names = sorted(set(snap_prices["ticker"]))
    else:
        names = list(dict.fromkeys(engine_ticker(t) for t in split_names(tickers)))
    series_names = (
        sorted(set(snap_macro["series"])) if series is None else check_series(series)
    )
    if not names and not series_names:
        raise DrainError("nothing to update; name the tickers and/or the series to fetch")
    price_start = start if start is not None else snap_prices["date"].min()
    macro_start = start if start is not None else snap_macro["date"].min()

    folder = cache.cache_dir(cache_dir)
    with undone_if_failed(folder, leftovers=[cache.LOCK_NAME]):  # a new folder goes if we fail
        lock = cache.cache_lock(folder)
        timeout = cache.LOCK_TIMEOUT_SECONDS if lock_timeout is None else lock_timeout
        try:
            lock.acquire(timeout=timeout)
        except cache.Timeout:  # a TimeoutError, so caught before the OSError below
            raise DrainError(
                f"another 'drain data update' is writing the cache in {folder} (lock not free "
                f"after {timeout:g} s); wait for it to finish and run the update again"
            ) from None
        except OSError as exc:
            raise EnvironmentFault(describe(exc, folder / cache.LOCK_NAME, "take the cache lock")) \
                from None
        try:
            _remove_stale_temp_files(folder)
            notes: list[str] = []
            old_prices = _old_rows("prices", folder, notes) if names else None
            old_macro = _old_rows("macro", folder, notes) if series_names else None
            with command_deadline():  # every request and retry of this update, in all
                fetched_prices, fetched_macro = _download_all(
                    names, series_names, price_start, macro_start, start is not None,
                    set(snap_prices["ticker"]) | (set(old_prices["ticker"]) if names else set()),
                    progress, wait, session, fred_session,
                )
            _check_fetched("prices", fetched_prices)
            _check_fetched("macro", fetched_macro)
            tables = []
            if names:
                known = _known_rows(snap_prices, old_prices, "ticker", "close")
                if fetched_prices is not None:
                    notes += _seam_warnings(known, fetched_prices)
                tables.append(
                    _write("prices", "ticker", "close", names, old_prices, fetched_prices, known,
                           folder)
                )
            if series_names:
                known = _known_rows(snap_macro, old_macro, "series", "value")
                tables.append(
                    _write("macro", "series", "value", series_names, old_macro, fetched_macro,
                           known, folder)
                )
        finally:
            lock.release()
        return UpdateSummary(tables=tuple(tables), warnings=tuple(notes))


def _download_all(
    names: list[str],
    series_names: list[str],
    price_start: pd.Timestamp,
    macro_start: pd.Timestamp,
    explicit_since: bool,
    known_tickers: set[str],
    progress: bool,
    wait: tenacity.wait.wait_base | None,
    session: Any,
    fred_session: requests.Session | None,
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Fetch every ticker and series (one request each), with an optional progress bar."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    prices, macro = [], []
    columns = (TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    console = Console(stderr=True)
    # Off when stderr is not a terminal: rich would leave a stray blank line in logs and pipes.
    with requests.Session() as own_http, Progress(
        *columns, console=console, transient=True, disable=not (progress and console.is_terminal)
    ) as bar:
        http = fred_session if fred_session is not None else own_http
        task = bar.add_task("downloading", total=len(names) + len(series_names))
        for name in names:
            bar.update(task, description=f"Yahoo {name}")
            try:
                prices.append(fetch_prices([name], price_start, session=session, wait=wait))
            except EmptyDownload:
                # Nothing new for a ticker we already have, since a date the user chose: fine.
                if not (explicit_since and name in known_tickers):
                    raise
            bar.advance(task)
        for name in series_names:
            bar.update(task, description=f"FRED {name}")
            try:
                macro.append(fetch_fred([name], macro_start, session=http, wait=wait))
            except EmptyDownload:
                if not explicit_since:
                    raise
            bar.advance(task)
    return (
        pd.concat(prices, ignore_index=True) if prices else None,
        pd.concat(macro, ignore_index=True) if macro else None,
    )


def _write(
    table: str,
    key: str,
    value: str,
    names: list[str],
    old: pd.DataFrame,
    fetched: pd.DataFrame | None,
    known: pd.DataFrame,
    folder: Path,
) -> TableUpdate:
    """Merge ``fetched`` into the old table and replace the file (untouched if nothing came)."""
    path = folder / f"{table}.parquet"
    if fetched is None or fetched.empty:
        return TableUpdate(table, tuple(names), 0, 0, 0, path)
    new_rows, revised_rows = _compare(known, fetched, key, value)
    if len(old):
        merged = cache.merge_rows(old, fetched, key)
    else:
        merged = fetched.sort_values([key, "date"]).reset_index(drop=True)
    path = cache.write_table(table, merged, folder)
    return TableUpdate(table, tuple(names), len(fetched), new_rows, revised_rows, path)


__all__ = ["STALE_TEMP_SECONDS", "TableUpdate", "UpdateSummary", "update"]
