"""Parameter sweeps: a chunked, resumable run of a grid's combinations on the fast kernel.

The grid and its combinations are built in ``backtests.tune.grid`` (re-exported here).
``run_sweep`` computes each distinct signal once (configurations that differ only in regime
thresholds share one composite), runs the fast kernel chunk by chunk with a progress bar, and
saves every chunk as parquet: a rerun over the same combinations and data skips finished chunks.
The chunks are pipelined: while the kernel runs chunk k in a background thread (it releases the
GIL), the caller computes the signals of chunk k + 1 and another thread saves chunk k - 1.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.sim.config import BacktestConfig
from backtests.sim.fastsim import KERNEL_VERSION, METRICS, FastSim
from backtests.tune.grid import (  # noqa: F401  (re-exported: the sweep's public names)
    Combination,
    Grid,
    Selection,
    grid_from_table,
    grid_section,
    select,
    used_params,
)
from drain_core.errors import DrainError
from drain_data.store import Dataset
from signals import SignalConfig, compute_signal
from signals.transforms import regimes_with_hysteresis
from strategies import universe

DEFAULT_CHUNK = 1000


# --------------------------------------------------------------------------------------------
# Signals shared across combinations
# --------------------------------------------------------------------------------------------


class SignalCache:
    """Each distinct signal computed once; configurations that differ only in the regime
    thresholds share one ``compute_signal`` call.

    ``compute_signal`` warms its statistics up on sessions before the first price (the macro
    history), and its regimes carry their hysteresis state from there. So the shared call runs on
    a dataset extended to those warm-up sessions, and the regimes of the other thresholds are
    re-derived on that longer composite by ``regimes_with_hysteresis`` (the function
    ``compute_signal`` itself ends with), then cut to the dataset's sessions. The first group is
    checked against a plain ``compute_signal``; if they ever differ, nothing is shared.
    """

    def __init__(self, dataset) -> None:
        self.dataset = dataset
        self.sessions = dataset.sessions
        try:
            from signals.pit import warmup_sessions

            extended = warmup_sessions(dataset)
        except ImportError:  # an older signals module: no warm-up before the first price
            extended = dataset.sessions
        self._extended = Dataset(prices=dataset.prices.reindex(extended), macro=dataset.macro,
                                 capex=dataset.capex, issuance=dataset.issuance)
        self._composites: dict[SignalConfig, pd.Series] = {}
        self._signals: dict[SignalConfig, tuple[pd.Series, pd.Series]] = {}
        self.shared: bool | None = None  # None until the first group is checked
        self.seconds = 0.0
        self.calls = 0

    def _compute(self, dataset, config: SignalConfig):
        self.calls += 1
        return compute_signal(dataset, config)

    def get(self, config: SignalConfig) -> tuple[pd.Series, pd.Series]:
        """(composite, regime) of ``config`` on the dataset's sessions."""
        if config in self._signals:
            return self._signals[config]
        started = time.perf_counter()
        group = dataclasses.replace(config, draining_above=0.25, scarce_above=0.75,
                                    hysteresis=0.1)
        if self.shared is False:
            result = self._compute(self.dataset, config)
            out = (result.composite, result.regime)
        else:
            if group not in self._composites:
                full = self._compute(self._extended, config)
                self._composites[group] = full.composite
                if self.shared is None:
                    direct = self._compute(self.dataset, config)
                    self.shared = (
                        direct.composite.equals(full.composite.reindex(self.sessions))
                        and direct.regime.equals(full.regime.reindex(self.sessions)))
                    if not self.shared:
                        self._signals[config] = (direct.composite, direct.regime)
                        self.seconds += time.perf_counter() - started
                        return self._signals[config]
            composite = self._composites[group]
            regime = regimes_with_hysteresis(composite, config.draining_above,
                                             config.scarce_above, config.hysteresis)
            out = (composite.reindex(self.sessions), regime.reindex(self.sessions))
        self._signals[config] = out
        self.seconds += time.perf_counter() - started
        return out

    @property
    def n_signals(self) -> int:
        """Distinct signal configurations seen."""
        return len(self._signals)

    @property
    def n_composites(self) -> int:
        """``compute_signal`` calls made."""
        return self.calls


