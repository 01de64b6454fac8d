"""Simulate target weights with vectorbt, including cash interest and short-borrow costs.

vectorbt 1.2 has no interest on cash and no borrow fee, so both are made exact by a change of
units rather than by an approximate overlay:

1. Every price is divided by the cash index C_t = prod(1 + rf_s), where rf_s is the T-bill yield
   known at the previous close times the calendar days elapsed / 360. In these units cash earns
   nothing, so vectorbt's cash balance is the deflated cash; multiplying its portfolio value back
   by C_t credits interest on every dollar of cash (short proceeds included) day by day.
2. A short is traded in its own column whose price is the real price times a borrow index
   B_t = prod(1 + b * days / 360): the short liability grows at the borrow rate, which charges
   the fee on the short's notional each day.
Fees and slippage are fractions of value and price, so they are unaffected by either index.

vectorbt runs on its compiled Rust kernels (the ``vectorbt-rust`` package) when installed, which
spares a fresh install about 30 s of numba compilation; results are the same either way.

Orders: weights decided at close t are sent as vectorbt target percentages at close t + lag
(``lag`` >= 1), valued at that close, sells before buys, with one shared cash balance.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from backtests.sim.accrual import accrual_index, borrow_index, daily_rates
from backtests.sim.config import BacktestConfig
from drain_core.conventions import PERIODS_PER_YEAR
from drain_core.errors import DrainError


def _import_vectorbt() -> ModuleType:
    """``import vectorbt`` without its eager ``import quantstats`` (about 0.7 s, which
    ``drain backtest`` spends in its sidecar process instead). vectorbt's ``.qs`` accessors
    import quantstats when first used, so nothing is lost."""
    if "quantstats" in sys.modules or "vectorbt" in sys.modules:
        import vectorbt

        return vectorbt
    sys.modules["quantstats"] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        import vectorbt
    finally:
        del sys.modules["quantstats"]
    return vectorbt


if TYPE_CHECKING:
    import vectorbt as vbt
else:
    vbt = _import_vectorbt()
vbt.settings.returns["year_freq"] = f"{PERIODS_PER_YEAR} days"
SHORT_SUFFIX = ":short"


@dataclass(frozen=True)
class BacktestResult:
    """A finished simulation on NYSE sessions: returns, equity, weights, turnover and fees in
    dollars.

    ``portfolio`` is vectorbt's own simulation, which runs in T-bill units (every price divided
    by the cash index, see the module docstring): its ``value()``, ``returns()`` and ``stats()``
    are deflated by the cash the book would have earned, not dollars (its total return is the
    return over T-bills). ``portfolio.value() * cash_index`` is ``equity``.
    """

    returns: pd.Series
    equity: pd.Series
    weights: pd.DataFrame  # held at each close, after trading
    turnover: pd.Series  # traded value / equity before trading
    fees: pd.Series  # fees and slippage paid, in dollars
    portfolio: vbt.Portfolio  # the deflated simulation, in T-bill units (not dollars)
    cash_index: pd.Series | None = None  # growth of $1 of cash: deflated x cash_index = dollars

    @property
    def gross_exposure(self) -> pd.Series:
        """Sum of absolute weights held at each close."""
        return self.weights.abs().sum(axis=1)

    @property
    def net_exposure(self) -> pd.Series:
        """Sum of signed weights held at each close."""
        return self.weights.sum(axis=1)


def _split_legs(orders: pd.DataFrame) -> pd.DataFrame:
    """Long and short legs of every ticker as separate columns (shorts named ``T:short``)."""
    legs = {}
    for ticker in orders.columns:
        col = orders[ticker]
        if (col > 0).any() or not (col < 0).any():
            legs[ticker] = col.clip(lower=0.0)
        if (col < 0).any():
            legs[ticker + SHORT_SUFFIX] = col.clip(upper=0.0)
    return pd.DataFrame(legs, index=orders.index)


def run_backtest(
    orders: pd.DataFrame,
    prices: pd.DataFrame,
    cash_yield: pd.Series,
    config: BacktestConfig | None = None,
) -> BacktestResult:
    """Trade ``orders`` (target weights decided at each close, NaN = no order) ``lag`` sessions
    later and return the dollar portfolio.

    ``prices`` are real closes (NaN where a ticker does not trade); ``cash_yield`` is an annual
    percentage yield known at each close (the 13-week T-bill by default).
    """
    config = config or BacktestConfig()
    missing = [t for t in orders.columns if t not in prices.columns]
    if missing:
        raise DrainError(f"no prices for ordered tickers {missing}; load them with the dataset")
    if orders.dropna(how="all").empty:
        raise DrainError("the strategy sent no orders in this date range; widen the date range")
    index = orders.index
    executed = orders.shift(config.lag)  # decided at t, traded at t + lag
    legs = _split_legs(executed)
    tickers = [c.removesuffix(SHORT_SUFFIX) for c in legs.columns]
    real = prices[orders.columns].reindex(index)
    # Valuation price: last real price carried forward (exits happen there), and the first real
    # price before listing, where the strategy never holds the name.
    valuation = real.ffill().bfill()

    cash_index = accrual_index(daily_rates(cash_yield, index))
    close = pd.DataFrame(
        {leg: valuation[t].to_numpy() for leg, t in zip(legs.columns, tickers, strict=True)},
        index=index,
    )
    for leg, ticker in zip(legs.columns, tickers, strict=True):
        if leg.endswith(SHORT_SUFFIX):
            close[leg] = close[leg] * borrow_index(config.costs.borrow(ticker), index)
    deflated = close.div(cash_index, axis=0)

    fee_rates = np.array([config.costs.fee(t) for t in tickers])
    slippage_rates = np.array([config.costs.slippage(t) for t in tickers])
    portfolio = vbt.Portfolio.from_orders(
        close=deflated,
        size=legs,
        size_type="targetpercent",
        direction="both",
        fees=fee_rates[None, :],
        slippage=slippage_rates[None, :],
        init_cash=config.init_cash,
        cash_sharing=True,
        group_by=True,
        call_seq="auto",
        freq="1D",
    )
    equity = portfolio.value() * cash_index
    equity.name = "equity"
    returns = equity.pct_change().fillna(equity.iloc[0] / config.init_cash - 1.0)
    returns.name = "returns"

    asset_value = portfolio.asset_value(group_by=False).mul(cash_index, axis=0)
    asset_value.columns = tickers
    held = asset_value.T.groupby(level=0).sum().T.div(equity, axis=0)
    held = held.reindex(columns=orders.columns, fill_value=0.0)

    records = portfolio.orders.records
    to_dollars = cash_index.to_numpy()[records["idx"]]
    fill_close = deflated.to_numpy()[records["idx"], records["col"]]
    traded = _per_session(records["size"] * records["price"] * to_dollars, records, index)
    fees = _per_session(records["fees"] * to_dollars, records, index)
    slip = _per_session(
        np.abs(records["price"] - fill_close) * records["size"] * to_dollars, records, index
    )
    equity_before_trading = equity + fees + slip
    return BacktestResult(
        returns=returns,
        equity=equity,
        weights=held,
        turnover=traded / equity_before_trading,
        fees=fees + slip,
        portfolio=portfolio,
        cash_index=cash_index.rename("cash_index"),
    )


def _per_session(values: np.ndarray, records: np.ndarray, index: pd.DatetimeIndex) -> pd.Series:
    """Sum per-order values into one number per session (0 where nothing traded)."""
    sums = np.bincount(records["idx"], weights=values, minlength=len(index))
    return pd.Series(sums, index=index)
