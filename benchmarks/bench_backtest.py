"""Time `drain backtest` as a user runs it: cold (fresh numba cache, so all JIT compiles) and
warm, plus where a warm run spends its time. Prints figures; asserts nothing.

    python benchmarks/bench_backtest.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DRAIN = [sys.executable, "-m", "drain_cli.main"]


def timed_run(env: dict[str, str], name: str) -> float:
    start = time.perf_counter()
    subprocess.run([*DRAIN, "backtest", "--name", name], env=env, cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def stages() -> list[tuple[str, float]]:
    """Seconds per stage of one warm run, in this process."""
    marks = [("start", time.perf_counter())]
    from backtests.pipeline import RunConfig, run_pipeline
    from backtests.report import save_run
    from drain_data import load_dataset
    marks.append(("imports (vectorbt, quantstats, ...)", time.perf_counter()))
    data = load_dataset()
    marks.append(("load data", time.perf_counter()))
    run = run_pipeline(RunConfig.load(), data)
    marks.append(("signal + weights + vectorbt + benchmarks", time.perf_counter()))
    with tempfile.TemporaryDirectory() as tmp:
        save_run(run, Path(tmp), name="bench", argv=[])
    marks.append(("reports (tearsheet, plotly, csv)", time.perf_counter()))
    return [(label, t - marks[i][1]) for i, (label, t) in enumerate(marks[1:])]


def main() -> None:
    reports = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    numba_cache = Path(tempfile.mkdtemp(prefix="bench-numba-"))
    env = {**os.environ, "DRAIN_REPORTS_DIR": str(reports), "NUMBA_CACHE_DIR": str(numba_cache)}
    try:
        cold = timed_run(env, "cold")
        warm = min(timed_run(env, f"warm{i}") for i in range(2))
    finally:
        shutil.rmtree(reports, ignore_errors=True)
        shutil.rmtree(numba_cache, ignore_errors=True)
    print(f"drain backtest, cold (empty numba cache: JIT + tearsheet included): {cold:6.1f} s")
    print(f"drain backtest, warm (best of 2):                                  {warm:6.1f} s")
    print("warm run by stage:")
    for label, seconds in stages():
        print(f"  {label:45s} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
