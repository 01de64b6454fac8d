"""Judge a finished sweep: walk-forward, vectorbt re-runs, and the overfitting statistics.

``analyse(sweep, selection, dataset, config, tune)`` runs these steps in order and returns a
``TuneAnalysis`` (``to_dict()`` gives the JSON of ``summary.json``):

1. **Cash.** The daily cash return the engine credits, ``backtests.sim.accrual.daily_rates`` of
   the T-bill yield (``BacktestConfig.cash_rate_ticker``, the rate known at the previous close)
   on the sweep's sessions (``_cash``). Every Sharpe below is of the returns in excess of it;
   total return and CAGR stay total.
2. **Signal information** (``signal_information``). Each distinct composite of the sweep
   (signal configurations that differ only in regime thresholds share one) scored by
   ``backtests.stats.information.oos_information``: its Spearman rank IC with the forward
   ``INFORMATION_HORIZON``-session speculative-minus-cash-flow spread return, signed so that
   positive = as the thesis expects (a higher composite, a falling spread), starting ``lag``
   sessions after the signal; on every walk-forward test window (mean, t over windows), every
   train window and the whole window. Each window uses only its own signals and returns.
3. **Best in-sample.** Each trial's excess Sharpe over the whole window, from the sweep's
   returns matrix (``_excess_sharpes``); the best is its argmax (ties: first). With
   ``[tune] select_by = "information"``, the argmax among the trials of the composite with the
   best whole-window rank IC.
4. **Walk-forward.** ``backtests.tune.walkforward.walk_forward`` chooses on each train window by
   ``[tune.walkforward] metric`` and keeps the chosen trial's test-window returns; with
   ``select_by = "information"`` only among the trials of the composite with the best rank IC
   on that train window.
5. **Re-runs.** The best and every walk-forward choice through vectorbt (``rerun``:
   ``compute_signal -> build_targets -> run_backtest``); the stitched out-of-sample series and
   the best's figures come from these runs, and their distance to the kernel's is reported.
6. **Benchmark.** SPY bought and held through the same engine and costs
   (``backtests.sim.benchmarks.buy_and_hold``). Steps 5 and 6 are one call,
   ``reference_runs``; given an executor (``analyse(reference=...)``, ``drain tune``'s sidecar
   process) it runs there while this process computes step 8, and this process never imports
   vectorbt.
7. **DSR.** ``backtests.stats.overfitting.deflated_sharpe_ratio`` of the best's excess returns
   against the excess Sharpe of every trial, N = the trials run plus ``prior_trials`` (those
   of earlier tunes of the same data and holdout: each look was a trial).
8. **PBO.** ``probability_of_backtest_overfitting`` (CSCV) on the excess returns of at most
   ``pbo_max_configs`` trials (a seeded random subset above that).
9. **Bootstrap CIs.** ``bootstrap_confidence_intervals`` (stationary bootstrap): the Sharpe on
   excess returns, the CAGR on total returns, for the stitched OOS series and the best.
10. **SPA.** ``spa_test`` of the ``spa_max_models`` trials with the best excess Sharpe against
   SPY's excess returns (the cash cancels in the differential, so the p-value is that of the
   total returns).
11. **Verdict.** ``verdict``: one plain-English line from the figures above.

A statistic its inputs make undefined (too few sessions, one trial) is None, with the reason
in ``notes``, rather than an error.

A large sweep keeps only the daily returns these steps need (``backtests.tune.keep``): the
best and SPA's models (the top by whole-window excess Sharpe), PBO's seeded sample, and each
walk-forward train window's top trials; steps 3, 4 and 7 then read every trial's scores the
sweep kept (``SweepResult.scores``), so the best, every walk-forward choice and the DSR are
those of the keep-everything analysis, and ``Trials.returns_kept`` says how many were kept.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from backtests.run.config import RunConfig
from backtests.sim.accrual import daily_rates
from backtests.sim.config import BacktestConfig
from backtests.stats import performance
from backtests.tune.config import TuneConfig
from backtests.tune.grid import (
    REGIME_FIELDS,
    Combination,
    Selection,
    composite_key,
    used_params,
)
from backtests.tune.progress import Progress
from backtests.tune.walkforward import (
    Split,
    WalkForwardConfig,
    WalkForwardResult,
    make_splits,
    walk_forward,
)
from drain_core.conventions import PERIODS_PER_YEAR

if TYPE_CHECKING:
    from backtests.tune.sweep import SignalCache

CASH_DESCRIPTION = ("the 13-week T-bill rate ({ticker}) known at the previous close, accrued "
                    "ACT/360 as the engine credits cash")
_BLOCK = 512  # trials scored at a time (bounds the float64 temporaries)
INFORMATION_HORIZON = 21  # sessions of forward spread return the rank IC is measured on
INFORMATION_DESCRIPTION = (
    "Spearman rank correlation (IC) of the signal's composite at close t with the log return of "
    "the {short} basket minus the {long} basket from close t+{lag} to close t+{end} "
    "({horizon} sessions, starting when a trade on the signal is placed), signed so that "
    "positive = as the thesis expects (a higher composite, a falling speculative-minus-cash-flow "
    "spread); computed on each walk-forward test window from that window's signals and returns "
    "only; t = mean / (sd / sqrt(windows)), windows treated as independent")


# --------------------------------------------------------------------------------------------
# The typed result
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CashRate:
    """The cash return subtracted from every return before a Sharpe is taken."""

    ticker: str
    description: str
    mean_annual: float  # average daily cash return x 252

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Trials:
    """How many combinations were run, and what was dropped before the sweep."""

    n_trials: int
    grid_size: int
    sampled: int | None
    invalid: int
    duplicates: int
    returns_kept: int  # trials whose daily returns the sweep kept (all of them when not large)


@dataclass(frozen=True)
class BestInSample:
    """The trial with the best full-window excess Sharpe, re-run through vectorbt."""

    index: int  # row of the sweep
    combo: int  # position in the grid's cartesian product
    label: str  # its varying parameters, by name
    params: Mapping[str, Any]
    sharpe: float  # excess Sharpe of the vectorbt re-run
    total_return: float
    sharpe_ci: tuple[float, float, float]  # lo, point, hi (stationary bootstrap)
    fast: Mapping[str, float]  # the kernel's figures (excess Sharpe from its returns)
    vectorbt: Mapping[str, float]


@dataclass(frozen=True)
class WalkForwardStats:
    """The walk-forward choices and the stitched out-of-sample figures (vectorbt re-runs)."""

    result: WalkForwardResult
    oos_returns: pd.Series  # total daily returns of the chosen trials on their test windows
    oos_exposure: pd.Series  # their gross exposure held at each close
    sharpe: float  # excess
    sharpe_ci: tuple[float, float]
    cagr_ci: tuple[float, float, float]
    labels: tuple[str, ...]  # each split's choice, by its parameters


@dataclass(frozen=True)
class SignalInformation:
    """Each distinct composite's rank IC with the forward spread, window by window."""

    table: pd.DataFrame  # one row per composite: label, its parameters, oos_ic, oos_ic_t, ...
    groups: np.ndarray  # each sweep row's composite (a row position of ``table``)
    train_ics: np.ndarray  # composites x splits: rank IC on each split's train window
    full_ics: np.ndarray  # composites: rank IC on the whole window
    description: str

    def best(self) -> dict[str, Any]:
        """The composite with the best mean out-of-sample IC (ties: first), as a dict."""
        ics = self.table["oos_ic"].to_numpy(dtype=float)
        row = self.table.iloc[int(np.argmax(np.where(np.isnan(ics), -np.inf, ics)))]
        return {"label": row["signal"], "oos_ic": float(row["oos_ic"]),
                "oos_ic_t": float(row["oos_ic_t"]), "windows": int(row["windows"]),
                "trials": int(row["trials"])}


