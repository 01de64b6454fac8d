"""Fast screening backtests: thousands of strategy combinations in one fused numba kernel.

``run_backtest`` (vectorbt) is exact but allocates order records for every column; a sweep only
needs each combination's daily returns. This module replays the same simulation without records:

* **Same semantics as** ``backtests.sim.engine``: prices deflated by the T-bill cash index, shorts
  in their own columns priced with the borrow index, target-percent orders sent ``lag`` sessions
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
* **Only the days that matter**: a combination can change its weights only on a rebalance day,
  when its exposures' inputs change (the regime, or the sign of the signal variant's exposure) or
  when a basis' set of names changes, and it trades only ``lag`` sessions after such a decision;
  the kernel jumps from one such day to the next (precomputed ``*_next`` day tables). Between
  fills the book is fixed, so each span of closes is valued in one pass over those days.

The vectorbt engine stays the reference: tests compare the two on sampled combinations, and the
configurations a sweep selects are always re-run through ``run_backtest``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pandas as pd
from numba import njit, prange
from numpy.lib.stride_tricks import sliding_window_view

from backtests.sim.accrual import borrow_index, cash_index
from backtests.sim.config import BacktestConfig
from backtests.stats import performance
from drain_core.conventions import PERIODS_PER_YEAR, REGIMES
from strategies.baskets import basket_weights
from strategies.config import StrategyConfig
from strategies.schedule import rebalance_days
from strategies.variants import rolling_beta

KERNEL_VERSION = "3"
METRICS = ("total_return", "cagr", "sharpe", "volatility", "max_drawdown", "turnover")
VARIANT_CODES = {"regime_long_short": 0, "signal_long_short": 1, "long_only_tilt": 2,
                 "beta_hedged": 3}
RULE_CODES = {"daily": 0, "weekly": 1, "monthly": 2, "regime": 3}

_PPY = float(PERIODS_PER_YEAR)  # numba reads module globals as constants
_REL_TOL = 1e-9  # vectorbt.utils.math_ tolerances
_ABS_TOL = 1e-12
_FEE, _SLIP, _BUY_COST = 0, 1, 2  # rows of the kernel's ``charges`` (one column per ticker)
# Rows of the kernel's scratch lists, one entry per leg: ``cols`` (unsigned column numbers) and
# ``amounts`` (order sizes, the buys' sort keys and the held positions).
_LEGS, _SELLS, _BUYS, _HELD = 0, 1, 2, 3
_SELL, _BUY, _KEY, _POS = 0, 1, 2, 3


# --------------------------------------------------------------------------------------------
# Shared inputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Market:
    """Deflated long and short close prices, costs and calendars shared by every combination."""

    index: pd.DatetimeIndex
    tickers: tuple[str, ...]
    prices: pd.DataFrame  # real closes of ``tickers`` (NaN where not traded)
    close: np.ndarray  # (T, 2N) deflated closes: column 2n long leg of ticker n, 2n + 1 short
    close_t: np.ndarray  # (2N, T) the same, one row per column (to value many days at once)
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
        short = np.empty_like(valuation)
        for n, ticker in enumerate(tickers):
            short[:, n] = valuation[:, n] * borrow_index(backtest.costs.borrow(ticker), index)
        costs = backtest.costs
        close = np.empty((len(index), 2 * len(tickers)))
        close[:, 0::2] = valuation / cash[:, None]  # the long leg: valuation price / cash index
        close[:, 1::2] = short / cash[:, None]  # the short leg: times the borrow index
        return cls(
            index=index,
            tickers=tuple(tickers),
            prices=real,
            close=close,
            close_t=np.ascontiguousarray(close.T),
            fees=np.array([costs.fee(t) for t in tickers], dtype=np.float64),
            slippage=np.array([costs.slippage(t) for t in tickers], dtype=np.float64),
            cash=cash,
            init_cash=float(backtest.init_cash),
        )

    @property
    def charges(self) -> np.ndarray:
        """(3, N) the kernel's per-ticker costs: fee, slippage, and the cash a buy needs per
        unit of price, ``(1 + slippage) * (1 + fee)`` (rows ``_FEE, _SLIP, _BUY_COST``)."""
        return np.stack([self.fees, self.slippage, (1.0 + self.slippage) * (1.0 + self.fees)])


def _pattern_ids(basis: np.ndarray) -> np.ndarray:
    """An id per day that changes exactly when the set of non-zero weights changes."""
    held = basis != 0.0
    changed = np.r_[True, (held[1:] != held[:-1]).any(axis=1)]
    return np.cumsum(changed).astype(np.int64)


def _changes(x: np.ndarray) -> np.ndarray:
    """True on the first day and on every day whose value differs from the day before."""
    return np.r_[True, x[1:] != x[:-1]]


def _next_day(flags: np.ndarray) -> np.ndarray:
    """(T + 1,) for each day t the first day >= t on which ``flags`` is set (T if none)."""
    n_days = len(flags)
    days = np.where(flags, np.arange(n_days), n_days)
    return np.r_[np.minimum.accumulate(days[::-1])[::-1], n_days].astype(np.int64)


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
        self._calendar_next = np.stack([  # rows 0-2 of the schedules: RULE_CODES
            _next_day(rebalance_days(zero, nothing, rule).to_numpy(dtype=bool))
            for rule in ("daily", "weekly", "monthly")
        ])
        self._signal_keys: dict[Any, int] = {}
        self._composite: list[np.ndarray] = []
        self._regime: list[np.ndarray] = []
        self._regime_next: list[np.ndarray] = []  # regime-rule rebalance days, per signal
        self._code_next: list[np.ndarray] = []  # regime changes, per signal
        self._mask_keys: dict[tuple[int, float, bool], int] = {}
        self._mask_next: list[np.ndarray] = []  # signal variant's exposure turning on or off
        self._basis_keys: dict[Any, int] = {}
        self._basis_by_id: dict[int, tuple[StrategyConfig, int]] = {}
        self._params_by_id: dict[int, tuple[StrategyConfig, tuple]] = {}
        self._stacks: dict[str, tuple[int, tuple[np.ndarray, ...]]] = {}
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
        for code, name in enumerate(REGIMES):
            codes[regime.eq(name).to_numpy(dtype=bool)] = code
        zero = pd.DataFrame(0.0, index=index, columns=["_"])
        change = rebalance_days(zero, regime, "regime").to_numpy(dtype=bool)
        self._composite.append(composite.to_numpy(dtype=np.float64))
        self._regime.append(codes)
        self._regime_next.append(_next_day(change))
        self._code_next.append(_next_day(_changes(codes)))
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
        tilt = [x for name in REGIMES for x in config.tilt.get(name, (0.0, 0.0, 0.0))]
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

    def _mask(self, signal: int, scale: float, reverse: bool) -> int:
        """Index of the days on which the signal variant's exposure turns zero or non-zero
        (``_exposure``'s clipped ``composite / scale``: non-zero, or positive without
        ``reverse``; NaN counts as zero)."""
        key = (signal, scale, reverse)
        if key not in self._mask_keys:
            x = self._composite[signal] / scale
            on = (x != 0.0) & ~np.isnan(x) if reverse else x > 0.0
            self._mask_keys[key] = len(self._mask_next)
            self._mask_next.append(_next_day(_changes(on)))
        return self._mask_keys[key]

    def _cached(self, name: str, size: int,
                build: Callable[[], tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
        """``build()``, rebuilt only when ``size`` (what it was built from) has changed."""
        hit = self._stacks.get(name)
        if hit is None or hit[0] != size:
            hit = self._stacks[name] = (size, build())
        return hit[1]

    def _stack_bases(self) -> tuple[np.ndarray, ...]:
        """Bases, their pattern ids and the next pattern change from each day on."""
        shape = (len(self.market.index), len(self.market.tickers))
        bases = self._bases or [np.zeros(shape)]
        pids = np.stack([_pattern_ids(b) for b in bases])
        return (np.ascontiguousarray(np.stack(bases)), pids,
                np.stack([_next_day(_changes(p)) for p in pids]))

    def _stack_grams(self) -> tuple[np.ndarray, ...]:
        """The Gram matrices (one all-NaN stand-in when there are none)."""
        n_days = len(self.market.index)
        return (np.stack(self._grams) if self._grams else np.full((1, n_days, 3, 3), np.nan),)

    def _stack_signals(self) -> tuple[np.ndarray, ...]:
        """Composites, regimes, the exposure triggers (regime changes per signal, then the
        masks) and the schedules (the calendar rules, then the regime rule per signal)."""
        return (np.stack(self._composite), np.stack(self._regime),
                np.stack(self._code_next + self._mask_next),
                np.concatenate([self._calendar_next, np.stack(self._regime_next)]))

    def _stacked(self) -> tuple[np.ndarray, ...]:
        """The shared arrays as the kernel wants them, each group rebuilt only when something
        was added to it."""
        return (*self._cached("bases", len(self._bases), self._stack_bases),
                *self._cached("grams", len(self._grams), self._stack_grams),
                *self._cached("signals", len(self._composite) + len(self._mask_next),
                              self._stack_signals))

    def batch(self, signal_ids: np.ndarray, strategies: list[StrategyConfig],
              lags: np.ndarray | None = None, out: np.ndarray | None = None,
              ) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
        """The kernel call for each (signal, strategy) pair, its inputs assembled now: calling
        it returns metrics (n, len(METRICS)) and float32 daily returns (n, T), written into
        ``out`` when given (a C-contiguous float32 block). The call reads only those inputs
        (signals or bases added later do not touch them) and releases the GIL, so it may run in
        another thread while this object prepares the next batch."""
        n = len(strategies)
        lags = np.full(n, self.backtest.lag, dtype=np.int64) if lags is None else lags
        metrics = np.empty((n, len(METRICS)), dtype=np.float64)
        returns = np.empty((n, len(self.market.index)), dtype=np.float32) if out is None else out
        if n == 0:
            return lambda: (metrics, returns)
        rows = np.array([self._params(c) for c in strategies], dtype=np.float64)
        ints = rows[:, :4].astype(np.int64)
        sig = np.asarray(signal_ids, dtype=np.int64)
        reverse = rows[:, 4] != 0.0
        trigger = sig.copy()  # the regime changes of the signal, or the signal variant's mask
        for i in np.flatnonzero(ints[:, 0] == VARIANT_CODES["signal_long_short"]):
            trigger[i] = len(self._code_next) + self._mask(sig[i], rows[i, 5], reverse[i])
        schedule = np.where(ints[:, 3] == RULE_CODES["regime"], 3 + sig, ints[:, 3])
        m = self.market
        args = (
            m.close, m.close_t, m.charges, m.cash, m.init_cash, *self._stacked(), sig,
            ints[:, 0].copy(), ints[:, 1].copy(), ints[:, 2].copy(), trigger, schedule,
            reverse, rows[:, 5].copy(), rows[:, 6].copy(),
            np.ascontiguousarray(rows[:, 10:19].reshape(n, 3, 3)),
            rows[:, 7].copy(), rows[:, 8].copy(), rows[:, 9].copy(),
            np.asarray(lags, dtype=np.int64), metrics, returns,
        )
        return lambda: _launch(args)

    def run(self, signal_ids: np.ndarray, strategies: list[StrategyConfig],
            lags: np.ndarray | None = None, out: np.ndarray | None = None,
            ) -> tuple[np.ndarray, np.ndarray]:
        """Simulate each (signal, strategy) pair now: ``batch(...)()``."""
        return self.batch(signal_ids, strategies, lags, out)()


def _launch(args: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Run ``_simulate_many(*args)``; return its metrics and returns (its last two args)."""
    with numba.parallel_chunksize(8):  # combinations differ in cost: balance the threads
        _simulate_many(*args)
    return args[-2], args[-1]


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

    Same result, fewer operations: for opposite signs ``| |a| - |b| |`` is exactly ``|a + b|``
    and vectorbt tests it against ``max(rel_tol * max(|a|, |b|), abs_tol)``; for equal signs (or
    a zero) it tests ``|a + b|`` against ``abs_tol``, and then ``|a + b| >= max(|a|, |b|)`` makes
    the same test against the larger bound give the same answer.
    """
    total = a + b
    if abs(total) <= max(_REL_TOL * max(abs(a), abs(b)), _ABS_TOL):
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
def _book_value(cols, amounts, n_active: int, row) -> float:
    """Sum of position x price over the held columns, added in column order (as vectorbt)."""
    total = 0.0
    for q in range(n_active):
        total += amounts[_POS, q] * row[cols[_HELD, q]]
    return total


@njit(cache=True, inline="always", error_model="numpy")
def _book_values(out, close_t, cols, amounts, n_active: int, first: int, last: int) -> None:
    """``out[first..last]``: ``_book_value`` of each of those days (the same additions in the
    same order), four columns per pass over the days so that the days vectorise (unsigned day
    numbers: no negative-index wraparound in the loops)."""
    lo = np.uint64(first)
    hi = np.uint64(last + 1)
    for d in range(lo, hi):
        out[d] = 0.0
    for q in range(0, n_active - 3, 4):
        p0, p1 = amounts[_POS, q], amounts[_POS, q + 1]
        p2, p3 = amounts[_POS, q + 2], amounts[_POS, q + 3]
        j0, j1, j2, j3 = cols[_HELD, q], cols[_HELD, q + 1], cols[_HELD, q + 2], cols[_HELD, q + 3]
        for d in range(lo, hi):
            out[d] = ((((out[d] + p0 * close_t[j0, d]) + p1 * close_t[j1, d])
                       + p2 * close_t[j2, d]) + p3 * close_t[j3, d])
    for q in range(n_active - n_active % 4, n_active):
        p = amounts[_POS, q]
        j = cols[_HELD, q]
        for d in range(lo, hi):
            out[d] += p * close_t[j, d]


@njit(cache=True, inline="always", error_model="numpy")
def _plus_cash(out, cash: float, first: int, end: int) -> None:
    """``out[first:end] = cash + out[first:end]`` (unsigned day numbers, as above)."""
    for d in range(np.uint64(first), np.uint64(end)):
        out[d] = cash + out[d]


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


@njit(cache=True, inline="always", error_model="numpy")
def _orders(target, pos, row, value: float, value_now: float, charges, cols,
            amounts) -> tuple[int, int, int, float]:
    """Each leg's target-percent order at group value ``value``, sorted into sells and buys in
    column order (``cols[_SELLS]`` with ``amounts[_SELL]``, ``cols[_BUYS]`` with
    ``amounts[_BUY]`` and the sort key ``amounts[_KEY]``): (legs with a position or a target,
    sells, buys, the cash the buys need). ``cols[_LEGS]`` lists those legs in column order:
    every column that can hold a position after. The counts are unsigned (no negative-index
    wraparound when writing the lists)."""
    one = np.uint64(1)
    n_legs = np.uint64(0)
    n_buy = np.uint64(0)
    n_sell = np.uint64(0)
    need = 0.0
    for nt in range(target.shape[0]):
        tw = target[nt]
        if tw == 0.0 and pos[2 * nt] == 0.0 and pos[2 * nt + 1] == 0.0:
            continue  # a no-op in vectorbt too
        for j in range(2 * nt, 2 * nt + 2):  # the long leg, then the short leg
            size = min(tw, 0.0) if j & 1 else max(tw, 0.0)
            held_now = pos[j]
            if held_now == 0.0 and size == 0.0:
                continue
            cols[_LEGS, n_legs] = j
            n_legs += one
            px = row[j]
            if np.isnan(px):
                continue
            position = _snap(held_now)
            pos[j] = position
            amount = size * value
            amount = amount / px
            amount = amount - position
            # Sort the legs into sells and buys without a branch (which way a leg trades is a
            # coin flip for the branch predictor): write the leg to both lists, advance only
            # the one it belongs to.
            cols[_SELLS, n_sell] = j
            amounts[_SELL, n_sell] = -amount
            n_sell += np.uint64(amount <= 0.0)
            cols[_BUYS, n_buy] = j
            amounts[_BUY, n_buy] = amount
            amounts[_KEY, n_buy] = size * value_now - held_now * px
            need += max(amount, 0.0) * px * charges[_BUY_COST, nt]
            n_buy += np.uint64(amount > 0.0)
    return n_legs, n_sell, n_buy, need


@njit(cache=True, inline="always", error_model="numpy")
def _sort_buys(n_buy: int, cols, amounts) -> None:
    """vectorbt's order for buys: a stable insertion sort by approximate order value."""
    for q in range(1, n_buy):
        key = amounts[_KEY, q]
        col_q = cols[_BUYS, q]
        amt_q = amounts[_BUY, q]
        i = q - 1
        while i >= 0 and amounts[_KEY, i] > key:
            amounts[_KEY, i + 1] = amounts[_KEY, i]
            cols[_BUYS, i + 1] = cols[_BUYS, i]
            amounts[_BUY, i + 1] = amounts[_BUY, i]
            i -= 1
        amounts[_KEY, i + 1] = key
        cols[_BUYS, i + 1] = col_q
        amounts[_BUY, i + 1] = amt_q


