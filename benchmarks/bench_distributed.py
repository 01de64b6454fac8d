"""The sweep in this process against the same sweep on a 2-worker Dask LocalCluster.

    .venv/bin/python benchmarks/bench_distributed.py [--n 10000] [--workers 2] [--repeats 3]

Both sides run the same ``--n`` combinations of the shipped ``[tune.grids.benchmark]`` grid
(the sample ``bench_sweep.py`` uses), signals included, each chunk of 1,000 saved as parquet,
in the same process one after the other: in-process first (numba on every core), then on a
``LocalCluster`` of ``--workers`` processes with one thread each (``open_executor``). Each side
is warmed up once (numba caches, worker imports) and then timed ``--repeats`` times (median).
The cluster's start-up is timed apart. The two results are compared bit for bit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def _timed(run, repeats: int) -> tuple[float, object]:
    seconds, result = [], None
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            result = run(Path(folder))
            seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


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
    here_seconds, here = _timed(sweep(), args.repeats)
    started = time.perf_counter()
    with open_executor(workers=args.workers) as executor:
        startup = time.perf_counter() - started
        started = time.perf_counter()
        run_sweep(warm, dataset, backtest, executor=executor)
        warm_seconds = time.perf_counter() - started
        dask_seconds, remote = _timed(sweep(executor), args.repeats)
    identical = (here.table.equals(remote.table)
                 and np.array_equal(here.returns, remote.returns))
    ratio = here_seconds / dask_seconds
    print(f"grid: [tune.grids.benchmark], {n:,} combinations (seed {args.seed}), chunks of "
          f"1,000 saved as parquet, signals included; median of {args.repeats} sweeps each")
    print(f"{'side':<24}{'seconds':>9}{'combos/s':>11}")
    print(f"{'in-process':<24}{here_seconds:>9.2f}{n / here_seconds:>11,.0f}")
    print(f"{f'LocalCluster x{args.workers}':<24}{dask_seconds:>9.2f}"
          f"{n / dask_seconds:>11,.0f}")
    print(f"ratio LocalCluster / in-process: {ratio:.2f}x (target >= 0.85x); results "
          f"identical bit for bit: {identical}")
    print(f"not timed: cluster start-up {startup:.1f} s, first (warm-up) sweep on the cluster "
          f"{warm_seconds:.1f} s (worker imports, numba cache loads)")


if __name__ == "__main__":
    main()
