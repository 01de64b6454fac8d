"""The default ``drain tune`` end to end, in a cold process: wall time and peak memory; and
Hansen's SPA step alone on the default tune's loss-matrix shape.

    .venv/bin/python benchmarks/bench_tune.py [--repeats 1] [--workers N] [--spa-repeats 3]
                                              [--spa-only] [-- extra tune args]

Runs ``drain tune --name bench-tune --no-progress`` (the shipped ``[tune.grid]``, 1,248 trials)
in a fresh interpreter each time, writing into a temporary reports folder: imports, data
loading, the sweep, walk-forward, the vectorbt re-runs, the overfitting statistics (DSR, PBO,
bootstrap CIs, SPA) and every page. Two peak memory figures:

* the largest process of the run (the command, its sidecar or a tearsheet worker), from
  ``getrusage(RUSAGE_CHILDREN)``;
* the whole process tree (``drain`` and every descendant: the sidecar, figure workers, Dask
  workers), the RSS of each summed, sampled every ``POLL_SECONDS`` (psutil, or ``/proc``
  without it). Pages shared between processes (forked workers) count once per process, so
  this is an upper bound of what the tree holds, and a peak shorter than a sample may be
  missed.

The SPA line times ``backtests.stats.overfitting.spa_test`` as the tune calls it (block length,
arch's stationary-bootstrap indices, the p-values; and ``spa_pvalues`` alone) on a seeded
synthetic T x k matrix: T the sessions of the default tune's window, k its trials capped at
``[tune] spa_max_models``, ``[tune] spa_reps`` resamples. Its cost depends on the shape, not
the values. Targets (#12): the tune <= 12 s and <= 1 GiB peak RSS on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
POLL_SECONDS = 0.05


def _tree_rss_psutil(pid: int) -> int:
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):  # ended between listing and reading
            total += proc.memory_info().rss
    return total


def _tree_rss_proc(pid: int) -> int:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # after "(comm)": state, ppid
        children.setdefault(ppid, []).append(int(entry))
    page = os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        with contextlib.suppress(OSError):  # ended meanwhile
            total += int(Path(f"/proc/{current}/statm").read_text().split()[1]) * page
    return total


def tree_rss_reader():
    """A function of a pid: the summed RSS (bytes) of it and its descendants; and its source."""
    try:
        import psutil  # noqa: F401
    except ImportError:
        return _tree_rss_proc, "/proc"
    return _tree_rss_psutil, "psutil"


class TreePeak:
    """Samples the summed RSS of a process tree in a thread until stopped; ``peak`` in bytes."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self.read, self.source = tree_rss_reader()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.read(self.pid))
            self._stop.wait(POLL_SECONDS)

    def stop(self) -> int:
        """Stop sampling; the peak seen."""
        self._stop.set()
        self._thread.join()
        return self.peak


def run_once(extra: list[str]) -> dict:
    """One cold ``drain tune``: wall seconds, the run's own stage timings, and peak RSS (the
    largest process, and the whole tree summed)."""
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "DRAIN_REPORTS_DIR": folder}
        command = [sys.executable, "-m", "drain_cli", "tune", "--name", "bench-tune",
                   "--no-progress", *extra]
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        tree = TreePeak(proc.pid)
        try:
            _, stderr = proc.communicate()
        finally:
            tree_peak = tree.stop()
            if proc.poll() is None:  # interrupted: do not leave drain running
                proc.terminate()
                proc.wait()
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"drain tune failed ({proc.returncode}):\n{stderr[-3000:]}")
        summary = json.loads((Path(folder) / "bench-tune" / "summary.json").read_text())
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return {"seconds": seconds, "peak_mib": peak, "tree_peak_mib": tree_peak / 2**20,
            "tree_source": tree.source, "sweep": summary.get("seconds_sweep"),
            "inside": summary.get("seconds_total"), "trials": summary.get("n_trials")}


