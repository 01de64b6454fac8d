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

Two layers, as vectorbt splits ``portfolio/base.py`` from ``portfolio/nb.py``: this module is the
pandas side (``Market``, ``FastSim``: configs and frames in, the kernel's arrays built and cached,
results out); ``backtests.sim.kernel`` holds the numba functions on plain arrays (its docstring
lists the algorithm step by step) and ``backtests.sim.enums`` the codes both sides share.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from backtests.sim.accrual import accrual_index, borrow_index, daily_rates
from backtests.sim.config import BacktestConfig
from backtests.sim.enums import METRICS, Charge, Param, Rebalance, Regime, Variant
from backtests.sim.kernel import MAX_BASES, simulate_many
from backtests.stats import performance
from drain_core.conventions import PERIODS_PER_YEAR, REGIMES
from strategies.baskets import basket_weights
from strategies.config import StrategyConfig
from strategies.schedule import rebalance_days
from strategies.variants import rolling_beta

KERNEL_VERSION = "4"  # 4: Sharpe on returns in excess of the cash rate
# The rebalance rules decided by the calendar alone: rows of the schedule table, in this order,
# before one row per signal for the regime rule.
_CALENDAR_RULES = tuple(rule for rule in Rebalance if rule is not Rebalance.REGIME)


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
    cash_returns: np.ndarray  # (T,) the cash return each day (``accrual.daily_rates``)
    init_cash: float

    @classmethod
    def build(cls, prices: pd.DataFrame, tickers: list[str], backtest: BacktestConfig) -> Market:
        """Deflate ``prices[tickers]`` exactly as ``run_backtest`` does."""
        index = prices.index
        real = prices[list(tickers)]
        valuation = real.ffill().bfill().to_numpy(dtype=np.float64)
        rates = daily_rates(prices[backtest.cash_rate_ticker], index)
        cash = accrual_index(rates).to_numpy(dtype=np.float64)
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
            cash_returns=rates.to_numpy(dtype=np.float64),
            init_cash=float(backtest.init_cash),
        )

    @property
    def charges(self) -> np.ndarray:
        """(3, N) the kernel's per-ticker costs, rows ``Charge``: fee, slippage, and the cash a
        buy needs per unit of price, ``(1 + slippage) * (1 + fee)``."""
        rows = {Charge.FEE: self.fees, Charge.SLIPPAGE: self.slippage,
                Charge.BUY_COST: (1.0 + self.slippage) * (1.0 + self.fees)}
        return np.stack([rows[charge] for charge in Charge])


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
    """(T, MAX_BASES, MAX_BASES) covariance of the bases' book returns over the last
    ``lookback`` days.

    Day t applies day t's basis weights to the returns of days t - lookback + 1 .. t, as
    ``strategies.sizing.book_volatility`` does; NaN before a full window.
    """
    n_days = returns.shape[0]
    out = np.full((n_days, MAX_BASES, MAX_BASES), np.nan)
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
        self._calendar_next = np.stack([  # the first rows of the schedules: _CALENDAR_RULES
            _next_day(rebalance_days(zero, nothing, rule.name.lower()).to_numpy(dtype=bool))
            for rule in _CALENDAR_RULES
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
        codes = np.full(len(index), Regime.NONE, dtype=np.int8)
        for name in REGIMES:
            codes[regime.eq(name).to_numpy(dtype=bool)] = Regime[name.upper()]
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

    def _basis_id(self, config: StrategyConfig) -> int:
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

    def _gram_id(self, config: StrategyConfig, basis: int) -> int:
        """Index of the rolling Gram matrices for volatility targeting (-1 without a target)."""
        if config.vol_target is None:
            return -1
        k = MAX_BASES if config.variant == "long_only_tilt" else 1
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
        basis = self._basis_id(config)
        buffer = getattr(config, "cash_buffer", None)  # the long-side cap, where it exists
        tilt = [x for name in REGIMES for x in config.tilt.get(name, (0.0,) * MAX_BASES)]
        values = {
            Param.VARIANT: Variant[config.variant.upper()],
            Param.BASIS: basis,
            Param.GRAM: self._gram_id(config, basis),
            Param.RULE: Rebalance[config.rebalance.upper()],
            Param.REVERSE: config.when_abundant == "reverse",
            Param.SCALE: config.signal_scale,
            Param.CAP: config.signal_cap,
            Param.VOL_TARGET: np.nan if config.vol_target is None else config.vol_target,
            Param.MAX_LEVERAGE: config.max_leverage,
            Param.CASH_BUFFER: np.nan if buffer is None else buffer,
        }
        row = (*(values[p] for p in Param if p is not Param.TILT), *tilt)
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
        empty = np.full((1, n_days, MAX_BASES, MAX_BASES), np.nan)
        return (np.stack(self._grams) if self._grams else empty,)

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
        variant = rows[:, Param.VARIANT].astype(np.int64)
        rule = rows[:, Param.RULE].astype(np.int64)
        sig = np.asarray(signal_ids, dtype=np.int64)
        reverse = rows[:, Param.REVERSE] != 0.0
        trigger = sig.copy()  # the regime changes of the signal, or the signal variant's mask
        for i in np.flatnonzero(variant == Variant.SIGNAL_LONG_SHORT):
            trigger[i] = len(self._code_next) + self._mask(sig[i], rows[i, Param.SCALE],
                                                           reverse[i])
        row_of_rule = np.full(len(Rebalance), -1, dtype=np.int64)
        row_of_rule[list(_CALENDAR_RULES)] = np.arange(len(_CALENDAR_RULES))
        schedule = np.where(rule == Rebalance.REGIME, len(_CALENDAR_RULES) + sig,
                            row_of_rule[rule])
        tilt = rows[:, Param.TILT:Param.TILT + len(REGIMES) * MAX_BASES]
        m = self.market
        args = (
            m.close, m.close_t, m.charges, m.cash, m.cash_returns, m.init_cash, *self._stacked(),
            sig, variant, rows[:, Param.BASIS].astype(np.int64),
            rows[:, Param.GRAM].astype(np.int64), trigger, schedule, reverse,
            rows[:, Param.SCALE].copy(), rows[:, Param.CAP].copy(),
            np.ascontiguousarray(tilt.reshape(n, len(REGIMES), MAX_BASES)),
            rows[:, Param.VOL_TARGET].copy(), rows[:, Param.MAX_LEVERAGE].copy(),
            rows[:, Param.CASH_BUFFER].copy(), np.asarray(lags, dtype=np.int64), metrics, returns,
        )
        return lambda: _launch(args)

    def run(self, signal_ids: np.ndarray, strategies: list[StrategyConfig],
            lags: np.ndarray | None = None, out: np.ndarray | None = None,
            ) -> tuple[np.ndarray, np.ndarray]:
        """Simulate each (signal, strategy) pair now: ``batch(...)()``."""
        return self.batch(signal_ids, strategies, lags, out)()


def _launch(args: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Run ``simulate_many(*args)``; return its metrics and returns (its last two args)."""
    with numba.parallel_chunksize(8):  # combinations differ in cost: balance the threads
        simulate_many(*args)
    return args[-2], args[-1]


# --------------------------------------------------------------------------------------------
# Metrics of a return series (the same definitions as the kernel, for vectorbt runs)
# --------------------------------------------------------------------------------------------


def series_metrics(returns: pd.Series, turnover: pd.Series | None = None,
                   cash_returns: pd.Series | None = None) -> dict[str, float]:
    """The kernel's ``METRICS`` of daily returns: total_return, cagr, sharpe (252, on the
    returns in excess of ``cash_returns``, the cash return ``accrual.daily_rates`` gives, as the
    kernel computes it), volatility, max_drawdown, turnover.

    Without ``cash_returns`` nothing is subtracted: only for returns already in excess of cash.
    """
    r = returns.to_numpy(dtype=np.float64)
    excess = r if cash_returns is None else performance.excess(returns, cash_returns).to_numpy(
        dtype=np.float64)
    return {
        "total_return": float(performance.total_return(r)),
        "cagr": float(performance.cagr(r)),
        "sharpe": float(performance.sharpe(excess)),
        "volatility": float(performance.volatility(r)),
        "max_drawdown": float(performance.max_drawdown(r)),
        "turnover": (float(turnover.sum()) * PERIODS_PER_YEAR / len(r)
                     if turnover is not None else math.nan),
    }
