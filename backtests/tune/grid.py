"""Parameter grids and the combinations a sweep runs.

A grid is a TOML table whose leaves are lists of values, keyed by the config they change::

    [tune.grid.signal]                 # any SignalConfig field
    buffer_window = [42, 63]
    [tune.grid.signal.weights]         # component weights, one list per component
    issuance = [0.5, 1.0]
    [tune.grid.strategy]               # any StrategyConfig field (tilt.<regime> too)
    variant = ["regime_long_short", "beta_hedged"]
    [tune.grid.backtest]
    lag = [1, 2]                       # the only backtest parameter a sweep may vary

Combinations are the cartesian product (signal parameters vary slowest, so a chunk touches few
signal configurations), or a seeded random sample of it. Every value goes through the config
class it belongs to (``SignalConfig``, ``StrategyConfig``, ``BacktestConfig``) before anything
runs, so a grid accepts exactly what a single config accepts. Combinations that the configs
reject together (e.g. ``scarce_above`` below ``draining_above``) are dropped and counted; so are
duplicates: combinations that differ only in parameters their variant does not use.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backtests.sim.config import BacktestConfig
from drain_core.errors import DrainError
from signals import SignalConfig
from strategies import StrategyConfig

SECTIONS = ("signal", "strategy", "backtest")
DICT_FIELDS = {("signal", "weights"), ("strategy", "tilt")}
BACKTEST_PARAMS = ("lag",)
DEFAULT_CAP = 20_000
REGIME_FIELDS = ("draining_above", "scarce_above", "hysteresis")

# --------------------------------------------------------------------------------------------
# The grid
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    """Named parameters (``section.field`` or ``section.field.key``) and their value lists."""

    name: str
    params: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]

    @property
    def size(self) -> int:
        """Number of combinations in the full cartesian product."""
        return math.prod(len(v) for v in self.values)

    def combination(self, number: int) -> dict[str, Any]:
        """The ``number``-th combination of the product (the last parameter varies fastest)."""
        out: dict[str, Any] = {}
        for param, values in zip(reversed(self.params), reversed(self.values), strict=True):
            number, digit = divmod(number, len(values))
            out[param] = values[digit]
        return {p: out[p] for p in self.params}

    def varying(self) -> list[str]:
        """Parameters with more than one value."""
        return [p for p, v in zip(self.params, self.values, strict=True) if len(v) > 1]

    def to_table(self) -> dict[str, Any]:
        """The nested TOML table ``grid_from_table`` reads back to this grid."""
        table: dict[str, Any] = {}
        for param, values in zip(self.params, self.values, strict=True):
            *path, leaf = param.split(".")
            node = table
            for part in path:
                node = node.setdefault(part, {})
            node[leaf] = [list(v) if isinstance(v, tuple) else v for v in values]
        return table


def _known_fields(section: str) -> set[str]:
    cls = {"signal": SignalConfig, "strategy": StrategyConfig, "backtest": BacktestConfig}[section]
    return {f.name for f in dataclasses.fields(cls)}


def _unknown(name: str, choices) -> DrainError:
    close = difflib.get_close_matches(name.rsplit(".", 1)[-1], list(choices), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return DrainError(f"unknown grid parameter {name!r}{hint}")


def _flatten(table: dict[str, Any], grid_name: str) -> list[tuple[str, list[Any]]]:
    """(param, values) pairs from a nested grid table, names checked against the configs."""
    out: list[tuple[str, list[Any]]] = []
    for section, fields in table.items():
        if section not in SECTIONS:
            raise DrainError(f"unknown grid parameter {section!r} in grid {grid_name!r}: grid "
                             f"tables are {', '.join(SECTIONS)}")
        if not isinstance(fields, dict):
            raise DrainError(f"grid {grid_name!r}: {section} must be a table of parameters")
        known = _known_fields(section)
        if section == "backtest":
            known = set(BACKTEST_PARAMS)
        for key, values in fields.items():
            name = f"{section}.{key}"
            if key not in known:
                if section == "backtest" and key in _known_fields("backtest"):
                    raise DrainError(f"grid parameter {name!r} cannot vary in a sweep (only "
                                     f"{', '.join('backtest.' + p for p in BACKTEST_PARAMS)})")
                raise _unknown(name, known)
            if (section, key) in DICT_FIELDS and isinstance(values, dict):
                for sub, sub_values in values.items():
                    out.append((f"{name}.{sub}", sub_values))
            else:
                out.append((name, values))
    return out


def _repeated(values: tuple[Any, ...]) -> Any | None:
    """The first value listed twice (same type and value), or None."""
    seen: list[tuple[type, Any]] = []
    for value in values:
        key = (type(value), value)
        if key in seen:
            return value
        seen.append(key)
    return None


def grid_from_table(table: dict[str, Any], name: str) -> Grid:
    """Validate a grid table: known parameters, non-empty value lists, at least one parameter."""
    if not isinstance(table, dict) or not table:
        raise DrainError(f"grid {name!r} is empty: give at least one parameter with a list of "
                         f"values")
    pairs = _flatten(table, name)
    if not pairs:
        raise DrainError(f"grid {name!r} is empty: give at least one parameter with a list of "
                         f"values")
    pairs.sort(key=lambda kv: SECTIONS.index(kv[0].split(".")[0]))  # signal varies slowest
    params, values = [], []
    for param, vals in pairs:
        if not isinstance(vals, list):
            vals = [vals]
        if not vals:
            raise DrainError(f"grid parameter {param!r} has an empty list of values")
        bad = [v for v in vals if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            raise DrainError(f"grid parameter {param!r} = {bad[0]!r} is not a finite number; "
                             f"give real values")
        values_of_param = tuple(tuple(v) if isinstance(v, list) else v for v in vals)
        twice = _repeated(values_of_param)
        if twice is not None:
            raise DrainError(f"grid parameter {param!r} lists {twice!r} twice; each value is a "
                             f"trial (the overfitting statistics count it), so give it once")
        params.append(param)
        values.append(values_of_param)
    return Grid(name=name, params=tuple(params), values=tuple(values))


def resolve_grid_name(section: str | None, names: list[str]) -> str:
    """The grid name ``section`` asks for among ``names`` (None, "grid" or "tune.grid": the
    default; "tune.grids.NAME" or NAME: an alternative), with a did-you-mean when unknown."""
    if section in (None, "default", "grid", "tune.grid"):
        if "default" not in names:
            raise DrainError("no default grid: the config has no [tune.grid] table")
        return "default"
    name = section.removeprefix("tune.grids.")
    if name not in names or name == "default":
        others = [n for n in names if n != "default"]
        known = ", ".join(["default", *others]) if "default" in names else ", ".join(others)
        close = difflib.get_close_matches(name, others, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise DrainError(f"unknown grid {section!r}{hint}; grids in this config: "
                         f"{known or 'none'}")
    return name


def grid_section(document: dict[str, Any], section: str | None) -> tuple[str, dict[str, Any]]:
    """The grid table named ``section`` (default ``[tune.grid]``; ``NAME`` or
    ``tune.grids.NAME`` for an alternative)."""
    tune = document.get("tune", {})
    grids = tune.get("grids", {})
    names = (["default"] if "grid" in tune else []) + list(grids)
    name = resolve_grid_name(section, names)
    return name, tune["grid"] if name == "default" else grids[name]


# --------------------------------------------------------------------------------------------
# Combinations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Combination:
    """One point of the grid with the configs it stands for."""

    number: int  # position in the full cartesian product
    params: dict[str, Any]
    signal: SignalConfig
    strategy: StrategyConfig
    lag: int


@dataclass(frozen=True)
class Selection:
    """The combinations a sweep runs, and what was dropped on the way."""

    grid: Grid
    combos: list[Combination]
    sampled: int | None
    invalid: int
    duplicates: int
    first_invalid: str = ""
    seed: int = 0

    @property
    def n_trials(self) -> int:
        """Combinations actually run (each one a trial for the deflated Sharpe)."""
        return len(self.combos)


def _section_changes(params: dict[str, Any], section: str) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name, value in params.items():
        parts = name.split(".")
        if parts[0] != section:
            continue
        if len(parts) == 3:
            changes.setdefault(parts[1], {})[parts[2]] = value
        else:
            changes[parts[1]] = value
    return changes


def _signal_config(base: SignalConfig, changes: dict[str, Any]) -> SignalConfig:
    values = base.to_dict()
    for key, value in changes.items():
        if key == "weights":
            values["weights"] = {**values["weights"], **value}
        else:
            values[key] = list(value) if isinstance(value, tuple) else value
    return SignalConfig.from_dict(values)


def _strategy_config(base: StrategyConfig, changes: dict[str, Any]) -> StrategyConfig:
    if changes.get("vol_target") == "none":  # TOML has no null: "none" = no volatility target
        changes = {**changes, "vol_target": None}
    if "tilt" in changes:
        changes = {**changes, "tilt": {**base.tilt, **{k: tuple(v) for k, v in
                                                        changes["tilt"].items()}}}
    try:
        return dataclasses.replace(base, **changes)
    except TypeError as exc:
        raise DrainError(f"bad strategy parameter: {exc}") from None


def _alone_errors(grid: Grid, signal: SignalConfig, strategy: StrategyConfig,
                  backtest: BacktestConfig) -> dict[tuple[str, Any], str]:
    """Values their config class rejects when set alone on the base configs (with the
    reason): the same checks a single config goes through."""
    errors: dict[tuple[str, Any], str] = {}
    for param, values in zip(grid.params, grid.values, strict=True):
        section = param.split(".")[0]
        for value in values:
            changes = _section_changes({param: value}, section)
            try:
                if section == "signal":
                    _signal_config(signal, changes)
                elif section == "strategy":
                    _strategy_config(strategy, changes)
                elif isinstance(value, bool):  # True == 1 in Python, not a lag
                    raise DrainError(f"backtest.lag must be a whole number >= 1, got {value!r}")
                else:
                    dataclasses.replace(backtest, **changes)
            except DrainError as exc:
                errors[(param, value)] = str(exc)
    return errors


def _signal_used(signal: SignalConfig) -> dict[str, Any]:
    """The signal config's fields that can change its output (the others are dropped)."""
    sig = signal.to_dict()
    if sig["standardise"] == "expanding":
        sig.pop("z_window")
    if sig["combine"] == "weights":
        sig.pop("pca_min_periods")
    else:
        sig.pop("weights")
    if sig["gate"] == "none":
        for key in ("gate_k", "gate_center", "gate_steepness", "gated_components",
                    "buffer_depleted_bn"):
            sig.pop(key)
    elif sig["gate"] == "step":
        sig.pop("gate_center")
        sig.pop("gate_steepness")
    return sig