@dataclass(frozen=True)
class DSRStats:
    dsr: float
    sr0_annual: float  # expected max excess Sharpe of N unskilled trials
    skew: float
    kurtosis: float
    n_trials: int  # N: this run's trials plus those of earlier runs counted


@dataclass(frozen=True)
class PBOStats:
    pbo: float
    degradation_slope: float
    prob_oos_loss: float
    n_splits: int
    n_configs: int
    n_blocks: int
    logits: np.ndarray


@dataclass(frozen=True)
class SPAStats:
    pvalue: float
    pvalue_lower: float
    pvalue_upper: float
    n_models: int
    reps: int


@dataclass(frozen=True)
class PageSeries:
    """The daily series the tune tearsheets are drawn from, known after step 6 (the re-runs and
    SPY): the stitched walk-forward out-of-sample returns and the best in-sample configuration's,
    with the gross exposure held and the cash return the engine credited."""

    oos: pd.Series
    oos_exposure: pd.Series
    best: pd.Series
    best_exposure: pd.Series
    best_label: str
    spy: pd.Series
    cash: pd.Series
    cash_label: str


@dataclass(frozen=True)
class TuneAnalysis:
    """Everything ``drain tune`` concludes from a sweep."""

    trials: Trials
    cash: CashRate
    best: BestInSample
    best_returns: pd.Series  # the best's vectorbt daily returns (total)
    best_exposure: pd.Series  # the best's gross exposure held at each close
    cash_returns: pd.Series  # the daily cash return subtracted (what the engine credited)
    walk_forward: WalkForwardStats
    dsr: DSRStats | None
    pbo: PBOStats | None
    spa: SPAStats | None
    spy_returns: pd.Series
    spy_sharpe: float  # excess
    excess_sharpes: np.ndarray  # every trial's full-window excess Sharpe, in sweep order
    information: SignalInformation
    select_by: str  # "sharpe" or "information" ([tune] select_by)
    prior_trials: tuple[int, ...]  # trials of each earlier run counted in the DSR's N
    max_return_diff: float  # kernel vs vectorbt, largest daily return difference
    best_agreement: float  # kernel vs vectorbt: total return and excess Sharpe of the best
    notes: tuple[str, ...]
    verdict: str

    def pages(self) -> PageSeries:
        """The series the tearsheets are drawn from."""
        return PageSeries(self.walk_forward.oos_returns, self.walk_forward.oos_exposure,
                          self.best_returns, self.best_exposure, self.best.label,
                          self.spy_returns, self.cash_returns, self.cash.description)

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-friendly figures (the keys of ``summary.json``)."""
        nan = math.nan
        wf, dsr, pbo, spa = self.walk_forward, self.dsr, self.pbo, self.spa
        return {
            **dataclasses.asdict(self.trials),
            "cash_rate": self.cash.to_dict(),
            "sharpe_basis": "excess of cash",
            "best_index": self.best.index,
            "best_combo": self.best.combo,
            "best_label": self.best.label,
            "best_params": dict(self.best.params),
            "is_sharpe": self.best.sharpe,
            "is_total_return": self.best.total_return,
            "is_sharpe_ci": list(self.best.sharpe_ci),
            "oos_sharpe": wf.sharpe,
            "oos_sharpe_ci": list(wf.sharpe_ci),
            "oos_cagr_ci": list(wf.cagr_ci),
            "select_by": self.select_by,
            "dsr": dsr.dsr if dsr else nan,
            "dsr_n_trials": self.trials.n_trials + sum(self.prior_trials),
            "dsr_prior_runs": len(self.prior_trials),
            "dsr_prior_trials": sum(self.prior_trials),
            "sr0_annual": dsr.sr0_annual if dsr else nan,
            "skew": dsr.skew if dsr else nan,
            "kurtosis": dsr.kurtosis if dsr else nan,
            "pbo_configs": pbo.n_configs if pbo else 0,
            "pbo_blocks": pbo.n_blocks if pbo else 0,
            "pbo": pbo.pbo if pbo else nan,
            "degradation_slope": pbo.degradation_slope if pbo else nan,
            "prob_oos_loss": pbo.prob_oos_loss if pbo else nan,
            "pbo_splits": pbo.n_splits if pbo else 0,
            "spa_pvalue": spa.pvalue if spa else nan,
            "spa_pvalue_lower": spa.pvalue_lower if spa else nan,
            "spa_pvalue_upper": spa.pvalue_upper if spa else nan,
            "spa_models": spa.n_models if spa else 0,
            "spa_reps": spa.reps if spa else 0,
            "spy_sharpe": self.spy_sharpe,
            "max_return_diff": self.max_return_diff,
            "best_agreement": self.best_agreement,
            "best_fast": dict(self.best.fast),
            "best_vectorbt": dict(self.best.vectorbt),
            "n_splits": len(wf.result.splits),
            "walkforward_labels": list(wf.labels),
            "signal_information": {
                "description": self.information.description,
                "horizon": INFORMATION_HORIZON,
                "n_signals": len(self.information.table),
                "best": self.information.best(),
            },
            "notes": " ".join(self.notes),
            "verdict": self.verdict,
        }


# --------------------------------------------------------------------------------------------
# The verdict
# --------------------------------------------------------------------------------------------


def verdict(stats: Mapping[str, Any]) -> str:
    """A one-line, plain-English reading of the overfitting statistics (keys of ``to_dict``).

    An edge counts as robust only if the stitched walk-forward Sharpe is positive with a
    bootstrap CI above zero, the deflated Sharpe is at least 0.95, PBO is below 0.5 and SPA
    rejects "nothing beats SPY" at 5%.
    """
    oos = stats["oos_sharpe"]
    lo, hi = stats["oos_sharpe_ci"]
    dsr, pbo, spa = stats["dsr"], stats["pbo"], stats["spa_pvalue"]
    n = stats.get("dsr_n_trials", stats["n_trials"])
    spy = stats.get("spy_sharpe")
    versus = f" (SPY buy-and-hold {spy:.2f})" if spy is not None and spy == spy else ""
    facts = (f"walk-forward out-of-sample Sharpe {oos:.2f} (95% CI {lo:.2f} to {hi:.2f})"
             f"{versus}, deflated Sharpe {dsr:.2f} over {n:,} trials, PBO {pbo:.0%}, "
             f"SPA p-value vs SPY {spa:.2f}")
    failed = []
    if not oos > 0:
        failed.append("it lost out of sample")
    elif not lo > 0:
        failed.append("the out-of-sample CI includes zero")
    if not dsr >= 0.95:
        failed.append("the best in-sample Sharpe is within what luck gives over this many trials")
    if not pbo < 0.5:
        failed.append("the in-sample winner usually ranks below the median out of sample")
    if not spa < 0.05:
        failed.append("no configuration significantly beats SPY")
    if not failed:
        return f"Robust edge: {facts}."
    if oos > 0 and len(failed) <= 2:
        return f"Weak evidence: {facts}; but " + "; ".join(failed) + "."
    return f"No reliable edge: {facts}; " + "; ".join(failed) + "."


# --------------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------------


def combo_label(combo: Combination, varying: list[str]) -> str:
    """The parameters of ``combo`` that vary in the grid and that its configuration reads,
    as ``name=value`` (section prefix dropped), or "the base configuration"."""
    shown = [k for k in used_params(combo) if k in varying]
    return ", ".join(f"{k.split('.', 1)[1]}={_value(combo.params[k])}" for k in shown) or \
        "the base configuration"


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return str(value)


def _cash(prices: pd.DataFrame, backtest: BacktestConfig) -> pd.Series:
    """Step 1: the daily cash return the engine credits on each session of ``prices``."""
    return daily_rates(prices[backtest.cash_rate_ticker], prices.index)


def signal_information(dataset, window: pd.DataFrame, combos: list[Combination],
                       varying: list[str], splits: list[Split], config: RunConfig,
                       advance: Callable[..., None] = lambda: None,
                       cache: SignalCache | None = None) -> SignalInformation:
    """Step 2: every distinct composite's rank IC with the forward spread on each walk-forward
    test window (mean and t over them), each train window and the whole of ``window``.

    ``cache``: the sweep's ``SignalCache`` of ``dataset`` (its composites are reused); None
    computes them afresh."""
    from backtests.stats.information import oos_information, target_returns
    from backtests.tune.sweep import SignalCache

    strategy, lag = config.strategy, config.backtest.lag
    spread = target_returns(window, strategy.baskets, strategy.long_basket,
                            strategy.short_basket, assets=())["spread"]
    shown = [k for k in varying if k.startswith("signal.")
             and k.split(".")[1] not in REGIME_FIELDS]
    groups = composite_groups(combos)
    _, first_rows = np.unique(groups, return_index=True)  # groups number by first appearance
    first = [combos[i] for i in first_rows]
    keys = [composite_key(combo.signal) for combo in first]
    cache = cache if cache is not None else SignalCache(dataset)
    tests = [(s.test_start, s.test_end) for s in splits]
    trains = [(s.train_start, s.train_end) for s in splits]
    rows, train_ics, full_ics = [], [], []
    for g, (key, combo) in enumerate(zip(keys, first, strict=True)):
        composite = cache.get(key)[0]
        test = oos_information(composite, spread, INFORMATION_HORIZON, tests, lag=lag, sign=-1)
        ics = oos_information(composite, spread, INFORMATION_HORIZON,
                              trains + [(0, len(window))], lag=lag, sign=-1).ics
        used = set(used_params(combo))
        rows.append({
            "signal": combo_label(combo, shown),
            **{k.split(".", 1)[1]: (_value(combo.params[k]) if k in used else "")
               for k in shown},
            "oos_ic": test.mean,
            "oos_ic_t": test.t,
            "windows": int(np.isfinite(test.ics).sum()),
            "full_ic": float(ics[-1]),
            "trials": int((groups == g).sum()),
        })
        train_ics.append(ics[:-1])
        full_ics.append(ics[-1])
        advance()
    description = INFORMATION_DESCRIPTION.format(
        short=strategy.short_basket, long=strategy.long_basket, lag=lag,
        end=lag + INFORMATION_HORIZON, horizon=INFORMATION_HORIZON)
    return SignalInformation(table=pd.DataFrame(rows), groups=groups,
                             train_ics=np.array(train_ics, dtype=float).reshape(len(first), -1),
                             full_ics=np.array(full_ics, dtype=float), description=description)


def _best_signal_rows(info: SignalInformation, ics: np.ndarray) -> np.ndarray | None:
    """The rows of the composite with the best rank IC in ``ics`` (one per composite; ties:
    first), or None when no composite has one."""
    if np.all(np.isnan(ics)):
        return None
    return info.groups == int(np.nanargmax(ics))


def composite_groups(combos: Sequence[Combination]) -> np.ndarray:
    """Each combination's composite (a number by first appearance; ``composite_key``)."""
    keys: dict[Any, int] = {}
    # id of a signal config -> its group: combinations share their config objects, and hashing
    # a SignalConfig per combination is about four times slower than this memo
    by_signal: dict[int, int] = {}
    groups = np.empty(len(combos), dtype=np.int64)
    for i, combo in enumerate(combos):
        group = by_signal.get(id(combo.signal))
        if group is None:
            group = by_signal[id(combo.signal)] = keys.setdefault(composite_key(combo.signal),
                                                                  len(keys))
        groups[i] = group
    return groups


