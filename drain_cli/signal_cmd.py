"""``drain signal``: compute the liquidity-drain signal, write its CSV and plots, print a summary.

Writes ``reports/signal-<as-of date or latest>/`` (or ``--name``) atomically through
``backtests.report.signal_run.run_signal``: ``signal.csv``, ``signal.html``, ``signal.png``
and ``config.json``. Prints the latest reading per component, the composite's correlation with
STLFSI4 and NFCI (published stress indices: a comparison only, never an input) and the share of
days in each regime.
``--evaluate`` adds the signal tearsheet (``signal_eval.html`` and ``signal_eval.json``: the
composite's and each component's information about forward returns) and prints its headline.
"""

from __future__ import annotations

import argparse

from drain_cli.args import load_config, parse_date, run_name


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--config, --as-of, --name."""
    parser.add_argument("--config", metavar="F",
                        help="TOML file whose [signal] section sets the parameters "
                             "(default: drain_core/configs/default.toml)")
    parser.add_argument("--as-of", metavar="DATE", dest="as_of",
                        help="compute with only what was known at the close of DATE (YYYY-MM-DD)")
    parser.add_argument("--evaluate", action="store_true",
                        help="also write the signal tearsheet (signal_eval.html): correlation "
                             "of the composite and each component with forward returns")
    parser.add_argument("--name", metavar="NAME",
                        help="output folder under the reports root "
                             "(default: signal-<as-of date> or signal-latest)")


def run(args: argparse.Namespace) -> int:
    """Load config and data, compute the signal, write the run folder, print the summary."""
    import time

    from backtests.report.signal_run import run_signal

    started = time.perf_counter()
    config = load_config(args.config).run  # a bad config fails before any data or output
    as_of = parse_date(args.as_of, "--as-of")
    folder = run_name(args.name, f"signal-{as_of.date()}" if as_of is not None else "signal-latest")
    run = run_signal(config, folder, as_of=as_of, evaluate=args.evaluate)
    _print_summary(run, config.signal, time.perf_counter() - started)
    if run.evaluation is not None:
        _print_evaluation(run.evaluation)
    return 0


def _print_evaluation(evaluation) -> None:
    from rich.console import Console
    from rich.table import Table

    rows = evaluation.ic[evaluation.ic["signal"] == "composite"]
    table = Table(title=f"Composite vs forward log returns (from close t + {evaluation.lag}); "
                        f"t: the larger of Newey-West and Hodrick errors")
    for col in ("target", "horizon", "Pearson", "Spearman", "t", "n"):
        table.add_column(col, justify="left" if col == "target" else "right")
    for r in rows.itertuples(index=False):
        table.add_row(r.target, str(r.horizon), _fmt(r.pearson, 3), _fmt(r.spearman, 3),
                      _fmt(r.t), str(r.n))
    Console().print(table)


# --- console summary ------------------------------------------------------------------------


def _fmt(value, digits: int = 2) -> str:
    return "-" if value != value else f"{value:,.{digits}f}"


def _print_summary(run, config, seconds: float) -> None:
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from signals.summary import NO_COMPOSITE, latest_readings, regime_days

    console, result = Console(), run.result
    table = Table(title=f"Latest reading per component (as of {result.composite.index[-1].date()})")
    for col, justify in (("component", "left"), ("pillar", "left"), ("raw", "right"),
                         ("z", "right"), ("last value on", "left"), ("weight", "right"),
                         ("gated", "left")):
        table.add_column(col, justify=justify)
    for name, r in latest_readings(result, config).iterrows():
        table.add_row(name, r.pillar, _fmt(r.raw), _fmt(r.z),
                      "never" if pd.isna(r.last_value_on) else str(r.last_value_on.date()),
                      _fmt(r.weight), "yes" if r.gated else "")
    console.print(table)
    valid = result.composite.dropna()
    latest = valid.index[-1]
    console.print(
        f"composite {_fmt(valid.iloc[-1])} (ungated {_fmt(result.composite_ungated[latest])}) "
        f"on {latest.date()}: regime [bold]{result.regime[latest]}[/bold], buffer "
        f"{'depleted' if result.buffer_depleted[latest] else 'not depleted'} "
        f"(gate {config.gate}, combine {config.combine})"
    )

    corr = Table(title="Correlation with published stress indices (comparison only, weekly)")
    for col in ("index", "composite", "levels", "4-week changes", "weeks", "sample"):
        left = col in ("index", "composite", "sample")
        corr.add_column(col, justify="left" if left else "right")
    for row in run.comparisons.itertuples(index=False):
        sample = f"{row.first.date()} to {row.last.date()}" if row.weeks else ""
        corr.add_row(row.index, row.signal.replace("composite_", "").replace("composite", "gated"),
                     _fmt(row.level), _fmt(row.change_4w),
                     str(row.weeks), sample)
    console.print(corr)

    regimes = Table(title="Share of days in each regime")
    for col in ("regime", "days", "share"):
        regimes.add_column(col, justify="left" if col == "regime" else "right")
    for regime, r in regime_days(result.regime).iterrows():
        share = "" if regime == NO_COMPOSITE else "-" if r.share != r.share else f"{r.share:.1%}"
        regimes.add_row(str(regime), str(int(r.days)), share)
    console.print(regimes)
    out_dir = run.folder
    console.print(f"wrote {out_dir}/ (signal.csv, signal.html, signal.png, config.json"
                  f"{', signal_eval.html' if (out_dir / 'signal_eval.html').exists() else ''}) "
                  f"in {seconds:.1f}s")
