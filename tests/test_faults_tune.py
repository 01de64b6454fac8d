"""Fault corpus, ``drain tune`` half: a tune killed mid-sweep (SIGKILL, SIGTERM, SIGINT) leaves
no child process, and the next run resumes from the chunks it saved and gives the same figures
as a run never interrupted; a resumed sweep whose manifest or chunks were damaged redoes what is
damaged, says so in one line and gives the same result; a full disk during the sweep is one
line and leaves no sweep folder behind."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from backtests.sim.config import BacktestConfig
from backtests.tune import sweep
from backtests.tune.sweep import (
    SweepResult,
    grid_from_table,
    prepare_chunk_dir,
    run_sweep,
    select,
    sweep_key,
)
from drain_cli.main import main
from drain_core import fs
from drain_core.paths import reports_root
from drain_data import load_dataset
from signals import SignalConfig
from strategies import StrategyConfig
from tests.faults_kit import expect_fault
from tests.test_faults_kill import CHILD_GRACE_SECONDS, _alive, _descendants

REPO = Path(__file__).resolve().parents[1]
START, END = "2019-01-02", "2021-12-31"
# Six slow chunks of two trials (daily rebalancing), so that a kill lands inside the sweep.
CONFIG = """
[tune]
chunk_size = 2
bootstrap_reps = 200
spa_reps = 200
[tune.walkforward]
train = 250
test = 126
[tune.grid.signal]
gate = ["none", "step"]
hysteresis = [0.05, 0.1, 0.15]
[tune.grid.strategy]
variant = ["regime_long_short", "long_only_tilt"]
rebalance = ["daily"]
"""
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads the process tree from /proc")
# Figures that say when or how long, not what was found.
VOLATILE = ("argv", "name", "seconds_sweep", "seconds_total", "created_at", "chunks_reused",
            "chunks_run", "signal_computations",
            "dsr_n_trials", "dsr_prior_runs", "dsr_prior_trials",
            "dsr_earlier_runs", "notes")


def _tune(root: Path, config: Path, name: str) -> subprocess.Popen:
    env = dict(os.environ, DRAIN_REPORTS_DIR=str(root), DRAIN_CACHE_DIR=str(root.parent / "cache"),
               MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "drain_cli", "tune", "--config", str(config), "--name", name,
         "--start", START, "--end", END, "--no-progress"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)


def _figures(folder: Path) -> dict:
    summary = json.loads((folder / "summary.json").read_text())
    return {k: v for k, v in summary.items() if k not in VOLATILE}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The figures of the same tune run once from start to end, in a reports root of its own."""
    base = tmp_path_factory.mktemp("whole")
    config = base / "tune.toml"
    config.write_text(CONFIG)
    proc = _tune(base / "reports", config, "whole")
    _out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return _figures(base / "reports" / "whole")


@pytest.mark.parametrize(("signame", "status"), [("SIGKILL", -9), ("SIGTERM", 143),
                                                 ("SIGINT", 130)])
def test_a_killed_tune_resumes_to_the_same_figures(tmp_path, uninterrupted, signame, status):
    root, config = tmp_path / "reports", tmp_path / "tune.toml"
    config.write_text(CONFIG)
    proc = _tune(root, config, "cut")
    staging = root / ".cut.sweep"
    deadline = time.monotonic() + 300
    while not list(staging.glob("chunk-*")) and proc.poll() is None:
        assert time.monotonic() < deadline, "no chunk was saved"
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("the sweep finished before the kill (machine too fast for this grid)")
    family = _descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGKILL) if signame == "SIGKILL" else proc.send_signal(
        getattr(signal, signame))
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    if signame != "SIGKILL":
        assert "Traceback" not in err and err.count("\n") == 1 and err.startswith("drain: ")
    time.sleep(CHILD_GRACE_SECONDS)
    assert [pid for pid in family if _alive(pid)] == []
    assert not (root / "cut").exists()  # nothing half-written where the run lands

    again = _tune(root, config, "cut")
    _out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert _figures(root / "cut") == uninterrupted
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".")) == []


# ------------------------------------------------- a damaged sweep folder, resumed (issue 14)
# The sweep of a tiny grid (8 trials, 3 chunks), saved once; each case damages a copy of its
# folder and resumes from it: what is damaged is run again, said in one line, and the result
# is the uninterrupted one, bit for bit.