def _trial_sharpes(sweep, cash: np.ndarray) -> np.ndarray:
    """Step 3: every trial's whole-window excess Sharpe, from the sweep's returns or, when it
    kept only some (``ReturnsPolicy``), from the scores it kept for every trial."""
    if sweep.kept is None:
        return _excess_sharpes(sweep.returns, cash)
    if sweep.scores is None:
        raise ValueError("the sweep kept only some daily returns but not every trial's "
                         "walk-forward scores; give its returns policy the walk-forward windows")
    return sweep.scores.excess_sharpe


def _walk_forward(sweep, config: WalkForwardConfig, cash: np.ndarray,
                  advance: Callable[[], None],
                  allowed: Callable[[Split], np.ndarray | None] | None) -> WalkForwardResult:
    """Step 4 on the returns the sweep kept: every trial's (then "chosen" is a sweep row), or
    each train window's top trials (``ReturnsPolicy.walkforward``), whose choice is the same
    and whose percentiles are taken among every trial's kept test-window Sharpe."""
    if sweep.kept is None:
        return walk_forward(sweep.returns, sweep.index, config, cash, on_split=advance,
                            allowed=allowed)
    kept = sweep.kept

    def kept_allowed(split: Split) -> np.ndarray | None:
        mask = allowed(split)
        return None if mask is None else mask[kept]

    return walk_forward(sweep.returns, sweep.index, config, cash, on_split=advance,
                        allowed=None if allowed is None else kept_allowed, trials=kept,
                        oos_sharpes=sweep.scores.test_sharpes)


