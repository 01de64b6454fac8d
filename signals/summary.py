"""What ``drain signal`` prints, as tables: the latest reading of each component and the days
spent in each regime."""

from __future__ import annotations

import pandas as pd

from signals.composite import SignalResult
from signals.config import PILLARS, SignalConfig

NO_COMPOSITE = "(no composite)"


def latest_readings(result: SignalResult, config: SignalConfig) -> pd.DataFrame:
    """One row per component at the last session: its pillar, raw value, z-score, the date of
    its last value (NaT if none), its weight and whether the buffer gate scales it."""
    pillar_of = {c: p for p, names in PILLARS.items() for c in names}
    rows = {}
    for name in result.components.columns:
        raw = result.components[name]
        valid = raw.dropna()
        rows[name] = {"pillar": pillar_of.get(name, ""), "raw": raw.iloc[-1],
                      "z": result.zscores[name].iloc[-1],
                      "last_value_on": valid.index[-1] if len(valid) else pd.NaT,
                      "weight": config.weight(name), "gated": name in config.gated_components}
    return pd.DataFrame.from_dict(rows, orient="index")


def regime_days(regime: pd.Series) -> pd.DataFrame:
    """Sessions in each regime and their share of the sessions with one, then the sessions
    without a composite (share NaN)."""
    counts = regime.value_counts(sort=False)
    total = int(counts.sum())
    frame = pd.DataFrame({"days": counts.astype(int),
                          "share": counts / total if total else float("nan")})
    frame.loc[NO_COMPOSITE] = {"days": int(regime.isna().sum()), "share": float("nan")}
    return frame.astype({"days": int})


__all__ = ["NO_COMPOSITE", "latest_readings", "regime_days"]
