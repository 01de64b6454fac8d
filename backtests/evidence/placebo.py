"""Placebo backtests: would a signal without timing, or baskets picked at random, do as well?

* **timing placebos** keep the strategy and the baskets and replace the composite by surrogates
  (``backtests.evidence.surrogates``: stationary block bootstrap, and circular shifts by at least
  a year) that keep its values and persistence but not its timing; the regimes are re-derived
  from each surrogate with the configured thresholds and hysteresis
  (``signals.transforms.regimes_with_hysteresis``).
* **basket placebos** keep the signal and draw the long and short baskets at random (seeded,
  disjoint, the configured sizes) from every ticker of the data with prices over the whole date
  range and an annualised volatility of at least 10% there (index levels, the cash-rate series
  and the hedge asset, which every book may use anyway, left out; so are cash, short Treasury,
  credit and dollar funds, whose low volatility would let them swamp an inverse-volatility
  basket and turn the placebo into a bet on cash).

Every placebo runs on the fast kernel (``backtests.sim.fastsim.FastSim``; it agrees with the
vectorbt engine to about 1e-13). The actual configuration runs through the same kernel, so the
comparison is like for like. The work is split into tasks that an executor (anything with
``.submit(fn, *args)`` returning a future with ``.result()``) may run elsewhere; None runs them
in this process. An executor that can scatter (``backtests.tune.executor.DaskExecutor``, or a
``dask.distributed.Client``) gets the ``PlaceboSetup`` (prices, signal, configs) copied to every
worker once per run, and each task carries only its placebo numbers. Each placebo draws from its
own seeded generator, so the split changes nothing.

Statistics: the Sharpe ratio of daily returns in excess of the cash rate the engine credits
(``backtests.sim.accrual.daily_rates`` of the cash-rate ticker), CAGR and maximum drawdown
(total returns). For each, the actual value's percentile in the placebo distribution and the
one-sided p-value ``(1 + #{placebo >= actual}) / (N + 1)`` (higher is better for all three: a
drawdown is negative), with its Monte-Carlo standard error ``sqrt(p (1 - p) / N)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from backtests.evidence.surrogates import (
    MEAN_BLOCK,
    MIN_SHIFT,
    block_surrogate,
    rng_for,
    shift_surrogate,
    shift_surrogates_shifts,
)
from backtests.sim.accrual import daily_rates
from backtests.sim.config import BacktestConfig
from backtests.sim.fastsim import METRICS, FastSim
from backtests.stats import performance
from drain_core.errors import DrainError
from signals.config import SignalConfig
from signals.transforms import regimes_with_hysteresis
from strategies import StrategyConfig, universe

FAMILIES = ("block", "shift", "baskets")
KINDS: dict[str, tuple[str, ...]] = {"timing": ("block", "shift"), "baskets": ("baskets",),
                                     "both": FAMILIES}
FAMILY_LABELS = {"block": "timing: stationary block bootstrap of the composite",
                 "shift": "timing: circular shift of the composite (at least a year)",
                 "baskets": "baskets: random baskets of the same sizes"}
FAMILY_NAMES = {"block": "block bootstrap", "shift": "circular shift",
                "baskets": "random baskets"}
STATS = ("sharpe", "cagr", "max_drawdown")
STAT_LABELS = {"sharpe": "Sharpe (excess of cash)", "cagr": "CAGR",
               "max_drawdown": "max drawdown"}
NON_PRICES = ("VIX", "TNX", "IRX")  # index levels and yields: not investable
MAX_MISSING = 0.01  # a pool ticker may miss at most 1% of the sessions (and neither end)
MIN_VOLATILITY = 0.10  # and must be a risky asset: annualised volatility >= 10% in the window
CHUNKS = {"block": 200, "shift": 200, "baskets": 25}  # basket chunks hold one basis per draw
_CAGR, _MDD = METRICS.index("cagr"), METRICS.index("max_drawdown")


@dataclass(frozen=True)
class PlaceboSetup:
    """What every placebo of one configuration shares: prices, the real signal, the configs."""

    window: pd.DataFrame  # prices of the traded sessions (NaN unpriced)
    composite: pd.Series  # the real composite on the window
    regime: pd.Series  # and its regime
    signal: SignalConfig
    strategy: StrategyConfig
    backtest: BacktestConfig
    data_fingerprint: str = ""
    mean_block: float = MEAN_BLOCK
    min_shift: int = MIN_SHIFT

    @classmethod
    def from_prepared(cls, prepared, **settings: Any) -> PlaceboSetup:
        """From ``backtests.run.prepare.prepare_run``'s result (the run ``drain backtest`` does)."""
        window = prepared.window
        return cls(window=window, composite=prepared.signal.composite.reindex(window.index),
                   regime=prepared.signal.regime.reindex(window.index),
                   signal=prepared.config.signal, strategy=prepared.config.strategy,
                   backtest=prepared.config.backtest,
                   data_fingerprint=prepared.data_fingerprint, **settings)

    @property
    def cash_returns(self) -> np.ndarray:
        """The cash return the engine credits each session (what excess returns subtract)."""
        rate = self.window[self.backtest.cash_rate_ticker]
        return daily_rates(rate, self.window.index).to_numpy(dtype=np.float64)

    @property
    def basket_sizes(self) -> tuple[int, int]:
        """(long, short) basket sizes as configured."""
        s = self.strategy
        return len(s.baskets[s.long_basket]), len(s.baskets[s.short_basket])


