"""``FrozenDict``: a read-only, hashable dict, so that config objects holding tables can be
dict keys and set members (a sweep caches by config, not by ``id``)."""

from __future__ import annotations

from typing import Any, NoReturn


class FrozenDict(dict):
    """A dict that cannot change after it is made; equal to (and JSON-encoded as) a plain dict.

    Its hash is that of its items, so its values must be hashable (tuples, not lists).
    """

    __slots__ = ()

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __reduce__(self) -> tuple[Any, ...]:  # pickle and deepcopy rebuild it whole
        return (type(self), (dict(self),))

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("FrozenDict cannot be changed; build a new one")

    __setitem__ = __delitem__ = __ior__ = _refuse  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]
