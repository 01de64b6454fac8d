"""Compare the composite with published stress indices (STLFSI4, NFCI): a check, never an input.

Published indices are normalised on their full sample and revised, so their histories leak the
future; they only serve to show how the point-in-time composite relates to them.
"""

from __future__ import annotations

import pandas as pd

from signals.composite import SignalResult

COMPARISONS = ("STLFSI4", "NFCI")


def stress_index_correlations(dataset, result: SignalResult) -> pd.DataFrame:
    """Correlation of the composite with the published stress indices on weekly samples.

    The indices are aligned by ``Dataset.macro_daily`` (the value published by each session's
    close); values more than two weeks past an index's last release are dropped, not held.
    The sample is the last session of each week. Reported: correlation of levels and of
    4-week changes, with the number of weeks.
    """
    rows = []
    known = set(dataset.macro["series"])
    names = [n for n in COMPARISONS if n in known]
    if not names:
        return pd.DataFrame(columns=["index", "signal", "level", "change_4w", "weeks"])
    ref = dataset.macro_daily(names)
    for name in names:
        last = dataset.macro.loc[dataset.macro["series"] == name, "available_at"].max()
        ref.loc[ref.index > last + pd.Timedelta(days=14), name] = float("nan")
    both = pd.concat(
        [result.composite.rename("composite"),
         result.composite_ungated.rename("composite_ungated"), ref], axis=1
    )
    week = both.index.to_period("W-FRI")
    weekly = both.groupby(week).tail(1)
    for name in names:
        for signal in ("composite", "composite_ungated"):
            pair = weekly[[signal, name]].dropna()
            change = pair.diff(4).dropna()
            rows.append({
                "index": name,
                "signal": signal,
                "level": pair[signal].corr(pair[name]) if len(pair) > 2 else float("nan"),
                "change_4w": (change[signal].corr(change[name]) if len(change) > 2
                              else float("nan")),
                "weeks": len(pair),
                "first": pair.index.min(),
                "last": pair.index.max(),
            })
    return pd.DataFrame(rows)