def _kept_note(sweep) -> list[str]:
    """How many trials ran and how many daily-return series were kept."""
    if sweep.kept is None:
        return []
    return [f"{sweep.n_trials:,} trials were run; the daily returns of {sweep.n_returns_kept:,} "
            f"of them were kept (the best by whole-window excess Sharpe for the best and SPA, "
            f"a seeded random sample for PBO, each walk-forward train window's best for its "
            f"choice); the best, the deflated Sharpe's N and its Sharpe variance and each "
            f"choice's out-of-sample percentile use every trial's scores."]


def _excess_sharpes(returns: np.ndarray, cash: np.ndarray) -> np.ndarray:
    """Step 3: each row's excess Sharpe, ``_BLOCK`` rows at a time."""
    out = np.empty(returns.shape[0])
    for lo in range(0, returns.shape[0], _BLOCK):
        block = np.asarray(returns[lo:lo + _BLOCK], dtype=np.float64) - cash
        out[lo:lo + len(block)] = performance.sharpe(block, axis=1)
    return out


def rerun(dataset, window: pd.DataFrame, combo: Combination, backtest: BacktestConfig):
    """Step 5: one combination through the reference pipeline: compute_signal ->
    build_targets -> run_backtest (vectorbt)."""
    from backtests.sim.engine import run_backtest
    from signals import compute_signal
    from strategies import build_targets

    signal = compute_signal(dataset, combo.signal)
    targets = build_targets(window, signal.composite, signal.regime, combo.strategy)
    config = dataclasses.replace(backtest, lag=combo.lag)
    return run_backtest(targets.orders, window, window[config.cash_rate_ticker], config)


