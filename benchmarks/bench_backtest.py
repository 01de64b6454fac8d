"""Time `drain backtest` as a user runs it: cold (fresh numba cache, so all JIT compiles) and
warm, plus where a warm run spends its time. Prints figures; asserts nothing.

    python benchmarks/bench_backtest.py [--repeats 5]

The command overlaps two processes on two cores: a sidecar computes the signal and weights and
imports matplotlib and quantstats while the main process imports vectorbt; then the main process
simulates and writes the files and the interactive report while the sidecar draws the tearsheet
(its figures in forked workers). The stages below are timed one after another in this process,
so they add up to more than the command's wall time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DRAIN = [sys.executable, "-m", "drain_cli"]


def timed_run(env: dict[str, str], name: str) -> float:
    start = time.perf_counter()
    subprocess.run([*DRAIN, "backtest", "--name", name], env=env, cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def stages() -> list[tuple[str, float]]:
    """Seconds per stage of one warm run, in this process, one stage after another."""
    marks = [("start", time.perf_counter())]
    from backtests.run.config import RunConfig
    from backtests.run.prepare import prepare_run
    marks.append(("sidecar: imports (pandas, signals, ...)", time.perf_counter()))
    prepared = prepare_run(RunConfig.load())
    marks.append(("sidecar: data, signal, weights", time.perf_counter()))
    from backtests.report.tearsheet import import_plotting, write_tearsheet
    import_plotting()
    marks.append(("sidecar: imports (matplotlib, quantstats)", time.perf_counter()))
    from backtests.report.run_folder import save_run
    from backtests.run.pipeline import simulate
    marks.append(("main: imports (vectorbt)", time.perf_counter()))
    run = simulate(prepared)
    marks.append(("main: portfolio and benchmarks (vectorbt)", time.perf_counter()))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        save_run(run, folder, name="bench", argv=[])
        marks.append(("save run: files, stats, plotly, tearsheet", time.perf_counter()))
        returns, spy = run.result.returns, run.benchmarks["SPY"]
        write_tearsheet(returns, spy, folder / "serial.html", "bench", workers=1)
        marks.append(("  tearsheet alone, figures drawn here", time.perf_counter()))
        write_tearsheet(returns, spy, folder / "parallel.html", "bench")
        marks.append(("  tearsheet alone, figures in workers", time.perf_counter()))
    return [(label, t - marks[i][1]) for i, (label, t) in enumerate(marks[1:])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="warm runs to time")
    args = parser.parse_args()
    from backtests.report.tearsheet import default_workers

    folders = {name: Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
               for name in ("reports", "numba", "cache")}
    env = {**os.environ, "DRAIN_REPORTS_DIR": str(folders["reports"]),
           "NUMBA_CACHE_DIR": str(folders["numba"]), "DRAIN_CACHE_DIR": str(folders["cache"])}
    try:
        cold = timed_run(env, "cold")
        warm = [timed_run(env, f"warm{i}") for i in range(args.repeats)]
    finally:
        for folder in folders.values():
            shutil.rmtree(folder, ignore_errors=True)
    print(f"cores available: {default_workers()}")
    print(f"drain backtest, cold (empty numba and data caches: JIT, calendar): {cold:6.1f} s")
    print(f"drain backtest, warm, median of {len(warm)}:{'':27s}{statistics.median(warm):6.1f} s"
          f"  (runs: {', '.join(f'{w:.1f}' for w in warm)})")
    print("stages of a warm run, timed serially in one process:")
    for label, seconds in stages():
        print(f"  {label:48s} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
