"""An independent, plain-numpy simulation in dollars, used to check the vectorbt engine.

It keeps cash, long shares and short liabilities per ticker in dollars and applies the engine's
documented rules directly (no change of units): cash accrues the T-bill rate known at the
previous close x days / 360; a short liability grows with its price and with its borrow rate x
days / 360; on a rebalance session every position is set to target weight x pre-trade equity at
the close, buys fill at close x (1 + slippage), sells at close x (1 - slippage), and fees are a
fraction of the filled value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_dollars(orders, prices, cash_yield, fees, slippage, borrow, lag=1, init_cash=1.0):
    """Daily equity of the dollar accounting; ``orders`` NaN rows mean no rebalance."""
    executed = orders.shift(lag).to_numpy()
    close = prices[orders.columns].ffill().bfill().to_numpy()
    index = orders.index
    days = np.r_[0, np.diff(index.to_numpy()).astype("timedelta64[D]").astype(float)]
    rate = cash_yield.reindex(index).ffill().to_numpy() / 100.0
    n = close.shape[1]
    cash = init_cash
    long_qty = np.zeros(n)
    short_liab = np.zeros(n)  # dollars owed on each short at the current close
    equity = np.empty(len(index))
    for t in range(len(index)):
        if t > 0:
            cash *= 1.0 + rate[t - 1] * days[t] / 360.0
            growth = close[t] / close[t - 1]
            short_liab *= growth * (1.0 + borrow * days[t] / 360.0)
        value = cash + long_qty @ close[t] - short_liab.sum()
        row = executed[t]
        if not np.isnan(row).all():
            target_long = np.clip(row, 0, None) * value
            target_short = np.clip(-row, 0, None) * value
            # longs: buy or sell the difference in dollars at the close
            delta_long = target_long - long_qty * close[t]
            buy = np.clip(delta_long, 0, None)
            sell = np.clip(-delta_long, 0, None)
            cash -= (buy / close[t] * close[t] * (1 + slippage) * (1 + fees)).sum()
            cash += (sell / close[t] * close[t] * (1 - slippage) * (1 - fees)).sum()
            long_qty = target_long / close[t]
            # shorts: more liability = sell short (cash in), less = buy back (cash out)
            delta_short = target_short - short_liab
            more = np.clip(delta_short, 0, None)
            less = np.clip(-delta_short, 0, None)
            cash += (more * (1 - slippage) * (1 - fees)).sum()
            cash -= (less * (1 + slippage) * (1 + fees)).sum()
            short_liab = target_short.copy()
        equity[t] = cash + long_qty @ close[t] - short_liab.sum()
    return pd.Series(equity, index=index)
