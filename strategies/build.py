"""Compose the strategy steps: variant weights -> volatility target -> rebalance schedule."""

from __future__ import annotations

from dataclasses import dataclass

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


def universe(config: StrategyConfig) -> list[str]:
    """Every ticker the strategy may hold (both baskets and the hedge asset), sorted."""
    names = set(config.baskets[config.long_basket]) | set(config.baskets[config.short_basket])
    names.add(config.hedge_asset)
    return sorted(names)


def build_targets(
    prices: pd.DataFrame, composite: pd.Series, regime: pd.Series, config: StrategyConfig
) -> Targets:
    """Target weights for ``config.variant`` from the signal (composite, regime) and prices."""
    for basket in (config.long_basket, config.short_basket):
        check_members(prices, config.baskets[basket], basket)
    check_members(prices, (config.hedge_asset,), "hedge_asset")
    prices = prices[universe(config)]
    composite = composite.reindex(prices.index)
    regime = regime.reindex(prices.index)
    weights = VARIANT_FUNCTIONS[config.variant](prices, composite, regime, config)
    weights = weights.reindex(columns=prices.columns, fill_value=0.0).fillna(0.0)
    if config.vol_target is not None:
        weights = target_volatility(weights, prices, config.vol_target,
                                    config.vol_target_lookback, config.max_leverage)
    # A ticker without a real price today cannot be targeted (never filled forward).
    weights = weights.where(prices.notna(), 0.0)
    weights = cap_long_side(weights, config.cash_buffer)
    mask = rebalance_days(weights, regime, config.rebalance)
    return Targets(weights=weights, rebalance=mask, orders=scheduled_orders(weights, mask))
