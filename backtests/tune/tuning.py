"""One call that runs a whole tune: grid -> checks -> sweep -> analysis, as a ``TuneRun``.

``run_tune`` is the library behind ``drain tune``:

1. **Seal** (``backtests.tune.holdout.seal``): with ``[tune] holdout_from``, the dataset is cut
   to what was known before the holdout; nothing below sees a later session or release.
2. **Grid** (``backtests.tune.grid``): the named grid's combinations, every value checked by
   its config class, windows and lags checked against the data (``check_against_data``).
3. **Sweep** (``backtests.tune.sweep.run_sweep``): the fast kernel, chunk by chunk, resumable
   from ``chunk_dir``. Above ``[tune] keep_returns`` trials, with a ``ReturnsPolicy``
   (``returns_policy``): every trial's metrics and walk-forward scores, but the daily returns
   only of SPA's models (the best ``spa_max_models`` by whole-window excess Sharpe), PBO's
   seeded sample (``pbo_max_configs``, drawn as the analysis draws it) and the best
   ``keep_per_window`` of each walk-forward train window, chosen on that window alone (with
   ``select_by = "information"`` also per composite, on each train window and the whole window).
4. **Earlier trials** (``earlier_tune_trials``): the tune run folders already in the reports
   root whose manifest records the same data fingerprint and the same holdout; their trials
   join this run's in the deflated Sharpe's N (every tune of the same data was a look).
5. **Analysis** (``backtests.tune.analysis.analyse``): signal information, walk-forward,
   vectorbt re-runs, DSR, PBO, bootstrap CIs, SPA and the verdict, on returns in excess of cash.

Writing the run folder is the report stage's job (``backtests.report.tune_run``).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.run.config import RunConfig
from backtests.sim.accrual import daily_rates
from backtests.sim.config import BacktestConfig
from backtests.tune.analysis import PageSeries, TuneAnalysis, analyse, composite_groups
from backtests.tune.config import MAX_SAMPLE, TuneConfig
from backtests.tune.grid import Selection, check_against_data, select
from backtests.tune.holdout import config_hash, seal
from backtests.tune.progress import Progress
from backtests.tune.sweep import (
    ReturnsPolicy,
    SweepResult,
    WalkForwardKeep,
    prepare_chunk_dir,
    run_sweep,
    sweep_key,
)
from backtests.tune.walkforward import make_splits
from drain_core.errors import DrainError, EnvironmentFault
from drain_core.paths import reports_root


@dataclass(frozen=True)
class EarlierTrials:
    """Earlier tune runs of the same data and holdout, and the trials each one ran."""

    runs: tuple[str, ...] = ()  # folder names
    trials: tuple[int, ...] = ()  # their trials, in the same order
    notes: tuple[str, ...] = ()  # folders skipped because their manifest could not be read


def earlier_tune_trials(root: Path, fingerprint: str, holdout_from: str | None) -> EarlierTrials:
    """The tune run folders under ``root`` whose ``manifest.json`` records data fingerprint
    ``fingerprint`` and holdout start ``holdout_from`` (None: unsealed), with their trials.

    A folder whose manifest is not valid JSON or lacks the trial count is skipped with a
    note; folders of other kinds (backtests) and staging folders (".name") are ignored."""
    runs, trials, notes = [], [], []
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if root.is_dir() else []
    for folder in folders:
        path = folder / "manifest.json"
        if not path.is_file():
            continue
        try:
            manifest = json.loads(path.read_text())
            if not isinstance(manifest, dict) or manifest.get("kind") != "tune":
                continue
            holdout = manifest.get("holdout") or {}
            if manifest.get("data_fingerprint") != fingerprint or holdout.get("from") != \
                    holdout_from:
                continue
            n = manifest["n_trials"]
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(f"n_trials = {n!r}")
        except (OSError, ValueError, KeyError, AttributeError) as exc:
            notes.append(f"earlier tune run {folder.name} skipped: its manifest.json could not "
                         f"be read ({type(exc).__name__}: {exc})")
            continue
        runs.append(folder.name)
        trials.append(n)
    return EarlierTrials(tuple(runs), tuple(trials), tuple(notes))


def returns_policy(tune: TuneConfig, selection: Selection, window: pd.DataFrame,
                   backtest: BacktestConfig, seed: int) -> ReturnsPolicy:
    """The daily returns a large tune keeps: what ``analyse`` reads (module docstring, 3).

    The walk-forward windows are ``make_splits`` of ``window`` (the sessions traded); every
    Sharpe is of the excess over the cash the engine credits, as in the analysis."""
    splits = make_splits(len(window), tune.walkforward)
    groups = composite_groups(selection.combos) if tune.select_by == "information" else None
    walkforward = WalkForwardKeep(
        cash=daily_rates(window[backtest.cash_rate_ticker], window.index).to_numpy(
            dtype=np.float64),  # the analysis's step 1
        trains=tuple((s.train_start, s.train_end) for s in splits),
        tests=tuple((s.test_start, s.test_end) for s in splits),
        metric=tune.walkforward.metric, best=tune.keep_per_window, groups=groups)
    return ReturnsPolicy(best=tune.spa_max_models, sample=tune.pbo_max_configs, seed=seed,
                         walkforward=walkforward)


@dataclass(frozen=True)
class TuneRun:
    """A finished tune: its inputs, the sweep, the analysis and the chosen configuration."""

    config: RunConfig  # the base configuration every grid point starts from
    tune: TuneConfig
    grid_name: str
    selection: Selection
    sweep: SweepResult
    analysis: TuneAnalysis
    chosen: RunConfig  # the best in-sample configuration (what best.toml holds)
    chosen_hash: str  # config_hash(chosen), recorded before any unsealing
    start: pd.Timestamp
    end: pd.Timestamp
    data_fingerprint: str  # of the (sealed) dataset the tune saw
    sweep_key: str
    seconds_sweep: float
    seconds_total: float
    earlier: EarlierTrials = field(default_factory=EarlierTrials)  # counted in the DSR's N
    repairs: tuple[str, ...] = ()  # damage found in the saved sweep and what was done

    @property
    def sealed(self) -> bool:
        """Whether a holdout was kept out of this tune."""
        return self.tune.holdout_from is not None


def run_tune(config: RunConfig, tune: TuneConfig, dataset=None, *, grid: str | None = None,
             sample: int | None = None, seed: int = 0, start=None, end=None,
             chunk_dir: Path | None = None, resume_from: Path | None = None,
             progress: Progress | None = None, executor=None,
             on_pages: Callable[[PageSeries], None] | None = None,
             reference: Executor | None = None) -> TuneRun:
    """Sweep grid ``grid`` of ``tune`` over ``dataset`` from ``start`` and analyse it.

    ``dataset`` None loads the data known at ``end``, once the grid has passed its checks (a
    bad grid value fails before any data is read).
    ``sample`` draws that many combinations at random (``seed`` also seeds the bootstraps).
    Earlier tune runs of the same data and holdout in ``reports_root()`` count in the DSR.
    With ``chunk_dir``, finished sweep chunks are saved there (and reused from
    ``resume_from``, the chunk folder of an earlier run, when made by the same sweep); what
    was found damaged there and redone is in ``TuneRun.repairs``; a write that fails (a full
    disk) removes ``chunk_dir`` if this run made it.
    ``executor`` (``backtests.tune.executor.open_executor``) runs the sweep's chunks on a Dask
    cluster; None runs them in this process. ``on_pages`` gets the tearsheets' series as
    soon as the analysis has them; ``reference`` runs its vectorbt re-runs (``analyse``).
    """
    started = time.perf_counter()
    progress = progress or Progress()
    chosen_grid = tune.grid(grid)
    selection = select(chosen_grid, config.signal, config.strategy, config.backtest,
                       sample=sample, seed=seed, cap=tune.cap, sample_cap=MAX_SAMPLE)
    if dataset is None:
        from drain_data import load_dataset

        dataset = load_dataset(end=end)
    if tune.holdout_start is not None:
        dataset = seal(dataset, tune.holdout_start)
    window = dataset.prices.loc[pd.Timestamp(start):] if start is not None else dataset.prices
    if len(window) < 3:
        before = " before the holdout" if tune.holdout_from else ""
        raise DrainError(f"the date range holds {len(window)} sessions{before}; widen it")
    check_against_data(chosen_grid, len(dataset.sessions), len(window))
    make_splits(len(window), tune.walkforward)  # too short a window fails here, early
    if len(window) < 2 * tune.pbo_blocks:
        raise DrainError(f"{len(window)} sessions are too few for PBO with {tune.pbo_blocks} "
                         f"blocks; widen the date range or lower tune.pbo_blocks")
    fingerprint = dataset.fingerprint()
    key = sweep_key(selection, config.backtest, window.index, fingerprint, tune.chunk_size)
    keep = returns_policy(tune, selection, window, config.backtest, seed) \
        if selection.n_trials > tune.keep_returns else None
    created = chunk_dir is not None and not chunk_dir.exists()
    try:
        notes = prepare_chunk_dir(chunk_dir, key, previous=resume_from) \
            if chunk_dir is not None else []
        sweep = run_sweep(selection, dataset, config.backtest, start=start,
                          chunk_dir=chunk_dir, chunk_size=tune.chunk_size,
                          progress=progress.enabled, executor=executor, keep=keep)
    except (OSError, EnvironmentFault):  # e.g. a full disk: leave no folder this run made
        if created:
            shutil.rmtree(chunk_dir, ignore_errors=True)
        raise
    seconds_sweep = time.perf_counter() - started
    earlier = earlier_tune_trials(reports_root(), fingerprint, tune.holdout_from)
    analysis = analyse(sweep, selection, dataset, config, tune, seed=seed, start=start,
                       progress=progress, prior_trials=earlier.trials, on_pages=on_pages,
                       reference=reference)
    if earlier.notes:
        analysis = dataclasses.replace(analysis, notes=analysis.notes + earlier.notes)
    best = sweep.combos[analysis.best.index]
    chosen = RunConfig(signal=best.signal, strategy=best.strategy,
                       backtest=dataclasses.replace(config.backtest, lag=best.lag))
    return TuneRun(config=config, tune=tune, grid_name=chosen_grid.name, selection=selection,
                   sweep=sweep, analysis=analysis, chosen=chosen,
                   chosen_hash=config_hash(chosen), start=window.index[0],
                   end=window.index[-1], data_fingerprint=fingerprint, sweep_key=key,
                   seconds_sweep=seconds_sweep, seconds_total=time.perf_counter() - started,
                   earlier=earlier, repairs=(*notes, *sweep.repairs))