def _strategy_used(strategy: StrategyConfig) -> dict[str, Any]:
    """The strategy config's fields its variant reads (the others are dropped)."""
    strat = dataclasses.asdict(strategy)
    variant = strat["variant"]
    if variant != "signal_long_short":
        strat.pop("signal_scale")
        strat.pop("signal_cap")
    if variant != "long_only_tilt":
        strat.pop("tilt")
    else:
        for key in ("when_abundant", "leg_size"):
            strat.pop(key)
    if variant != "beta_hedged":
        strat.pop("beta_lookback")
        if variant != "long_only_tilt":
            strat.pop("hedge_asset")
    if strat["vol_target"] is None:
        strat.pop("vol_target_lookback")
        strat.pop("max_leverage")
    if strat["weighting"] == "equal":
        strat.pop("vol_lookback")
    return strat


def _reads_regime(strategy: StrategyConfig) -> bool:
    """Only the signal variant off the regime schedule ignores the regime thresholds."""
    return strategy.variant != "signal_long_short" or strategy.rebalance == "regime"


def _signal_keys(signal: SignalConfig) -> tuple[str, str]:
    """Identity of a signal config without unused fields: (with, without) regime thresholds."""
    sig = _signal_used(signal)
    full = json.dumps(sig, sort_keys=True, default=str)
    for key in REGIME_FIELDS:
        sig.pop(key)
    return full, json.dumps(sig, sort_keys=True, default=str)


