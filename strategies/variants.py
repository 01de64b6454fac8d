"""The four rotation variants: signal and baskets in, daily target weights (decided at close t) out.

Each function returns a date x ticker frame of target weights (positive long, negative short,
fractions of equity; what is not invested sits in cash earning the T-bill rate). Weights are
decided with data known at the close of each row's date; the backtest trades them later.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drain_core.conventions import DRAIN_REGIMES
from strategies.baskets import basket_weights
from strategies.config import StrategyConfig


def regime_exposure(regime: pd.Series, when_abundant: str) -> pd.Series:
    """+1 while draining or scarce; 0 (flat) or -1 (reverse) while abundant; 0 before a regime."""
    drain = regime.isin(DRAIN_REGIMES)
    abundant = regime.eq("abundant")
    exposure = pd.Series(0.0, index=regime.index)
    exposure[drain] = 1.0
    exposure[abundant] = -1.0 if when_abundant == "reverse" else 0.0
    return exposure


def signal_exposure(
    composite: pd.Series, scale: float, cap: float, when_abundant: str
) -> pd.Series:
    """Exposure proportional to the composite, capped at +-cap (floored at 0 unless 'reverse')."""
    floor = -cap if when_abundant == "reverse" else 0.0
    return (composite / scale).clip(lower=floor, upper=cap).fillna(0.0)


def _spread(prices: pd.DataFrame, config: StrategyConfig) -> pd.DataFrame:
    """Long basket minus short basket, each leg summing to ``leg_size``."""
    long_w = basket_weights(prices, config.baskets[config.long_basket], config.weighting,
                            config.vol_lookback)
    short_w = basket_weights(prices, config.baskets[config.short_basket], config.weighting,
                             config.vol_lookback)
    return long_w.mul(config.leg_size).sub(short_w.mul(config.leg_size), fill_value=0.0)


def regime_long_short(prices, composite, regime, config: StrategyConfig) -> pd.DataFrame:
    """Variant 1: long cash-flow / short speculative while draining or scarce."""
    exposure = regime_exposure(regime, config.when_abundant)
    return _spread(prices, config).mul(exposure, axis=0)


def signal_long_short(prices, composite, regime, config: StrategyConfig) -> pd.DataFrame:
    """Variant 2: the same spread scaled by the composite, capped."""
    exposure = signal_exposure(composite, config.signal_scale, config.signal_cap,
                               config.when_abundant)
    return _spread(prices, config).mul(exposure, axis=0)


def long_only_tilt(prices, composite, regime, config: StrategyConfig) -> pd.DataFrame:
    """Variant 3: long-only shares of cash-flow basket, speculative basket and SPY per regime."""
    cash_flow = basket_weights(prices, config.baskets[config.long_basket], config.weighting,
                               config.vol_lookback)
    speculative = basket_weights(prices, config.baskets[config.short_basket], config.weighting,
                                 config.vol_lookback)
    market = prices[[config.hedge_asset]].notna().astype(float)
    shares = np.zeros((len(regime), 3))
    for name, values in config.tilt.items():
        shares[regime.eq(name).to_numpy()] = values
    shares = pd.DataFrame(shares, index=regime.index, columns=["cf", "spec", "mkt"])
    out = cash_flow.mul(shares["cf"], axis=0)
    out = out.add(speculative.mul(shares["spec"], axis=0), fill_value=0.0)
    return out.add(market.mul(shares["mkt"], axis=0), fill_value=0.0)


def rolling_beta(prices: pd.DataFrame, market: str, lookback: int) -> pd.DataFrame:
    """Each ticker's beta to ``market`` over the last ``lookback`` daily returns known at t."""
    returns = prices.pct_change(fill_method=None)
    bench = returns[market]
    cov = returns.rolling(lookback, min_periods=lookback).cov(bench)
    var = bench.rolling(lookback, min_periods=lookback).var()
    return cov.div(var, axis=0)


def beta_hedged(prices, composite, regime, config: StrategyConfig) -> pd.DataFrame:
    """Variant 4: variant 1 plus a SPY position that sets the book's estimated beta to zero.

    A member without ``beta_lookback`` returns of history is given beta 1 (the market prior).
    """
    book = regime_long_short(prices, composite, regime, config)
    betas = rolling_beta(prices[book.columns.union([config.hedge_asset])], config.hedge_asset,
                         config.beta_lookback)
    book_beta = (book * betas[book.columns].fillna(1.0)).sum(axis=1)
    hedged = book.copy()
    if config.hedge_asset not in hedged.columns:
        hedged[config.hedge_asset] = 0.0
    hedged[config.hedge_asset] = hedged[config.hedge_asset] - book_beta
    return hedged


VARIANT_FUNCTIONS = {
    "regime_long_short": regime_long_short,
    "signal_long_short": signal_long_short,
    "long_only_tilt": long_only_tilt,
    "beta_hedged": beta_hedged,
}