SWEEP_START = "2019-06-03"
SWEEP_GRID = {"signal": {"gate": ["none", "step"]},
              "strategy": {"variant": ["regime_long_short", "long_only_tilt"],
                           "rebalance": ["weekly", "monthly"]}}


@dataclass
class SavedSweep:
    dataset: Any
    selection: Any
    key: str
    folder: Path  # the chunks and sweep.json of an uninterrupted run
    result: SweepResult


@pytest.fixture(scope="module")
def saved_sweep(tmp_path_factory) -> SavedSweep:
    base = tmp_path_factory.mktemp("saved")
    with pytest.MonkeyPatch.context() as patch:  # the calendar the data load keeps goes here
        patch.setenv("DRAIN_CACHE_DIR", str(base / "cache"))
        dataset = load_dataset(end="2020-12-31")
    selection = select(grid_from_table(SWEEP_GRID, "t"), SignalConfig(), StrategyConfig(),
                       BacktestConfig())
    window = dataset.prices.loc[SWEEP_START:].index
    key = sweep_key(selection, BacktestConfig(), window, dataset.fingerprint(), 3)
    folder = base / "sweep"
    assert prepare_chunk_dir(folder, key) == []
    result = _sweep(dataset, selection, folder)
    assert result.chunks_run == 3 and result.repairs == ()
    return SavedSweep(dataset, selection, key, folder, result)


def _sweep(dataset, selection, folder: Path) -> SweepResult:
    return run_sweep(selection, dataset, BacktestConfig(), start=SWEEP_START, chunk_dir=folder,
                     chunk_size=3)


def _same_result(result: SweepResult, clean: SweepResult) -> None:
    pd.testing.assert_frame_equal(result.table, clean.table, check_exact=True)
    np.testing.assert_array_equal(result.returns, clean.returns)


def _replace_column(path: Path, name: str, values) -> None:
    table = pq.read_table(path)
    pq.write_table(table.set_column(table.schema.get_field_index(name), name, values), path)


def _n(path: Path) -> int:
    return pq.read_table(path).num_rows


CHUNK_DAMAGE = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:len(p.read_bytes()) // 2]),
    "empty": lambda p: p.write_bytes(b""),
    "garbage": lambda p: p.write_bytes(b"not a parquet file\n" * 50),
    "another chunk's rows": lambda p: shutil.copyfile(p.with_name("chunk-00000.parquet"), p),
    "no metric column": lambda p: pq.write_table(pq.read_table(p).drop_columns(["sharpe"]), p),
    "metrics as text": lambda p: _replace_column(p, "sharpe", pa.array(["x"] * _n(p))),
    "returns of 2 sessions": lambda p: _replace_column(
        p, "returns", pa.array([b"\0" * 8] * _n(p), pa.binary(8))),
    "returns as numbers": lambda p: _replace_column(p, "returns", pa.array([1] * _n(p))),
}


@pytest.mark.parametrize("damage", list(CHUNK_DAMAGE), ids=list(CHUNK_DAMAGE))
def test_a_damaged_chunk_is_recomputed_and_said_once(saved_sweep, tmp_path, damage):
    folder = tmp_path / ".cut.sweep"
    shutil.copytree(saved_sweep.folder, folder)
    CHUNK_DAMAGE[damage](folder / "chunk-00001.parquet")
    assert prepare_chunk_dir(folder, saved_sweep.key) == []
    result = _sweep(saved_sweep.dataset, saved_sweep.selection, folder)
    assert result.repairs == (f"sweep chunk 1 in {folder} was damaged; recomputed",)
    assert (result.chunks_reused, result.chunks_run) == (2, 1)
    _same_result(result, saved_sweep.result)
    again = _sweep(saved_sweep.dataset, saved_sweep.selection, folder)  # the chunk was saved
    assert (again.chunks_reused, again.repairs) == (3, ())


MANIFEST_DAMAGE = {
    "truncated": (b'{"key": "', "not JSON"),
    "empty": (b"", "not JSON"),
    "garbage": (b"\xff\xfe\x00 garbage", "not JSON"),
    "a list": (b'["key"]', "not a JSON object"),
    "no key": (b'{"chunk_size": 3}', "no sweep key"),
    "a key that is no string": (b'{"key": 7}', "no sweep key"),
}


