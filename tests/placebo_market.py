"""A small synthetic market for placebo and signal-evaluation tests: a persistent signal, a few
tickers, and (optionally) a spread that pays off when the signal says so."""

from __future__ import annotations

import numpy as np
import pandas as pd

from signals.transforms import regimes_with_hysteresis
from strategies import StrategyConfig

LONG = ("LA", "LB")
SHORT = ("SA", "SB")
OTHERS = ("PA", "PB", "PC", "PD", "PE", "PF")
THRESHOLDS = (0.25, 0.75, 0.1)


def ar1(n: int, phi: float, rng: np.random.Generator) -> np.ndarray:
    """A stationary AR(1) path with unit variance."""
    eps = rng.normal(0.0, np.sqrt(1.0 - phi * phi), n)
    x = np.empty(n)
    x[0] = rng.normal()
    for t in range(1, n):
        x[t] = phi * x[t - 1] + eps[t]
    return x


def market(seed: int, *, n_days: int = 500, edge: float = 0.0, warmup: int = 20,
           phi: float = 0.98) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """(prices, composite, regime). With ``edge`` > 0 the long names gain and the short names
    lose ``edge`` a day on days whose exposure was decided two closes before in a drain regime
    (decided at close t - 2, filled at close t - 1, earning day t: lag 1)."""
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2015-01-01", periods=n_days)
    composite = pd.Series(ar1(n_days, phi, rng) * 0.8 + 0.3, index=index, name="composite")
    composite.iloc[:warmup] = np.nan
    regime = regimes_with_hysteresis(composite, *THRESHOLDS)
    drain = pd.Series(regime.cat.codes.to_numpy() >= 1, index=index).shift(2, fill_value=False)
    names = (*LONG, *SHORT, *OTHERS, "SPY")
    returns = pd.DataFrame(rng.normal(0.0002, 0.01, (n_days, len(names))), index=index,
                           columns=names)
    bump = drain.to_numpy(dtype=float) * edge
    for name in LONG:
        returns[name] += bump
    for name in SHORT:
        returns[name] -= bump
    prices = 100.0 * (1.0 + returns).cumprod()
    prices["IRX"] = 2.0
    return prices, composite, regime


def strategy() -> StrategyConfig:
    """The default long-short rotation on the synthetic baskets, equal weights."""
    return StrategyConfig(weighting="equal",
                          baskets={"cash_flow": LONG, "speculative": SHORT})