@njit(cache=True, inline="always", error_model="numpy")
def _fill(target, pos, row, cash: float, value_now: float, charges, cols, amounts,
          ) -> tuple[float, float, float, int]:
    """Fill one day's target-percent orders, sells before buys: (cash, traded, costs, number
    of legs in ``cols[_LEGS]``, -1 when no order was sent)."""
    traded = 0.0
    costs = 0.0
    value = _snap(value_now)
    if not value > 0.0:  # vectorbt ignores or rejects every order (NaN too)
        return cash, traded, costs, -1
    n_legs, n_sell, n_buy, need = _orders(target, pos, row, value, value_now, charges, cols,
                                          amounts)
    for q in range(n_sell):  # sells first, in column order (never cash-limited)
        j = cols[_SELLS, q]
        nt = j >> np.uint64(1)
        px = row[j]
        cash = _snap(cash)
        cash, pos[j], done, price, paid = _sell(cash, pos[j], amounts[_SELL, q], px,
                                                charges[_SLIP, nt], charges[_FEE, nt])
        traded += done * price
        costs += paid + abs(price - px) * done
    cash = _snap(cash)
    if need > cash * (1.0 - 1e-7):  # may run short: vectorbt's order decides
        _sort_buys(int(n_buy), cols, amounts)
    for q in range(n_buy):
        j = cols[_BUYS, q]
        nt = j >> np.uint64(1)
        px = row[j]
        cash = _snap(cash)
        cash, pos[j], done, price, paid = _buy(cash, pos[j], amounts[_BUY, q], px,
                                               charges[_SLIP, nt], charges[_FEE, nt])
        traded += done * price
        costs += paid + abs(price - px) * done
    return cash, traded, costs, int(n_legs)


