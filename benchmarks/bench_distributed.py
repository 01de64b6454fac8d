"""The sweep in this process against the same sweep on a 2-worker Dask LocalCluster.

    .venv/bin/python benchmarks/bench_distributed.py [--n 10000] [--workers 2] [--repeats 3]

Both sides run the same ``--n`` combinations of the shipped ``[tune.grids.benchmark]`` grid
(the sample ``bench_sweep.py`` uses), signals included, each chunk of 1,000 saved as parquet:
in this process (numba on every core) and on a ``LocalCluster`` of ``--workers`` processes with
one thread each (``open_executor``). Each side is warmed up once (numba caches, worker imports),
then the two are timed in turns, ``--repeats`` times each (so a load that other programs put on
a shared machine falls on both alike): the median, the range, and the CPU seconds used (this
process, plus the workers' processes on the cluster side). The cluster's start-up is timed
apart. The two results are compared bit for bit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def _cpu_seconds() -> float:
    """User and system CPU seconds of this process so far (every thread)."""
    times = os.times()
    return times.user + times.system


def _timed(run, cpu) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds as ``cpu()`` counts them, result) of ``run`` in a fresh
    folder."""
    with tempfile.TemporaryDirectory() as folder:
        cpu_before = cpu()
        started = time.perf_counter()
        result = run(Path(folder))
        seconds = time.perf_counter() - started
        return seconds, cpu() - cpu_before, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import dataclasses

    import numpy as np
    from bench_sweep import _selection

    from backtests.sim.config import BacktestConfig
    from backtests.tune.executor import open_executor
    from backtests.tune.sweep import run_sweep
    from drain_data import load_dataset

    dataset = load_dataset()
    backtest = BacktestConfig()
    selection, _ = _selection(args.n, args.seed)
    warm = dataclasses.replace(selection, combos=selection.combos[::50])
    n = len(selection.combos)

    def sweep(executor=None):
        return lambda folder: run_sweep(selection, dataset, backtest, chunk_dir=folder,
                                        chunk_size=1000, executor=executor)

    run_sweep(warm, dataset, backtest)
    started = time.perf_counter()
    with open_executor(workers=args.workers) as executor:
        startup = time.perf_counter() - started
        started = time.perf_counter()
        run_sweep(warm, dataset, backtest, executor=executor)
        warm_seconds = time.perf_counter() - started

        def cluster_cpu() -> float:
            return _cpu_seconds() + sum(executor.client.run(_cpu_seconds).values())

        sides: dict[str, list[tuple[float, float]]] = {"here": [], "dask": []}
        for _ in range(args.repeats):
            *here_times, here = _timed(sweep(), _cpu_seconds)
            *dask_times, remote = _timed(sweep(executor), cluster_cpu)
            sides["here"].append(tuple(here_times))
            sides["dask"].append(tuple(dask_times))
    identical = (here.table.equals(remote.table)
                 and np.array_equal(here.returns, remote.returns))
    medians = {side: statistics.median(s for s, _ in runs) for side, runs in sides.items()}
    ratio = medians["here"] / medians["dask"]
    print(f"grid: [tune.grids.benchmark], {n:,} combinations (seed {args.seed}), chunks of "
          f"1,000 saved as parquet, signals included; {args.repeats} sweeps each, in turns")
    print(f"{'side':<20}{'seconds':>9}{'combos/s':>10}{'range (s)':>15}{'CPU s':>8}")
    for side, name in (("here", "in-process"), ("dask", f"LocalCluster x{args.workers}")):
        walls = [s for s, _ in sides[side]]
        cpu = statistics.median(c for _, c in sides[side])
        print(f"{name:<20}{medians[side]:>9.2f}{n / medians[side]:>10,.0f}"
              f"{f'{min(walls):.2f} - {max(walls):.2f}':>15}{cpu:>8.2f}")
    print(f"ratio LocalCluster / in-process: {ratio:.2f}x (target >= 0.85x); results "
          f"identical bit for bit: {identical}")
    print(f"not timed: cluster start-up {startup:.1f} s, first (warm-up) sweep on the cluster "
          f"{warm_seconds:.1f} s (worker imports, numba cache loads)")


if __name__ == "__main__":
    main()
