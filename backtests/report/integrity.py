"""A run folder's files are the ones its backtest wrote: checksums in the manifest, checked on
every rebuild, and one-line errors for a manifest or CSV that is damaged.

``file_checksums`` gives the sha256 of each raw file when the run is saved (the manifest lists
them); ``checked_manifest`` reads ``manifest.json`` back (truncated, not an object, keys
missing: a DrainError) and refuses any listed file whose content changed since. A manifest
without checksums (a run saved before they existed) has its CSVs parsed instead.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from drain_core.errors import DrainError

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
        for name, columns in REQUIRED_COLUMNS.items():
            _check_csv(run_dir, name, columns)
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


def _check_csv(run_dir: Path, name: str, columns: tuple[str, ...]) -> None:
    """A raw CSV of a run without checksums: dates as index, the expected columns, rows."""
    import pandas as pd

    try:
        frame = pd.read_csv(run_dir / name, index_col="date")
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeError) as exc:
        raise _damaged(run_dir, f"{name} is not a CSV with a date column "
                                f"({type(exc).__name__})") from None
    dates = pd.to_datetime(frame.index, format="%Y-%m-%d", errors="coerce")
    lacking = [c for c in columns if c not in frame.columns]
    if frame.empty or lacking:
        raise _damaged(run_dir, f"{name} has no rows" if frame.empty
                       else f"{name} lacks columns {', '.join(lacking)}")
    if dates.isna().any() or not dates.is_monotonic_increasing or not dates.is_unique:
        raise _damaged(run_dir, f"{name} has dates that are unparseable, repeated or unordered")
    numeric = frame.drop(columns=[c for c in ("regime",) if c in frame.columns])
    if not all(pd.api.types.is_numeric_dtype(t) for t in numeric.dtypes):
        raise _damaged(run_dir, f"{name} holds values that are not numbers")


__all__ = ["checked_manifest", "file_checksums", "sha256"]