def _metrics(returns: pd.Series | np.ndarray, cash: np.ndarray) -> dict[str, float]:
    r = np.asarray(returns, dtype=np.float64)
    return {
        "total_return": float(performance.total_return(r)),
        "cagr": float(performance.cagr(r)),
        "sharpe": float(performance.sharpe(r - cash)),
        "volatility": float(performance.volatility(r)),
        "max_drawdown": float(performance.max_drawdown(r)),
    }


class _Attempts:
    """Run a statistic; a ValueError from degenerate inputs makes it None with a note."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def __call__(self, label: str, compute: Callable[[], Any]) -> Any:
        try:
            return compute()
        except ValueError as exc:
            self.failed.append(f"{label} not computed: {exc}")
            return None


@dataclass(frozen=True)
class ReferenceRuns:
    """Steps 5 and 6 through vectorbt: each re-run's daily returns and gross exposure, by sweep
    row, and SPY bought and held."""

    returns: dict[int, pd.Series]
    gross_exposure: dict[int, pd.Series]
    spy: pd.Series


def import_reference_engine() -> None:
    """Import what ``reference_runs`` needs (vectorbt, about 2 s), e.g. in the process that
    will run it, ahead of time."""
    import backtests.sim.benchmarks  # noqa: F401


def reference_runs(dataset, window: pd.DataFrame, combos: Mapping[int, Combination],
                   backtest: BacktestConfig) -> ReferenceRuns:
    """Steps 5 and 6: the sweep rows ``combos`` (row -> combination) re-run through the reference
    pipeline, and SPY bought and held through the same engine and costs. A function of picklable
    inputs, so another process can run it (``analyse(reference=...)``)."""
    from backtests.sim.benchmarks import buy_and_hold

    runs = {i: rerun(dataset, window, combo, backtest) for i, combo in combos.items()}
    return ReferenceRuns({i: run.returns for i, run in runs.items()},
                         {i: run.gross_exposure for i, run in runs.items()},
                         buy_and_hold(window, window[backtest.cash_rate_ticker], backtest))


def _stitch(series: Mapping[int, pd.Series], splits: pd.DataFrame) -> pd.Series:
    """Step 5: each split's chosen re-run on its test window, end to end (its daily returns,
    or another per-session series of the run such as its gross exposure)."""
    return pd.concat([series[row.chosen].loc[row.test_start:row.test_end]
                      for row in splits.itertuples()]).rename("oos")


def _dsr(best_excess: np.ndarray, excess_sharpes: np.ndarray, n_trials: int,
         attempt: _Attempts) -> DSRStats | None:
    """Step 7: the deflated Sharpe of the best against every trial's excess Sharpe."""
    from backtests.stats.overfitting import deflated_sharpe_ratio

    finite = excess_sharpes[np.isfinite(excess_sharpes)]
    dsr = attempt("DSR", lambda: deflated_sharpe_ratio(
        best_excess, finite / math.sqrt(PERIODS_PER_YEAR), n_trials=n_trials))
    return DSRStats(dsr.dsr, dsr.sr0_per_period * math.sqrt(PERIODS_PER_YEAR), dsr.skew,
                    dsr.raw_kurtosis, n_trials) if dsr else None


