"""Everything the claims read, built once: the window, returns, basket returns and the signal.

The signal is computed on the whole history known at the end of the window (everything in it is
point in time, so the warm-up may come from before ``start``); statistics use only the window.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from drain_data.store import Dataset
from strategies.config import StrategyConfig
from thesis.config import ThesisConfig

NON_PRICES = ("VIX", "TNX", "IRX")  # index levels, not investable prices
CRYPTO_GAUGES = ("BTC-USD", "ETH-USD", "MSTR", "COIN")
HYPERSCALERS = ("MSFT", "GOOGL", "AMZN", "META", "ORCL")
MARKET = "SPY"
SPREAD = "spread"
WEEK = "W-FRI"
FUNDING_COMPONENTS = ("sofr_iorb", "effr_iorb", "dgs2_change", "dgs10_change", "hy_credit",
                      "ig_credit", "dollar")


@dataclass(frozen=True)
class SignalView:
    """The parts of ``signals.SignalResult`` the claims use, regimes as plain strings."""

    composite: pd.Series
    regime: pd.Series
    buffer_depleted: pd.Series
    components: pd.DataFrame
    zscores: pd.DataFrame

    @classmethod
    def from_result(cls, result) -> SignalView:
        """Convert a ``SignalResult`` (or anything with the same attributes)."""
        regime = result.regime
        regime = pd.Series(regime.astype(object).where(regime.notna(), None), index=regime.index,
                           dtype=object, name="regime")
        return cls(composite=result.composite.astype(float), regime=regime,
                   buffer_depleted=result.buffer_depleted.astype(bool),
                   components=result.components, zscores=result.zscores)


def _compute_signal(dataset: Dataset, signal_config) -> SignalView:
    from signals import SignalConfig, compute_signal

    return SignalView.from_result(compute_signal(dataset, signal_config or SignalConfig()))


@dataclass
class ThesisInputs:
    """The window, prices, returns, baskets and signal shared by every claim."""

    dataset: Dataset
    window: pd.DatetimeIndex
    signal: SignalView
    config: ThesisConfig
    long_name: str
    short_name: str
    baskets: dict[str, tuple[str, ...]]
    missing_members: dict[str, tuple[str, ...]]
    signal_config: object = None
    notes: list[str] = field(default_factory=list)

    # --- daily -------------------------------------------------------------------------------
    @cached_property
    def prices(self) -> pd.DataFrame:
        """Closes on the window's sessions (NaN where no real price)."""
        cols = [c for c in self.dataset.prices.columns if c not in NON_PRICES]
        return self.dataset.prices[cols].reindex(self.window)

    @cached_property
    def returns(self) -> pd.DataFrame:
        """Simple daily returns on the window (the first uses the close before the window)."""
        cols = [c for c in self.dataset.prices.columns if c not in NON_PRICES]
        full = self.dataset.prices[cols].pct_change(fill_method=None)
        return full.reindex(self.window).replace([np.inf, -np.inf], np.nan)

    def basket_return(self, name: str) -> pd.Series:
        """Equal-weight daily return of the members priced on both closes (NaN if none)."""
        members = list(self.baskets.get(name, ()))
        if not members:
            return pd.Series(np.nan, index=self.window, name=name)
        return self.returns[members].mean(axis=1, skipna=True).rename(name)

    @cached_property
    def basket_returns(self) -> pd.DataFrame:
        """Daily returns of the long basket, the short basket and the spread (long - short)."""
        long_r, short_r = self.basket_return(self.long_name), self.basket_return(self.short_name)
        return pd.DataFrame({self.short_name: short_r, self.long_name: long_r,
                             SPREAD: long_r - short_r}, index=self.window)

    def on_window(self, series: pd.Series | pd.DataFrame):
        """A signal series restricted to the window."""
        return series.reindex(self.window)

    @property
    def regime(self) -> pd.Series:
        """Regime known at each close of the window (None in the warm-up)."""
        return self.on_window(self.signal.regime)

    @property
    def composite(self) -> pd.Series:
        """The gated composite on the window."""
        return self.on_window(self.signal.composite)

    @cached_property
    def signal_ex_funding(self) -> SignalView:
        """The signal rebuilt without the funding-stress pillar (to avoid circular tests)."""
        from signals import SignalConfig

        base = self.signal_config or SignalConfig()
        kept = tuple(c for c in base.components if c not in FUNDING_COMPONENTS)
        return _compute_signal(self.dataset, dataclasses.replace(base, components=kept))

    # --- weekly ------------------------------------------------------------------------------
    @cached_property
    def weekly_returns(self) -> pd.DataFrame:
        """Weekly (Friday) compounded returns of every asset, the baskets and the spread."""
        daily = pd.concat([self.returns, self.basket_returns], axis=1)
        logs = np.log1p(daily)
        weekly = np.expm1(logs.resample(WEEK).sum(min_count=1))
        counts = daily.notna().resample(WEEK).sum()
        return weekly.where(counts >= 3)

    @cached_property
    def weekly_composite_change(self) -> pd.Series:
        """Change of the composite from one Friday close to the next."""
        level = self.composite.resample(WEEK).last()
        return level.diff().rename("d_composite")

    def weekly_regime(self) -> pd.Series:
        """Regime at the last close of each week."""
        return self.regime.resample(WEEK).last()


def _coverage_notes(prices: pd.DataFrame, baskets: dict[str, tuple[str, ...]]) -> list[str]:
    """Members whose prices start or stop inside the window (the basket changes there)."""
    notes = []
    if len(prices) < 2:
        return notes
    first, last = prices.index[0], prices.index[-1]
    for name, members in baskets.items():
        for ticker in members:
            valid = prices[ticker].dropna().index
            if len(valid) == 0:
                notes.append(f"basket {name!r}: {ticker} has no price in the window")
                continue
            if valid[0] > first + pd.Timedelta(days=7):
                notes.append(f"basket {name!r}: {ticker} joins on {valid[0].date()} "
                             f"(first price)")
            if valid[-1] < last - pd.Timedelta(days=7):
                notes.append(f"basket {name!r}: {ticker} leaves after {valid[-1].date()} "
                             f"(no later price in the data)")
    return notes


def build_inputs(dataset: Dataset, *, signal_config=None, strategy: StrategyConfig | None = None,
                 config: ThesisConfig | None = None, start=None, end=None,
                 signal: SignalView | None = None) -> ThesisInputs:
    """Cut the data at ``end``, compute the signal on everything known then, window at ``start``."""
    config = config or ThesisConfig()
    strategy = strategy or StrategyConfig()
    if end is not None:
        dataset = dataset.as_of(pd.Timestamp(end))
    sessions = dataset.sessions
    window = sessions[sessions >= pd.Timestamp(start)] if start is not None else sessions
    if signal is None:
        signal = _compute_signal(dataset, signal_config)
    baskets, missing = {}, {}
    for name in (strategy.short_basket, strategy.long_basket):
        members = strategy.baskets[name]
        baskets[name] = tuple(m for m in members if m in dataset.prices.columns)
        missing[name] = tuple(m for m in members if m not in dataset.prices.columns)
    notes = [f"basket {name!r}: no price data for {', '.join(gone)} (left out)"
             for name, gone in missing.items() if gone]
    notes += _coverage_notes(dataset.prices.reindex(window), baskets)
    return ThesisInputs(dataset=dataset, window=pd.DatetimeIndex(window), signal=signal,
                        config=config, long_name=strategy.long_basket,
                        short_name=strategy.short_basket, baskets=baskets,
                        missing_members=missing, signal_config=signal_config, notes=notes)
