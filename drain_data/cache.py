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

from drain_core.errors import DrainError

CACHE_ENV = "DRAIN_CACHE_DIR"
TABLES = {
    "prices": ["ticker", "date", "close", "fetched_at"],
    "macro": ["series", "date", "value", "fetched_at"],
}
LOCK_TIMEOUT_SECONDS = 60


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


def read_table(table: str, directory: str | os.PathLike | None = None) -> pd.DataFrame:
    """Read one cache table; an absent file is an empty table, an unreadable one a DrainError."""
    path = cache_dir(directory) / f"{table}.parquet"
    if not path.exists():
        return _empty(table)
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for truncated files
        raise DrainError(
            f"cache file {path} is unreadable ({type(exc).__name__}); delete it and run "
            f"'drain data update' again"
        ) from None
    missing = set(TABLES[table]) - set(frame.columns)
    if missing:
        raise DrainError(
            f"cache file {path} lacks columns {sorted(missing)}; delete it and run "
            f"'drain data update' again"
        )
    frame = frame[TABLES[table]].copy()
    for col in ("date", "fetched_at"):
        frame[col] = frame[col].astype("datetime64[ns]")
    return frame


def write_table(
    table: str, frame: pd.DataFrame, directory: str | os.PathLike | None = None
) -> Path:
    """Atomically replace one cache table: write a temp file in the same folder, then rename."""
    folder = cache_dir(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{table}.parquet"
    fd, tmp = tempfile.mkstemp(prefix=f".{table}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            frame[TABLES[table]].to_parquet(handle, index=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def cache_lock(directory: str | os.PathLike | None = None) -> FileLock:
    """A lock held for the whole of an update, so two updates never interleave."""
    folder = cache_dir(directory)
    folder.mkdir(parents=True, exist_ok=True)
    return FileLock(str(folder / ".update.lock"), timeout=LOCK_TIMEOUT_SECONDS)


def merge_rows(old: pd.DataFrame, new: pd.DataFrame, key: str) -> pd.DataFrame:
    """Union of two cache tables; for the same (key, date) the newer fetch wins."""
    both = pd.concat([old, new], ignore_index=True)
    both = both.sort_values(["fetched_at"], kind="stable")
    both = both.drop_duplicates([key, "date"], keep="last")
    return both.sort_values([key, "date"]).reset_index(drop=True)


__all__ = [
    "CACHE_ENV",
    "Timeout",
    "cache_dir",
    "cache_lock",
    "merge_rows",
    "read_table",
    "write_table",
]