def _pbo(sweep, cash: np.ndarray, tune: TuneConfig, seed: int,
         attempt: _Attempts) -> tuple[PBOStats | None, int]:
    """Step 8: CSCV on the excess returns of (a seeded subset of) the trials; also returns
    how many trials it used."""
    from backtests.stats.overfitting import probability_of_backtest_overfitting

    n = sweep.n_trials
    rng = np.random.default_rng(seed)
    cols = (np.sort(rng.choice(n, tune.pbo_max_configs, replace=False))
            if n > tune.pbo_max_configs else np.arange(n))
    pbo = attempt("PBO", lambda: probability_of_backtest_overfitting(
        sweep.returns_of(cols).T.astype(np.float64) - cash[:, None],
        n_blocks=tune.pbo_blocks))
    return (PBOStats(pbo.pbo, pbo.degradation_slope, pbo.prob_oos_loss, pbo.n_splits,
                     len(cols), tune.pbo_blocks, pbo.logits) if pbo else None), len(cols)


def _ci(label: str, series: np.ndarray, key: str, tune: TuneConfig, seed: int,
        attempt: _Attempts) -> tuple[float, float, float]:
    """Step 9: (lo, point, hi) of ``key`` ("sharpe" or "cagr") by the stationary bootstrap."""
    from backtests.stats.overfitting import bootstrap_confidence_intervals

    out = attempt(label, lambda: bootstrap_confidence_intervals(
        series, n_boot=tune.bootstrap_reps, seed=seed))
    return tuple(out[key]) if out else (math.nan, math.nan, math.nan)


def _spa(sweep, cash: np.ndarray, spy_excess: np.ndarray,
         excess_sharpes: np.ndarray, tune: TuneConfig, seed: int,
         attempt: _Attempts) -> tuple[SPAStats | None, int]:
    """Step 10: Hansen's SPA of the best ``spa_max_models`` trials against SPY; also returns
    how many trials it tested."""
    from backtests.stats.overfitting import spa_test

    order = np.argsort(np.where(np.isnan(excess_sharpes), np.inf, -excess_sharpes),
                       kind="stable")  # best first, ties: the earlier; undefined ones last
    cols = np.sort(order[:tune.spa_max_models])
    spa = attempt("SPA", lambda: spa_test(
        spy_excess, sweep.returns_of(cols).T.astype(np.float64) - cash[:, None],
        reps=tune.spa_reps,
        seed=seed))
    return (SPAStats(spa.pvalue_consistent, spa.pvalue_lower, spa.pvalue_upper, spa.n_models,
                     tune.spa_reps) if spa else None), len(cols)