@pytest.mark.parametrize("damage", list(MANIFEST_DAMAGE), ids=list(MANIFEST_DAMAGE))
def test_a_damaged_manifest_starts_the_sweep_afresh(saved_sweep, tmp_path, damage):
    text, reason = MANIFEST_DAMAGE[damage]
    folder = tmp_path / ".cut.sweep"
    shutil.copytree(saved_sweep.folder, folder)
    (folder / "sweep.json").write_bytes(text)
    notes = prepare_chunk_dir(folder, saved_sweep.key)
    assert notes == [f"the sweep manifest {folder / 'sweep.json'} was damaged ({reason}); "
                     f"the sweep starts afresh"]
    result = _sweep(saved_sweep.dataset, saved_sweep.selection, folder)
    assert (result.chunks_reused, result.chunks_run, result.repairs) == (0, 3, ())
    _same_result(result, saved_sweep.result)
    assert prepare_chunk_dir(folder, saved_sweep.key) == []  # a sound manifest again


def test_a_finished_run_with_a_damaged_manifest_seeds_nothing(saved_sweep, tmp_path):
    previous = tmp_path / "cut" / "sweep"
    shutil.copytree(saved_sweep.folder, previous)
    (previous / "sweep.json").write_text("[]")
    folder = tmp_path / ".cut.sweep"
    notes = prepare_chunk_dir(folder, saved_sweep.key, previous=previous)
    assert notes == [f"the sweep manifest {previous / 'sweep.json'} was damaged (not a JSON "
                     f"object); its chunks were not reused"]
    assert not list(folder.glob("chunk-*"))
    _same_result(_sweep(saved_sweep.dataset, saved_sweep.selection, folder),
                 saved_sweep.result)


# ------------------------------------------------ the same through `drain tune` (in process)

TINY = """
[strategy]
weighting = "equal"
[tune]
chunk_size = 3
bootstrap_reps = 200
[tune.walkforward]
train = 250
test = 126
[tune.grid.signal]
gate = ["none", "step"]
hysteresis = [0.05, 0.15]
[tune.grid.strategy]
variant = ["regime_long_short", "long_only_tilt"]
rebalance = ["weekly"]
"""


def _tune_argv(config: Path, name: str) -> list[str]:
    return ["tune", "--config", str(config), "--name", name, "--start", START, "--end", END,
            "--no-progress"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """The run folder of an uninterrupted tune of the tiny grid (its own reports root)."""
    base = tmp_path_factory.mktemp("tiny")
    (base / "tune.toml").write_text(TINY)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DRAIN_REPORTS_DIR", str(base / "reports"))
        patch.setenv("DRAIN_CACHE_DIR", str(base / "cache"))
        assert main(_tune_argv(base / "tune.toml", "whole")) == 0
    return base / "reports" / "whole"


@pytest.mark.parametrize(("damaged", "line"), [
    ("sweep.json", "the sweep manifest {staging}/sweep.json was damaged (not JSON); the sweep "
                   "starts afresh"),
    ("chunk-00002.parquet", "sweep chunk 2 in {staging} was damaged; recomputed"),
], ids=["manifest", "chunk"])
def test_drain_tune_resumes_a_damaged_sweep_to_the_same_figures(tiny_run, tmp_path, capsys,
                                                                damaged, line):
    config, root = tmp_path / "tune.toml", reports_root()
    config.write_text(TINY)
    staging = root / ".cut.sweep"  # what a killed run leaves, then damaged
    shutil.copytree(tiny_run / "sweep", staging)
    (staging / damaged).write_bytes(b"\x00 torn")
    capsys.readouterr()
    assert main(_tune_argv(config, "cut")) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines() == [f"drain: warning: {line.format(staging=staging)}"], err
    assert _figures(root / "cut") == _figures(tiny_run)
    assert not staging.exists()


@pytest.mark.parametrize("fails", ["chunk-00000.parquet", "chunk-00002.parquet", "sweep.json"])
def test_a_full_disk_during_the_sweep_is_one_line_and_leaves_no_sweep_folder(
        tmp_path, monkeypatch, capsys, fails):
    config = tmp_path / "tune.toml"
    config.write_text(TINY)
    real = fs.write_bytes

    def full_disk(path, data, action="write"):
        if Path(path).name == fails:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, data, action)

    monkeypatch.setattr(fs, "write_bytes", full_disk)  # write_text's helper
    monkeypatch.setattr(sweep, "write_bytes", full_disk)
    root = reports_root()
    # the cache folder gains the NYSE calendar the data load keeps there: not a fault's debris
    expect_fault(capsys, _tune_argv(config, "full"), 1,
                 [str(root / ".full.sweep" / fails), "no space left", "free some space"],
                 [root])
