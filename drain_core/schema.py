"""Config validation at the boundary: each section's dataclass annotations are its schema.

A config section is a frozen dataclass whose field annotations state the type and, for numbers
and lists, the range, with msgspec's ``Meta`` (built by ``whole``, ``number`` and ``text``)::

    Lookback = whole(2, MAX_WINDOW)            # int, 2 <= x <= MAX_WINDOW

    @dataclass(frozen=True)
    class StrategyConfig:
        vol_lookback: Lookback = 63

        def __post_init__(self) -> None:
            conform(self, "strategy")          # types and ranges, then cross-field rules

``conform`` hands every field to msgspec (strict: no string for a number, no bool for an int, no
fraction for a whole number), refuses NaN and infinity anywhere, stores lists as tuples and
tables as ``FrozenDict`` (so the config is hashable), and turns the first problem into one line
naming the key path, what it must be and what it got::

    strategy.vol_lookback must be a whole number >= 2 and <= 5040, got 'abc'

It runs on every construction, so ``dataclasses.replace`` (a tune grid's values) passes the same
checks as a TOML file. ``from_dict`` methods add what a plain constructor cannot see: the section
must be a table (``require_table``) and unknown keys get a did-you-mean (``reject_unknown``).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import re
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from drain_core.conventions import PERIODS_PER_YEAR
from drain_core.errors import DrainError
from drain_core.frozen import FrozenDict

__all__ = ["MAX_WINDOW", "UNIQUE", "WINDOW_REASON", "Meta", "Ticker", "conform", "describe",
           "did_you_mean", "field_names", "number", "reject_unknown", "require_table", "text",
           "whole"]


# --- building annotations ---------------------------------------------------------------------

# The longest look-back any window may ask for: twenty years of sessions, more than any data set
# here holds (a longer window would never fill; an integer beyond this is a typo).
MAX_WINDOW = 20 * PERIODS_PER_YEAR
WINDOW_REASON = "sessions; at most twenty years"
UNIQUE = Meta(extra={"unique": True})  # on a list field: each item at most once


def whole(ge: int, le: int, reason: str | None = None) -> Any:
    """The annotation of a whole number in ``[ge, le]`` (``reason`` explains the range)."""
    return Annotated[int, Meta(ge=ge, le=le, description=reason)]


def number(*, gt: float | None = None, ge: float | None = None, lt: float | None = None,
           le: float | None = None, reason: str | None = None) -> Any:
    """The annotation of a finite number within the given bounds."""
    return Annotated[float, Meta(gt=gt, ge=ge, lt=lt, le=le, description=reason)]


def text(noun: str, *, pattern: str | None = None, max_length: int = 200) -> Any:
    """The annotation of a string that messages call ``noun`` (e.g. "ticker symbol")."""
    return Annotated[str, Meta(min_length=1, max_length=max_length, pattern=pattern,
                               extra={"noun": noun})]


# A ticker as the data sources spell it: BRK-B, BTC-USD, ^GSPC, ES=F.
Ticker = text("ticker symbol", pattern=r"^[A-Za-z0-9^][A-Za-z0-9.=^-]*$", max_length=24)


# --- the checks -------------------------------------------------------------------------------


def did_you_mean(name: Any, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or an empty string."""
    close = difflib.get_close_matches(str(name), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def field_names(cls: type) -> tuple[str, ...]:
    """The keys a config section accepts: its dataclass fields."""
    return tuple(f.name for f in dataclasses.fields(cls) if f.init)


def require_table(path: str, value: Any) -> Mapping[str, Any]:
    """``value`` if it is a table; otherwise a one-line error naming ``path``."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise DrainError(f"{path} must be a table ([{path}] with key = value lines), "
                         f"got {_show(value)}")
    return value


def reject_unknown(path: str, keys: Iterable[str], known: Iterable[str]) -> None:
    """Raise a one-line error for the first key not in ``known``, with a did-you-mean."""
    known = list(known)
    for key in keys:
        if key not in known:
            raise DrainError(f"unknown key {path}.{key}{did_you_mean(key, known)}; "
                             f"known keys: {', '.join(sorted(known))}")


def conform(config: Any, section: str) -> None:
    """Check every field of the frozen dataclass ``config`` against its annotation and store
    the normalised values (tuples, ``FrozenDict``, floats); the first problem is a DrainError."""
    schema = _schema(type(config))
    values = {name: getattr(config, name) for name in schema.hints}
    bad = _non_finite({name: values[name] for name in schema.numeric})
    if bad is not None:
        raise DrainError(_explain(bad, values, schema.hints, section))
    try:
        checked = msgspec.convert(values, schema.struct, strict=True)
    except msgspec.ValidationError as exc:
        raise DrainError(_explain(_tokens(str(exc)), values, schema.hints, section,
                                  str(exc))) from None
    for name in schema.hints:
        value = getattr(checked, name)
        nested = schema.nested.get(name)
        if nested is not None:
            if not isinstance(value, nested):
                raise DrainError(f"{section}.{name} must be a table, got {_show(value)}")
        else:
            if (_meta(schema.hints[name]).extra or {}).get("unique"):
                _refuse_repeats(f"{section}.{name}", value)
            frozen = _freeze(value)
            if frozen is not values[name]:
                object.__setattr__(config, name, frozen)


def _refuse_repeats(path: str, items: Any) -> None:
    """A DrainError naming the first item of the list ``items`` given twice."""
    seen: list[Any] = []
    for item in items:
        if item in seen:
            raise DrainError(f"{path} lists {item!r} twice; name each once")
        seen.append(item)


@dataclasses.dataclass(frozen=True)
class _Schema:
    struct: type  # the msgspec Struct that checks a section's values
    hints: dict[str, Any]  # field -> resolved annotation
    numeric: tuple[str, ...]  # fields that may hold floats (checked for NaN and infinity)
    nested: dict[str, type]  # fields holding another config (it checks itself)


@functools.cache
def _schema(cls: type) -> _Schema:
    """The msgspec Struct of a dataclass's annotated fields (nested configs check themselves)."""
    resolved = typing.get_type_hints(cls, include_extras=True)
    hints = {name: resolved[name] for name in field_names(cls)}
    nested = {name: hint for name, hint in hints.items() if dataclasses.is_dataclass(hint)}
    fields = [(name, Any if name in nested else hint) for name, hint in hints.items()]
    struct = msgspec.defstruct(f"{cls.__name__}Schema", fields, forbid_unknown_fields=True)
    numeric = tuple(name for name, hint in hints.items()
                    if name not in nested and _holds_float(hint))
    return _Schema(struct, hints, numeric, nested)


def _holds_float(hint: Any) -> bool:
    base, _ = _unwrap(hint)
    return base is float or any(_holds_float(arg) for arg in typing.get_args(base)
                                if arg is not Ellipsis and not isinstance(arg, str))


def _freeze(value: Any) -> Any:
    """Tables as FrozenDict and lists as tuples, at any depth (``Any`` fields keep lists)."""
    if isinstance(value, FrozenDict):
        return value
    if isinstance(value, dict):
        return FrozenDict((k, _freeze(v)) for k, v in value.items())
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


# --- explaining a failure ---------------------------------------------------------------------
# A location is a list of steps from the section: ("attr", field), ("index", i) or
# ("entry", key); msgspec reports a table entry as ``[...]`` (key None: found by re-checking).

_STEP = re.compile(r"\.([A-Za-z_]\w*)|\[(\d+)\]|\[(\.\.\.)\]")


def _tokens(message: str) -> list[tuple[str, Any]]:
    match = re.search(r" - at (`key` in )?`\$(.*)`$", message)
    steps: list[tuple[str, Any]] = []
    for attr, index, entry in _STEP.findall(match.group(2) if match else ""):
        if attr:
            steps.append(("attr", attr))
        elif index:
            steps.append(("index", int(index)))
        elif entry:
            steps.append(("entry", None))
    if match and match.group(1):  # a table's key was refused
        steps.append(("entry", None))
    return steps


def _non_finite(value: Any, steps: tuple = ()) -> list[tuple[str, Any]] | None:
    """Steps to the first NaN or infinite number inside ``value``, or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else list(steps)
    if isinstance(value, Mapping):
        kind = "attr" if not steps else "entry"
        for key, item in value.items():
            found = _non_finite(item, (*steps, (kind, key)))
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _non_finite(item, (*steps, ("index", i)))
            if found is not None:
                return found
    return None


def _explain(steps: list[tuple[str, Any]], values: dict[str, Any], hints: dict[str, Any],
             section: str, fallback: str = "") -> str:
    path, value, hint, is_key = section, values, None, False
    try:
        for kind, arg in steps:
            if kind == "attr" and hint is None:
                path, value, hint = f"{path}.{arg}", value[arg], hints[arg]
            elif kind == "index":
                path, value, hint = f"{path}[{arg}]", value[arg], _element(hint, arg)
            else:
                key_type, item_type = typing.get_args(_strip(hint))
                if arg is None:
                    arg, is_key = _failing_entry(value, key_type, item_type)
                path = f"{path}.{arg}"
                value, hint = (arg, key_type) if is_key else (value[arg], item_type)
                if is_key:
                    break
    except (KeyError, IndexError, TypeError, ValueError):
        hint = None
    if hint is None:
        return f"{section}: {fallback}"
    base, _ = _unwrap(hint)
    if typing.get_origin(base) is Literal:
        choices = [str(c) for c in typing.get_args(base)]
        if is_key:
            return (f"unknown key {path}{did_you_mean(value, choices)}; known keys: "
                    f"{', '.join(choices)}")
        return (f"{path} = {_show(value)} is not one of {', '.join(choices)}"
                f"{did_you_mean(value, choices)}")
    reason = _meta(hint).description
    return (f"{path} must be {describe(hint)}{f' ({reason})' if reason else ''}, "
            f"got {_show(value)}")


def _failing_entry(table: Mapping, key_type: Any, item_type: Any) -> tuple[Any, bool]:
    """The first entry of ``table`` whose key or value its type rejects: (key, key at fault)."""
    for key, item in table.items():
        for candidate, hint, is_key in ((key, key_type, True), (item, item_type, False)):
            try:
                msgspec.convert(candidate, hint, strict=True)
            except msgspec.ValidationError:
                return key, is_key
            if not is_key and _non_finite(item) is not None:
                return key, False
    raise KeyError("no failing entry")


def _strip(hint: Any) -> Any:
    """The type without Annotated metadata and without ``| None``."""
    base, _ = _unwrap(hint)
    if typing.get_origin(base) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(base) if a is not type(None)]
        return _strip(inner[0])
    return base


def _element(hint: Any, index: int) -> Any:
    args = typing.get_args(_strip(hint))
    return args[0] if len(args) == 2 and args[1] is Ellipsis else args[index]


def _unwrap(hint: Any) -> tuple[Any, list[Meta]]:
    metas: list[Meta] = []
    while typing.get_origin(hint) is Annotated:
        metas.extend(m for m in hint.__metadata__ if isinstance(m, Meta))
        hint = hint.__origin__
    return hint, metas


def _meta(hint: Any) -> Meta:
    """The annotation's constraints merged into one Meta."""
    base, metas = _unwrap(hint)
    if typing.get_origin(base) in (typing.Union, types.UnionType):
        inner = next(a for a in typing.get_args(base) if a is not type(None))
        metas += _unwrap(inner)[1]  # X | None: the constraints of X
    merged: dict[str, Any] = {}
    for meta in metas:
        merged.update({k: getattr(meta, k) for k in (
            "gt", "ge", "lt", "le", "min_length", "max_length", "description", "extra")
            if getattr(meta, k) is not None})
    return Meta(**merged)


def describe(hint: Any, plural: bool = False) -> str:
    """What a value of type ``hint`` must be, in words ("a whole number >= 2 and <= 5040")."""
    base, _ = _unwrap(hint)
    meta = _meta(hint)
    origin = typing.get_origin(base)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(base) if a is not type(None)]
        return f"{describe(inner[0], plural)}, or absent"
    if origin is Literal:
        noun = (meta.extra or {}).get("noun", "name")
        choices = ", ".join(str(c) for c in typing.get_args(base))
        return f"{noun}s ({choices})" if plural else f"one of {choices}"
    if origin is tuple:
        args = typing.get_args(base)
        if len(args) == 2 and args[1] is Ellipsis:
            lead = "a non-empty list" if meta.min_length else "a list"
            return f"{lead} of {describe(args[0], plural=True)}"
        return f"a list of {len(args)} {describe(args[0], plural=True)}"
    if origin is dict:
        key, item = typing.get_args(base)
        key_noun = (_meta(key).extra or {}).get("noun", "name")
        return f"a table of {key_noun} = {describe(item)}"
    if dataclasses.is_dataclass(base):
        return "a table"
    nouns = {bool: "true or false", int: "whole number", float: "finite number",
             str: (meta.extra or {}).get("noun", "string")}
    noun = nouns.get(base, getattr(base, "__name__", str(base)))
    if base is bool:
        return noun
    bounds = " and ".join(f"{op} {_number_text(limit)}" for op, limit in (
        (">", meta.gt), (">=", meta.ge), ("<", meta.lt), ("<=", meta.le)) if limit is not None)
    if plural:
        return f"{noun}s{' ' + bounds if bounds else ''}"
    article = "an" if noun[0] in "aeiou" else "a"
    return f"{article} {noun}{' ' + bounds if bounds else ''}"


def _number_text(limit: float) -> str:
    if isinstance(limit, int) or (float(limit).is_integer() and abs(limit) < 1e7):
        return str(int(limit))
    return f"{limit:g}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
