"""The folder of a ``drain signal`` run: the signal's CSV, its pages and, on request, the
signal tearsheet.

``signal.csv`` (composite, components, z-scores, regimes), ``signal.html`` (plotly, loading the
shared plotly.js), ``signal.png`` (matplotlib), ``config.json`` (as-of date, data fingerprint,
the [signal] settings) and, with an evaluation, ``signal_eval.html`` / ``signal_eval.json``.
``run_signal`` is the whole of ``drain signal`` but its printing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from drain_core.paths import atomic_run_dir, reports_root

if TYPE_CHECKING:
    import pandas as pd

    from backtests.report.signal_eval import SignalEvaluation
    from backtests.run.config import RunConfig
    from drain_data.store import Dataset
    from signals.composite import SignalResult


@dataclass(frozen=True)
class SignalRun:
    """A saved ``drain signal`` run: the data as known at its last close, the signal, its
    correlations with published stress indices, the evaluation (if asked) and the folder."""

    dataset: Dataset
    result: SignalResult
    comparisons: pd.DataFrame
    evaluation: SignalEvaluation | None
    folder: Path


def run_signal(config: RunConfig, name: str, *, as_of: pd.Timestamp | None = None,
               evaluate: bool = False, dataset: Dataset | None = None) -> SignalRun:
    """The signal on ``dataset`` (the snapshot and cache when None) as known at the close of
    ``as_of`` (``signals.as_of.signal_as_of``), evaluated against forward returns when
    ``evaluate``, saved as the run folder ``name``."""
    from drain_data import load_dataset
    from signals.as_of import signal_as_of
    from signals.compare import stress_index_correlations

    if dataset is None:  # the evaluation reads the baskets' returns too
        dataset = load_dataset(needs=config.needs(signal_only=not evaluate))
    known, result = signal_as_of(dataset, config.signal, as_of)
    evaluation = None
    if evaluate:
        from backtests.report.signal_eval import evaluate_signal

        evaluation = evaluate_signal(known.prices, result, config.strategy, config.backtest.lag)
    folder = save_signal_run(known, result, config.signal, name, evaluation)
    return SignalRun(known, result, stress_index_correlations(known, result), evaluation,
                     folder)


def save_signal_run(dataset, result, config, name: str, evaluation=None) -> Path:
    """Write the run folder ``name`` atomically, refresh the runs index, return the folder."""
    from backtests.report.runs_index import update_index
    from backtests.report.signal_eval import write_signal_eval
    from signals.plots import write_signal_html, write_signal_png

    with atomic_run_dir(name) as tmp:
        result.to_frame().to_csv(tmp / "signal.csv", date_format="%Y-%m-%d")
        write_signal_html(dataset, result, tmp / "signal.html")
        write_signal_png(dataset, result, tmp / "signal.png")
        manifest = {
            "as_of": str(dataset.sessions[-1].date()),
            "dataset_fingerprint": dataset.fingerprint(),
            "config": config.to_dict(),
        }
        (tmp / "config.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if evaluation is not None:
            write_signal_eval(evaluation, tmp)
    update_index(reports_root())
    return reports_root() / name