@njit(cache=True, inline="always", error_model="numpy")
def _held(cols, amounts, n_legs: int, pos) -> int:
    """Write the columns of ``cols[_LEGS]`` still holding a position (in column order) into
    ``cols[_HELD]`` and their positions into ``amounts[_POS]``; return how many there are."""
    n_active = np.uint64(0)
    for q in range(n_legs):
        j = cols[_LEGS, q]
        cols[_HELD, n_active] = j
        amounts[_POS, n_active] = pos[j]
        n_active += np.uint64(pos[j] != 0.0)
    return int(n_active)


@njit(cache=True, inline="always", error_model="numpy")
def _vol_factor(a, gm, k: int, target: float, max_lev: float) -> float:
    """Volatility targeting: ``target`` over the book volatility ``sqrt(a' G a * 252)``,
    at most ``max_lev``; 1 before a full window or for a flat book."""
    if np.isnan(gm[0, 0]):
        return 1.0
    v2 = 0.0
    for i in range(k):
        for j in range(k):
            v2 += a[i] * a[j] * gm[i, j]
    vol = math.sqrt(max(v2, 0.0)) * math.sqrt(_PPY)
    return min(target / vol, max_lev) if vol > 0.0 else 1.0


@njit(cache=True, inline="always", error_model="numpy")
def _combine(w, bases, b0: int, t: int, a, k: int) -> None:
    """``w = sum_k B_k(t) * a_k``, rounded as ``strategies`` rounds it."""
    basis_t = bases[b0, t]
    if k == 1:
        a0 = a[0]
        for n in range(w.shape[0]):
            w[n] = basis_t[n] * a0
    else:
        a0, a1, a2 = a[0], a[1], a[2]
        basis_1 = bases[b0 + 1, t]
        basis_2 = bases[b0 + 2, t]
        for n in range(w.shape[0]):
            w[n] = basis_t[n] * a0 + basis_1[n] * a1 + basis_2[n] * a2


