"""Fast screening backtests: thousands of strategy combinations in one fused numba kernel.

``run_backtest`` (vectorbt) is exact but allocates order records for every column; a sweep only
needs each combination's daily returns. This module replays the same simulation without records:

* **Same semantics as** ``backtests.engine``: prices deflated by the T-bill cash index, shorts in
  their own columns priced with the borrow index, target-percent orders sent ``lag`` sessions
  after the decision and valued at the pre-trade group value, sells before buys (vectorbt's
  ``call_seq="auto"`` stable sort by approximate order value), fees as a fraction of traded value,
  slippage as a fraction of price, one shared cash balance, partial fills of buys when cash runs
  short (vectorbt's ``buy_nb`` arithmetic, including its ``is_close`` tolerances).
* **Same targets as** ``strategies.build_targets``: every variant's weights are ``sum_k a_k(t) *
  B_k(t)``, with a few basis matrices ``B_k`` shared by all combinations (the long-short spread,
  the beta-hedged spread, or the three long-only tilt baskets), built with the same
  ``basket_weights`` and ``rolling_beta`` as ``strategies.variants``, and small per-combination
  exposures ``a_k(t)`` from the signal. Volatility targeting uses each basis' rolling covariance
  (a 3x3 Gram per day), then the long side is capped (``cash_buffer``), then the rebalance
  schedule applies (whose "held names changed" test needs exact zeros: the weights are formed
  operation for operation as in ``strategies``).
* **Not bit for bit**: sells are executed in column order and buys too, unless the buys could
  run out of cash, when they follow vectorbt's order exactly (it decides which buy is filled
  partially). That changes only the last bits of the cash balance (the tests hold the two
  engines to 1e-6; they agree to about 1e-13).

The vectorbt engine stays the reference: tests compare the two on sampled combinations, and the
configurations a sweep selects are always re-run through ``run_backtest``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pandas as pd
from numba import njit, prange
from numpy.lib.stride_tricks import sliding_window_view

from backtests.config import BacktestConfig
from strategies.baskets import basket_weights
from strategies.config import StrategyConfig
from strategies.schedule import rebalance_days
from strategies.variants import rolling_beta

KERNEL_VERSION = "2"
PERIODS_PER_YEAR = 252
DAY_COUNT = 360.0  # as backtests.engine (not imported: it loads vectorbt, a 10 s import)
METRICS = ("total_return", "cagr", "sharpe", "volatility", "max_drawdown", "turnover")
VARIANT_CODES = {"regime_long_short": 0, "signal_long_short": 1, "long_only_tilt": 2,
                 "beta_hedged": 3}
RULE_CODES = {"daily": 0, "weekly": 1, "monthly": 2, "regime": 3}
REGIME_ORDER = ("abundant", "draining", "scarce")

_REL_TOL = 1e-9  # vectorbt.utils.math_ tolerances
_ABS_TOL = 1e-12


# --------------------------------------------------------------------------------------------
# Shared inputs
# --------------------------------------------------------------------------------------------


def cash_index(cash_yield: pd.Series, index: pd.DatetimeIndex) -> np.ndarray:
    """``backtests.engine.accrual_index(daily_rates(...))``: the T-bill cash growth factor."""
    known = cash_yield.reindex(index).ffill() / 100.0
    days = pd.Series(index.to_numpy(), index=index).diff().dt.days
    rates = (known.shift(1) * days / DAY_COUNT).fillna(0.0)
    return (1.0 + rates).cumprod().to_numpy(dtype=np.float64)


@dataclass(frozen=True)
class Market:
    """Deflated long and short close prices, costs and calendars shared by every combination."""

    index: pd.DatetimeIndex
    tickers: tuple[str, ...]
    prices: pd.DataFrame  # real closes of ``tickers`` (NaN where not traded)
    close: np.ndarray  # (T, 2N) deflated closes: column 2n long leg of ticker n, 2n + 1 short
    fees: np.ndarray  # (N,)
    slippage: np.ndarray  # (N,)
    cash: np.ndarray  # (T,) cash index
    init_cash: float

    @classmethod
    def build(cls, prices: pd.DataFrame, tickers: list[str], backtest: BacktestConfig) -> Market:
        """Deflate ``prices[tickers]`` exactly as ``run_backtest`` does."""
        index = prices.index
        real = prices[list(tickers)]
        valuation = real.ffill().bfill().to_numpy(dtype=np.float64)
        cash = cash_index(prices[backtest.cash_rate_ticker], index)
        days = pd.Series(index.to_numpy(), index=index).diff().dt.days.fillna(0.0)
        short = np.empty_like(valuation)
        for n, ticker in enumerate(tickers):
            borrow = pd.Series(backtest.costs.borrow(ticker), index=index)
            growth = (1.0 + borrow * days / DAY_COUNT).cumprod().to_numpy()
            short[:, n] = valuation[:, n] * growth
        costs = backtest.costs
        close = np.empty((len(index), 2 * len(tickers)))
        close[:, 0::2] = valuation / cash[:, None]  # the long leg: valuation price / cash index
        close[:, 1::2] = short / cash[:, None]  # the short leg: times the borrow index
        return cls(
            index=index,
            tickers=tuple(tickers),
            prices=real,
            close=close,
            fees=np.array([costs.fee(t) for t in tickers], dtype=np.float64),
            slippage=np.array([costs.slippage(t) for t in tickers], dtype=np.float64),
            cash=cash,
            init_cash=float(backtest.init_cash),
        )


def _pattern_ids(basis: np.ndarray) -> np.ndarray:
    """An id per day that changes exactly when the set of non-zero weights changes."""
    held = basis != 0.0
    changed = np.r_[True, (held[1:] != held[:-1]).any(axis=1)]
    return np.cumsum(changed).astype(np.int64)


def _gram(bases: list[np.ndarray], returns: np.ndarray, lookback: int) -> np.ndarray:
    """(T, 3, 3) covariance of the bases' book returns over the last ``lookback`` days.

    Day t applies day t's basis weights to the returns of days t - lookback + 1 .. t, as
    ``strategies.sizing.book_volatility`` does; NaN before a full window.
    """
    n_days = returns.shape[0]
    out = np.full((n_days, 3, 3), np.nan)
    if n_days < lookback:
        return out
    windows = sliding_window_view(returns, lookback, axis=0)  # (T-L+1, N, L)
    books = np.stack([np.matmul(b[lookback - 1:, None, :], windows)[:, 0, :] for b in bases],
                     axis=1)
    books = books - books.mean(axis=2, keepdims=True)  # (T-L+1, K, L)
    gram = np.einsum("tkl,tjl->tkj", books, books) / (lookback - 1)
    k = len(bases)
    out[lookback - 1:, :k, :k] = gram
    out[lookback - 1:, k:, :] = 0.0
    out[lookback - 1:, :, k:] = 0.0
    return out


class FastSim:
    """Shared inputs (market, signals, basis matrices) and the kernel call for many combos."""

    def __init__(self, prices: pd.DataFrame, tickers: list[str], backtest: BacktestConfig):
        self.market = Market.build(prices, sorted(set(tickers)), backtest)
        self.backtest = backtest
        index = self.market.index
        zero = pd.DataFrame(0.0, index=index, columns=["_"])
        nothing = pd.Series(np.nan, index=index)
        self._calendar = np.stack([
            rebalance_days(zero, nothing, rule).to_numpy(dtype=bool)
            for rule in ("daily", "weekly", "monthly")
        ])
        self._signal_keys: dict[Any, int] = {}
        self._composite: list[np.ndarray] = []
        self._regime: list[np.ndarray] = []
        self._regime_change: list[np.ndarray] = []
        self._basis_keys: dict[Any, int] = {}
        self._basis_by_id: dict[int, tuple[StrategyConfig, int]] = {}
        self._params_by_id: dict[int, tuple[StrategyConfig, tuple]] = {}
        self._stack_sizes: tuple[int, ...] = ()
        self._stack: tuple[np.ndarray, ...] = ()
        self._baskets: dict[Any, pd.DataFrame] = {}
        self._beta_cache: dict[Any, pd.DataFrame] = {}
        self._basis_leg: dict[int, tuple[tuple, float]] = {}
        self._gram_first: dict[Any, tuple[np.ndarray, float]] = {}
        self._bases: list[np.ndarray] = []
        self._gram_keys: dict[Any, int] = {}
        self._grams: list[np.ndarray] = []
        self._returns = (self.market.prices.pct_change(fill_method=None).fillna(0.0)
                         .to_numpy(dtype=np.float64))
        self._unpriced = self.market.prices.isna().to_numpy()

    # --- signals ----------------------------------------------------------------------------
    def signal_id(self, key: Any) -> int | None:
        """The id of a registered signal, or None."""
        return self._signal_keys.get(key)

    def add_signal(self, key: Any, composite: pd.Series, regime: pd.Series) -> int:
        """Register one signal (composite and regime on any index); returns its id."""
        if key in self._signal_keys:
            return self._signal_keys[key]
        index = self.market.index
        composite = composite.reindex(index)
        regime = regime.reindex(index)
        codes = np.full(len(index), -1, dtype=np.int8)
        for code, name in enumerate(REGIME_ORDER):
            codes[regime.eq(name).to_numpy(dtype=bool)] = code
        zero = pd.DataFrame(0.0, index=index, columns=["_"])
        change = rebalance_days(zero, regime, "regime").to_numpy(dtype=bool)
        self._composite.append(composite.to_numpy(dtype=np.float64))
        self._regime.append(codes)
        self._regime_change.append(change)
        self._signal_keys[key] = len(self._composite) - 1
        return self._signal_keys[key]

    # --- basis matrices ---------------------------------------------------------------------
    def _frame_basis(self, weights: pd.DataFrame) -> np.ndarray:
        """``weights`` on all tickers (0 elsewhere), NaN as 0, 0 where a ticker has no price:
        ``build_targets``' reindex, fillna and where, in numpy."""
        out = np.zeros((len(self.market.index), len(self.market.tickers)))
        position = {t: n for n, t in enumerate(self.market.tickers)}
        out[:, [position[name] for name in weights.columns]] = weights.to_numpy(np.float64)
        out[np.isnan(out) | self._unpriced] = 0.0
        return out

    def _basket(self, members: tuple[str, ...], weighting: str, lookback: int) -> pd.DataFrame:
        key = (members, weighting, lookback)
        if key not in self._baskets:
            self._baskets[key] = basket_weights(self.market.prices, members, weighting, lookback)
        return self._baskets[key]

    def _betas(self, columns: pd.Index, hedge: str, lookback: int) -> pd.DataFrame:
        key = (tuple(columns), hedge, lookback)
        if key not in self._beta_cache:
            self._beta_cache[key] = rolling_beta(self.market.prices[columns.union([hedge])],
                                                 hedge, lookback)
        return self._beta_cache[key]

    def basis(self, config: StrategyConfig) -> int:
        """Index of the first basis matrix of ``config`` (1 matrix, or 3 for the tilt).

        The formulas are those of ``strategies.variants`` at exposure 1, operation for
        operation (the hedge leg is a sum across names, and whether it comes out exactly zero
        decides whether the hedge asset is "held"): the spread ``long * leg - short * leg``; the
        hedged spread, whose hedge asset carries minus the spread's beta; the tilt's cash-flow
        basket, speculative basket and hedge asset (1 where priced).
        """
        cached = self._basis_by_id.get(id(config))
        if cached is not None and cached[0] is config:
            return cached[1]
        long_members = tuple(config.baskets[config.long_basket])
        short_members = tuple(config.baskets[config.short_basket])
        common = (long_members, short_members, config.weighting, config.vol_lookback)
        if config.variant == "long_only_tilt":
            key: tuple = ("tilt", common, config.hedge_asset)
        elif config.variant == "beta_hedged":
            key = ("hedged", common, config.leg_size, config.beta_lookback, config.hedge_asset)
        else:
            key = ("spread", common, config.leg_size)
        if key not in self._basis_keys:
            long_w = self._basket(long_members, config.weighting, config.vol_lookback)
            short_w = self._basket(short_members, config.weighting, config.vol_lookback)
            if key[0] == "tilt":
                market = self.market.prices[[config.hedge_asset]].notna().astype(float)
                frames = [long_w, short_w, market]
            else:
                leg = config.leg_size
                book = long_w.mul(leg).sub(short_w.mul(leg), fill_value=0.0)
                if key[0] == "hedged":
                    hedge = config.hedge_asset
                    betas = self._betas(book.columns, hedge, config.beta_lookback)
                    book_beta = (book * betas[book.columns].fillna(1.0)).sum(axis=1)
                    book = book.copy()
                    if hedge not in book.columns:
                        book[hedge] = 0.0
                    book[hedge] = book[hedge] - book_beta
                frames = [book]
            self._basis_keys[key] = len(self._bases)
            family = key if key[0] == "tilt" else key[:2] + key[3:]  # the key without leg
            leg = 1.0 if key[0] == "tilt" else config.leg_size
            self._basis_leg[len(self._bases)] = (family, leg)
            self._bases.extend(self._frame_basis(frame) for frame in frames)
        self._basis_by_id[id(config)] = (config, self._basis_keys[key])
        return self._basis_keys[key]

    def gram(self, config: StrategyConfig, basis: int) -> int:
        """Index of the rolling Gram matrices for volatility targeting (-1 without a target)."""
        if config.vol_target is None:
            return -1
        k = 3 if config.variant == "long_only_tilt" else 1
        key = (basis, config.vol_target_lookback)
        if key not in self._gram_keys:
            # A spread at another leg size is the same spread scaled (to the last bits): its
            # covariance is the first one's times the squared ratio of the leg sizes.
            family, leg = self._basis_leg[basis]
            first = self._gram_first.get((family, config.vol_target_lookback))
            if first is None:
                gram = _gram(self._bases[basis:basis + k], self._returns,
                             config.vol_target_lookback)
                self._gram_first[(family, config.vol_target_lookback)] = (gram, leg)
            else:
                gram = first[0] * (leg / first[1]) ** 2
            self._gram_keys[key] = len(self._grams)
            self._grams.append(gram)
        return self._gram_keys[key]

    # --- the kernel call --------------------------------------------------------------------
    def _params(self, config: StrategyConfig) -> tuple[float, ...]:
        """The kernel's numbers for one strategy config (cached per config object)."""
        cached = self._params_by_id.get(id(config))
        if cached is not None and cached[0] is config:
            return cached[1]
        basis = self.basis(config)
        buffer = getattr(config, "cash_buffer", None)  # the long-side cap, where it exists
        tilt = [x for name in REGIME_ORDER for x in config.tilt.get(name, (0.0, 0.0, 0.0))]
        row = (
            VARIANT_CODES[config.variant], basis, self.gram(config, basis),
            RULE_CODES[config.rebalance], config.when_abundant == "reverse",
            config.signal_scale, config.signal_cap,
            np.nan if config.vol_target is None else config.vol_target, config.max_leverage,
            np.nan if buffer is None else buffer,
            *tilt,
        )
        self._params_by_id[id(config)] = (config, row)
        return row

    def prepare(self, strategies: list[StrategyConfig]) -> None:
        """Build every basis and Gram matrix ``strategies`` need (before the first ``run``,
        so the shared arrays are assembled once)."""
        for config in {id(c): c for c in strategies}.values():
            self._params(config)

    def _stacked(self) -> tuple[np.ndarray, ...]:
        """The shared arrays as the kernel wants them (rebuilt only when something was added)."""
        sizes = (len(self._bases), len(self._grams), len(self._composite))
        if self._stack_sizes != sizes:
            n_days = len(self.market.index)
            bases = (np.ascontiguousarray(np.stack(self._bases)) if self._bases
                     else np.zeros((1, n_days, len(self.market.tickers))))
            self._stack = (
                bases, np.stack([_pattern_ids(b) for b in bases]),
                np.stack(self._grams) if self._grams else np.full((1, n_days, 3, 3), np.nan),
                np.stack(self._composite), np.stack(self._regime),
                np.stack(self._regime_change),
            )
            self._stack_sizes = sizes
        return self._stack

    def run(self, signal_ids: np.ndarray, strategies: list[StrategyConfig],
            lags: np.ndarray | None = None, out: np.ndarray | None = None,
            ) -> tuple[np.ndarray, np.ndarray]:
        """Simulate each (signal, strategy) pair: metrics (n, len(METRICS)) and float32 daily
        returns (n, T), written into ``out`` when given (a C-contiguous float32 block)."""
        n = len(strategies)
        lags = np.full(n, self.backtest.lag, dtype=np.int64) if lags is None else lags
        n_days = len(self.market.index)
        metrics = np.empty((n, len(METRICS)), dtype=np.float64)
        returns = np.empty((n, n_days), dtype=np.float32) if out is None else out
        if n == 0:
            return metrics, returns
        rows = np.array([self._params(c) for c in strategies], dtype=np.float64)
        ints = rows[:, :4].astype(np.int64)
        bases, pids, grams, composite, regime, regime_change = self._stacked()
        m = self.market
        with numba.parallel_chunksize(8):  # combinations differ in cost: balance the threads
            _simulate_many(
                m.close, m.fees, m.slippage, m.cash, m.init_cash, bases, pids, grams,
                composite, regime, regime_change, self._calendar,
                np.asarray(signal_ids, dtype=np.int64), ints[:, 0].copy(), ints[:, 1].copy(),
                ints[:, 2].copy(), ints[:, 3].copy(), rows[:, 4] != 0.0,
                rows[:, 5].copy(), rows[:, 6].copy(),
                np.ascontiguousarray(rows[:, 10:19].reshape(n, 3, 3)),
                rows[:, 7].copy(), rows[:, 8].copy(), rows[:, 9].copy(),
                np.asarray(lags, dtype=np.int64), metrics, returns,
            )
        return metrics, returns


