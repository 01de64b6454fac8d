"""A sealed holdout: the last stretch of data kept out of a tune, looked at once afterwards.

``seal`` cuts a dataset to what was known at the close of the last session before the holdout
starts (prices, macro releases, capex and issuance alike), so nothing a tune computes can depend
on the holdout. ``config_hash`` fingerprints the configuration the tune chose, recorded in the
run folder before anything is unsealed. ``evaluate_holdout`` then runs that configuration once
on the holdout through the vectorbt engine: the signal and target weights are computed on all
the history known at each day, and trades happen only in the holdout.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtests.run.config import RunConfig
from backtests.sim.accrual import daily_rates
from backtests.stats import performance
from drain_core.errors import DrainError


def seal(dataset, holdout_start: pd.Timestamp):
    """``dataset`` as known at the close of the last session before ``holdout_start``."""
    before = dataset.sessions[dataset.sessions < holdout_start]
    if len(before) == 0:
        raise DrainError(f"tune.holdout_from = {holdout_start.date()} leaves no session before "
                         f"the holdout; choose a later date")
    return dataset.as_of(before[-1])


def config_hash(config: RunConfig) -> str:
    """SHA-256 of the configuration's canonical JSON (sorted keys)."""
    text = json.dumps(config.to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class HoldoutResult:
    """The chosen configuration's one look at the holdout, beside SPY bought and held."""

    start: pd.Timestamp
    end: pd.Timestamp
    returns: pd.Series  # total daily returns of the strategy on the holdout
    spy_returns: pd.Series
    cash: pd.Series  # the daily cash return subtracted for the Sharpe ratios
    weights: pd.DataFrame  # the strategy's weights held at each holdout close
    prices: pd.DataFrame  # real closes of the strategy's tickers on the holdout (NaN unpriced)

    def figures(self) -> dict[str, dict[str, float]]:
        """Total return, CAGR, excess Sharpe and max drawdown of the strategy and SPY."""
        out = {}
        cash = self.cash.to_numpy()
        for name, series in (("strategy", self.returns), ("SPY", self.spy_returns)):
            r = series.to_numpy(dtype=np.float64)
            out[name] = {
                "total_return": float(performance.total_return(r)),
                "cagr": float(performance.cagr(r)),
                "sharpe": float(performance.sharpe(r - cash)),
                "max_drawdown": float(performance.max_drawdown(r)),
            }
        return out


def evaluate_holdout(config: RunConfig, dataset, holdout_start: pd.Timestamp) -> HoldoutResult:
    """Run ``config`` on the sessions of ``dataset`` from ``holdout_start`` on.

    Signal and target weights are computed on all of ``dataset`` (each day's only from what
    was known then); the portfolio starts in cash on the first holdout session, sends that
    session's target weights, then follows the strategy's schedule.
    """
    from backtests.sim.engine import run_backtest
    from signals import compute_signal
    from strategies import build_targets

    prices = dataset.prices
    holdout = prices.loc[holdout_start:]
    if len(holdout) < 3:
        raise DrainError(f"the holdout from {holdout_start.date()} holds {len(holdout)} "
                         f"sessions of data; update the data ('drain data update') first")
    signal = compute_signal(dataset, config.signal)
    targets = build_targets(prices, signal.composite, signal.regime, config.strategy)
    orders = targets.orders.loc[holdout.index].copy()
    orders.iloc[0] = targets.weights.loc[holdout.index[0]]
    backtest = config.backtest
    result = run_backtest(orders, holdout, holdout[backtest.cash_rate_ticker], backtest)
    spy_orders = pd.DataFrame({"SPY": np.nan}, index=holdout.index)
    spy_orders.iloc[0] = 1.0
    spy = run_backtest(spy_orders, holdout, holdout[backtest.cash_rate_ticker], backtest)
    return HoldoutResult(start=holdout.index[0], end=holdout.index[-1], returns=result.returns,
                         spy_returns=spy.returns,
                         cash=daily_rates(holdout[backtest.cash_rate_ticker], holdout.index),
                         weights=result.weights, prices=holdout[targets.weights.columns])