@njit(cache=True, inline="always", error_model="numpy")
def _cap_longs(w, buffer: float) -> None:
    """No margin loans: scale the longs down to ``1 - buffer`` plus the short proceeds."""
    longs = 0.0
    shorts = 0.0
    for n in range(w.shape[0]):
        longs += max(w[n], 0.0)
        shorts += min(w[n], 0.0)
    room = 1.0 - buffer - shorts
    if longs > room:
        cap_scale = room / longs
        for n in range(w.shape[0]):
            if w[n] > 0.0:
                w[n] = w[n] * cap_scale


@njit(cache=True, inline="always", error_model="numpy")
def _held_changed(w, held) -> bool:
    """Record which names ``w`` holds; True if that set differs from the recorded one."""
    changed = False
    for n in range(w.shape[0]):
        now = w[n] != 0.0
        if now != held[n]:
            changed = True
            held[n] = now
    return changed


@njit(cache=True, inline="always", error_model="numpy")
def _finish(c: int, value, cash_index, init_cash: float, turnover: float, metrics,
            out_returns) -> None:
    """Daily returns of the dollar equity ``value * cash_index`` and the metrics of row ``c``
    (``value`` is overwritten with the returns)."""
    n_days = value.shape[0]
    prev_equity = init_cash
    peak = init_cash
    mdd = 0.0
    mean = 0.0
    for t in range(n_days):
        equity = value[t] * cash_index[t]
        ret = equity / prev_equity - 1.0
        value[t] = ret
        out_returns[c, t] = ret
        mean += ret
        prev_equity = equity
        if equity > peak:
            peak = equity
        elif equity < peak * (1.0 + mdd):  # a deeper drawdown (divide only then)
            mdd = equity / peak - 1.0
    mean /= n_days
    ss = 0.0
    for t in range(n_days):
        ss += (value[t] - mean) ** 2
    sd = math.sqrt(ss / (n_days - 1)) if n_days > 1 else np.nan
    sq252 = math.sqrt(_PPY)
    total = prev_equity / init_cash - 1.0
    metrics[c, 0] = total
    metrics[c, 1] = (1.0 + total) ** (_PPY / n_days) - 1.0 if total > -1.0 else -1.0
    metrics[c, 2] = mean / sd * sq252 if sd > 0.0 else np.nan
    metrics[c, 3] = sd * sq252
    metrics[c, 4] = mdd
    metrics[c, 5] = turnover * _PPY / n_days


