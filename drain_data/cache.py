"""The on-disk cache of live downloads: two long parquet tables, written atomically under a lock.

Layout of ``cache_dir``:
    prices.parquet  ticker, date, close, fetched_at
    macro.parquet   series, date, value, fetched_at
Rows in the cache override snapshot rows with the same key (ticker/series and date).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import platformdirs
from filelock import FileLock, Timeout

from drain_core.errors import DrainError, EnvironmentFault
from drain_core.fs import describe, guarded, make_dirs

CACHE_ENV = "DRAIN_CACHE_DIR"
TABLES = {
    "prices": ["ticker", "date", "close", "fetched_at"],
    "macro": ["series", "date", "value", "fetched_at"],
}
LOCK_TIMEOUT_SECONDS = 60
LOCK_NAME = ".update.lock"


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``override``, else $DRAIN_CACHE_DIR, else the user cache dir."""
    if override:
        return Path(override)
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(platformdirs.user_cache_dir("liquidity-drain"))


def _empty(table: str) -> pd.DataFrame:
    frame = pd.DataFrame({col: pd.Series(dtype="object") for col in TABLES[table]})
    frame["date"] = frame["date"].astype("datetime64[ns]")
    frame["fetched_at"] = frame["fetched_at"].astype("datetime64[ns]")
    value_col = TABLES[table][2]
    frame[value_col] = frame[value_col].astype("float64")
    return frame


def read_checked(
    table: str, directory: str | os.PathLike | None = None
) -> tuple[pd.DataFrame, dict[str, str]]:
    """One cache table without its unusable rows, and ``{name: reason}`` for each ticker or
    series whose rows were unusable (``drain_data.validate``; a value or date column of the
    wrong type spoils every name of the table). An absent file is an empty table; an
    unreadable file, or one whose names cannot be read, is a DrainError."""
    from drain_data.releases import MACRO_RULES
    from drain_data.validate import check_columns, check_values, damaged_names

    path = cache_dir(directory) / f"{table}.parquet"
    fix = "delete it and run 'drain data update' again"
    if path.exists() and not path.is_file():
        raise DrainError(f"cache file {path} is not a file; {fix}")
    if not path.is_file():
        return _empty(table), {}
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for truncated files
        raise DrainError(f"cache file {path} is unreadable ({type(exc).__name__}); {fix}") from None
    missing = set(TABLES[table]) - set(frame.columns)
    wrong = None if missing else check_columns(table, frame)
    if missing or wrong:
        what = f"lacks columns {sorted(missing)}" if missing else wrong
        raise DrainError(f"cache file {path} {what}; {fix}")
    frame = frame[TABLES[table]].copy()
    spoilt = check_values(table, frame)
    try:
        for col in () if spoilt else ("date", "fetched_at"):
            frame[col] = frame[col].astype("datetime64[ns]")
    except (TypeError, ValueError, OverflowError) as exc:
        spoilt = f"dates pandas cannot read ({exc})"
    if spoilt:
        names = frame[TABLES[table][0]].astype(str).unique()
        return _empty(table), {str(name): spoilt for name in sorted(names)}
    damaged = damaged_names(table, frame, set(MACRO_RULES) if table == "macro" else None)
    if damaged:
        key = TABLES[table][0]
        frame = frame[~frame[key].astype(str).isin(damaged)].reset_index(drop=True)
    return frame, damaged


def read_table(table: str, directory: str | os.PathLike | None = None) -> pd.DataFrame:
    """One cache table without its unusable rows (see ``read_checked``)."""
    return read_checked(table, directory)[0]


def damage_message(table: str, damaged: dict[str, str],
                   directory: str | os.PathLike | None = None) -> str:
    """One line naming the damaged names of a cache table, the file, and the fix: an update
    of those names, or deleting the file when a name is one no source knows (an update of an
    unknown series or a non-symbol cannot run)."""
    from drain_data.validate import UNKNOWN_NAME

    path = cache_dir(directory) / f"{table}.parquet"
    key, option = ("ticker", "--tickers") if table == "prices" else ("series", "--series")
    unknown = [name for name, reason in damaged.items() if reason in UNKNOWN_NAME]
    name = unknown[0] if unknown else next(iter(damaged))
    more = f" (and {len(damaged) - 1} more)" if len(damaged) > 1 else ""
    fix = (f"delete the file {path}" if unknown else
           f"refresh them with 'drain data update {option} {' '.join(sorted(damaged))}' or "
           f"delete the file")
    return f"cache file {path}: the rows of {key} {name!r}{more} hold {damaged[name]}; {fix}"


def write_table(
    table: str, frame: pd.DataFrame, directory: str | os.PathLike | None = None
) -> Path:
    """Atomically replace one cache table: write a temp file in the same folder, then rename.
    A file-system failure (disk full, read-only, ...) leaves the old table and no temp file."""
    folder = make_dirs(cache_dir(directory), "create the cache folder")
    path = folder / f"{table}.parquet"
    with guarded(folder, "create a cache file in"):
        fd, tmp = tempfile.mkstemp(prefix=f".{table}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            frame[TABLES[table]].to_parquet(handle, index=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise EnvironmentFault(describe(exc, path, "write the cache file")) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def cache_lock(directory: str | os.PathLike | None = None) -> FileLock:
    """A lock held for the whole of an update, so two updates never interleave."""
    folder = make_dirs(cache_dir(directory), "create the cache folder")
    return FileLock(str(folder / LOCK_NAME), timeout=LOCK_TIMEOUT_SECONDS)


def merge_rows(old: pd.DataFrame, new: pd.DataFrame, key: str) -> pd.DataFrame:
    """Union of two cache tables; for the same (key, date) the newer fetch wins."""
    both = pd.concat([old, new], ignore_index=True)
    both = both.sort_values(["fetched_at"], kind="stable")
    both = both.drop_duplicates([key, "date"], keep="last")
    return both.sort_values([key, "date"]).reset_index(drop=True)


__all__ = [
    "CACHE_ENV",
    "LOCK_NAME",
    "Timeout",
    "cache_dir",
    "cache_lock",
    "damage_message",
    "merge_rows",
    "read_checked",
    "read_table",
    "write_table",
]