def _notes(tune: TuneConfig, backtest: BacktestConfig, mean_cash: float, max_diff: float,
           agreement: float, n: int, n_pbo: int, n_spa: int, failed: list[str]) -> list[str]:
    """What a reader needs to know to read the figures."""
    wf = tune.walkforward
    notes = [
        f"Every Sharpe ratio (selection, walk-forward, DSR, PBO, bootstrap, SPA) is of daily "
        f"returns in excess of {CASH_DESCRIPTION.format(ticker=backtest.cash_rate_ticker)} "
        f"(average {mean_cash:.2%} a year over the window); total return and CAGR are total.",
        f"Sweep returns come from the fast kernel; the best configuration and every "
        f"walk-forward choice were re-run through vectorbt (run_backtest) and those runs are "
        f"reported (largest daily return difference {max_diff:.1e}; best total return and "
        f"excess Sharpe agree to {agreement:.1e}).",
        f"Walk-forward: {wf.scheme} train windows of {wf.train} sessions, test windows of "
        f"{wf.test}, {wf.embargo} sessions purged between them, chosen by {wf.metric}.",
        *failed,
    ]
    if n_pbo < n:
        notes.append(f"PBO uses a seeded random subset of {n_pbo:,} of the {n:,} "
                     f"configurations to bound memory.")
    if n_spa < n:
        notes.append(f"SPA tests the {n_spa:,} configurations with the best Sharpe (of {n:,}); "
                     f"pre-selecting them makes its p-value optimistic.")
    return notes


def _selection_notes(tune: TuneConfig, n_trials: int, prior_trials: tuple[int, ...],
                     unscored: list[str]) -> list[str]:
    """How the choices were made and what the deflated Sharpe's N counts."""
    notes = []
    if tune.select_by == "information":
        notes.append("Selection by information: on each train window (and for the best, on the "
                     "whole window) the composite with the best rank IC with the forward "
                     "spread was chosen first, then the trial with the best train-window "
                     "excess Sharpe among those using it.")
        if unscored:
            notes.append("No composite had a rank IC (too few sessions) on: "
                         + ", ".join(unscored) + "; there every trial was eligible.")
    if prior_trials:
        notes.append(f"The deflated Sharpe's N = {n_trials:,} trials of this run + "
                     f"{sum(prior_trials):,} of {len(prior_trials)} earlier tune run(s) of the "
                     f"same data and holdout = {n_trials + sum(prior_trials):,}.")
    return notes


# --------------------------------------------------------------------------------------------
# The whole analysis
# --------------------------------------------------------------------------------------------


