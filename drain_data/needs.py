"""``Needs``: the tickers and macro series a command reads, so that damaged cache rows of other
names (``drain_data.validate``) leave that command working instead of refusing it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Needs:
    """What a command reads: ``tickers`` of the prices table, ``series`` of the macro table."""

    tickers: frozenset[str] = frozenset()
    series: frozenset[str] = frozenset()

    @classmethod
    def of(cls, tickers: Iterable[str] = (), series: Iterable[str] = ()) -> Needs:
        """Needs from any iterables of names."""
        return cls(frozenset(tickers), frozenset(series))

    def __or__(self, other: Needs) -> Needs:
        """What either of two commands reads."""
        return Needs(self.tickers | other.tickers, self.series | other.series)

    def names(self, table: str) -> frozenset[str]:
        """The names read from one cache table ("prices" or "macro")."""
        return self.tickers if table == "prices" else self.series


__all__ = ["Needs"]