def basket_pool(setup: PlaceboSetup) -> list[str]:
    """Tickers with a real price on the first and last session and on >= 99% of the others,
    and an annualised volatility of at least ``MIN_VOLATILITY`` over the window."""
    prices = setup.window
    excluded = {*NON_PRICES, setup.backtest.cash_rate_ticker, setup.strategy.hedge_asset}
    pool = []
    for ticker in prices.columns:
        if ticker in excluded:
            continue
        known = prices[ticker].notna().to_numpy()
        if not (known[0] and known[-1] and 1.0 - known.mean() <= MAX_MISSING):
            continue
        returns = prices[ticker].pct_change(fill_method=None).to_numpy()[1:]
        if performance.volatility(returns[~np.isnan(returns)]) >= MIN_VOLATILITY:
            pool.append(ticker)
    return sorted(pool)


def draw_baskets(pool: list[str], sizes: tuple[int, int], seed: int,
                 i: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Placebo ``i``'s (long, short) baskets: disjoint, drawn without replacement from ``pool``."""
    n_long, n_short = sizes
    if n_long + n_short > len(pool):
        raise DrainError(f"basket placebos need {n_long + n_short} tickers priced over the whole "
                         f"date range, the data has {len(pool)}; shorten the date range")
    order = rng_for(seed, "baskets", i).permutation(len(pool))
    chosen = [pool[k] for k in order[:n_long + n_short]]
    return tuple(sorted(chosen[:n_long])), tuple(sorted(chosen[n_long:]))


def _statistics(setup: PlaceboSetup, metrics: np.ndarray, returns: np.ndarray) -> np.ndarray:
    """(n, 3) excess Sharpe, CAGR and max drawdown of the kernel's runs."""
    excess = returns.astype(np.float64) - setup.cash_returns[None, :]
    sharpe = performance.sharpe(excess, axis=1)
    return np.column_stack([sharpe, metrics[:, _CAGR], metrics[:, _MDD]])


def _regime(setup: PlaceboSetup, composite: pd.Series) -> pd.Series:
    s = setup.signal
    return regimes_with_hysteresis(composite, s.draining_above, s.scarce_above, s.hysteresis)


def surrogate(setup: PlaceboSetup, family: str, seed: int, i: int,
              shift: int | None = None) -> pd.Series:
    """Timing placebo ``i``'s composite (``shift`` for the circular-shift family)."""
    if family == "block":
        return block_surrogate(setup.composite, rng_for(seed, "block", i), setup.mean_block)
    if shift is None:
        raise ValueError("a circular-shift surrogate needs its shift")
    return shift_surrogate(setup.composite, shift)


def run_actual(setup: PlaceboSetup) -> dict[str, float]:
    """The configuration as it is, on the same kernel: excess Sharpe, CAGR, max drawdown."""
    sim = FastSim(setup.window, universe(setup.strategy), setup.backtest)
    sid = sim.add_signal("actual", setup.composite, setup.regime)
    metrics, returns = sim.run(np.array([sid]), [setup.strategy])
    return dict(zip(STATS, _statistics(setup, metrics, returns)[0].tolist(), strict=True))


def run_timing_chunk(setup: PlaceboSetup, family: str, seed: int, numbers: list[int],
                     shifts: list[int | None]) -> np.ndarray:
    """Timing placebos ``numbers`` (one task): (len(numbers), 3) statistics."""
    sim = FastSim(setup.window, universe(setup.strategy), setup.backtest)
    ids = []
    for i, shift in zip(numbers, shifts, strict=True):
        composite = surrogate(setup, family, seed, i, shift)
        ids.append(sim.add_signal((family, i), composite, _regime(setup, composite)))
    metrics, returns = sim.run(np.array(ids, dtype=np.int64), [setup.strategy] * len(ids))
    return _statistics(setup, metrics, returns)


def placebo_strategy(setup: PlaceboSetup, baskets: tuple[tuple[str, ...], tuple[str, ...]],
                     ) -> StrategyConfig:
    """The configured strategy with its long and short baskets replaced."""
    s = setup.strategy
    return s.replace(baskets={**s.baskets, s.long_basket: baskets[0],
                              s.short_basket: baskets[1]})


def run_basket_chunk(setup: PlaceboSetup, pool: list[str], seed: int,
                     numbers: list[int]) -> np.ndarray:
    """Basket placebos ``numbers`` (one task): (len(numbers), 3) statistics."""
    sizes = setup.basket_sizes
    strategies = [placebo_strategy(setup, draw_baskets(pool, sizes, seed, i)) for i in numbers]
    tickers = sorted({*pool, setup.strategy.hedge_asset})
    sim = FastSim(setup.window, tickers, setup.backtest)
    sid = sim.add_signal("actual", setup.composite, setup.regime)
    sim.prepare(strategies)
    metrics, returns = sim.run(np.full(len(numbers), sid, dtype=np.int64), strategies)
    return _statistics(setup, metrics, returns)


class _Done:
    """A finished result with a future's ``.result()`` (the in-process executor)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


def _submit(executor, fn: Callable, *args: Any):
    return _Done(fn(*args)) if executor is None else executor.submit(fn, *args)


def _share(executor, value: Any) -> Any:
    """``value`` as the tasks take it: scattered once to every worker when the executor can
    (a ``DaskExecutor``, or a ``dask.distributed.Client``: broadcast, not hashed), else itself."""
    scatter = getattr(executor, "scatter", None)
    if scatter is None:
        return value
    if type(executor).__module__.startswith("distributed"):  # a Client: copy to every worker
        return scatter(value, broadcast=True, hash=False)
    return scatter(value)


def p_value(actual: float, draws: np.ndarray) -> tuple[float, float]:
    """One-sided ``(1 + #{draw >= actual}) / (N + 1)`` and its Monte-Carlo standard error."""
    d = np.asarray(draws, dtype=np.float64)
    d = d[~np.isnan(d)]
    n = len(d)
    if n == 0 or not math.isfinite(actual):
        return math.nan, math.nan
    p = (1.0 + float((d >= actual).sum())) / (n + 1.0)
    return p, math.sqrt(p * (1.0 - p) / n)


def percentile(actual: float, draws: np.ndarray) -> float:
    """Where ``actual`` falls in ``draws``, 0-100 (ties count half)."""
    d = np.asarray(draws, dtype=np.float64)
    d = d[~np.isnan(d)]
    if len(d) == 0 or not math.isfinite(actual):
        return math.nan
    return 100.0 * (float((d < actual).sum()) + 0.5 * float((d == actual).sum())) / len(d)


@dataclass(frozen=True)
class PlaceboResult:
    """The actual statistics and, per placebo family, one row of statistics per placebo."""

    actual: dict[str, float]
    draws: dict[str, pd.DataFrame]
    seed: int
    settings: dict[str, Any] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per (family, statistic): actual, placebo mean and quantiles, percentile,
        p-value and its Monte-Carlo standard error, number of placebos."""
        rows = []
        for family, frame in self.draws.items():
            for stat in STATS:
                values = frame[stat].to_numpy(dtype=np.float64)
                actual = self.actual[stat]
                p, se = p_value(actual, values)
                finite = values[~np.isnan(values)]
                rows.append({
                    "family": family, "statistic": stat, "actual": actual,
                    "placebo_mean": float(finite.mean()) if len(finite) else math.nan,
                    "placebo_p05": float(np.quantile(finite, 0.05)) if len(finite) else math.nan,
                    "placebo_median": float(np.median(finite)) if len(finite) else math.nan,
                    "placebo_p95": float(np.quantile(finite, 0.95)) if len(finite) else math.nan,
                    "percentile": percentile(actual, values), "p_value": p, "p_value_se": se,
                    "n": int(len(finite)),
                })
        return pd.DataFrame(rows)


def run_placebos(setup: PlaceboSetup, *, kind: str = "both", n: int = 1000, seed: int = 0,
                 executor=None, chunk_sizes: dict[str, int] | None = None) -> PlaceboResult:
    """``n`` placebos of each family of ``kind`` (timing, baskets or both) and the actual run."""
    if kind not in KINDS:
        raise DrainError(f"unknown placebo kind {kind!r}; use {', '.join(KINDS)}")
    if n < 1:
        raise DrainError(f"the number of placebos must be at least 1, got {n}")
    sizes = {**CHUNKS, **(chunk_sizes or {})}
    families = KINDS[kind]
    settings: dict[str, Any] = {
        "kind": kind, "n": n, "seed": seed, "families": list(families),
        "window": [str(setup.window.index[0].date()), str(setup.window.index[-1].date()),
                   len(setup.window)],
        "cash_rate_ticker": setup.backtest.cash_rate_ticker,
        "data_fingerprint": setup.data_fingerprint,
    }
    pool: list[str] = []
    if "block" in families:
        settings["mean_block"] = setup.mean_block
    if "shift" in families:
        settings["min_shift"] = setup.min_shift
        shifts = shift_surrogates_shifts(setup.composite, n, seed, setup.min_shift)
    if "baskets" in families:
        pool = basket_pool(setup)
        draw_baskets(pool, setup.basket_sizes, seed, 0)  # too small a pool: fail before work
        settings["basket_pool"] = pool
        settings["min_volatility"] = MIN_VOLATILITY
        settings["basket_sizes"] = list(setup.basket_sizes)
    futures: dict[str, list] = {f: [] for f in families}
    shared = _share(executor, setup)  # to every worker once, not with every task
    actual_future = _submit(executor, run_actual, shared)
    for family in families:
        for lo in range(0, n, sizes[family]):
            numbers = list(range(lo, min(lo + sizes[family], n)))
            if family == "baskets":
                future = _submit(executor, run_basket_chunk, shared, pool, seed, numbers)
            else:
                chunk_shifts = ([int(shifts[i]) for i in numbers] if family == "shift"
                                else [None] * len(numbers))
                future = _submit(executor, run_timing_chunk, shared, family, seed, numbers,
                                 chunk_shifts)
            futures[family].append(future)
    draws = {family: pd.DataFrame(np.vstack([f.result() for f in parts]), columns=list(STATS))
             for family, parts in futures.items()}
    return PlaceboResult(actual=actual_future.result(), draws=draws, seed=seed,
                         settings=settings)