# --------------------------------------------------------------------------------------------
# The kernel
# --------------------------------------------------------------------------------------------


@njit(cache=True, inline="always", error_model="numpy")
def _is_close(a: float, b: float) -> bool:
    """vectorbt's ``is_close_nb`` for finite numbers (NaN compares False either way)."""
    if a == b:
        return True
    return abs(a - b) <= max(_REL_TOL * max(abs(a), abs(b)), _ABS_TOL)


@njit(cache=True, inline="always", error_model="numpy")
def _add(a: float, b: float) -> float:
    """vectorbt's ``add_nb``: a sum that snaps to 0 when the two cancel within tolerance.

    Same result, fewer operations: for opposite signs (or one zero) ``| |a| - |b| |`` is
    exactly ``|a + b|``; for equal signs ``is_close(a + b, 0)`` reduces to the absolute tolerance.
    """
    total = a + b
    if (a > 0.0) != (b > 0.0) or (a < 0.0) != (b < 0.0):
        if abs(total) <= max(_REL_TOL * max(abs(a), abs(b)), _ABS_TOL):
            return 0.0
    elif abs(total) <= _ABS_TOL:
        return 0.0
    return total


@njit(cache=True, inline="always", error_model="numpy")
def _snap(x: float) -> float:
    """``0.0 if is_close(x, 0) else x``; for a zero target that is ``|x| <= abs_tol``."""
    return 0.0 if abs(x) <= _ABS_TOL else x