@njit(cache=True, error_model="numpy")
def _simulate_one(
    c, close, close_t, charges, cash_index, init_cash, bases, pids, pid_next, grams,
    composite, regime, trigger_next, schedule_next, sig, variant, basis, gram, trigger,
    schedule, reverse, scale_p, cap_p, tilt, vol_target, max_lev, cash_buffer, lag, metrics,
    out_returns,
):
    """One combination: decide at close t, fill at close t + lag, value every close.

    Only some days can change anything: rebalance days, days when the exposures' inputs change
    (the regime, or the sign of the signal variant's exposure), days when a basis' set of names
    changes, and fill days; ``*_next[t]`` is the first such day from t on, and the loop jumps
    from one to the next. Between fills the book is fixed, and a whole span of closes is valued
    at once (``_book_values``).
    """
    n_days, n_cols = close.shape
    n_tick = n_cols // 2
    s = sig[c]
    var = variant[c]
    b0 = basis[c]
    k = 3 if var == 2 else 1
    g = gram[c]
    lg = lag[c]
    buffer = cash_buffer[c]
    reg = regime[s]
    comp = composite[s]
    triggers = trigger_next[trigger[c]]
    rebalances = schedule_next[schedule[c]]
    pos = np.zeros(n_cols)
    cols = np.empty((4, n_cols), dtype=np.uint64)  # scratch lists: _LEGS, _SELLS, _BUYS, _HELD
    amounts = np.empty((4, n_cols))  # and _SELL, _BUY, _KEY, _POS
    n_active = 0  # columns holding a position: cols[_HELD, :n_active]
    held = np.zeros(n_tick, dtype=np.bool_)
    pending = np.zeros((lg + 1, n_tick))  # decided weights waiting for their fill (a ring)
    due = np.empty(lg + 1, dtype=np.int64)  # and their fill days
    head = 0
    n_pending = 0
    a = np.zeros(3)
    tilt_c = tilt[c]
    value = np.empty(n_days)  # group value at each close (deflated), then the returns
    mask_prev = -1
    code_prev = -2
    pid_prev = np.full(3, -1, dtype=np.int64)
    cash = init_cash
    first = 0  # the first close not valued yet
    turnover = 0.0
    t = 0
    while t < n_days:
        decide = min(triggers[t], rebalances[t])
        for kk in range(k):
            decide = min(decide, pid_next[b0 + kk, t])
        t = min(decide, due[head]) if n_pending > 0 else decide
        if t >= n_days:
            break
        # ---- 1. the decision at close t (sent at close t + lag) ----------------------------
        if t == decide:
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
            is_reb = rebalances[t] == t
            slot = head + n_pending
            slot = slot - lg - 1 if slot > lg else slot
            if changed or is_reb:
                w = pending[slot]
                _combine(w, bases, b0, t, a, k)
                if g >= 0:  # (B * a) * factor
                    factor = _vol_factor(a, grams[g, t], k, vol_target[c], max_lev[c])
                    for n in range(n_tick):
                        w[n] = w[n] * factor
                if changed:  # the set of held names may have changed: compare it exactly
                    is_reb = _held_changed(w, held) or is_reb
                    mask_prev = mask_bits
                    for kk in range(k):
                        pid_prev[kk] = pids[b0 + kk, t] if a[kk] != 0.0 else -1
                if is_reb and not np.isnan(buffer):
                    _cap_longs(w, buffer)
            if is_reb:
                due[slot] = t + lg
                n_pending += 1
        # ---- 2. orders decided at t - lag, filled at close t -------------------------------
        if n_pending > 0 and due[head] == t:
            _book_values(value, close_t, cols, amounts, n_active, first, t)
            _plus_cash(value, cash, first, t)  # the closes since the last fill
            cash = _snap(cash)
            cash, traded, costs, n_legs = _fill(pending[head], pos, close[t], cash,
                                                cash + value[t], charges, cols, amounts)
            if n_legs >= 0:
                n_active = _held(cols, amounts, n_legs, pos)
            value[t] = cash + _book_value(cols, amounts, n_active, close[t])
            if traded > 0.0:
                turnover += traded / (value[t] + costs)
            first = t + 1
            head = head + 1 if head < lg else 0
            n_pending -= 1
        t += 1
    _book_values(value, close_t, cols, amounts, n_active, first, n_days - 1)
    _plus_cash(value, cash, first, n_days)
    _finish(c, value, cash_index, init_cash, turnover, metrics, out_returns)


