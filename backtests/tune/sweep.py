"""Parameter sweeps: a chunked, resumable run of a grid's combinations on the fast kernel.

The grid and its combinations are built in ``backtests.tune.grid`` (re-exported here).
``run_sweep`` computes each distinct signal once (configurations that differ only in regime
thresholds share one composite), runs the fast kernel chunk by chunk with a progress bar, and
saves every chunk as parquet: a rerun over the same combinations and data skips finished chunks.
The chunks are pipelined: while the kernel runs chunk k in a background thread (it releases the
GIL), with chunk k + 1 queued, the caller computes the signals of chunk k + 2 and another thread
saves chunk k - 1.
Given an executor (``backtests.tune.executor``), the chunks are Dask tasks instead: the data and
the simulator's basis matrices are scattered to every worker once, each worker computes the
signals its chunks need, and the caller saves each chunk as it arrives, so a resume works the
same either way. With a ``ReturnsPolicy`` every metric is kept but only the daily returns the
statistics need (``backtests.tune.keep``: the best by Sharpe, a seeded sample, the top of each
walk-forward train window), in memory and in the chunk files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
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
    composite_key,
    grid_from_table,
    grid_section,
    select,
    used_params,
)
from backtests.tune.keep import (  # noqa: F401  (re-exported: the sweep's public names)
    KeptReturns,
    KeptScores,
    ReturnsPolicy,
    WalkForwardKeep,
    missing_returns,
)
from drain_core.errors import DrainError
from drain_core.fs import guarded, write_bytes, write_text
from drain_data.store import Dataset
from signals import SignalConfig, compute_signal
from signals.pit import Prepared
from signals.transforms import regimes_with_hysteresis
from strategies import StrategyConfig, universe

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
    checked against a plain ``compute_signal``; if they ever differ, nothing is shared. With
    ``defer_check`` that check waits for ``check()`` (the in-process sweep runs it while the
    kernel runs the first chunk, instead of before).
    """

    def __init__(self, dataset, defer_check: bool = False) -> None:
        self.dataset = dataset
        self.sessions = dataset.sessions
        try:
            from signals.pit import warmup_sessions

            extended = warmup_sessions(dataset)
        except ImportError:  # an older signals module: no warm-up before the first price
            extended = dataset.sessions
        self._extended = Dataset(prices=dataset.prices.reindex(extended), macro=dataset.macro,
                                 capex=dataset.capex, issuance=dataset.issuance)
        self._prepared: dict[int, Prepared] = {}  # by id of dataset or _extended
        self._composites: dict[SignalConfig, pd.Series] = {}
        self._signals: dict[SignalConfig, tuple[pd.Series, pd.Series]] = {}
        self.shared: bool | None = None  # None until the first group is checked
        self.defer_check = defer_check
        self._unchecked: tuple[SignalConfig, Any] | None = None  # the first group, deferred
        self.seconds = 0.0
        self.calls = 0

    def _compute(self, dataset, config: SignalConfig):
        self.calls += 1
        prepared = self._prepared.get(id(dataset))
        if prepared is None:
            prepared = self._prepared[id(dataset)] = Prepared(dataset)
        return compute_signal(prepared, config)

    def get(self, config: SignalConfig) -> tuple[pd.Series, pd.Series]:
        """(composite, regime) of ``config`` on the dataset's sessions."""
        if config in self._signals:
            return self._signals[config]
        started = time.perf_counter()
        group = composite_key(config)
        if self.shared is False:
            result = self._compute(self.dataset, config)
            out = (result.composite, result.regime)
        else:
            if group not in self._composites:
                full = self._compute(self._extended, config)
                self._composites[group] = full.composite
                if self.shared is None and self.defer_check:
                    if self._unchecked is None:
                        self._unchecked = (config, full)
                elif self.shared is None:
                    direct = self._compute(self.dataset, config)
                    self.shared = self._agrees(direct, full)
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

    def _agrees(self, direct, full) -> bool:
        """Whether the shared call's signal, cut to the dataset's sessions, is the plain one."""
        return (direct.composite.equals(full.composite.reindex(self.sessions))
                and direct.regime.equals(full.regime.reindex(self.sessions)))

    def check(self) -> bool:
        """The check ``defer_check`` put off (if it is still to run): True if the signals given
        so far are right. False if sharing gave another signal than a plain ``compute_signal``:
        then every signal given is forgotten, none is shared from now on, and what used them
        must be redone."""
        if self._unchecked is None:
            return True
        started = time.perf_counter()
        config, full = self._unchecked
        self._unchecked = None
        self.shared = self._agrees(self._compute(self.dataset, config), full)
        if not self.shared:
            self._signals.clear()
            self._composites.clear()
        self.seconds += time.perf_counter() - started
        return self.shared

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
    """One row per combination (parameters and metrics) and the daily returns kept.

    ``returns`` holds one row per kept combination, ``kept[i]`` being the position in
    ``combos`` (and ``table``) of row ``i``: every combination unless the sweep was told to
    keep only the returns its statistics need (``ReturnsPolicy``).
    """

    table: pd.DataFrame
    returns: np.ndarray  # (n_kept, n_sessions) float32
    index: pd.DatetimeIndex
    combos: list[Combination]
    kept: np.ndarray | None = None  # positions of the rows of ``returns``; None: all, in order
    scores: KeptScores | None = None  # every trial's scores (a walk-forward returns policy)
    n_signals: int = 0
    n_composites: int = 0
    signal_seconds: float = 0.0
    chunks_run: int = 0
    chunks_reused: int = 0
    workers: int = 0  # Dask workers used (0: in this process)
    repairs: tuple[str, ...] = ()  # what was found damaged in the chunk folder and redone
    extras: dict[str, Any] = field(default_factory=dict)
    signals: SignalCache | None = field(default=None, repr=False)  # in-process: for reuse

    @property
    def n_trials(self) -> int:
        """Combinations run: every one is a trial (the deflated Sharpe's N)."""
        return len(self.table)

    @property
    def n_returns_kept(self) -> int:
        """Combinations whose daily returns were kept."""
        return len(self.returns)

    @property
    def positions(self) -> np.ndarray:
        """Positions in ``combos`` of the rows of ``returns``."""
        return np.arange(len(self.returns)) if self.kept is None else self.kept

    def returns_of(self, positions: Any) -> np.ndarray:
        """Daily returns (len(positions), n_sessions) of combinations by position in
        ``combos``; a KeyError names a combination whose returns were not kept."""
        positions = np.asarray(positions, dtype=np.int64)
        if self.kept is None:
            return self.returns[positions]
        rows = np.searchsorted(self.kept, positions)
        rows = np.minimum(rows, len(self.kept) - 1)
        missing = self.kept[rows] != positions
        if missing.any():
            raise KeyError(f"returns of combination {int(positions[missing][0])} were not kept")
        return self.returns[rows]


