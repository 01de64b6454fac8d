"""A run folder's files are the ones its backtest wrote: checksums in the manifest, checked on
every rebuild, and one-line errors for a manifest or CSV that is damaged.

``file_checksums`` gives the sha256 of each raw file when the run is saved (the manifest lists
them: every CSV of the run and its config); ``checked_manifest`` reads ``manifest.json`` back
(truncated, not an object, keys missing: a DrainError) and refuses any listed file whose
content changed since. ``read_run_csv`` is the one reader of a run's CSVs: a file that is
empty, not a CSV, cut short or holds other than dated numbers is a DrainError naming it, which
covers a CSV the manifest does not list (a run saved before its checksums, or before the file
was checksummed).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from drain_core.errors import DrainError

if TYPE_CHECKING:
    import pandas as pd

MANIFEST = "manifest.json"
REQUIRED_KEYS = ("name", "start", "end", "config")
# the columns each raw CSV must have, besides its date index
REQUIRED_COLUMNS = {
    "returns.csv": ("strategy", "SPY", "turnover"),
    "equity.csv": ("strategy",),
    "weights.csv": (),
    "signal.csv": ("composite", "regime"),
    "contributions.csv": ("costs_and_cash",),
}
TEXT_COLUMNS = ("regime",)  # the one column of a run's CSVs that is not numbers


def sha256(path: Path) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_checksums(run_dir: Path, files: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``{file: sha256}`` of each of ``files`` in ``run_dir`` (for the manifest)."""
    return {name: sha256(run_dir / name) for name in files}


def _damaged(run_dir: Path, what: str) -> DrainError:
    return DrainError(f"{run_dir}: {what}; the run folder is damaged, re-run the backtest "
                      f"('drain backtest --name {run_dir.name}' with its config.toml)")


def checked_manifest(run_dir: Path) -> dict:
    """The run's manifest, after checking it and the files it lists (else a DrainError)."""
    try:
        manifest = json.loads((run_dir / MANIFEST).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _damaged(run_dir, f"{MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise _damaged(run_dir, f"{MANIFEST} holds a {type(manifest).__name__}, not an object")
    missing = [key for key in REQUIRED_KEYS if key not in manifest]
    if missing:
        raise _damaged(run_dir, f"{MANIFEST} lacks {', '.join(missing)}")
    checksums = manifest.get("checksums")
    if checksums is None:
        for name in REQUIRED_COLUMNS:
            read_run_csv(run_dir, name)
        return manifest
    if not isinstance(checksums, dict):
        raise _damaged(run_dir, f"{MANIFEST}: checksums is not an object")
    for name, expected in checksums.items():
        path = run_dir / str(name)
        if not path.is_file():
            raise _damaged(run_dir, f"{name} is missing")
        if sha256(path) != expected:
            raise _damaged(run_dir, f"{name} changed since the run wrote it (sha256 mismatch)")
    return manifest


def read_run_csv(run_dir: Path, name: str) -> pd.DataFrame:
    """The run's CSV ``name``, indexed by its dates, once it has been checked: a CSV (UTF-8,
    ending in a newline as written) with a date column, rows and value columns (the ones
    ``REQUIRED_COLUMNS`` names among them), dates in order, numbers. Else a DrainError naming
    the file and the rerun that rewrites it."""
    import pandas as pd

    path = run_dir / name
    try:
        with path.open("rb") as handle:
            handle.seek(-1, 2)  # an empty file: OSError
            whole = handle.read(1) == b"\n"
        frame = pd.read_csv(path, index_col="date", encoding="utf-8")
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise _damaged(run_dir, f"{name} is not a CSV with a date column "
                                f"({type(exc).__name__})") from None
    if not whole:
        raise _damaged(run_dir, f"{name} is cut short (its last line is incomplete)")
    dates = pd.to_datetime(frame.index, format="%Y-%m-%d", errors="coerce")
    lacking = [c for c in REQUIRED_COLUMNS.get(name, ()) if c not in frame.columns]
    if frame.columns.empty or frame.empty or lacking:  # empty: no rows or no columns
        raise _damaged(run_dir, f"{name} has no columns besides its dates"
                       if frame.columns.empty else f"{name} has no rows" if frame.empty
                       else f"{name} lacks columns {', '.join(lacking)}")
    if dates.isna().any() or not dates.is_monotonic_increasing or not dates.is_unique:
        raise _damaged(run_dir, f"{name} has dates that are unparseable, repeated or unordered")
    numeric = frame.drop(columns=[c for c in TEXT_COLUMNS if c in frame.columns])
    if not all(pd.api.types.is_numeric_dtype(t) for t in numeric.dtypes):
        raise _damaged(run_dir, f"{name} holds values that are not numbers")
    frame.index = pd.DatetimeIndex(dates, name="date")
    return frame


__all__ = ["checked_manifest", "file_checksums", "read_run_csv", "sha256"]