@njit(cache=True, inline="always", error_model="numpy")
def _exposure(variant: int, code: int, comp: float, reverse: bool, scale: float, cap: float,
              tilt: np.ndarray, a: np.ndarray) -> None:
    """Per-basis exposures a[0..2] of one combination on one day."""
    a[1] = 0.0
    a[2] = 0.0
    if variant == 1:  # signal_long_short: composite / scale, clipped, NaN -> 0
        if np.isnan(comp):
            a[0] = 0.0
        else:
            x = comp / scale
            floor = -cap if reverse else 0.0
            if x < floor:
                x = floor
            if x > cap:
                x = cap
            a[0] = x
    elif variant == 2:  # long_only_tilt: shares per regime, zeros before a regime
        if code < 0:
            a[0] = 0.0
        else:
            a[0] = tilt[code, 0]
            a[1] = tilt[code, 1]
            a[2] = tilt[code, 2]
    else:  # regime_long_short, beta_hedged: +1 draining/scarce, 0 or -1 abundant
        if code < 0:
            a[0] = 0.0
        elif code == 0:
            a[0] = -1.0 if reverse else 0.0
        else:
            a[0] = 1.0


@njit(cache=True, inline="always", error_model="numpy")
def _book_value(active, active_pos, n_active: int, row) -> float:
    """Sum of position x price over the held columns, in four partial sums (a short add chain;
    vectorbt adds column by column, so the last bits may differ)."""
    s0 = s1 = s2 = s3 = 0.0
    n4 = n_active - n_active % 4
    for q in range(0, n4, 4):
        s0 += active_pos[q] * row[active[q]]
        s1 += active_pos[q + 1] * row[active[q + 1]]
        s2 += active_pos[q + 2] * row[active[q + 2]]
        s3 += active_pos[q + 3] * row[active[q + 3]]
    for q in range(n4, n_active):
        s0 += active_pos[q] * row[active[q]]
    return (s0 + s1) + (s2 + s3)


