"""quantstats HTML tearsheets, with the traps of quantstats 0.0.86 handled in one place.

- quantstats annualises with 252 periods; so does the engine (vectorbt's year_freq is set to
  252 days in ``backtests.sim.engine``), so the two agree.
- it crashes on a timezone-aware benchmark: both series are made tz-naive here.
- it asks matplotlib for Arial hundreds of times on Linux: a font that exists is configured.
- its SVG figures get random ids unless ``svg.hashsalt`` is set: it is, so a tearsheet rebuilt
  from the same returns is the same page.
- its risk-adjusted figures would count interest on idle cash as performance, and its ``rf``
  argument also turns CAGR into an excess CAGR and offsets the benchmark alone: so the page is
  built on total returns, and the rows Sharpe, Sortino, Omega, win days and streaks of its
  metrics table, and the rolling Sharpe and Sortino figures, are recomputed on returns in excess
  of the cash return the engine credited (``cash_returns``). "Time in Market" is the share of
  sessions with a position (from the weights, ``exposure``), not of non-zero returns.
- its "Information Ratio" row is not annualised: it is replaced by the annualised one
  (``backtests.stats.performance.information_ratio``), as every other page shows.
- its year-by-year bars are misplaced (labels crowded left): ``backtests.report.yearly_chart``
  draws that figure instead.
- its page calls an undefined ``save()`` on load (a console error): the call is removed.

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

import html
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
# quantstats metrics rows recomputed on excess returns
EXCESS_ROWS = ("Sharpe", "Prob. Sharpe Ratio", "Smart Sharpe", "Sortino", "Smart Sortino",
               "Sortino/\u221a2", "Smart Sortino/\u221a2", "Omega", "Max Consecutive Wins",
               "Max Consecutive Losses", "Win Days")
EXCESS_FIGURES = ("rolling_sharpe", "rolling_sortino")
FLAT = 1e-12  # an excess return this small is a flat session's rounding, counted as zero


def import_plotting() -> None:
    """Import what a tearsheet needs (matplotlib, quantstats: about 2 s) and set a font that
    exists, quiet font warnings and reproducible SVG ids."""
    import matplotlib
    import quantstats  # noqa: F401

    matplotlib.rcParams["font.family"] = "DejaVu Sans"
    matplotlib.rcParams["svg.hashsalt"] = SVG_SALT
    matplotlib.rcParams["svg.fonttype"] = "none"  # text as text, not glyph paths: smaller
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
                    workers: int | None = None, cash_returns: pd.Series | None = None,
                    exposure: pd.Series | None = None, benchmark_name: str | None = None,
                    cash_label: str = "the cash rate") -> Path:
    """Write a quantstats HTML tearsheet of ``returns`` against ``benchmark`` to ``path``.

    ``cash_returns``: the daily cash return the engine credited; when given, the risk-adjusted
    rows and rolling ratios are of returns in excess of it, and the page names ``cash_label``.
    ``exposure``: gross exposure held at each close, for "Time in Market".
    ``benchmark_name`` (default: the benchmark's name) labels the benchmark.
    ``workers`` processes draw the figures (default: one per core; 1 draws them in this process).
    """
    import_plotting()
    strategy = _naive(returns).rename("Strategy")
    name = benchmark_name or (str(benchmark.name) if benchmark.name else "Benchmark")
    bench = _naive(benchmark).reindex(strategy.index).fillna(0.0).rename(name)
    sheet = _Sheet(title, cash_label,
                   None if cash_returns is None else _naive(cash_returns),
                   None if exposure is None else _naive(exposure))
    workers = default_workers() if workers is None else workers
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        import matplotlib.pyplot as plt
        from quantstats import plots

        backend = plt.get_backend()
        _draw_on_svg_canvas()
        try:
            with _replaced("_plots", sheet.figures(_OwnFigures(plots))), \
                    _replaced("metrics", sheet.metrics()):
                _html(strategy, bench, Path(path), title)
        finally:
            plt.switch_backend(backend)
        sheet.finish(Path(path))
        return Path(path)
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context,
                             initializer=_start_figure_worker, initargs=(os.getpid(),)) as pool:
        figures = _FigureFarm(pool)
        with _replaced("_plots", sheet.figures(figures)):
            with _replaced("metrics", _no_metrics):
                _html(strategy, bench, Path(os.devnull), title)  # sends the figures off
            figures.rewind()
            with _replaced("metrics", sheet.metrics()):
                _html(strategy, bench, Path(path), title)
        page = Path(path).read_text(encoding="utf-8")
        Path(path).write_text(figures.fill(page), encoding="utf-8")
    sheet.finish(Path(path))
    return Path(path)


class _Sheet:
    """What this project changes in a quantstats page: excess-return rows and rolling ratios,
    time in market from the weights, the cash rate named, no undefined ``save()``."""

    def __init__(self, title: str, cash_label: str, cash: pd.Series | None,
                 exposure: pd.Series | None) -> None:
        self.title, self.cash_label, self.cash, self.exposure = title, cash_label, cash, exposure

    def excess(self, series: pd.Series) -> pd.Series:
        """``series`` less the cash return on its sessions; flat sessions' rounding is zero."""
        if self.cash is None:
            return series
        out = series - self.cash.reindex(series.index).fillna(0.0)
        return out.where(out.abs() > FLAT, 0.0).rename(series.name)

    def figures(self, base: Any) -> Any:
        """``base`` (the plots module or the figure farm) with rolling ratios on excess
        returns."""
        return _ExcessFigures(base, self) if self.cash is not None else base

    def metrics(self) -> Any:
        """A stand-in for ``quantstats.reports.metrics`` that recomputes the risk-adjusted rows
        on excess returns and time in market from the exposure."""
        from quantstats import reports

        real = reports.metrics

        def metrics(*args: Any, returns: pd.Series, benchmark: pd.Series | None = None,
                    **kwargs: Any) -> pd.DataFrame:
            table = real(*args, returns=returns, benchmark=benchmark, **kwargs)
            strategy = returns.name
            if self.cash is not None:
                # the page's dates are already matched; matching again would drop the flat
                # sessions a strategy starts with (zero excess return)
                over = real(*args, returns=self.excess(returns),
                            benchmark=None if benchmark is None else self.excess(benchmark),
                            **{**kwargs, "match_dates": False})
                rows = [r for r in EXCESS_ROWS if r in table.index and r in over.index]
                table.loc[rows] = over.loc[rows]
                if "Risk-Free Rate" in table.index:
                    from backtests.stats.performance import cagr

                    cash = self.cash.reindex(returns.index).fillna(0.0)
                    rate = cagr(cash) if len(cash) else 0.0
                    table.loc["Risk-Free Rate"] = f"{rate:.1%}"
            if benchmark is not None and "Information Ratio" in table.index:
                from backtests.stats.performance import information_ratio

                ratio = information_ratio(returns.to_numpy(),
                                          benchmark.reindex(returns.index).fillna(0.0).to_numpy())
                table.loc["Information Ratio", strategy] = f"{ratio:.2f}"
                table.loc["Information Ratio", benchmark.name] = "-"
            if self.exposure is not None and "Time in Market" in table.index:
                held = self.exposure.reindex(returns.index).fillna(0.0).abs() > 1e-9
                table.loc["Time in Market", strategy] = f"{held.mean():.1%}"
            return table

        return metrics

    def finish(self, path: Path) -> None:
        """Name the rate subtracted under the title; drop the page's undefined ``save()``."""
        page = path.read_text(encoding="utf-8")
        page = page.replace('<body onload="save()">', "<body>")
        if self.cash is not None:
            note = (f"Sharpe, Sortino, Omega, win days, streaks and the rolling ratios are of "
                    f"daily returns in excess of {self.cash_label} (the cash return the "
                    f"backtest credited; Risk-Free Rate row: its annual rate over the window). "
                    f"Cumulative return, CAGR and drawdowns are total.")
            page = page.replace("RF: 0.0%", f"RF: {html.escape(self.cash_label)}", 1)
            page = page.replace("</h1>", f"</h1><p style='font-size:12px;color:#555'>"
                                f"{html.escape(note)}</p>", 1)
        path.write_text(page, encoding="utf-8")


class _OwnFigures:
    """``quantstats.plots`` with the figures this project draws itself."""

    def __init__(self, base: Any) -> None:
        self._base = base

    def __getattr__(self, name: str) -> Any:
        return _figure(name) if not name.startswith("_") else getattr(self._base, name)


def _figure(name: str) -> Any:
    """The function that draws quantstats figure ``name``: ours where quantstats' is wrong."""
    from quantstats import plots

    from backtests.report import yearly_chart

    return yearly_chart.yearly_returns if name == "yearly_returns" else getattr(plots, name)


class _ExcessFigures:
    """Passes every figure call through to ``base``; rolling ratios get excess returns."""

    def __init__(self, base: Any, sheet: _Sheet) -> None:
        self._base, self._sheet = base, sheet

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._base, name)
        if name not in EXCESS_FIGURES:
            return target

        def plot(returns: pd.Series, *args: Any, **kwargs: Any) -> Any:
            return target(self._sheet.excess(returns), *args, **kwargs)

        return plot


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
    buffer = io.BytesIO()
    _figure(name)(*args, savefig={"fname": buffer, "format": fmt}, **kwargs)
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
