"""A strategy as a declared list of steps: signal and prices in, target weights and orders out.

Each step (as bt's algos in an ``AlgoStack``) states what it reads and what it writes; the
runner (``build_targets``) hands every step only what it requires and keeps only what it sets,
so a step that reads or writes anything undeclared fails at once. In order (``STEPS``):

1. ``align``: Requires prices, composite, regime. Sets prices, composite, regime: the
   baskets' and hedge asset's members checked against the prices, prices cut to the strategy's
   universe, the signal on those sessions.
2. ``variant_weights``: Requires prices, composite, regime. Sets weights: the variant's
   formula (``strategies.variants``), on every ticker of the universe, NaN as 0.
3. ``target_volatility``: Requires weights, prices. Sets weights: scaled to the volatility
   target over its lookback, at most the maximum leverage (unchanged without a target).
4. ``tradable_only``: Requires weights, prices. Sets weights: 0 for a ticker without a real
   price that day (prices are never filled forward into a target).
5. ``cap_long_side``: Requires weights. Sets weights: longs scaled down to equity plus short
   proceeds less the cash buffer (no margin loans).
6. ``schedule``: Requires weights, regime. Sets rebalance, orders: the days the rule sends the
   weights as orders, and those orders (NaN on the other days).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from strategies.baskets import check_members
from strategies.config import StrategyConfig
from strategies.schedule import rebalance_days, scheduled_orders
from strategies.sizing import cap_long_side, target_volatility
from strategies.variants import VARIANT_FUNCTIONS


@dataclass(frozen=True)
class Targets:
    """Weights decided at each close, and the subset sent as orders (NaN = no order)."""

    weights: pd.DataFrame
    rebalance: pd.Series
    orders: pd.DataFrame


@dataclass(frozen=True)
class Step:
    """One step of a strategy: the names it reads (``requires``) and writes (``sets``), and
    ``apply(inputs, config)``, which returns exactly the ``sets`` names."""

    name: str
    requires: tuple[str, ...]
    sets: tuple[str, ...]
    apply: Callable[[Mapping[str, Any], StrategyConfig], dict[str, Any]]


def universe(config: StrategyConfig) -> list[str]:
    """Every ticker the strategy may hold (both baskets and the hedge asset), sorted."""
    names = set(config.baskets[config.long_basket]) | set(config.baskets[config.short_basket])
    names.add(config.hedge_asset)
    return sorted(names)


def _align(state: Mapping[str, Any], config: StrategyConfig) -> dict[str, Any]:
    prices = state["prices"]
    for basket in (config.long_basket, config.short_basket):
        check_members(prices, config.baskets[basket], basket)
    check_members(prices, (config.hedge_asset,), "hedge_asset")
    prices = prices[universe(config)]
    return {"prices": prices, "composite": state["composite"].reindex(prices.index),
            "regime": state["regime"].reindex(prices.index)}


def _variant_weights(state: Mapping[str, Any], config: StrategyConfig) -> dict[str, Any]:
    prices = state["prices"]
    weights = VARIANT_FUNCTIONS[config.variant](prices, state["composite"], state["regime"],
                                                config)
    return {"weights": weights.reindex(columns=prices.columns, fill_value=0.0).fillna(0.0)}


def _target_volatility(state: Mapping[str, Any], config: StrategyConfig) -> dict[str, Any]:
    weights = state["weights"]
    if config.vol_target is not None:
        weights = target_volatility(weights, state["prices"], config.vol_target,
                                    config.vol_target_lookback, config.max_leverage)
    return {"weights": weights}


def _tradable_only(state: Mapping[str, Any], config: StrategyConfig) -> dict[str, Any]:
    return {"weights": state["weights"].where(state["prices"].notna(), 0.0)}


def _cap_long_side(state: Mapping[str, Any], config: StrategyConfig) -> dict[str, Any]:
    return {"weights": cap_long_side(state["weights"], config.cash_buffer)}


def _schedule(state: Mapping[str, Any], config: StrategyConfig) -> dict[str, Any]:
    mask = rebalance_days(state["weights"], state["regime"], config.rebalance)
    return {"rebalance": mask, "orders": scheduled_orders(state["weights"], mask)}


_SIGNAL = ("prices", "composite", "regime")
STEPS: tuple[Step, ...] = (
    Step("align", requires=_SIGNAL, sets=_SIGNAL, apply=_align),
    Step("variant_weights", requires=_SIGNAL, sets=("weights",), apply=_variant_weights),
    Step("target_volatility", requires=("weights", "prices"), sets=("weights",),
         apply=_target_volatility),
    Step("tradable_only", requires=("weights", "prices"), sets=("weights",),
         apply=_tradable_only),
    Step("cap_long_side", requires=("weights",), sets=("weights",), apply=_cap_long_side),
    Step("schedule", requires=("weights", "regime"), sets=("rebalance", "orders"),
         apply=_schedule),
)


def run_steps(steps: tuple[Step, ...], state: dict[str, Any],
              config: StrategyConfig) -> dict[str, Any]:
    """Apply ``steps`` in order; each sees only what it requires and must set what it says."""
    state = dict(state)
    for step in steps:
        missing = [name for name in step.requires if name not in state]
        if missing:
            raise KeyError(f"strategy step {step.name!r} requires {missing}, set by no step "
                           f"before it")
        out = step.apply({name: state[name] for name in step.requires}, config)
        if set(out) != set(step.sets):
            raise KeyError(f"strategy step {step.name!r} declares it sets {list(step.sets)} "
                           f"but returned {sorted(out)}")
        state.update(out)
    return state


def build_targets(
    prices: pd.DataFrame, composite: pd.Series, regime: pd.Series, config: StrategyConfig
) -> Targets:
    """Target weights for ``config.variant`` from the signal (composite, regime) and prices:
    ``STEPS`` in order."""
    state = run_steps(STEPS, {"prices": prices, "composite": composite, "regime": regime},
                      config)
    return Targets(weights=state["weights"], rebalance=state["rebalance"],
                   orders=state["orders"])
