"""quantstats HTML tearsheets, with the traps of quantstats 0.0.86 handled in one place.

- quantstats annualises with 252 periods; so does the engine (vectorbt's year_freq is set to
  252 days in ``backtests.sim.engine``), so the two agree.
- it crashes on a timezone-aware benchmark: both series are made tz-naive here.
- it asks matplotlib for Arial hundreds of times on Linux: a font that exists is configured.
- its SVG figures get random ids unless ``svg.hashsalt`` is set: it is, so a tearsheet rebuilt
  from the same returns is the same page.

Drawing the fourteen figures is most of a tearsheet's time (about 2 of 2.6 CPU seconds here),
and they do not depend on one another. So ``write_tearsheet`` lets quantstats build the page as
usual, but each call it makes to ``quantstats.plots`` is sent to a worker process and a marker is
written where the figure goes; the markers are replaced by the workers' SVG once the page is
done. quantstats computes its metrics table (about 0.5 s) before the first figure, so the page is
built twice: a first pass without that table (0.05 s) only sends the figures off, and the second,
whose figure calls are the same, finds them already drawing while it computes the table. The
result is the page the serial call writes, byte for byte (``tests/test_tearsheet.py``). Workers
are forked, so where ``fork`` does not exist (Windows) the figures are drawn one after another.

This module imports neither pandas nor quantstats at load time: ``drain backtest`` calls
``import_plotting`` and ``write_tearsheet`` in a second process (``drain_cli.sidecar``), which
loads the plotting libraries while the first imports vectorbt.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
import signal
import warnings
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drain_core.conventions import PERIODS_PER_YEAR

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pandas as pd

SVG_SALT = "liquidity-drain"  # fixed SVG ids: the same returns give the same page


def import_plotting() -> None:
    """Import what a tearsheet needs (matplotlib, quantstats: about 2 s) and set a font that
    exists, quiet font warnings and reproducible SVG ids."""
    import matplotlib
    import quantstats  # noqa: F401

    matplotlib.rcParams["font.family"] = "DejaVu Sans"
    matplotlib.rcParams["svg.hashsalt"] = SVG_SALT
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)


def _draw_on_svg_canvas() -> None:
    """Figures are only ever saved as SVG: on the svg canvas, pyplot.savefig's redraw after
    saving does not rasterise the figure again (about 15% of the drawing time). Text is laid out
    with the svg canvas's metrics, so a tearsheet is always drawn on it, never on Agg."""
    import matplotlib.pyplot as plt

    plt.switch_backend("svg")


