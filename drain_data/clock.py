"""The clock the downloads read: the current UTC time, tz-naive.

One function in one place so tests can pin it; callers use ``clock.utcnow()``, never a copy
imported by name, so pinning it here reaches every download and every start-date check.
"""

from __future__ import annotations

import pandas as pd


def utcnow() -> pd.Timestamp:
    """The current UTC time, tz-naive (a function so tests can pin the clock)."""
    return pd.Timestamp.now(tz="UTC").tz_localize(None)


__all__ = ["utcnow"]
