"""The default ``drain tune`` end to end, in a cold process: wall time and peak memory.

    .venv/bin/python benchmarks/bench_tune.py [--repeats 1] [--workers N] [-- extra tune args]

Runs ``drain tune --name bench-tune --no-progress`` (the shipped ``[tune.grid]``, 1,248 trials)
in a fresh interpreter each time, writing into a temporary reports folder: imports, data
loading, the sweep, walk-forward, the vectorbt re-runs, the overfitting statistics (DSR, PBO,
bootstrap CIs, SPA) and every page. Peak RSS is that of the largest process of the run (the
command or a tearsheet worker), from ``getrusage(RUSAGE_CHILDREN)``. Targets (#12): <= 12 s
and <= 1 GiB on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_once(extra: list[str]) -> dict:
    """One cold ``drain tune``: wall seconds, the run's own stage timings, and peak RSS."""
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "DRAIN_REPORTS_DIR": folder}
        command = [sys.executable, "-m", "drain_cli.main", "tune", "--name", "bench-tune",
                   "--no-progress", *extra]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                              check=False)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"drain tune failed ({done.returncode}):\n{done.stderr[-3000:]}")
        summary = json.loads((Path(folder) / "bench-tune" / "summary.json").read_text())
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return {"seconds": seconds, "peak_mib": peak, "sweep": summary.get("seconds_sweep"),
            "inside": summary.get("seconds_total"), "trials": summary.get("n_trials")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--workers", type=int, help="pass --workers N to drain tune")
    parser.add_argument("extra", nargs="*", help="more drain tune arguments (after --)")
    args = parser.parse_args()
    extra = [*args.extra, *(["--workers", str(args.workers)] if args.workers else [])]
    runs = [run_once(extra) for _ in range(args.repeats)]
    wall = statistics.median(r["seconds"] for r in runs)
    peak = max(r["peak_mib"] for r in runs)
    print(f"drain tune {' '.join(extra) or '(defaults)'}: {runs[0]['trials']:,} trials, "
          f"{len(runs)} cold run(s) on {os.cpu_count()} cores")
    print(f"wall time (median): {wall:.1f} s (the run's own clock: sweep "
          f"{runs[0]['sweep']:.1f} s of {runs[0]['inside']:.1f} s before writing pages; the "
          f"rest is imports, pages and start-up)")
    print(f"peak RSS (largest process): {peak:,.0f} MiB")
    met = "met" if wall <= 12 and peak <= 1024 else "MISSED"
    print(f"target (<= 12 s and <= 1 GiB on 2 cores): {met}")


if __name__ == "__main__":
    main()
