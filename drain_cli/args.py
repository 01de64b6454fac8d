"""Checks shared by the subcommands' options: dates and run-folder names, as one-line errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drain_core.errors import DrainError

if TYPE_CHECKING:  # pandas is imported on use: the CLI starts before its heavy imports
    import pandas as pd


def parse_date(text: str | None, option: str) -> pd.Timestamp | None:
    """``text`` as a tz-naive midnight timestamp (None stays None); anything else is an error."""
    if text is None:
        return None
    import pandas as pd

    try:
        stamp = pd.Timestamp(text)
    except (TypeError, ValueError):
        stamp = None
    if stamp is None or stamp is pd.NaT or stamp.tzinfo is not None:
        raise DrainError(f"{option}: {text!r} is not a date; use YYYY-MM-DD")
    return stamp.normalize()


def run_name(name: str | None, default: str) -> str:
    """The run folder name: ``default`` when none is given; a path or dot-name is an error."""
    if name is None:
        return default
    if not name or name in (".", "..") or "/" in name or "\\" in name or name.startswith("."):
        raise DrainError(f"--name: {name!r} is not a plain folder name (no '/', no leading '.')")
    return name
