"""Fault corpus, ``drain tune`` half: a tune killed mid-sweep (SIGKILL, SIGTERM, SIGINT) leaves
no child process, and the next run resumes from the chunks it saved and gives the same figures
as a run never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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
        [sys.executable, "-m", "drain_cli.main", "tune", "--config", str(config), "--name", name,
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