def spa_shape() -> tuple[int, int, int]:
    """(sessions, models, resamples) of the default tune's SPA step."""
    from backtests.tune.config import load_tune_settings
    from backtests.tune.sweep import select
    from drain_data import load_dataset

    config, tune = load_tune_settings(None)
    selection = select(tune.grid(None), config.signal, config.strategy, config.backtest,
                       cap=tune.cap)
    dataset = load_dataset()
    if tune.holdout_start is not None:
        from backtests.tune.holdout import seal

        dataset = seal(dataset, tune.holdout_start)
    return len(dataset.prices), min(selection.n_trials, tune.spa_max_models), tune.spa_reps


def time_spa(repeats: int) -> dict:
    """Median seconds of ``spa_test`` (and of ``spa_pvalues`` alone) on the default shape."""
    import numpy as np

    from backtests.stats.overfitting import spa_pvalues, spa_test, stationary_indices

    t, k, reps = spa_shape()
    rng = np.random.default_rng(0)
    common = rng.normal(0.0003, 0.01, t)  # models share a market factor, as trials do
    models = common[:, None] + rng.normal(0.0, 0.004, (t, k))
    bench = common + rng.normal(0.0, 0.002, t)
    whole, pvalues = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        result = spa_test(bench, models, reps=reps, seed=0)
        whole.append(time.perf_counter() - started)
        indices = stationary_indices(t, result.block_size, reps, 0)
        started = time.perf_counter()
        spa_pvalues(models - bench[:, None], indices, result.block_size)
        pvalues.append(time.perf_counter() - started)
    return {"shape": (t, k, reps), "block": result.block_size,
            "seconds": statistics.median(whole), "pvalues_seconds": statistics.median(pvalues),
            "repeats": repeats}


def _print_spa(spa: dict) -> None:
    t, k, reps = spa["shape"]
    print(f"SPA step alone (spa_test, as tuning calls it), {t:,} sessions x {k:,} models, "
          f"{reps:,} resamples, block {spa['block']}: {spa['seconds']:.2f} s (median of "
          f"{spa['repeats']}); the p-values alone (spa_pvalues) {spa['pvalues_seconds']:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--workers", type=int, help="pass --workers N to drain tune")
    parser.add_argument("--spa-repeats", type=int, default=3,
                        help="timings of the SPA step alone (median; 0: skip it)")
    parser.add_argument("--spa-only", action="store_true",
                        help="time the SPA step alone, no drain tune")
    parser.add_argument("extra", nargs="*", help="more drain tune arguments (after --)")
    args = parser.parse_args()
    if args.spa_only:
        _print_spa(time_spa(max(1, args.spa_repeats)))
        return
    extra = [*args.extra, *(["--workers", str(args.workers)] if args.workers else [])]
    runs = [run_once(extra) for _ in range(args.repeats)]
    wall = statistics.median(r["seconds"] for r in runs)
    peak = max(r["peak_mib"] for r in runs)
    tree = max(r["tree_peak_mib"] for r in runs)
    print(f"drain tune {' '.join(extra) or '(defaults)'}: {runs[0]['trials']:,} trials, "
          f"{len(runs)} cold run(s) on {os.cpu_count()} cores")
    print(f"wall time (median): {wall:.1f} s (the run's own clock: sweep "
          f"{runs[0]['sweep']:.1f} s of {runs[0]['inside']:.1f} s before writing pages; the "
          f"rest is imports, pages and start-up)")
    print(f"peak RSS: largest process {peak:,.0f} MiB; whole process tree (drain, sidecar "
          f"and their children, summed, sampled every {POLL_SECONDS:g} s via "
          f"{runs[0]['tree_source']}) {tree:,.0f} MiB")
    met = "met" if wall <= 12 and peak <= 1024 else "MISSED"
    print(f"target (<= 12 s and <= 1 GiB on 2 cores, largest process): {met}")
    if args.spa_repeats > 0:
        _print_spa(time_spa(args.spa_repeats))


if __name__ == "__main__":
    main()