def _strategy_key(strategy: StrategyConfig) -> tuple[str, bool]:
    """Identity of a strategy config without unused fields, and whether it reads the regime."""
    return (json.dumps(_strategy_used(strategy), sort_keys=True, default=str),
            _reads_regime(strategy))


def composite_key(signal: SignalConfig) -> SignalConfig:
    """The signal configuration with its regime thresholds reset to their defaults:
    configurations with the same key have the same composite (only their regimes differ), so
    they share one ``compute_signal`` call."""
    defaults = type(signal)()
    return dataclasses.replace(signal, **{f: getattr(defaults, f) for f in REGIME_FIELDS})


def used_params(combo: Combination) -> list[str]:
    """The grid parameters of ``combo`` that its configuration actually reads."""
    sig = _signal_used(combo.signal)
    if not _reads_regime(combo.strategy):
        for key in REGIME_FIELDS:
            sig.pop(key)
    strat = _strategy_used(combo.strategy)
    out = []
    for param in combo.params:
        section, field_name = param.split(".")[:2]
        used = {"signal": sig, "strategy": strat}.get(section, {field_name: True})
        if field_name in used:
            out.append(param)
    return out


def select(
    grid: Grid,
    signal: SignalConfig,
    strategy: StrategyConfig,
    backtest: BacktestConfig,
    *,
    sample: int | None = None,
    seed: int = 0,
    cap: int = DEFAULT_CAP,
    sample_cap: int | None = None,
) -> Selection:
    """The combinations to run: all of the grid, or ``sample`` of them drawn with ``seed``.

    More than ``cap`` combinations without ``sample`` (or a sample above ``sample_cap``, by
    default ``cap``) is an error,
    as is a value that no combination accepts. Combinations the configs reject together are
    dropped and counted, and so are duplicates (differing only in fields their variant or
    signal settings do not read).
    """
    total = grid.size
    if sample is not None and sample < 1:
        raise DrainError(f"the sample size must be at least 1, got {sample}")
    if sample is None and total > cap:
        raise DrainError(f"grid {grid.name!r} has {total:,} combinations, more than the cap of "
                         f"{cap:,}; draw a random sample of at most {cap:,} of them")
    sample_cap = cap if sample_cap is None else sample_cap
    if sample is not None and sample > sample_cap:
        raise DrainError(f"a sample of {sample:,} is above the cap of {sample_cap:,} "
                         f"combinations")
    alone = _alone_errors(grid, signal, strategy, backtest)
    if sample is not None and sample < total:
        numbers: Any = sorted(random.Random(seed).sample(range(total), sample))
    else:
        numbers = range(total)
    # Signal parameters come first in the grid, so number = outer * n_inner + inner.
    n_outer = sum(1 for p in grid.params if p.startswith("signal."))
    outer = Grid(grid.name, grid.params[:n_outer], grid.values[:n_outer])
    inner = Grid(grid.name, grid.params[n_outer:], grid.values[n_outer:])
    outer_cache: dict[int, Any] = {}
    inner_cache: dict[int, Any] = {}
    ids: dict[str, int] = {}  # identity strings as small ints (cheap duplicate checks)

    def build_outer(i: int) -> Any:
        params = outer.combination(i)
        config = _signal_config(signal, _section_changes(params, "signal"))
        full, bare = _signal_keys(config)
        return params, config, (ids.setdefault(full, len(ids)), ids.setdefault(bare, len(ids)))

    def build_inner(i: int) -> Any:
        params = inner.combination(i)
        config = _strategy_config(strategy, _section_changes(params, "strategy"))
        lag = params.get("backtest.lag", backtest.lag)
        if isinstance(lag, bool):
            raise DrainError(f"backtest.lag must be a whole number >= 1, got {lag!r}")
        dataclasses.replace(backtest, lag=lag)  # BacktestConfig's own checks
        key, uses_regime = _strategy_key(config)
        return params, config, (ids.setdefault(key, len(ids)), uses_regime), lag

    combos: list[Combination] = []
    seen: set[tuple] = set()
    encountered: set[tuple[str, Any]] = set()
    accepted: set[tuple[str, Any]] = set()
    invalid = duplicates = 0
    first_invalid = ""
    n_inner = inner.size
    for number in numbers:
        i_outer, i_inner = divmod(number, n_inner)
        sig = outer_cache.get(i_outer)
        if sig is None:
            sig = outer_cache[i_outer] = _attempt(build_outer, i_outer)
        strat = inner_cache.get(i_inner)
        if strat is None:
            strat = inner_cache[i_inner] = _attempt(build_inner, i_inner)
        problem = sig if isinstance(sig, DrainError) else (
            strat if isinstance(strat, DrainError) else None)
        if alone:  # track which values ever appear in a valid combination
            items = [*grid.combination(number).items()]
            encountered.update(items)
            if problem is None:
                accepted.update(items)
        if problem is not None:
            invalid += 1
            first_invalid = first_invalid or str(problem)
            continue
        sig_params, sig_cfg, (sig_full, sig_bare) = sig
        strat_params, strat_cfg, (strat_id, uses_regime), lag = strat
        key = (sig_full if uses_regime else sig_bare, strat_id, lag)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        combos.append(Combination(number, {**sig_params, **strat_params}, sig_cfg, strat_cfg,
                                  lag))
    for (param, value), reason in alone.items():  # a value no combination accepts
        if (param, value) in encountered and (param, value) not in accepted:
            raise DrainError(f"grid parameter {param!r} = {value!r}: {reason}")
    if not combos:
        raise DrainError(f"grid {grid.name!r} has no valid combination: {first_invalid}")
    return Selection(grid, combos, sample, invalid, duplicates, first_invalid, seed)


