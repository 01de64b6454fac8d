"""Sweeps on a Dask cluster (threads of this process; worker processes where one is killed)
against the in-process path."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from multiprocessing import resource_tracker

import numpy as np
import pandas as pd
import psutil
import pytest

from backtests.sim.config import BacktestConfig
from backtests.tune import sweep
from backtests.tune.executor import open_executor, usable_cores
from backtests.tune.sweep import (
    ReturnsPolicy,
    grid_from_table,
    prepare_chunk_dir,
    run_sweep,
    select,
    sweep_key,
)
from drain_core.errors import DrainError, EnvironmentFault
from drain_data import load_dataset
from signals import SignalConfig
from strategies import StrategyConfig

START = "2019-06-03"
GRID = {"signal": {"gate": ["none", "step"], "hysteresis": [0.05, 0.15]},
        "strategy": {"variant": ["regime_long_short", "signal_long_short", "long_only_tilt",
                                 "beta_hedged"],
                     "rebalance": ["weekly", "regime"], "vol_target": ["none", 0.1]}}


@pytest.fixture(scope="module")
def dataset():
    return load_dataset()


@pytest.fixture(scope="module")
def selection():
    return select(grid_from_table(GRID, "t"), SignalConfig(), StrategyConfig(),
                  BacktestConfig())


@pytest.fixture(scope="module")
def in_process(dataset, selection):
    return run_sweep(selection, dataset, BacktestConfig(), start=START, chunk_size=7)


@pytest.fixture(scope="module")
def executor():
    with open_executor(workers=2, processes=False, quiet=True) as ex:
        yield ex


def _same(a, b) -> None:
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)
    np.testing.assert_array_equal(a.returns, b.returns)  # bit for bit


def test_local_cluster_sweep_equals_in_process(dataset, selection, in_process, executor):
    assert in_process.n_trials == selection.n_trials and in_process.n_trials > 3 * 7
    distributed = run_sweep(selection, dataset, BacktestConfig(), start=START, chunk_size=7,
                            executor=executor)
    assert distributed.workers == 2 and distributed.chunks_run == in_process.chunks_run
    _same(distributed, in_process)
    assert not sweep._WORKER_STATES  # the workers' per-sweep state is dropped afterwards


def test_a_task_that_raises_once_is_retried_with_the_same_result(
        dataset, selection, in_process, executor, monkeypatch):
    failed: list[int] = []
    real = sweep._run_job

    def flaky(job):
        if not failed:
            failed.append(1)
            raise RuntimeError("a worker fault")
        return real(job)

    monkeypatch.setattr(sweep, "_run_job", flaky)
    result = run_sweep(selection, dataset, BacktestConfig(), start=START, chunk_size=7,
                       executor=executor)
    assert failed == [1]
    _same(result, in_process)


def test_a_worker_process_killed_mid_task_is_replaced_and_its_chunk_rerun(
        dataset, selection, in_process, tmp_path):
    marker = tmp_path / "killed"

    def kill_in_first_task(marker: str) -> None:  # run on each worker: pickled by value
        real = sweep._run_job

        def run_job(job):
            try:  # the first task on any worker claims the marker, and only that one dies
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return real(job)
            os.kill(os.getpid(), signal.SIGKILL)

        sweep._run_job = run_job

    before = _descendants()
    with open_executor(workers=2, quiet=True) as executor:
        pids = set(executor.client.run(os.getpid).values())
        assert len(pids) == 2 and not pids & before  # two worker processes of this test
        executor.run_on_workers(kill_in_first_task, str(marker))
        result = run_sweep(selection, dataset, BacktestConfig(), start=START, chunk_size=7,
                           executor=executor)
        executor.client.wait_for_workers(2, timeout=30)  # its nanny starts a fresh worker
        after = set(executor.client.run(os.getpid).values())
    assert marker.exists()  # a task did kill its worker: this one, replaced by a new one
    assert len(pids - after) == 1 and len(after - pids) == 1 and not _running(pids - after)
    assert result.chunks_run == in_process.chunks_run
    _same(result, in_process)
    ends = time.monotonic() + 10  # the cluster's processes end with it (all but the tracker
    tracker = {resource_tracker._resource_tracker._pid}  # this interpreter keeps for spawns)
    while (left := _running(_descendants() - before - tracker)) and time.monotonic() < ends:
        time.sleep(0.1)
    assert not left, f"processes left running: {left}"


def _descendants() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def _running(pids: set[int]) -> list[str]:
    """The command lines of those of ``pids`` still running (not ended, not zombies)."""
    out = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            process = psutil.Process(pid)
            if process.status() != psutil.STATUS_ZOMBIE:
                out.append(" ".join(process.cmdline()))
    return out


def test_interrupted_distributed_sweep_resumes_in_process_or_distributed(
        dataset, selection, in_process, executor, tmp_path):
    backtest = BacktestConfig()
    window = dataset.prices.loc[START:].index
    key = sweep_key(selection, backtest, window, dataset.fingerprint(), 7)
    n_chunks = in_process.chunks_run
    for resume_with in (None, executor):
        folder = tmp_path / f"chunks-{resume_with is None}"
        prepare_chunk_dir(folder, key)
        saved: list[int] = []

        def stop(k: int, saved=saved) -> None:
            saved.append(k)
            if len(saved) == 2:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            run_sweep(selection, dataset, backtest, start=START, chunk_dir=folder,
                      chunk_size=7, on_chunk=stop, executor=executor)
        on_disk = sorted(int(p.stem.split("-")[1]) for p in folder.glob("chunk-*.parquet"))
        assert on_disk == sorted(saved)
        prepare_chunk_dir(folder, key)
        resumed = run_sweep(selection, dataset, backtest, start=START, chunk_dir=folder,
                            chunk_size=7, executor=resume_with)
        assert (resumed.chunks_reused, resumed.chunks_run) == (2, n_chunks - 2)
        _same(resumed, in_process)


def test_the_workers_runs_cover_every_pending_row_once_and_meet_where_the_signal_group_changes(
        selection):
    group = [sweep.composite_key(c.signal) for c in selection.combos]
    changes = [i for i in range(1, len(group)) if group[i] != group[i - 1]]
    assert len(group) == 60 and changes == [30]  # the gates (hysteresis is a threshold)
    pending = [(k, lo, hi, None) for k, lo, hi in sweep._chunks(60, 10)][1:]  # chunk 0 saved
    runs = sweep._plan(pending, group.__getitem__, 2, 10)  # evenly: rows 10:35 and 35:60
    tasks = [task for run in runs for task in run]
    assert [row for _, lo, hi in tasks for row in range(lo, hi)] == list(range(10, 60))
    assert all(0 < hi - lo <= 10 and k * 10 <= lo < hi <= k * 10 + 10 for k, lo, hi in tasks)
    assert runs[0][-1][2] == 30  # moved 5 rows, to the change: no group on both workers
    assert [{group[row] for _, lo, hi in run for row in range(lo, hi)} for run in runs] == [
        {group[0]}, {group[30]}]
    far = sweep._plan(pending, group.__getitem__, 2, 8)  # half a task (4 rows) is not enough
    assert far[0][-1][2] == 35 and all(hi - lo <= 8 for run in far for _, lo, hi in run)


def test_no_workers_and_no_scheduler_is_the_in_process_path(monkeypatch):
    monkeypatch.delenv("DRAIN_DASK_SCHEDULER", raising=False)
    with open_executor() as ex:
        assert ex is None
    with open_executor(workers=0) as ex:
        assert ex is None
    with pytest.raises(DrainError, match="not both"), open_executor(workers=2,
                                                                    scheduler="tcp://x:1"):
        pass


def test_more_local_workers_than_cores_are_refused_before_any_starts():
    cores = usable_cores()
    with pytest.raises(DrainError, match=f"more than this machine's {cores} cores"), \
            open_executor(workers=cores + 1):
        pass


def test_an_unreachable_scheduler_is_a_fault_of_the_environment(monkeypatch):
    monkeypatch.setenv("DRAIN_DASK_SCHEDULER", "tcp://127.0.0.1:9")
    with pytest.raises(EnvironmentFault, match="cannot reach the Dask scheduler"), \
            open_executor(connect_timeout=1.0):
        pass


@pytest.mark.parametrize("address", ["nonsense", "tcp://host-without-port", "tcp://:x"])
def test_a_malformed_scheduler_address_is_a_user_mistake(address):
    with pytest.raises(DrainError, match="is not a Dask scheduler address") as raised, \
            open_executor(scheduler=address, connect_timeout=1.0):
        pass
    assert not isinstance(raised.value, EnvironmentFault)


def _expected_kept(full, policy) -> np.ndarray:
    sharpe = full.table["sharpe"].to_numpy()
    key = np.where(np.isnan(sharpe), -np.inf, sharpe)
    best = sorted(range(len(key)), key=lambda i: (-key[i], i))[:policy.best]
    rng = np.random.default_rng(policy.seed)
    sample = rng.choice(len(key), policy.sample, replace=False)
    return np.unique(np.concatenate([best, sample]))


@pytest.mark.parametrize("distributed", [False, True])
def test_a_returns_policy_keeps_every_metric_and_only_the_returns_needed(
        dataset, selection, in_process, executor, tmp_path, distributed):
    policy = ReturnsPolicy(best=6, sample=5, seed=3)
    backtest = BacktestConfig()
    window = dataset.prices.loc[START:].index
    folder = tmp_path / "chunks"
    prepare_chunk_dir(folder, sweep_key(selection, backtest, window, dataset.fingerprint(), 7))
    stopped: list[int] = []

    def stop(k: int) -> None:
        stopped.append(k)
        if len(stopped) == 3:
            raise KeyboardInterrupt

    run = {"start": START, "chunk_size": 7, "chunk_dir": folder, "keep": policy,
           "executor": executor if distributed else None}
    with pytest.raises(KeyboardInterrupt):
        run_sweep(selection, dataset, backtest, on_chunk=stop, **run)
    result = run_sweep(selection, dataset, backtest, **run)  # resumed
    assert result.chunks_reused == 3
    pd.testing.assert_frame_equal(result.table, in_process.table, check_exact=True)
    expected = _expected_kept(in_process, policy)
    np.testing.assert_array_equal(result.kept, expected)
    assert result.n_trials == in_process.n_trials and result.n_returns_kept == len(expected)
    np.testing.assert_array_equal(result.returns, in_process.returns[expected])
    np.testing.assert_array_equal(result.returns_of(expected[::-1]),
                                  in_process.returns[expected[::-1]])
    with pytest.raises(KeyError, match="not kept"):
        result.returns_of([int(np.setdiff1d(np.arange(result.n_trials), expected)[0])])
    on_disk = sum(int(sweep._read_chunk(p, len(window), pd.read_parquet(p)["combo"].tolist())[2]
                      .sum()) for p in folder.glob("chunk-*.parquet"))
    assert len(expected) <= on_disk < result.n_trials  # disk holds fewer return series
