"""The folder of a ``drain signal`` run: the signal's CSV, its pages and, on request, the
signal tearsheet.

``signal.csv`` (composite, components, z-scores, regimes), ``signal.html`` (plotly, loading the
shared plotly.js), ``signal.png`` (matplotlib), ``config.json`` (as-of date, data fingerprint,
the [signal] settings) and, with an evaluation, ``signal_eval.html`` / ``signal_eval.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

from drain_core.paths import atomic_run_dir, reports_root


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