def analyse(sweep, selection: Selection, dataset, config: RunConfig, tune: TuneConfig, *,
            seed: int = 0, start=None, progress: Progress | None = None,
            prior_trials: Sequence[int] = (),
            on_pages: Callable[[PageSeries], None] | None = None,
            reference: Executor | None = None) -> TuneAnalysis:
    """Steps 1-11 of the module docstring on a finished sweep (``SweepResult``).

    ``prior_trials``: the trials of each earlier tune of the same data and holdout; the
    deflated Sharpe's N is this sweep's trials plus their sum. ``on_pages`` is called with the
    tearsheets' series as soon as step 6 has them (so another process can draw the pages while
    steps 7-10 run); they are the same as ``TuneAnalysis.pages()``. ``reference``: an executor
    (of another process) that runs steps 5 and 6 (``reference_runs``, vectorbt) while this
    process computes PBO; None runs them here."""
    prior_trials = tuple(int(n) for n in prior_trials)
    progress = progress or Progress()
    backtest = config.backtest
    window = dataset.prices.loc[pd.Timestamp(start):] if start is not None else dataset.prices
    window = window.loc[sweep.index]
    cash_series = _cash(window, backtest)  # step 1
    cash = cash_series.to_numpy(dtype=np.float64)
    combos = sweep.combos
    varying = selection.grid.varying()
    splits = make_splits(len(sweep.index), tune.walkforward)
    n_signals = len({composite_key(c.signal) for c in {id(c.signal): c for c in combos}.values()})
    with progress.stage("signal information", n_signals) as advance:  # step 2
        info = signal_information(dataset, window, combos, varying, splits, config, advance,
                                  cache=sweep.signals)
    excess_sharpes = _trial_sharpes(sweep, cash)  # step 3
    ranked = np.where(np.isnan(excess_sharpes), -np.inf, excess_sharpes)
    unscored: list[str] = []
    allowed = None
    if tune.select_by == "information":
        full = _best_signal_rows(info, info.full_ics)
        if full is None:
            unscored.append("the whole window")
        elif not np.isfinite(ranked[full]).any():  # no trial of that composite has a Sharpe
            ranked = np.where(full, 0.0, -np.inf)
        else:
            ranked = np.where(full, ranked, -np.inf)

        def allowed(split: Split) -> np.ndarray | None:
            rows = _best_signal_rows(info, info.train_ics[:, split.number])
            if rows is None:
                unscored.append(f"split {split.number}")
            return rows
    best = int(np.argmax(ranked))
    with progress.stage("walk-forward", len(splits)) as advance:  # step 4
        wf = _walk_forward(sweep, tune.walkforward, cash, advance, allowed)
    rows = [best, *sorted(set(wf.splits["chosen"]) - {best})]
    attempt = _Attempts()
    with progress.stage("statistics", 6) as advance:
        reruns = {i: combos[i] for i in rows}  # steps 5 and 6, here or in another process
        pending = (reference.submit(reference_runs, dataset, window, reruns, backtest)
                   if reference is not None else None)
        pbo, n_pbo = _pbo(sweep, cash, tune, seed, attempt)  # step 8 (needs no re-run)
        advance()
        runs = (pending.result() if pending is not None
                else reference_runs(dataset, window, reruns, backtest))
        oos = _stitch(runs.returns, wf.splits)
        oos_cash = cash_series.reindex(oos.index).to_numpy()
        max_diff = max(float(np.max(np.abs(r.to_numpy() - sweep.returns_of([i])[0])))
                       for i, r in runs.returns.items())
        best_returns = runs.returns[best]
        best_vbt = _metrics(best_returns, cash)
        best_fast = _metrics(sweep.returns_of([best])[0], cash)
        agreement = max(abs(best_vbt[m] - best_fast[m]) for m in ("total_return", "sharpe"))
        spy = runs.spy
        spy_excess = spy.to_numpy() - cash
        best_combo = combos[best]
        label = combo_label(best_combo, varying)
        oos_exposure = _stitch(runs.gross_exposure, wf.splits)
        cash_rate = CashRate(backtest.cash_rate_ticker,
                             CASH_DESCRIPTION.format(ticker=backtest.cash_rate_ticker),
                             float(cash.mean() * PERIODS_PER_YEAR))
        if on_pages is not None:
            on_pages(PageSeries(oos, oos_exposure, best_returns, runs.gross_exposure[best],
                                label, spy, cash_series, cash_rate.description))
        advance()
        dsr = _dsr(best_returns.to_numpy() - cash, excess_sharpes,
                   selection.n_trials + sum(prior_trials), attempt)  # step 7
        advance()
        oos_sharpe_ci = _ci("OOS Sharpe bootstrap", oos.to_numpy() - oos_cash, "sharpe", tune,
                            seed, attempt)  # step 9
        oos_cagr_ci = _ci("OOS CAGR bootstrap", oos.to_numpy(), "cagr", tune, seed, attempt)
        advance()
        is_sharpe_ci = _ci("IS Sharpe bootstrap", best_returns.to_numpy() - cash, "sharpe",
                           tune, seed, attempt)
        advance()
        spa, n_spa = _spa(sweep, cash, spy_excess, excess_sharpes, tune, seed,
                          attempt)  # step 10
        advance()
    mean_cash = cash_rate.mean_annual
    result = TuneAnalysis(
        trials=Trials(selection.n_trials, selection.grid.size, selection.sampled,
                      selection.invalid, selection.duplicates, sweep.n_returns_kept),
        cash=cash_rate,
        best=BestInSample(best, best_combo.number, label,
                          dict(best_combo.params), best_vbt["sharpe"], best_vbt["total_return"],
                          is_sharpe_ci, best_fast, best_vbt),
        best_returns=best_returns,
        best_exposure=runs.gross_exposure[best],
        cash_returns=cash_series,
        walk_forward=WalkForwardStats(
            result=wf, oos_returns=oos, oos_exposure=oos_exposure,
            sharpe=float(performance.sharpe(oos.to_numpy() - oos_cash)),
            sharpe_ci=(oos_sharpe_ci[0], oos_sharpe_ci[2]), cagr_ci=oos_cagr_ci,
            labels=tuple(combo_label(combos[i], varying) for i in wf.splits["chosen"])),
        dsr=dsr, pbo=pbo, spa=spa,
        spy_returns=spy,
        spy_sharpe=float(performance.sharpe(spy_excess)),
        excess_sharpes=excess_sharpes,
        information=info,
        select_by=tune.select_by,
        prior_trials=prior_trials,
        max_return_diff=max_diff,
        best_agreement=agreement,
        notes=tuple(_notes(tune, backtest, mean_cash, max_diff, agreement, len(combos), n_pbo,
                           n_spa, attempt.failed)
                    + _selection_notes(tune, selection.n_trials, prior_trials, unscored)
                    + _kept_note(sweep)),
        verdict="",
    )
    return dataclasses.replace(result, verdict=verdict(result.to_dict()))  # step 11