@njit(cache=True, parallel=True, nogil=True)
def _simulate_many(
    close, close_t, charges, cash_index, init_cash, bases, pids, pid_next, grams, composite,
    regime, trigger_next, schedule_next, sig, variant, basis, gram, trigger, schedule, reverse,
    scale_p, cap_p, tilt, vol_target, max_lev, cash_buffer, lag, metrics, out_returns,
):
    for c in prange(sig.shape[0]):
        _simulate_one(
            c, close, close_t, charges, cash_index, init_cash, bases, pids, pid_next, grams,
            composite, regime, trigger_next, schedule_next, sig, variant, basis, gram, trigger,
            schedule, reverse, scale_p, cap_p, tilt, vol_target, max_lev, cash_buffer, lag,
            metrics, out_returns,
        )


# --------------------------------------------------------------------------------------------
# Metrics of a return series (the same definitions as the kernel, for vectorbt runs)
# --------------------------------------------------------------------------------------------


def series_metrics(returns: pd.Series, turnover: pd.Series | None = None) -> dict[str, float]:
    """total_return, cagr, sharpe (252), volatility, max_drawdown, turnover of daily returns."""
    r = returns.to_numpy(dtype=np.float64)
    return {
        "total_return": float(performance.total_return(r)),
        "cagr": float(performance.cagr(r)),
        "sharpe": float(performance.sharpe(r)),
        "volatility": float(performance.volatility(r)),
        "max_drawdown": float(performance.max_drawdown(r)),
        "turnover": (float(turnover.sum()) * PERIODS_PER_YEAR / len(r)
                     if turnover is not None else math.nan),
    }