@njit(cache=True, inline="always", error_model="numpy")
def _buy(cash: float, position: float, amount: float, px: float, slip: float,
         fee: float) -> tuple[float, float, float, float, float]:
    """vectorbt ``buy_nb`` (cash-limited, partial fill): cash, position, size, price, fees."""
    adj_price = px * (1.0 + slip)
    if cash == 0.0:
        return cash, position, 0.0, adj_price, 0.0
    req_cash = amount * adj_price
    req_fees = req_cash * fee
    total = req_cash + req_fees
    if total < cash or _is_close(total, cash):
        final_size = amount
        fees_paid = req_fees
        final_req = total
    else:
        max_req = _add(cash, -0.0) / (1.0 + fee)
        if max_req <= 0.0:
            return cash, position, 0.0, adj_price, 0.0
        final_size = max_req / adj_price
        fees_paid = cash - max_req
        final_req = cash
    if abs(amount) <= _ABS_TOL:  # is_close(amount, 0)
        return cash, position, 0.0, adj_price, 0.0
    return _add(cash, -final_req), _add(position, final_size), final_size, adj_price, fees_paid


@njit(cache=True, inline="always", error_model="numpy")
def _sell(cash: float, position: float, size: float, px: float, slip: float,
          fee: float) -> tuple[float, float, float, float, float]:
    """vectorbt ``sell_nb`` (short sales are not cash-limited): cash, position, size, price,
    fees."""
    adj_price = px * (1.0 - slip)
    if abs(size) <= _ABS_TOL:  # is_close(size, 0)
        return cash, position, 0.0, adj_price, 0.0
    acq = size * adj_price
    fees_paid = acq * fee
    final_acq = _add(acq, -fees_paid)
    if final_acq < 0.0:
        return cash, position, 0.0, adj_price, 0.0
    return cash + final_acq, _add(position, -size), size, adj_price, fees_paid