def default_workers() -> int:
    """Figure workers: one per core available to this process (at least 1)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, cores)


def _naive(series: pd.Series) -> pd.Series:
    import pandas as pd

    series = series.copy()
    index = pd.DatetimeIndex(series.index)
    series.index = index.tz_localize(None) if index.tz is not None else index
    return series.astype(float)


def write_tearsheet(returns: pd.Series, benchmark: pd.Series, path: Path, title: str, *,
                    workers: int | None = None) -> Path:
    """Write a quantstats HTML tearsheet of ``returns`` against ``benchmark`` to ``path``.

    ``workers`` processes draw the figures (default: one per core; 1 draws them in this process).
    """
    import_plotting()
    strategy = _naive(returns).rename("Strategy")
    bench = _naive(benchmark).reindex(strategy.index).fillna(0.0).rename("Benchmark")
    workers = default_workers() if workers is None else workers
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        import matplotlib.pyplot as plt

        backend = plt.get_backend()
        _draw_on_svg_canvas()
        try:
            _html(strategy, bench, Path(path), title)
        finally:
            plt.switch_backend(backend)
        return Path(path)
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context,
                             initializer=_start_figure_worker, initargs=(os.getpid(),)) as pool:
        figures = _FigureFarm(pool)
        with _replaced("_plots", figures):
            with _replaced("metrics", _no_metrics):
                _html(strategy, bench, Path(os.devnull), title)  # sends the figures off
            figures.rewind()
            _html(strategy, bench, Path(path), title)
        page = Path(path).read_text(encoding="utf-8")
        Path(path).write_text(figures.fill(page), encoding="utf-8")
    return Path(path)


def _html(strategy: pd.Series, bench: pd.Series, path: Path, title: str) -> None:
    import quantstats as qs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qs.reports.html(
            strategy,
            benchmark=bench,
            output=str(path),
            title=title,
            periods_per_year=PERIODS_PER_YEAR,
            download_filename=path.name,
        )


@contextmanager
def _replaced(name: str, stand_in: Any) -> Iterator[None]:
    """``quantstats.reports.<name>`` is ``stand_in`` for the duration of the block (``html``
    looks up its plots module through the ``_plots`` global and calls ``metrics`` by name)."""
    from quantstats import plots, reports

    if not hasattr(reports, name):
        raise RuntimeError(f"quantstats.reports has no {name}: this quantstats version is not "
                           f"supported by backtests.report.tearsheet (pinned: 0.0.86)")
    saved = getattr(reports, name)
    setattr(reports, name, stand_in)
    try:
        yield
    finally:
        setattr(reports, name, plots if name == "_plots" and saved is None else saved)


def _no_metrics(*args: Any, **kwargs: Any) -> pd.DataFrame:
    """An empty stand-in for ``quantstats.reports.metrics`` (a page whose table is discarded)."""
    import pandas as pd

    return pd.DataFrame({"": ["", "", ""]})


def _start_figure_worker(parent: int) -> None:
    """A figure worker leaves Ctrl-C to the process that started it (which then shuts the pool
    down), dies with that process, however it ends, and draws on the svg canvas."""
    from drain_core.lifeline import die_with_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(parent)
    _draw_on_svg_canvas()


def _draw(name: str, args: tuple, kwargs: dict[str, Any], fmt: str) -> bytes:
    """In a worker: draw ``quantstats.plots.<name>(*args, **kwargs)`` and return the file."""
    from quantstats import plots

    buffer = io.BytesIO()
    getattr(plots, name)(*args, savefig={"fname": buffer, "format": fmt}, **kwargs)
    return buffer.getvalue()


class _FigureFarm:
    """Stands in for ``quantstats.plots``: each figure is drawn by the pool, a marker is written
    where quantstats expects the figure's bytes, and ``fill`` puts the figures in. After
    ``rewind``, calls that repeat the earlier ones in order get the figures already sent."""

    def __init__(self, pool: ProcessPoolExecutor) -> None:
        self._pool = pool
        self._sent: list[tuple[tuple, str, str, Future[bytes]]] = []  # call, marker, fmt, figure
        self._used: list[int] = []
        self._next = 0

    def rewind(self) -> None:
        """Start matching calls against the figures sent so far, from the first."""
        self._next = 0
        self._used = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def plot(*args: Any, savefig: dict[str, Any], **kwargs: Any) -> None:
            fmt = savefig["format"]
            call = _fingerprint(name, fmt, *args, **kwargs)
            k = self._next
            if k >= len(self._sent) or self._sent[k][0] != call:  # not sent yet: send it now
                k = len(self._sent)
                future = self._pool.submit(_draw, name, args, kwargs, fmt)
                self._sent.append((call, f"<!--liquidity-drain figure {k}-->", fmt, future))
            self._next = k + 1
            self._used.append(k)
            savefig["fname"].write(self._sent[k][1].encode())

        return plot

    def fill(self, page: str) -> str:
        """``page`` with every marker replaced by its figure (as quantstats embeds it)."""
        from quantstats.reports import _embed_figure

        for k in self._used:
            _, marker, fmt, future = self._sent[k]
            if page.count(marker) != 1:
                raise RuntimeError(f"tearsheet figure marker {marker} found "
                                   f"{page.count(marker)} times in the page")
            page = page.replace(marker, _embed_figure(io.BytesIO(future.result()), fmt))
        return page


def _fingerprint(*args: Any, **kwargs: Any) -> tuple:
    """What a call was made with: pandas objects by name, dtype and a hash of their index and
    values (their pickles also carry internal caches, which differ between passes), anything
    else by ``repr``."""
    import pandas as pd

    def key(value: Any) -> Any:
        if isinstance(value, pd.Series | pd.DataFrame):
            names = value.name if isinstance(value, pd.Series) else tuple(value.columns)
            content = pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes()
            return type(value).__name__, names, str(getattr(value, "dtype", "")), content
        return repr(value)

    return tuple(key(a) for a in args), tuple(sorted((k, key(v)) for k, v in kwargs.items()))
