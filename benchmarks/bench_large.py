"""A 1,000,000-combination random sample of a wide grid on a LocalCluster, within memory.

    .venv/bin/python benchmarks/bench_large.py [--n 1000000] [--workers 2] [--seed 0] [--analyse]

The grid is ``[tune.grids.wide]`` of the shipped tune.toml (256 signal configurations from 16
composites, tens of thousands of strategy settings, three lags: tens of millions of
combinations, millions of them distinct); ``--n`` distinct ones are drawn at random
(``select(sample=...)``, duplicates dropped, then cut to ``--n``). ``run_sweep`` runs them in
chunks of 1,000 on ``--workers`` worker processes (``open_executor``), saving every chunk, with
``ReturnsPolicy()``: every trial's metrics are kept, daily returns only for the best 2,000 by
Sharpe and a seeded sample of 1,500. With ``--analyse``, the policy is the one ``drain tune``
uses (``backtests.tune.tuning.returns_policy`` of the shipped [tune] settings: SPA's best, PBO's
sample, the best 10 of each walk-forward train window, every trial's walk-forward scores) and
the tune's analysis (``analyse``: signal information, walk-forward, vectorbt re-runs, DSR, PBO,
bootstrap CIs, SPA) runs on the result. Printed: wall times, throughput, peak RSS of each
worker and of the client, and the disk the chunks use. Targets (#12): <= 1.5 GiB per worker
and <= 2 GiB on disk.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def peak_rss_mib() -> float:
    """This process's peak resident memory (MiB): ``VmHWM``, its own address space's high-water
    mark (``ru_maxrss`` of a spawned worker starts at its parent's peak, so it would report the
    client's memory)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _selection(n: int, seed: int):
    """``n`` distinct combinations of the wide grid, drawn at random."""
    import dataclasses

    from backtests.sim.config import BacktestConfig
    from backtests.tune.config import TuneConfig
    from backtests.tune.sweep import select
    from signals import SignalConfig
    from strategies import StrategyConfig

    grid = TuneConfig.load().grid("wide")
    base = (SignalConfig(), StrategyConfig(), BacktestConfig())
    trial = select(grid, *base, sample=20_000, seed=seed, cap=10**9)
    share = trial.n_trials / 20_000  # the share of draws left after dropping duplicates
    draws = min(grid.size, int(n / share * 1.05) + 1000)
    selection = select(grid, *base, sample=draws, seed=seed, cap=10**9)
    while selection.n_trials < n and draws < grid.size:  # more draws repeat more often
        draws = min(grid.size, int(draws * n / selection.n_trials * 1.1))
        selection = select(grid, *base, sample=draws, seed=seed, cap=10**9)
    return dataclasses.replace(selection, combos=selection.combos[:n]), grid.size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--analyse", action="store_true",
                        help="keep what drain tune keeps and run the tune's analysis")
    args = parser.parse_args()

    from backtests.run.config import RunConfig
    from backtests.tune.analysis import analyse
    from backtests.tune.config import TuneConfig
    from backtests.tune.executor import open_executor
    from backtests.tune.sweep import ReturnsPolicy, run_sweep
    from backtests.tune.tuning import returns_policy
    from drain_data import load_dataset

    dataset = load_dataset()
    config, tune = RunConfig(), TuneConfig.load()
    started = time.perf_counter()
    selection, grid_size = _selection(args.n, args.seed)
    select_seconds = time.perf_counter() - started
    policy = (returns_policy(tune, selection, dataset.prices, config.backtest, args.seed)
              if args.analyse else ReturnsPolicy())
    client_before = peak_rss_mib()
    with tempfile.TemporaryDirectory() as folder, \
            open_executor(workers=args.workers) as executor:
        started = time.perf_counter()
        result = run_sweep(selection, dataset, config.backtest, chunk_dir=Path(folder),
                           chunk_size=1000, executor=executor, keep=policy)
        seconds = time.perf_counter() - started
        workers = executor.client.run(peak_rss_mib)
        disk = sum(p.stat().st_size for p in Path(folder).iterdir())
    client_sweep = peak_rss_mib()
    n = result.n_trials
    print(f"wide grid: {grid_size:,} combinations; {n:,} distinct ones drawn at random "
          f"(seed {args.seed}; drawing and de-duplicating them took {select_seconds:.0f} s, "
          f"not timed)")
    print(f"sweep on {result.workers} workers: {seconds:.0f} s, {n / seconds:,.0f} combos/s; "
          f"{result.n_signals} signal configurations; {result.chunks_run:,} chunks")
    kept = ("SPA's best, PBO's sample, the best of each walk-forward train window"
            if args.analyse else "best 2,000 by Sharpe and a seeded 1,500")
    print(f"kept: metrics of all {n:,} trials, daily returns of {result.n_returns_kept:,} "
          f"({kept})")
    print("peak RSS per worker: " + ", ".join(f"{v:,.0f} MiB" for v in workers.values())
          + f"; client {client_sweep:,.0f} MiB after the sweep ({client_before:,.0f} MiB "
          f"after drawing the combinations, before it)")
    print(f"disk used by the chunks: {disk / 2**20:,.0f} MiB")
    if args.analyse:
        started = time.perf_counter()
        analysis = analyse(result, selection, dataset, config, tune, seed=args.seed)
        stats = analysis.to_dict()
        print(f"analysis: {time.perf_counter() - started:.0f} s; client peak RSS "
              f"{peak_rss_mib():,.0f} MiB; best {stats['best_label']} (excess Sharpe "
              f"{stats['is_sharpe']:.2f}); {stats['n_splits']} walk-forward splits, OOS "
              f"Sharpe {stats['oos_sharpe']:.2f}; DSR {stats['dsr']:.3f} over "
              f"{stats['dsr_n_trials']:,} trials; PBO {stats['pbo']:.2f} on "
              f"{stats['pbo_configs']:,}; SPA p {stats['spa_pvalue']:.3f} on "
              f"{stats['spa_models']:,}; returns kept {stats['returns_kept']:,}")
    met = "met" if max(workers.values()) <= 1536 and disk <= 2 * 2**30 else "MISSED"
    print(f"target (<= 1.5 GiB per worker, <= 2 GiB on disk): {met}")


if __name__ == "__main__":
    main()