def _attempt(build: Callable[[int], Any], i: int) -> Any:
    """``build(i)``, or the DrainError it raised."""
    try:
        return build(i)
    except DrainError as exc:
        return exc


# --------------------------------------------------------------------------------------------
# Checks against the data
# --------------------------------------------------------------------------------------------

SIGNAL_WINDOWS = ("z_window", "z_min_periods", "pca_min_periods", "issuance_window",
                  "rrp_median_window", "buffer_window", "spread_median_window", "rates_window",
                  "credit_window", "dollar_window")
STRATEGY_WINDOWS = ("vol_lookback", "vol_target_lookback", "beta_lookback")


def check_against_data(grid: Grid, n_history: int, n_window: int) -> None:
    """Refuse, naming the grid key, a window the data cannot fill: a signal window as long as
    the ``n_history`` sessions of history, a strategy look-back or a lag as long as the
    ``n_window`` sessions traded."""
    for param, values in zip(grid.params, grid.values, strict=True):
        section, name = param.split(".")[:2]
        if section == "signal" and name in SIGNAL_WINDOWS:
            available, what, limit = n_history, "sessions of history", n_history - 1
        elif (section == "strategy" and name in STRATEGY_WINDOWS) or param == "backtest.lag":
            available, what, limit = n_window, "sessions traded", n_window - 1
        else:
            continue
        too_long = [v for v in values if isinstance(v, int | float) and v > limit]
        if too_long:
            raise DrainError(f"grid parameter {param!r} = {too_long[0]!r} is too long for the "
                             f"data ({available:,} {what}); use a smaller value or a longer "
                             f"date range")