# --------------------------------------------------------------------------------------------
# The chunked run
# --------------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    """One row per combination (parameters and metrics) and its daily returns."""

    table: pd.DataFrame
    returns: np.ndarray  # (n_combos, n_sessions) float32
    index: pd.DatetimeIndex
    combos: list[Combination]
    n_signals: int = 0
    n_composites: int = 0
    signal_seconds: float = 0.0
    chunks_run: int = 0
    chunks_reused: int = 0
    extras: dict[str, Any] = field(default_factory=dict)


def sweep_key(selection: Selection, backtest: BacktestConfig, window: pd.DatetimeIndex,
              fingerprint: str, chunk_size: int) -> str:
    """A hash of everything a chunk's numbers depend on (resume only when it matches)."""
    configs: dict[int, int] = {}  # config object -> its position in ``distinct``
    distinct: list[str] = []
    rows = []
    for c in selection.combos:
        pair = []
        for config in (c.signal, c.strategy):
            if id(config) not in configs:
                configs[id(config)] = len(distinct)
                distinct.append(repr(config))
            pair.append(configs[id(config)])
        rows.append((c.number, *pair, c.lag))
    payload = {
        "kernel": KERNEL_VERSION,
        "data": fingerprint,
        "window": [str(window[0]), str(window[-1]), len(window)],
        "backtest": repr(backtest),
        "chunk_size": chunk_size,
        "configs": distinct,
        "combos": rows,
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _chunk_path(folder: Path, k: int) -> Path:
    return folder / f"chunk-{k:05d}.parquet"


def _write_chunk(path: Path, numbers: list[int], metrics: np.ndarray,
                 returns: np.ndarray) -> None:
    """One parquet file: combination numbers, metrics, and each combination's daily returns as
    one fixed-size binary cell of little-endian float32 (fast to write and read)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n, n_days = returns.shape
    columns = {"combo": pa.array(numbers, pa.int64())}
    for j, name in enumerate(METRICS):
        columns[name] = pa.array(metrics[:, j], pa.float64())
    blob = pa.py_buffer(np.ascontiguousarray(returns, dtype="<f4"))  # no copy
    columns["returns"] = pa.Array.from_buffers(pa.binary(4 * n_days), n, [None, blob])
    tmp = path.with_suffix(".tmp")
    pq.write_table(pa.table(columns), tmp, compression="none", use_dictionary=False,
                   write_statistics=False)
    os.replace(tmp, path)


def _read_chunk(path: Path, n_days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    numbers = table.column("combo").to_numpy()
    metrics = np.column_stack([table.column(m).to_numpy() for m in METRICS])
    blobs = table.column("returns").combine_chunks()
    if blobs.type.byte_width != 4 * n_days:
        return np.array([], dtype=np.int64), metrics, np.empty((0, n_days), np.float32)
    returns = np.frombuffer(blobs.buffers()[1], dtype="<f4", count=len(numbers) * n_days,
                            offset=blobs.offset * 4 * n_days)
    return numbers, metrics, returns.reshape(len(numbers), n_days).astype(np.float32)


def prepare_chunk_dir(folder: Path, key: str, previous: Path | None = None) -> None:
    """Make ``folder`` hold only chunks of sweep ``key``; seed it from a finished run's chunks
    (``previous``) when those were made by the same sweep."""
    manifest = folder / "sweep.json"
    if folder.exists():
        same = manifest.exists() and json.loads(manifest.read_text()).get("key") == key
        if not same:
            shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    old = previous / "sweep.json" if previous is not None else None
    if old is not None and old.exists() and json.loads(old.read_text()).get("key") == key:
        for chunk in old.parent.glob("chunk-*.parquet"):
            target = folder / chunk.name
            if not target.exists():
                _link_or_copy(chunk, target)
    manifest.write_text(json.dumps({"key": key}))


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def copy_chunks(source: Path, target: Path) -> None:
    """Put the chunks (and their manifest) of ``source`` into ``target`` (hard links if can)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in [*source.glob("chunk-*.parquet"), source / "sweep.json"]:
        if path.exists():
            _link_or_copy(path, target / path.name)


def _chunks(n: int, size: int) -> Iterator[tuple[int, int, int]]:
    for k, lo in enumerate(range(0, n, size)):
        yield k, lo, min(lo + size, n)


class _Pipeline:
    """Chunks in flight: the kernel runs chunk k in one thread (it releases the GIL) while the
    caller prepares chunk k + 1 (its signals and inputs) and another thread saves chunk k - 1."""

    def __init__(self, kernel: ThreadPoolExecutor, writer: ThreadPoolExecutor,
                 metrics: np.ndarray, advance: Callable[[int], None],
                 on_chunk: Callable[[int], None] | None) -> None:
        self.kernel = kernel
        self.writer = writer
        self.metrics = metrics
        self.advance = advance
        self.on_chunk = on_chunk
        self.running: tuple[int, int, int, Future, Path | None, list[int]] | None = None
        self.writing: tuple[int, Future] | None = None

    def submit(self, k: int, lo: int, hi: int, job: Callable[[], tuple[np.ndarray, np.ndarray]],
               path: Path | None, numbers: list[int]) -> None:
        """Queue chunk ``k`` (rows ``lo:hi``) behind the running one, then collect that."""
        future = self.kernel.submit(job)
        self.collect()
        self.running = (k, lo, hi, future, path, numbers)

    def collect(self) -> None:
        """Wait for the running chunk, keep its metrics, and save it in the background."""
        if self.running is None:
            return
        k, lo, hi, future, path, numbers = self.running
        self.running = None
        m, r = future.result()
        self.metrics[lo:hi] = m
        self.saved()
        if path is not None:
            self.writing = (k, self.writer.submit(_write_chunk, path, numbers, m, r))
        elif self.on_chunk is not None:
            self.on_chunk(k)
        self.advance(hi - lo)

    def saved(self) -> None:
        """Wait for the background save, then report the chunk."""
        if self.writing is not None:
            k, future = self.writing
            self.writing = None
            future.result()
            if self.on_chunk is not None:
                self.on_chunk(k)


def run_sweep(
    selection: Selection,
    dataset,
    backtest: BacktestConfig,
    *,
    start: str | pd.Timestamp | None = None,
    chunk_dir: Path | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    progress: bool = False,
    on_chunk: Callable[[int], None] | None = None,
) -> SweepResult:
    """Simulate every selected combination with the fast kernel, ``chunk_size`` at a time.

    Signals use all of ``dataset`` (history before ``start`` warms them up); trading starts at
    ``start``. With ``chunk_dir`` (prepared by ``prepare_chunk_dir``) each finished chunk is
    saved there and chunks already there are read instead of run. ``on_chunk(k)`` is called
    after chunk ``k`` is saved.
    """
    combos = selection.combos
    window = dataset.prices.loc[pd.Timestamp(start):] if start is not None else dataset.prices
    if len(window) < 3:
        raise DrainError(f"the date range holds {len(window)} sessions; widen it")
    n_days = len(window)
    strategies = {id(c.strategy): c.strategy for c in combos}  # shared objects: few distinct
    tickers = sorted(set().union(*(universe(s) for s in strategies.values())))
    signals = SignalCache(dataset)
    sim: FastSim | None = None
    metrics = np.empty((len(combos), len(METRICS)))
    returns = np.empty((len(combos), n_days), dtype=np.float32)
    run = reused = 0
    known: dict[int, tuple[SignalConfig, int]] = {}  # signal ids by config object
    with ThreadPoolExecutor(max_workers=1) as kernel, \
            ThreadPoolExecutor(max_workers=1) as writer, \
            _progress_bar(progress, len(combos)) as advance:
        flow = _Pipeline(kernel, writer, metrics, advance, on_chunk)
        for k, lo, hi in _chunks(len(combos), chunk_size):
            path = _chunk_path(chunk_dir, k) if chunk_dir is not None else None
            part = combos[lo:hi]
            if path is not None and path.exists():
                numbers, m, r = _read_chunk(path, n_days)
                if list(numbers) == [c.number for c in part]:
                    metrics[lo:hi], returns[lo:hi] = m, r
                    reused += 1
                    advance(hi - lo)
                    continue
            if sim is None:  # the first chunk to run: shared inputs for all the rest, once
                missing = [t for t in [*tickers, backtest.cash_rate_ticker]
                           if t not in window.columns]
                if missing:
                    raise DrainError(f"no price data for {missing[0]!r}; fetch it with "
                                     f"'drain data update --tickers {missing[0]}'")
                sim = FastSim(window, tickers, backtest)
                sim.prepare([c.strategy for c in combos[lo:]])
            ids = np.array([_signal_id(sim, signals, c.signal, known) for c in part],
                           dtype=np.int64)
            lags = np.array([c.lag for c in part], dtype=np.int64)
            job = sim.batch(ids, [c.strategy for c in part], lags, out=returns[lo:hi])
            flow.submit(k, lo, hi, job, path, [c.number for c in part])
            run += 1
        flow.collect()
        table = results_table(selection, metrics)  # while the last chunk is saved
        flow.saved()
    n_signals = len({c.signal for c in {id(c.signal): c for c in combos}.values()})
    return SweepResult(table=table, returns=returns, index=window.index, combos=combos,
                       n_signals=n_signals, n_composites=signals.n_composites,
                       signal_seconds=signals.seconds, chunks_run=run, chunks_reused=reused)


def _signal_id(sim: FastSim, cache: SignalCache, config: SignalConfig,
               known: dict[int, tuple[SignalConfig, int]]) -> int:
    """The kernel's id of a signal config (computed on first use; looked up by object)."""
    hit = known.get(id(config))
    if hit is not None and hit[0] is config:
        return hit[1]
    number = sim.signal_id(config)
    if number is None:
        number = sim.add_signal(config, *cache.get(config))
    known[id(config)] = (config, number)
    return number


def results_table(selection: Selection, metrics: np.ndarray) -> pd.DataFrame:
    """One row per combination: its number, every grid parameter, and the metrics."""
    grid = selection.grid
    numbers = np.array([c.number for c in selection.combos], dtype=np.int64)
    rows: dict[str, Any] = {"combo": numbers}
    stride = grid.size
    for param, values in zip(grid.params, grid.values, strict=True):
        stride //= len(values)
        cells = np.empty(len(values), dtype=object)
        cells[:] = [_cell(v) for v in values]
        column = cells[(numbers // stride) % len(values)]
        kinds = {type(v) for v in cells}
        if not kinds - {int, float}:  # numbers
            column = column.astype(float if float in kinds else np.int64)
        elif len(kinds) > 1:  # e.g. "none" and 0.1: one type for parquet
            column = column.astype(str)
        rows[param] = column
    table = pd.DataFrame(rows)
    for j, name in enumerate(METRICS):
        table[name] = metrics[:, j]
    return table


def _cell(value: Any) -> Any:
    """Parquet-friendly cell: tuples (tilt shares, component lists) become strings."""
    if isinstance(value, tuple):
        return json.dumps(list(value))
    return value


class _progress_bar:
    """A rich progress bar on stderr (no-op when disabled or not a terminal)."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled = enabled
        self.total = total
        self._progress = None

    def __enter__(self) -> Callable[[int], None]:
        if not self.enabled:
            return lambda n: None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TimeRemainingColumn(), console=Console(stderr=True), transient=True,
        )
        self._progress.start()
        task = self._progress.add_task("sweep", total=self.total)
        progress = self._progress
        return lambda n: progress.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
