"""The arguments every download shares: the start date and lists of ticker/series names."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pandas as pd

from drain_core.errors import DrainError
from drain_data import clock


def parse_since(since: Any, what: str = "start date") -> pd.Timestamp:
    """A start date as a tz-naive midnight; unparsable or after today -> DrainError, naming
    the value as ``what`` (the CLI passes its option's name)."""
    if isinstance(since, dt.date):  # also datetime and pd.Timestamp
        stamp = pd.Timestamp(since)
    else:
        text = str(since).strip()
        try:
            stamp = pd.Timestamp(dt.date.fromisoformat(text))
        except ValueError:
            raise DrainError(
                f"{what} {text!r} is not a date; write it as YYYY-MM-DD (e.g. 2026-01-02)"
            ) from None
    if stamp.tz is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    stamp = stamp.normalize().as_unit("ns")
    today = clock.utcnow().normalize()
    if stamp > today:
        raise DrainError(
            f"{what} {stamp.date()} is after today ({today.date()} UTC); give a past date"
        )
    return stamp


def split_names(names: str | Iterable[str]) -> list[str]:
    """Names given as one string or many, split on commas and spaces, duplicates dropped."""
    items = [names] if isinstance(names, str) else list(names)
    out: list[str] = []
    for item in items:
        for part in str(item).replace(",", " ").split():
            if part not in out:
                out.append(part)
    return out


def since_text(since: pd.Timestamp | None) -> str:
    """`` since DATE`` for a message, or nothing when no start date was given."""
    return f" since {since.date()}" if since is not None else ""


__all__ = ["parse_since", "since_text", "split_names"]
