"""Sweep speed and memory: the fast kernel on 10,000 combinations against a naive vectorbt grid.

    .venv/bin/python benchmarks/bench_sweep.py [--n 10000] [--naive-n 150] [--seed 0]
                                               [--repeats 3] [--busy-core]

Each side runs in its own subprocess so that its peak RSS (``ru_maxrss``) is its own:

* fast: ``backtests.tune.sweep.run_sweep`` on ``--n`` combinations drawn from the shipped
  ``[tune.grids.benchmark]`` grid, exactly as ``drain tune`` runs them: every distinct signal
  computed (inside the timing), basis matrices built, the numba kernel, one parquet file per
  chunk of 1,000. Numba compilation is warmed up first (on every 50th combination: every variant
  and rule) and reported apart; the sweep is timed ``--repeats`` times and the median reported
  (the machine is shared: single runs vary). With ``--busy-core`` one more process spins on
  a CPU for the whole of the timed sweeps (started after the warm-up, killed when they end,
  on Ctrl-C too, and it stops by itself if its parent dies), the loaded case of the target.
* naive: a seeded subset of ``--naive-n`` of the same combinations, each prepared exactly like
  ``run_backtest`` (signal, targets, legs, deflated prices) and simulated as columns of ONE
  ``vbt.Portfolio.from_orders`` call (a group with shared cash per combination).

Data loading and imports are outside both timings (the same for both sides).

Targets (#12): >= 8,000 combos/s median on a quiet machine, and never below 5,000 (the slowest
sweep) while another process uses one core (``--busy-core``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
QUIET_TARGET = 8000  # combos/s, median of the sweeps, quiet machine
BUSY_TARGET = 5000  # combos/s, every sweep, another process using one core
# spins until killed, or until its parent is gone (a benchmark killed with SIGKILL)
SPINNER = ("import os, signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
           "parent = os.getppid()\nwhile os.getppid() == parent:\n"
           "    for _ in range(1_000_000):\n        pass\n")


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@contextlib.contextmanager
def busy_core(enabled: bool) -> Iterator[None]:
    """While inside, one extra process keeps one CPU core busy (nothing when not ``enabled``);
    it is killed on leaving, by an exception or Ctrl-C included."""
    if not enabled:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", SPINNER])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


def _selection(n: int, seed: int):
    """``n`` distinct combinations drawn from the benchmark grid (all of them if fewer)."""
    import dataclasses

    from backtests.sim.config import BacktestConfig
    from backtests.tune.sweep import grid_from_table, grid_section, select
    from drain_core.configs import tune_config_path
    from drain_core.tomlfile import read_toml
    from signals import SignalConfig
    from strategies import StrategyConfig

    name, table = grid_section(read_toml(tune_config_path()), "benchmark")
    grid = grid_from_table(table, name)
    full = select(grid, SignalConfig(), StrategyConfig(), BacktestConfig(), cap=10**9)
    picked = sorted(random.Random(seed).sample(range(full.n_trials), min(n, full.n_trials)))
    return dataclasses.replace(full, combos=[full.combos[i] for i in picked]), full


def run_fast(n: int, seed: int, repeats: int, busy: bool = False) -> dict:
    """Time ``run_sweep`` on ``n`` combinations (after a numba warm-up), ``repeats`` times
    (with one other core kept busy throughout when ``busy``)."""
    import dataclasses

    from backtests.sim.config import BacktestConfig
    from backtests.tune.sweep import run_sweep
    from drain_data import load_dataset

    dataset = load_dataset()
    backtest = BacktestConfig()
    started = time.perf_counter()
    selection, full = _selection(n, seed)
    select_seconds = time.perf_counter() - started
    started = time.perf_counter()
    warm = dataclasses.replace(selection, combos=selection.combos[::50])
    run_sweep(warm, dataset, backtest)
    compile_seconds = time.perf_counter() - started
    timings = []
    with busy_core(busy):
        for _ in range(repeats):  # a fresh sweep each time: signals, bases, kernel, chunk files
            with tempfile.TemporaryDirectory() as folder:
                started = time.perf_counter()
                result = run_sweep(selection, dataset, backtest, chunk_dir=Path(folder),
                                   chunk_size=1000)
                timings.append((time.perf_counter() - started, result.signal_seconds))
    seconds, signal_seconds = sorted(timings)[len(timings) // 2]  # the median run
    daily = [c for c in full.combos if c.strategy.rebalance == "weekly"][:1000]
    daily = [dataclasses.replace(c, strategy=c.strategy.replace(rebalance="daily"))
             for c in daily]
    started = time.perf_counter()
    run_sweep(dataclasses.replace(selection, combos=daily), dataset, backtest)
    daily_seconds = time.perf_counter() - started
    rules: dict[str, int] = {}
    for combo in selection.combos:
        rules[combo.strategy.rebalance] = rules.get(combo.strategy.rebalance, 0) + 1
    return {
        "side": "fast",
        "busy_core": busy,
        "combos": len(selection.combos),
        "seconds": seconds,
        "combos_per_s": len(selection.combos) / seconds,
        "all_combos_per_s": [len(selection.combos) / t for t, _ in timings],
        "peak_rss_mib": _peak_rss_mib(),
        "signal_configs": result.n_signals,
        "signal_computations": result.n_composites,
        "signal_seconds": signal_seconds,
        "select_seconds": select_seconds,
        "grid_distinct": full.n_trials,
        "compile_seconds": compile_seconds,
        "rules": rules,
        "daily_combos": len(daily),
        "daily_combos_per_s": len(daily) / daily_seconds,
        "vectorbt_imported": "vectorbt" in sys.modules,
    }


def _engine_inputs(orders, prices, lag, config):
    """The legs and deflated closes ``backtests.sim.engine.run_backtest`` builds for one combo."""
    import numpy as np
    import pandas as pd

    from backtests.sim.accrual import accrual_index, borrow_index, daily_rates
    from backtests.sim.engine import SHORT_SUFFIX, _split_legs

    index = orders.index
    legs = _split_legs(orders.shift(lag))
    tickers = [c.removesuffix(SHORT_SUFFIX) for c in legs.columns]
    valuation = prices[orders.columns].reindex(index).ffill().bfill()
    cash = accrual_index(daily_rates(prices[config.cash_rate_ticker], index))
    close = pd.DataFrame({leg: valuation[t].to_numpy() for leg, t in
                          zip(legs.columns, tickers, strict=True)}, index=index)
    for leg, ticker in zip(legs.columns, tickers, strict=True):
        if leg.endswith(SHORT_SUFFIX):
            close[leg] = close[leg] * borrow_index(config.costs.borrow(ticker), index)
    fees = np.array([config.costs.fee(t) for t in tickers])
    slippage = np.array([config.costs.slippage(t) for t in tickers])
    return legs, close.div(cash, axis=0), fees, slippage, cash


def run_naive(n: int, seed: int, n_fast: int) -> dict:
    """All ``n`` combinations as columns of one vectorbt ``from_orders`` call."""
    import numpy as np
    import pandas as pd
    import vectorbt as vbt

    from backtests.sim.accrual import daily_rates
    from backtests.sim.config import BacktestConfig
    from backtests.sim.engine import run_backtest  # noqa: F401  (sets vectorbt's year_freq)
    from backtests.sim.fastsim import METRICS, FastSim, series_metrics
    from drain_data import load_dataset
    from signals import compute_signal
    from strategies import build_targets, universe

    dataset = load_dataset()
    prices = dataset.prices
    backtest = BacktestConfig()
    selection, _ = _selection(n_fast, seed)
    combos = random.Random(seed + 1).sample(selection.combos, min(n, len(selection.combos)))
    started = time.perf_counter()
    signals = {}
    closes, sizes, fees, slips, groups = [], [], [], [], []
    for k, combo in enumerate(combos):
        if combo.signal not in signals:
            signals[combo.signal] = compute_signal(dataset, combo.signal)
        signal = signals[combo.signal]
        targets = build_targets(prices, signal.composite, signal.regime, combo.strategy)
        legs, close, fee, slip, cash = _engine_inputs(targets.orders, prices, combo.lag,
                                                      backtest)
        sizes.append(legs.to_numpy())
        closes.append(close.to_numpy())
        fees.append(fee)
        slips.append(slip)
        groups += [k] * legs.shape[1]
    prepared = time.perf_counter()
    portfolio = vbt.Portfolio.from_orders(
        close=pd.DataFrame(np.hstack(closes), index=prices.index),
        size=pd.DataFrame(np.hstack(sizes), index=prices.index),
        size_type="targetpercent", direction="both",
        fees=np.concatenate(fees)[None, :], slippage=np.concatenate(slips)[None, :],
        init_cash=backtest.init_cash, cash_sharing=True, group_by=np.array(groups),
        call_seq="auto", freq="1D",
    )
    equity = portfolio.value().mul(cash, axis=0)
    returns = equity.pct_change().fillna(equity.iloc[0] / backtest.init_cash - 1.0)
    seconds = time.perf_counter() - started
    # the same combinations through the fast kernel, to show both sides compute one thing
    tickers = sorted(set().union(*(universe(c.strategy) for c in combos)))
    sim = FastSim(prices, tickers, backtest)
    ids = np.array([sim.add_signal(c.signal, signals[c.signal].composite,
                                   signals[c.signal].regime) for c in combos])
    fast, _ = sim.run(ids, [c.strategy for c in combos], np.array([c.lag for c in combos]))
    cash_returns = daily_rates(prices[backtest.cash_rate_ticker], prices.index)
    diff = 0.0
    for k in range(len(combos)):
        ref = series_metrics(returns.iloc[:, k], cash_returns=cash_returns)
        for j, metric in enumerate(METRICS[:3]):  # total return, CAGR, Sharpe
            diff = max(diff, abs(fast[k, j] - ref[metric]))
    return {
        "side": "naive",
        "combos": len(combos),
        "columns": int(len(groups)),
        "seconds": seconds,
        "prepare_seconds": prepared - started,
        "combos_per_s": len(combos) / seconds,
        "simulate_combos_per_s": len(combos) / (seconds - (prepared - started)),
        "peak_rss_mib": _peak_rss_mib(),
        "max_metric_diff_vs_fast": diff,
    }


def _child(side: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--side", side, "--n", str(args.n), "--naive-n",
               str(args.naive_n), "--seed", str(args.seed), "--repeats", str(args.repeats),
               *(["--busy-core"] if args.busy_core else [])]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{side} side failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Run both sides in subprocesses and print them side by side (or one side, as JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", choices=["fast", "naive"])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--naive-n", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="fast sweeps to time (median)")
    parser.add_argument("--busy-core", action="store_true", help="keep one core busy with a "
                        "spinning process during the timed fast sweeps (the loaded target)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM cleans up as Ctrl-C
    if args.side == "fast":
        print(json.dumps(run_fast(args.n, args.seed, args.repeats, args.busy_core)))
        return
    if args.side == "naive":
        print(json.dumps(run_naive(args.naive_n, args.seed, args.n)))
        return
    fast = _child("fast", args)
    naive = _child("naive", args)
    rules = ", ".join(f"{k} {v:,}" for k, v in sorted(fast["rules"].items()))
    print(f"grid: [tune.grids.benchmark] of drain_core/configs/tune.toml, {fast['combos']:,} of "
          f"its {fast['grid_distinct']:,} distinct combinations (seed {args.seed}); "
          f"rebalancing: {rules}")
    print(f"signals: {fast['signal_configs']} distinct signal configurations from "
          f"{fast['signal_computations']} compute_signal calls, "
          f"{fast['signal_seconds']:.2f} s (inside the fast timing; all but the first chunk's "
          f"overlap the kernel)")
    print(f"{'side':<8}{'combos':>8}{'seconds':>10}{'combos/s':>11}{'peak RSS':>12}")
    for row in (fast, naive):
        print(f"{row['side']:<8}{row['combos']:>8,}{row['seconds']:>10.2f}"
              f"{row['combos_per_s']:>11,.0f}{row['peak_rss_mib']:>9,.0f} MiB")
    runs = ", ".join(f"{x:,.0f}" for x in fast["all_combos_per_s"])
    load = ("another process keeping one core busy (--busy-core)" if fast["busy_core"]
            else "no load added")
    print(f"fast: median of {len(fast['all_combos_per_s'])} sweeps ({runs} combos/s), {load}; "
          f"peak RSS of the whole process (imports, data, every sweep)")
    print(f"naive: {naive['columns']:,} vectorbt columns in one from_orders call; "
          f"{naive['prepare_seconds']:.1f} s of it preparing signals, targets and legs, the "
          f"simulation alone {naive['simulate_combos_per_s']:,.0f} combos/s")
    print(f"speed-up: {fast['combos_per_s'] / naive['combos_per_s']:,.0f}x combos/s; the two "
          f"sides agree on total return, CAGR and Sharpe of the naive combos to "
          f"{naive['max_metric_diff_vs_fast']:.1e}")
    print(f"not timed: grid expansion and de-duplication {fast['select_seconds']:.2f} s, numba "
          f"warm-up {fast['compile_seconds']:.2f} s (cached after the first run); vectorbt "
          f"imported by the fast side: {fast['vectorbt_imported']}")
    print(f"daily rebalancing costs more per combination: {fast['daily_combos']:,} daily "
          f"combinations ran at {fast['daily_combos_per_s']:,.0f} combos/s")
    slowest = min(fast["all_combos_per_s"])
    if fast["busy_core"]:
        quiet = "not measured here (one core was kept busy; run without --busy-core)"
        busy = (f"{'met' if slowest >= BUSY_TARGET else 'MISSED'} (slowest sweep "
                f"{slowest:,.0f})")
    else:
        quiet = (f"{'met' if fast['combos_per_s'] >= QUIET_TARGET else 'MISSED'} (median "
                 f"{fast['combos_per_s']:,.0f}; a quiet machine assumed)")
        busy = "not measured here (run with --busy-core)"
    print(f"target, quiet machine (>= {QUIET_TARGET:,} combos/s median): {quiet}")
    print(f"target, another process using one core (never below {BUSY_TARGET:,} combos/s): "
          f"{busy}")
    memory = "met" if fast["peak_rss_mib"] <= 1024 else "MISSED"
    print(f"peak RSS of the fast path <= 1 GiB: {memory}")


if __name__ == "__main__":
    main()
