"""The two quantstats tearsheets of a tune run, drawn here or by another process meanwhile.

``oos_tearsheet.html`` shows the stitched walk-forward out-of-sample returns and
``best_tearsheet.html`` the best in-sample configuration, each against SPY bought and held, with
the risk-adjusted figures in excess of the cash rate the engine credited.

Their series are known once the analysis has re-run its choices through vectorbt, before the
overfitting statistics (``analyse(on_pages=...)``). ``DraftTearsheets`` hands them then to an
executor of another process (``drain tune`` uses its sidecar), which draws both pages into a
temp folder of the reports root while this process computes the statistics; ``save_tune_run``
moves them into the run folder. The temp folder is claimed by this process and removed when the
block ends, so an interrupted run leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

from backtests.tune.analysis import PageSeries
from drain_core.fs import claim, guarded, make_dirs
from drain_core.paths import reports_root

TEARSHEETS = ("oos_tearsheet.html", "best_tearsheet.html")

Job = tuple[tuple[Any, ...], dict[str, Any]]


def tearsheet_jobs(series: PageSeries, folder: Path) -> list[Job]:
    """The ``write_tearsheet`` calls of the two pages, as (arguments, options)."""
    oos = series.oos
    return [
        ((oos, series.spy.reindex(oos.index), folder / TEARSHEETS[0],
          "drain tune: stitched walk-forward out-of-sample returns vs SPY"),
         {"cash_returns": series.cash.reindex(oos.index), "exposure": series.oos_exposure,
          "benchmark_name": "SPY", "cash_label": series.cash_label}),
        ((series.best, series.spy, folder / TEARSHEETS[1],
          f"drain tune: best in-sample configuration vs SPY ({series.best_label})"),
         {"cash_returns": series.cash, "exposure": series.best_exposure,
          "benchmark_name": "SPY", "cash_label": series.cash_label}),
    ]


def write_tune_tearsheets(series: PageSeries, folder: Path,
                          advance: Callable[[], None] = lambda: None) -> None:
    """Draw both pages into ``folder``, one after the other (each with its own figure
    workers, one per core)."""
    from backtests.report.tearsheet import write_tearsheet

    for args, options in tearsheet_jobs(series, folder):
        write_tearsheet(*args, **options)
        advance()


class DraftTearsheets:
    """Both pages drawn by ``executor`` into a temp folder while the caller works on.

    Use as a context manager around the tune and ``save_tune_run``; pass ``draw`` as the
    analysis' ``on_pages``."""

    def __init__(self, executor: Executor, name: str) -> None:
        self.executor = executor
        self.name = name
        self.folder: Path | None = None
        self._drawn: list[tuple[str, Future]] = []

    def __enter__(self) -> DraftTearsheets:
        root = make_dirs(reports_root(), "create the reports folder")
        with guarded(root, "create a temp folder in"):
            self.folder = Path(tempfile.mkdtemp(prefix=f".{self.name}.pages.", dir=root))
            claim(self.folder)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    def draw(self, series: PageSeries) -> None:
        """Send both pages to the executor (they are drawn in order, after its earlier work)."""
        from backtests.report.tearsheet import write_tearsheet

        assert self.folder is not None, "DraftTearsheets.draw outside its with-block"
        for (args, options), page in zip(tearsheet_jobs(series, self.folder), TEARSHEETS,
                                         strict=True):
            self._drawn.append((page, self.executor.submit(write_tearsheet, *args, **options)))

    @property
    def sent(self) -> bool:
        """Whether the pages were sent to be drawn."""
        return bool(self._drawn)

    def move_into(self, folder: Path, advance: Callable[[], None] = lambda: None) -> None:
        """Wait for each page (raising what its drawing raised) and move it into ``folder``."""
        assert self.folder is not None
        for page, drawn in self._drawn:
            drawn.result()
            os.replace(self.folder / page, folder / page)
            advance()
