"""The conventions every stage shares, written once.

- ``PERIODS_PER_YEAR``: NYSE sessions a year, for every annualisation (vectorbt is told the
  same, quantstats is passed it).
- ``DAY_COUNT``: the money-market day count (ACT/360) for cash interest and short borrow.
- ``REGIMES``: the liquidity regimes in order of rising drain, as the signal labels them;
  ``DRAIN_REGIMES`` the two in which idle money is gone or going.
- ``REGIME_COLOURS``: one colour per regime (hex), for every chart and table that shows one.
"""

from __future__ import annotations

from drain_core.frozen import FrozenDict

PERIODS_PER_YEAR = 252
DAY_COUNT = 360.0
REGIMES: tuple[str, ...] = ("abundant", "draining", "scarce")
DRAIN_REGIMES: tuple[str, ...] = REGIMES[1:]
REGIME_COLOURS: FrozenDict = FrozenDict(zip(REGIMES, ("#2ca02c", "#ff7f0e", "#d62728"),
                                            strict=True))