@njit(cache=True, error_model="numpy")
def _simulate_one(
    c, close, fees, slip, cash_index, init_cash, bases, pids, grams,
    composite, regime, regime_change, calendar, sig, variant, basis, gram, rule, reverse,
    scale_p, cap_p, tilt, vol_target, max_lev, cash_buffer, lag, metrics, out_returns,
):
    """One combination, day by day: decide at close t, fill at close t + lag, value at close."""
    n_days, n_cols = close.shape
    n_tick = n_cols // 2
    s = sig[c]
    var = variant[c]
    b0 = basis[c]
    k = 3 if var == 2 else 1
    g = gram[c]
    lg = lag[c]
    r = rule[c]
    buffer = cash_buffer[c]
    reg = regime[s]
    comp = composite[s]
    schedule = regime_change[s] if r == 3 else calendar[r]
    pos = np.zeros(n_cols)
    active = np.empty(n_cols, dtype=np.int64)  # columns holding a position, in column order
    active_pos = np.empty(n_cols)  # and their positions
    n_active = 0
    held = np.zeros(n_tick, dtype=np.bool_)
    pending = np.zeros((lg + 1, n_tick))
    pending_on = np.zeros(lg + 1, dtype=np.bool_)
    a = np.zeros(3)
    tilt_c = tilt[c]
    sell_col = np.empty(n_cols, dtype=np.int64)
    sell_amount = np.empty(n_cols)
    buy_col = np.empty(n_cols, dtype=np.int64)
    buy_amount = np.empty(n_cols)
    buy_value = np.empty(n_cols)
    rets = np.empty(n_days)
    mask_prev = -1
    code_prev = -2
    slot = lg  # the first decision goes to slot 0
    pid_prev = np.full(3, -1, dtype=np.int64)
    cash = init_cash
    prev_equity = init_cash
    peak = init_cash
    mdd = 0.0
    turnover = 0.0
    sq252 = math.sqrt(252.0)
    for t in range(n_days):
        # ---- 1. the decision at close t (sent at close t + lag) ----------------------------
        code = reg[t]
        if var == 1 or code != code_prev:  # the other variants read only the regime
            _exposure(var, code, comp[t], reverse[c], scale_p[c], cap_p[c], tilt_c, a)
            code_prev = code
        mask_bits = 0
        changed = False
        for kk in range(k):
            if a[kk] != 0.0:
                mask_bits |= 1 << kk
                if pids[b0 + kk, t] != pid_prev[kk]:
                    changed = True
        changed = changed or mask_bits != mask_prev
        is_reb = schedule[t]
        slot = slot + 1 if slot < lg else 0  # ring buffer of the last lag + 1 decisions
        if changed or is_reb:
            factor = 1.0
            if g >= 0:  # volatility target: a' G a is the book variance over the window
                gm = grams[g, t]
                if not np.isnan(gm[0, 0]):
                    v2 = 0.0
                    for i in range(k):
                        for j in range(k):
                            v2 += a[i] * a[j] * gm[i, j]
                    vol = math.sqrt(max(v2, 0.0)) * sq252
                    if vol > 0.0:
                        factor = min(vol_target[c] / vol, max_lev[c])
            w = pending[slot]
            basis_t = bases[b0, t]
            if k == 1:  # (B * a) * factor, rounded as strategies rounds it
                a0 = a[0]
                for n in range(n_tick):
                    w[n] = basis_t[n] * a0
            else:
                a0, a1, a2 = a[0], a[1], a[2]
                basis_1 = bases[b0 + 1, t]
                basis_2 = bases[b0 + 2, t]
                for n in range(n_tick):
                    w[n] = basis_t[n] * a0 + basis_1[n] * a1 + basis_2[n] * a2
            if g >= 0:
                for n in range(n_tick):
                    w[n] = w[n] * factor
            if changed:  # the set of held names may have changed: compare it exactly
                for n in range(n_tick):
                    now = w[n] != 0.0
                    if now != held[n]:
                        is_reb = True
                        held[n] = now
                mask_prev = mask_bits
                for kk in range(k):
                    pid_prev[kk] = pids[b0 + kk, t] if a[kk] != 0.0 else -1
            if is_reb and not np.isnan(buffer):  # no margin loans: cap the long side
                longs = 0.0
                shorts = 0.0
                for n in range(n_tick):
                    longs += max(w[n], 0.0)
                    shorts += min(w[n], 0.0)
                room = 1.0 - buffer - shorts
                if longs > room:
                    cap_scale = room / longs
                    for n in range(n_tick):
                        if w[n] > 0.0:
                            w[n] = w[n] * cap_scale
        pending_on[slot] = is_reb
        # ---- 2. orders decided at t - lag, filled at close t -------------------------------
        traded = 0.0
        costs = 0.0
        src = slot + 1 if slot < lg else 0  # the decision made lag sessions ago
        if t >= lg and pending_on[src]:
            cash = _snap(cash)
            value_now = cash + _book_value(active, active_pos, n_active, close[t])
            value = _snap(value_now)
            if value > 0.0:  # otherwise vectorbt ignores or rejects every order
                n_buy = 0
                n_sell = 0
                need = 0.0
                for nt in range(n_tick):  # each leg's order, sorted into sells and buys
                    tw = pending[src, nt]
                    if tw == 0.0 and pos[2 * nt] == 0.0 and pos[2 * nt + 1] == 0.0:
                        continue  # a no-op in vectorbt too
                    for j in range(2 * nt, 2 * nt + 2):  # the long leg, then the short leg
                        size = min(tw, 0.0) if j & 1 else max(tw, 0.0)
                        held_now = pos[j]
                        if held_now == 0.0 and size == 0.0:
                            continue
                        px = close[t, j]
                        if np.isnan(px):
                            continue
                        position = _snap(held_now)
                        pos[j] = position
                        amount = size * value
                        amount = amount / px
                        amount = amount - position
                        # Sort the legs into sells and buys without a branch (which way a leg
                        # trades is a coin flip for the branch predictor): write the leg to
                        # both lists, advance only the one it belongs to.
                        sell_col[n_sell] = j
                        sell_amount[n_sell] = -amount
                        n_sell += amount <= 0.0
                        buy_col[n_buy] = j
                        buy_amount[n_buy] = amount
                        buy_value[n_buy] = size * value_now - held_now * px  # the sort key
                        need += max(amount, 0.0) * px * (1.0 + slip[nt]) * (1.0 + fees[nt])
                        n_buy += amount > 0.0
                for q in range(n_sell):  # sells first, in column order (never cash-limited)
                    j = sell_col[q]
                    nt = j >> 1
                    px = close[t, j]
                    cash = _snap(cash)
                    cash, pos[j], done, price, paid = _sell(cash, pos[j], sell_amount[q], px,
                                                            slip[nt], fees[nt])
                    traded += done * price
                    costs += paid + abs(price - px) * done
                cash = _snap(cash)
                if need > cash * (1.0 - 1e-7):  # may run short: vectorbt's order decides
                    for q in range(1, n_buy):  # stable insertion sort by order value
                        key = buy_value[q]
                        col_q = buy_col[q]
                        amt_q = buy_amount[q]
                        i = q - 1
                        while i >= 0 and buy_value[i] > key:
                            buy_value[i + 1] = buy_value[i]
                            buy_col[i + 1] = buy_col[i]
                            buy_amount[i + 1] = buy_amount[i]
                            i -= 1
                        buy_value[i + 1] = key
                        buy_col[i + 1] = col_q
                        buy_amount[i + 1] = amt_q
                for q in range(n_buy):
                    j = buy_col[q]
                    nt = j >> 1
                    px = close[t, j]
                    cash = _snap(cash)
                    cash, pos[j], done, price, paid = _buy(cash, pos[j], buy_amount[q], px,
                                                           slip[nt], fees[nt])
                    traded += done * price
                    costs += paid + abs(price - px) * done
            n_active = 0
            for j in range(n_cols):
                if pos[j] != 0.0:
                    active[n_active] = j
                    active_pos[n_active] = pos[j]
                    n_active += 1
        # ---- 3. value at the close, in dollars ---------------------------------------------
        value_close = cash + _book_value(active, active_pos, n_active, close[t])
        equity = value_close * cash_index[t]
        rets[t] = equity / prev_equity - 1.0
        out_returns[c, t] = rets[t]
        prev_equity = equity
        if traded > 0.0:
            turnover += traded / (value_close + costs)
        if equity > peak:
            peak = equity
        elif equity < peak * (1.0 + mdd):  # a deeper drawdown (divide only then)
            mdd = equity / peak - 1.0
    # ---- metrics -------------------------------------------------------------------------
    total = prev_equity / init_cash - 1.0
    mean = 0.0
    for t in range(n_days):
        mean += rets[t]
    mean /= n_days
    ss = 0.0
    for t in range(n_days):
        ss += (rets[t] - mean) ** 2
    sd = math.sqrt(ss / (n_days - 1)) if n_days > 1 else np.nan
    metrics[c, 0] = total
    metrics[c, 1] = (1.0 + total) ** (252.0 / n_days) - 1.0 if total > -1.0 else -1.0
    metrics[c, 2] = mean / sd * sq252 if sd > 0.0 else np.nan
    metrics[c, 3] = sd * sq252
    metrics[c, 4] = mdd
    metrics[c, 5] = turnover * 252.0 / n_days