def _distinct(configs: Iterator[Any] | list[Any]) -> tuple[list[Any], np.ndarray]:
    """Distinct configs by value (first-seen order) and each input's position among them.

    Configs are keyed by themselves (hashable), each object hashed once: ``id`` serves only as
    a memo while ``configs`` keeps the objects alive (combinations share their config objects,
    and hashing a config per combination is several times slower)."""
    keys: dict[Any, int] = {}
    memo: dict[int, int] = {}
    distinct: list[Any] = []
    positions = []
    held = list(configs)
    for config in held:
        number = memo.get(id(config))
        if number is None:
            number = memo[id(config)] = keys.setdefault(config, len(distinct))
            if number == len(distinct):
                distinct.append(config)
        positions.append(number)
    return distinct, np.asarray(positions, dtype=np.int64)


def sweep_key(selection: Selection, backtest: BacktestConfig, window: pd.DatetimeIndex,
              fingerprint: str, chunk_size: int) -> str:
    """A hash of everything a chunk's numbers depend on (resume only when it matches)."""
    signals, signal_at = _distinct(c.signal for c in selection.combos)
    strategies, strategy_at = _distinct(c.strategy for c in selection.combos)
    rows = [(c.number, int(signal_at[i]), len(signals) + int(strategy_at[i]), c.lag)
            for i, c in enumerate(selection.combos)]
    payload = {
        "kernel": KERNEL_VERSION,
        "data": fingerprint,
        "window": [str(window[0]), str(window[-1]), len(window)],
        "backtest": repr(backtest),
        "chunk_size": chunk_size,
        "configs": [repr(c) for c in [*signals, *strategies]],
        "combos": rows,
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _chunk_path(folder: Path, k: int) -> Path:
    return folder / f"chunk-{k:05d}.parquet"


def _write_chunk(path: Path, numbers: list[int], metrics: np.ndarray, returns: np.ndarray,
                 keep: np.ndarray | None = None,
                 scores: tuple[str, np.ndarray] | None = None) -> None:
    """One parquet file: combination numbers, metrics, and each combination's daily returns as
    one binary cell of little-endian float32 (fast to write and read). With ``keep``, only
    those rows' returns are written (the others' cells are empty). ``scores`` (policy key,
    rows x width float64) adds a "scores" column of each row's walk-forward scores."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n, n_days = returns.shape
    columns = {"combo": pa.array(numbers, pa.int64())}
    for j, name in enumerate(METRICS):
        columns[name] = pa.array(metrics[:, j], pa.float64())
    if keep is None or keep.all():
        blob = pa.py_buffer(np.ascontiguousarray(returns, dtype="<f4"))  # no copy
        columns["returns"] = pa.Array.from_buffers(pa.binary(4 * n_days), n, [None, blob])
    else:
        blob = pa.py_buffer(np.ascontiguousarray(returns[keep], dtype="<f4"))
        offsets = np.concatenate([[0], np.cumsum(keep * 4 * n_days)]).astype(np.int32)
        columns["returns"] = pa.Array.from_buffers(pa.binary(), n,
                                                   [None, pa.py_buffer(offsets), blob])
    metadata = None
    if scores is not None:
        key, values = scores
        blob = pa.py_buffer(np.ascontiguousarray(values, dtype="<f8"))
        columns["scores"] = pa.Array.from_buffers(pa.binary(8 * values.shape[1]), n,
                                                  [None, blob])
        metadata = {b"scores_key": key.encode()}
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(columns, metadata=metadata), sink, compression="none",
                   use_dictionary=False, write_statistics=False)
    write_bytes(path, memoryview(sink.getvalue()), "save the sweep chunk")


def _read_chunk(path: Path, n_days: int, numbers: list[int],
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(metrics, returns, has) of the saved chunk of combinations ``numbers``: ``returns[i]``
    is valid where ``has[i]``. A file that cannot be read, or does not hold exactly those
    rows, metrics and returns of ``n_days`` sessions, raises ``_Damaged``."""
    import pyarrow as pa

    try:
        return _decode_chunk(path, n_days, numbers)
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as exc:
        raise _Damaged(f"{type(exc).__name__}: {exc}") from None


def _decode_chunk(path: Path, n_days: int, numbers: list[int],
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    saved = table.column("combo").to_numpy()
    metrics = np.column_stack([table.column(m).to_numpy() for m in METRICS])
    blobs = table.column("returns").combine_chunks()
    n = len(numbers)
    if saved.tolist() != numbers or metrics.shape != (n, len(METRICS)) or \
            metrics.dtype.kind != "f":
        raise _Damaged("not the combinations or metrics of this chunk")
    if pa.types.is_fixed_size_binary(blobs.type):
        if blobs.type.byte_width != 4 * n_days:
            raise _Damaged(f"returns of {blobs.type.byte_width // 4} sessions, not {n_days}")
        returns = np.frombuffer(blobs.buffers()[1], dtype="<f4", count=n * n_days,
                                offset=blobs.offset * 4 * n_days)
        return metrics, returns.reshape(n, n_days).astype(np.float32), np.ones(n, dtype=bool)
    if not pa.types.is_binary(blobs.type):
        raise _Damaged(f"returns of type {blobs.type}")
    offsets = np.frombuffer(blobs.buffers()[1], dtype=np.int32, count=n + 1,
                            offset=blobs.offset * 4)
    sizes = np.diff(offsets)
    has = sizes > 0
    if not np.all(sizes[has] == 4 * n_days):
        raise _Damaged(f"returns not of {n_days} sessions")
    returns = np.zeros((n, n_days), dtype=np.float32)
    data = np.frombuffer(blobs.buffers()[2], dtype="<f4", count=int(sizes.sum()) // 4,
                         offset=int(offsets[0]))
    returns[has] = data.reshape(-1, n_days)
    return metrics, returns, has


class _Damaged(Exception):
    """A saved chunk (or its scores) that cannot be read back: it is run again."""


def _read_scores(path: Path, key: str, n: int, width: int) -> np.ndarray | None:
    """The walk-forward scores saved in a chunk of ``n`` rows (n x ``width``), or None when
    the chunk has none or they were saved under another policy (``key``); ``_Damaged`` when
    they cannot be read back."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        if (schema.metadata or {}).get(b"scores_key") != key.encode() or \
                "scores" not in schema.names:
            return None
        blobs = pq.read_table(path, columns=["scores"]).column("scores").combine_chunks()
        if len(blobs) != n or blobs.type != pa.binary(8 * width):
            raise _Damaged(f"scores of type {blobs.type} for {len(blobs)} rows")
        values = np.frombuffer(blobs.buffers()[1], dtype="<f8", count=n * width,
                               offset=blobs.offset * 8 * width)
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as exc:
        raise _Damaged(f"{type(exc).__name__}: {exc}") from None
    return values.reshape(n, width).astype(np.float64)


def saved_key(manifest: Path) -> str | None:
    """The sweep key a chunk folder's ``sweep.json`` records (None: no manifest); a
    ``ValueError`` saying what is wrong when it cannot be read or records no key."""
    try:
        text = manifest.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(f"{type(exc).__name__}: {exc}") from None
    try:
        key = json.loads(text).get("key")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError("not JSON") from None
    except AttributeError:
        raise ValueError("not a JSON object") from None
    if not isinstance(key, str):
        raise ValueError("no sweep key")
    return key


def prepare_chunk_dir(folder: Path, key: str, previous: Path | None = None) -> list[str]:
    """Make ``folder`` hold only chunks of sweep ``key``; seed it from a finished run's chunks
    (``previous``) when those were made by the same sweep. Returns a note for each damaged
    manifest found (its folder's chunks are not reused: the sweep starts afresh)."""
    notes = []
    manifest = folder / "sweep.json"
    with guarded(folder, "prepare the sweep folder"):
        if folder.exists():
            try:
                same = saved_key(manifest) == key
            except ValueError as exc:
                notes.append(f"the sweep manifest {manifest} was damaged ({exc}); the sweep "
                             f"starts afresh")
                same = False
            if not same:
                shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
        old = previous / "sweep.json" if previous is not None else None
        try:
            reuse = old is not None and saved_key(old) == key
        except ValueError as exc:
            notes.append(f"the sweep manifest {old} was damaged ({exc}); its chunks were not "
                         f"reused")
            reuse = False
        if reuse:
            for chunk in old.parent.glob("chunk-*.parquet"):
                target = folder / chunk.name
                if not target.exists():
                    _link_or_copy(chunk, target)
    write_text(manifest, json.dumps({"key": key}), "write the sweep manifest")
    return notes


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
    """Chunks in flight: the kernel runs chunk k in one thread (it releases the GIL) with up to
    ``ahead`` - 1 chunks queued behind it, while the caller prepares the next (its signals and
    inputs) and another thread saves the last one collected. Queued chunks absorb the chunks
    whose signals take long to compute: the kernel does not wait for them."""

    def __init__(self, kernel: ThreadPoolExecutor, writer: ThreadPoolExecutor,
                 finish: Callable[..., np.ndarray | None], save: Callable[..., None],
                 ahead: int = 2) -> None:
        self.kernel = kernel
        self.writer = writer
        self.finish = finish
        self.save = save
        self.ahead = ahead
        self.running: deque[tuple[int, int, int, Future, Path | None, list[int]]] = deque()

    def submit(self, k: int, lo: int, hi: int, job: Callable[[], tuple[np.ndarray, np.ndarray]],
               path: Path | None, numbers: list[int]) -> None:
        """Queue chunk ``k`` (rows ``lo:hi``) behind the others, then collect the oldest while
        more than ``ahead`` are in flight."""
        self.running.append((k, lo, hi, self.kernel.submit(job), path, numbers))
        while len(self.running) > self.ahead:
            self._collect_oldest()

    def collect(self) -> None:
        """Wait for every chunk in flight, keep its results, and save it in the background."""
        while self.running:
            self._collect_oldest()

    def cancel(self) -> None:
        """Drop the chunks queued and not started (after an error or an interruption)."""
        for *_, future, _path, _numbers in self.running:
            future.cancel()

    def _collect_oldest(self) -> None:
        k, lo, hi, future, path, numbers = self.running.popleft()
        m, r = future.result()
        keep = self.finish(k, lo, hi, m, r)
        self.save(k, path, numbers, m, r, keep)


class _Collector:
    """The sweep's results as chunks finish: every metric, the returns kept, the saves."""

    def __init__(self, n: int, n_days: int, writer: ThreadPoolExecutor,
                 advance: Callable[[int], None], on_chunk: Callable[[int], None] | None,
                 policy: ReturnsPolicy | None) -> None:
        self.metrics = np.empty((n, len(METRICS)))
        self.kept = None if policy is None else KeptReturns(n, n_days, policy)
        self.returns = np.empty((n, n_days) if policy is None else (0, n_days), np.float32)
        self.writer = writer
        self.advance = advance
        self.on_chunk = on_chunk
        self.writing: tuple[int, Future] | None = None
        self.scoring = None if policy is None else policy.walkforward
        self.scores_key = None if policy is None else policy.key()
        self.unsaved: dict[int, np.ndarray] = {}  # chunk -> the scores its file will hold

    def saved_scores(self, path: Path, n: int) -> np.ndarray | bool:
        """The walk-forward scores saved in chunk ``path`` of ``n`` rows (False when the chunk
        must be run again because it lacks them; True when the sweep scores nothing);
        ``_Damaged`` when they cannot be read back."""
        if self.scoring is None:
            return True
        scores = _read_scores(path, self.scores_key, n, self.scoring.width)
        return False if scores is None else scores

    def block(self, lo: int, hi: int) -> np.ndarray | None:
        """Where the in-process kernel may write rows ``lo:hi`` (None: a fresh array)."""
        return self.returns[lo:hi] if self.kept is None else None

    def save(self, k: int, path: Path | None, numbers: list[int], metrics: np.ndarray,
             returns: np.ndarray, keep: np.ndarray | None) -> None:
        """Save chunk ``k`` in the background (after the previous save has finished)."""
        self.saved()
        scores = self.unsaved.pop(k, None)
        if path is not None:
            self.writing = (k, self.writer.submit(
                _write_chunk, path, numbers, metrics, returns, keep,
                None if scores is None else (self.scores_key, scores)))
        elif self.on_chunk is not None:
            self.on_chunk(k)

    def finish(self, k: int, lo: int, hi: int, metrics: np.ndarray, returns: np.ndarray,
               has: np.ndarray | None = None,
               scores: np.ndarray | None = None) -> np.ndarray | None:
        """Keep the results of rows ``lo:hi`` (``scores``: those saved with a reused chunk;
        computed here for a chunk just run); the mask of rows whose returns are kept (None:
        all of them)."""
        self.metrics[lo:hi] = metrics
        if self.scoring is not None and scores is None:
            scores = self.unsaved[k] = self.kept.score(lo, returns)
        self.advance(hi - lo)
        if self.kept is not None:
            return self.kept.offer(lo, metrics, returns,
                                   np.ones(hi - lo, dtype=bool) if has is None else has,
                                   scores)
        if not np.may_share_memory(returns, self.returns):  # the in-process kernel wrote it
            self.returns[lo:hi] = returns
        return None

    def saved(self) -> None:
        """Wait for the background save, then report the chunk."""
        if self.writing is not None:
            k, future = self.writing
            self.writing = None
            future.result()
            if self.on_chunk is not None:
                self.on_chunk(k)

    def kept_returns(self) -> tuple[np.ndarray | None, np.ndarray, KeptScores | None]:
        """(positions or None for all, returns, every row's scores or None)."""
        if self.kept is None:
            return None, self.returns, None
        return (*self.kept.result(), self.kept.scores())


@dataclass(frozen=True)
class _SweepInputs:
    """What every worker needs once per sweep (scattered, not sent with each task): the data
    for the signals and the simulator with every basis and Gram matrix already built."""

    token: str
    dataset: Any
    sim: FastSim
    strategies: tuple[StrategyConfig, ...]  # every distinct strategy, in first-seen order


class _WorkerSweep:
    """One worker's state for one sweep: the simulator (signals added as chunks need them)
    and the signal cache."""

    def __init__(self, inputs: _SweepInputs) -> None:
        self.sim = inputs.sim
        self.signals = SignalCache(inputs.dataset)
        self.lock = threading.Lock()  # workers that are threads of one process share this


_WORKER_STATES: dict[str, _WorkerSweep] = {}
_STATES_LOCK = threading.Lock()


def _worker_state(inputs: _SweepInputs) -> _WorkerSweep:
    with _STATES_LOCK:
        state = _WORKER_STATES.get(inputs.token)
        if state is None:
            state = _WORKER_STATES[inputs.token] = _WorkerSweep(inputs)
        return state


def _drop_worker_state(token: str) -> None:
    """Forget a finished sweep's state on this worker."""
    with _STATES_LOCK:
        _WORKER_STATES.pop(token, None)


def _chunk_task(inputs: _SweepInputs, signals: list[SignalConfig], signal_at: np.ndarray,
                strategy_at: np.ndarray, lags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One chunk on a worker: its signals (each computed once per worker), then the kernel."""
    state = _worker_state(inputs)
    with state.lock:
        ids = np.array([_signal_id(state.sim, state.signals, config) for config in signals],
                       dtype=np.int64)[signal_at]
        job = state.sim.batch(ids, [inputs.strategies[i] for i in strategy_at], lags)
    return _run_job(job)


def _run_job(job: Callable[[], tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The kernel call (a seam for tests that make a task fail)."""
    return job()


def _window(dataset, start) -> pd.DataFrame:
    return dataset.prices.loc[pd.Timestamp(start):] if start is not None else dataset.prices


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
    executor: Any = None,
    keep: ReturnsPolicy | None = None,
) -> SweepResult:
    """Simulate every selected combination with the fast kernel, ``chunk_size`` at a time.

    Signals use all of ``dataset`` (history before ``start`` warms them up); trading starts at
    ``start``. With ``chunk_dir`` (prepared by ``prepare_chunk_dir``) each finished chunk is
    saved there and chunks already there are read instead of run. ``on_chunk(k)`` is called
    after chunk ``k`` is saved. ``executor`` (from ``backtests.tune.executor.open_executor``)
    runs the chunks as tasks on Dask workers; None runs them here, pipelined. Both give the
    same numbers, bit for bit, and save the same chunks. ``keep`` (a ``ReturnsPolicy``) keeps
    every metric but only the daily returns the statistics need, in memory and on disk (with
    its ``walkforward``, also every combination's walk-forward scores: ``SweepResult.scores``;
    a saved chunk without the policy's scores is run again); None keeps every combination's
    returns. A saved chunk that cannot be read back is run again and named in
    ``SweepResult.repairs``; a chunk that cannot be saved is an ``EnvironmentFault``.
    """
    combos = selection.combos
    window = _window(dataset, start)
    if len(window) < 3:
        raise DrainError(f"the date range holds {len(window)} sessions; widen it")
    n_days = len(window)
    strategies, strategy_at = _distinct(c.strategy for c in combos)
    tickers = sorted(set().union(*(universe(s) for s in strategies)))
    pending: list[tuple[int, int, int, Path | None]] = []
    reused = 0
    damaged: list[int] = []  # saved chunks that could not be read back: run again
    with ThreadPoolExecutor(max_workers=1) as writer, \
            _progress_bar(progress, len(combos)) as advance:
        out = _Collector(len(combos), n_days, writer, advance, on_chunk, keep)
        for k, lo, hi in _chunks(len(combos), chunk_size):
            path = _chunk_path(chunk_dir, k) if chunk_dir is not None else None
            if path is not None and path.exists():
                try:
                    m, r, has = _read_chunk(path, n_days, [c.number for c in combos[lo:hi]])
                    scores = out.saved_scores(path, hi - lo) \
                        if keep is not None or has.all() else False
                except _Damaged:
                    damaged.append(k)
                    scores = False
                if scores is not False:
                    out.finish(k, lo, hi, m, r, has, None if scores is True else scores)
                    reused += 1
                    continue
            pending.append((k, lo, hi, path))
        if pending:
            missing = [t for t in [*tickers, backtest.cash_rate_ticker]
                       if t not in window.columns]
            if missing:
                raise DrainError(f"no price data for {missing[0]!r}; fetch it with "
                                 f"'drain data update --tickers {missing[0]}'")
        sim = None
        if pending:
            sim = FastSim(window, tickers, backtest)
            sim.prepare(strategies)  # every basis and Gram, once, whatever runs where
        signals = None
        if executor is None:
            signals = SignalCache(dataset, defer_check=True)
            if sim is not None:
                try:
                    _run_here(pending, combos, strategies, strategy_at, sim, signals, out,
                              writer)
                except _NotShared:  # nothing was kept or saved: redo with plain signals
                    sim = FastSim(window, tickers, backtest)
                    sim.prepare(strategies)
                    _run_here(pending, combos, strategies, strategy_at, sim, signals, out,
                              writer)
            n_composites, signal_seconds, workers = signals.n_composites, signals.seconds, 0
        else:
            if sim is not None:
                inputs = _SweepInputs(uuid.uuid4().hex, dataset, sim, tuple(strategies))
                _run_distributed(executor, inputs, pending, combos, strategy_at, out)
            n_composites, signal_seconds, workers = 0, 0.0, executor.n_workers
        out.saved()
        table = results_table(selection, out.metrics)
    n_signals = len(_distinct(c.signal for c in combos)[0])
    kept, returns, scores = out.kept_returns()
    return SweepResult(table=table, returns=returns, index=window.index, combos=combos,
                       kept=kept, scores=scores, n_signals=n_signals, n_composites=n_composites,
                       signal_seconds=signal_seconds, chunks_run=len(pending),
                       chunks_reused=reused, workers=workers, signals=signals,
                       repairs=_repair_notes(damaged, chunk_dir))


def _repair_notes(damaged: list[int], folder: Path | None) -> tuple[str, ...]:
    """One line naming the saved chunks that were damaged and run again (none: no line)."""
    if not damaged:
        return ()
    numbers = ", ".join(str(k) for k in damaged)
    chunks, were = ("chunks", "were") if len(damaged) > 1 else ("chunk", "was")
    return (f"sweep {chunks} {numbers} in {folder} {were} damaged; recomputed",)


class _NotShared(Exception):
    """The signal cache's deferred check failed: the chunks run so far used wrong signals."""


def _run_here(pending, combos, strategies, strategy_at, sim: FastSim, signals: SignalCache,
              out: _Collector, writer: ThreadPoolExecutor) -> None:
    """The in-process path: the kernel thread runs chunk k (k + 1 queued) while this thread
    prepares k + 2 and the writer thread saves k - 1. The signal cache's deferred check runs
    while the kernel runs the first chunk, before any result is kept; ``_NotShared`` if it
    fails."""
    with ThreadPoolExecutor(max_workers=1) as kernel:
        flow = _Pipeline(kernel, writer, out.finish, out.save)
        try:
            for k, lo, hi, path in pending:
                part = combos[lo:hi]
                distinct, at = _distinct(c.signal for c in part)
                ids = np.array([_signal_id(sim, signals, config) for config in distinct],
                               dtype=np.int64)[at]
                lags = np.array([c.lag for c in part], dtype=np.int64)
                job = sim.batch(ids, [strategies[i] for i in strategy_at[lo:hi]], lags,
                                out=out.block(lo, hi))
                flow.submit(k, lo, hi, partial(_run_job, job), path, [c.number for c in part])
                if not signals.check():
                    raise _NotShared
            flow.collect()
        except BaseException:
            flow.cancel()  # the running chunk finishes; those queued behind it never start
            raise


def _run_distributed(executor, inputs: _SweepInputs, pending, combos, strategy_at,
                     out: _Collector) -> None:
    """Chunks as tasks on Dask workers; the client saves each chunk as its parts arrive.

    Each worker is given a contiguous run of the pending rows (``_plan``: signal parameters
    vary slowest, so it computes few signals, and the runs meet where the signal group
    changes, so no two compute the same ones), cut into tasks of half a chunk, two in flight
    at a time; a worker whose run is done takes tasks from the end of the longest other run.
    Tasks may move to another worker (a retry after a worker died). An interruption cancels
    what is left; saved chunks stay for a resume.
    """
    shared = executor.scatter(inputs)
    workers = executor.worker_addresses() or [None]
    size = max(hi - lo for _, lo, hi, _ in pending)
    runs = _plan(pending, lambda row: composite_key(combos[row].signal), len(workers),
                 max(1, -(-size // 2)))
    chunks = {k: _Assembly(lo, hi, path, out.block(lo, hi), [c.number for c in combos[lo:hi]])
              for k, lo, hi, path in pending}
    running: dict[Any, tuple[int, int, int, int]] = {}

    def submit_next(w: int) -> None:
        if not runs[w]:  # take from the end of the longest run
            longest = max(range(len(runs)), key=lambda i: sum(t[2] - t[1] for t in runs[i]))
            if not runs[longest]:
                return
            k, lo, hi = runs[longest].pop()
        else:
            k, lo, hi = runs[w].pop(0)
        part = combos[lo:hi]
        distinct, at = _distinct(c.signal for c in part)
        lags = np.array([c.lag for c in part], dtype=np.int64)
        placement = {} if workers[w] is None else {"workers": [workers[w]],
                                                   "allow_other_workers": True}
        future = executor.submit(_chunk_task, shared, distinct, at, strategy_at[lo:hi], lags,
                                 key=f"sweep-{inputs.token}-chunk-{k}-{lo}", **placement)
        running[future] = (w, k, lo, hi)

    try:
        for w in range(len(workers)):
            for _ in range(2):
                submit_next(w)
        while running:
            for future in executor.first_done(list(running)):
                w, k, lo, hi = running.pop(future)
                chunk = chunks[k]
                if chunk.add(lo, hi, *future.result()):
                    del chunks[k]
                    keep = out.finish(k, chunk.lo, chunk.hi, chunk.metrics, chunk.returns)
                    out.save(k, chunk.path, chunk.numbers, chunk.metrics, chunk.returns, keep)
                submit_next(w)
    except BaseException:
        executor.cancel(list(running))
        raise
    finally:
        with contextlib.suppress(Exception):
            executor.run_on_workers(_drop_worker_state, inputs.token)


class _Assembly:
    """One chunk's results gathered from the tasks of its parts (rows ``lo:hi``)."""

    def __init__(self, lo: int, hi: int, path: Path | None, block: np.ndarray | None,
                 numbers: list[int]) -> None:
        self.lo, self.hi, self.path, self.numbers = lo, hi, path, numbers
        self.block = block  # where the returns go (None: an array made for them)
        self.metrics: np.ndarray | None = None
        self.returns: np.ndarray | None = None
        self.missing = hi - lo

    def add(self, lo: int, hi: int, metrics: np.ndarray, returns: np.ndarray) -> bool:
        """Keep the results of rows ``lo:hi``; whether the chunk is now complete."""
        if hi - lo == self.hi - self.lo:  # the whole chunk: keep the arrays as they came
            self.metrics, self.returns = metrics, returns
        else:
            if self.metrics is None:
                self.metrics = np.empty((self.hi - self.lo, metrics.shape[1]), metrics.dtype)
                self.returns = (np.empty((self.hi - self.lo, returns.shape[1]), returns.dtype)
                                if self.block is None else self.block)
            self.metrics[lo - self.lo:hi - self.lo] = metrics
            self.returns[lo - self.lo:hi - self.lo] = returns
        self.missing -= hi - lo
        return self.missing == 0


def _plan(pending, group: Callable[[int], Any], n_runs: int, piece: int,
          ) -> list[list[tuple[int, int, int]]]:
    """The pending chunks' rows as ``n_runs`` contiguous runs of tasks ``(k, lo, hi)`` (rows
    ``lo:hi`` of chunk ``k``, at most ``piece`` of them). The runs are of equal length but
    for the points where they meet, each moved to the nearest change of signal group
    (``group(row)``) within half a task."""
    rows = np.concatenate([np.arange(lo, hi) for _, lo, hi, _ in pending])
    cuts = [0]
    for i in range(1, n_runs):
        even = len(rows) * i // n_runs
        near = [j for j in range(max(cuts[-1] + 1, even - piece // 2),
                                 min(len(rows), even + piece // 2 + 1))
                if group(int(rows[j])) != group(int(rows[j - 1]))]
        cuts.append(min(near, key=lambda j: (abs(j - even), j)) if near
                    else max(even, cuts[-1]))
    cuts.append(len(rows))
    runs: list[list[tuple[int, int, int]]] = []
    for first, stop in zip(cuts[:-1], cuts[1:], strict=True):
        run, offset = [], 0
        for k, lo, hi, _ in pending:  # chunk k holds flat positions offset:offset + hi - lo
            a, b = max(first, offset), min(stop, offset + hi - lo)
            if a < b:
                n = -(-(b - a) // piece)
                edges = [lo + a - offset + (b - a) * i // n for i in range(n + 1)]
                run += [(k, x, y) for x, y in zip(edges[:-1], edges[1:], strict=True)]
            offset += hi - lo
        runs.append(run)
    return runs


def _signal_id(sim: FastSim, cache: SignalCache, config: SignalConfig) -> int:
    """The kernel's id of a signal config (computed on first use; looked up by value)."""
    number = sim.signal_id(config)
    if number is None:
        number = sim.add_signal(config, *cache.get(config))
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
