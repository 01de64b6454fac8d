"""Point-in-time data layer: embedded snapshot, live cache, publication rules, NYSE calendar.

``Dataset``, ``coverage`` and ``load_dataset`` are loaded on first use, so that importing a light
module of this package (``drain_core.errors``, ``drain_core.paths``) does not import pandas.
"""

from typing import TYPE_CHECKING, Any

from drain_core.errors import DrainError
from drain_data.needs import Needs

if TYPE_CHECKING:
    from drain_data.store import Dataset, coverage, load_dataset

__all__ = ["Dataset", "DrainError", "Needs", "coverage", "load_dataset"]
_FROM_STORE = ("Dataset", "coverage", "load_dataset")


def __getattr__(name: str) -> Any:
    if name in _FROM_STORE:
        from drain_data import store

        return getattr(store, name)
    raise AttributeError(f"module 'drain_data' has no attribute {name!r}")