@njit(cache=True, parallel=True, nogil=True)
def _simulate_many(
    close, fees, slip, cash_index, init_cash, bases, pids, grams,
    composite, regime, regime_change, calendar, sig, variant, basis, gram, rule, reverse,
    scale_p, cap_p, tilt, vol_target, max_lev, cash_buffer, lag, metrics, out_returns,
):
    for c in prange(sig.shape[0]):
        _simulate_one(
            c, close, fees, slip, cash_index, init_cash, bases, pids, grams,
            composite, regime, regime_change, calendar, sig, variant, basis, gram, rule,
            reverse, scale_p, cap_p, tilt, vol_target, max_lev, cash_buffer, lag, metrics,
            out_returns,
        )


# --------------------------------------------------------------------------------------------
# Metrics of a return series (the same definitions as the kernel, for vectorbt runs)
# --------------------------------------------------------------------------------------------


def series_metrics(returns: pd.Series, turnover: pd.Series | None = None) -> dict[str, float]:
    """total_return, cagr, sharpe (252), volatility, max_drawdown, turnover of daily returns."""
    r = returns.to_numpy(dtype=np.float64)
    wealth = np.cumprod(1.0 + r)
    total = float(wealth[-1] - 1.0)
    sd = float(np.std(r, ddof=1)) if len(r) > 1 else float("nan")
    peak = np.maximum.accumulate(np.r_[1.0, wealth])[1:]
    return {
        "total_return": total,
        "cagr": (1.0 + total) ** (PERIODS_PER_YEAR / len(r)) - 1.0 if total > -1 else -1.0,
        "sharpe": float(np.mean(r)) / sd * math.sqrt(PERIODS_PER_YEAR) if sd > 0 else math.nan,
        "volatility": sd * math.sqrt(PERIODS_PER_YEAR),
        "max_drawdown": float(np.min(wealth / peak - 1.0)),
        "turnover": (float(turnover.sum()) * PERIODS_PER_YEAR / len(r)
                     if turnover is not None else math.nan),
    }
