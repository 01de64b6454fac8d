"""Writing HTML pages with plotly figures, small: plotly.js once per reports folder.

A page in a run folder ``reports/<run>/`` loads plotly.js from ``../plotly-<version>.min.js``,
written once into the reports folder, so each page holds only its own data and a run folder
stays portable when copied with its parent. ``self_contained=True`` inlines plotly.js instead
(one file to mail, about 4.6 MB more). plotly is imported only when a page is written.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from drain_core.fs import write_text

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}


def plotly_file_name() -> str:
    """File name of the shared plotly.js, versioned so that pages never load another version
    (the installed version, read without importing plotly: the CLI checks run names with it)."""
    from importlib import metadata

    return f"plotly-{metadata.version('plotly')}.min.js"


def shared_plotly(reports_dir: Path) -> Path:
    """Write plotly.js into ``reports_dir`` unless it is there already (atomically)."""
    from plotly.offline import get_plotlyjs

    path = Path(reports_dir) / plotly_file_name()
    if not path.is_file():  # atomic, nothing partial left on a full disk (drain_core.fs)
        write_text(path, get_plotlyjs(), "write the shared plotly.js")
    return path


def plotly_script(run_dir: Path, *, self_contained: bool = False) -> str:
    """The ``<script>`` element a page of ``run_dir`` loads plotly.js with: inlined, or a
    relative reference to the copy in ``run_dir``'s parent (written there if missing)."""
    if self_contained:
        from plotly.offline import get_plotlyjs

        return f"<script type='text/javascript'>{get_plotlyjs()}</script>"
    shared_plotly(Path(run_dir).resolve().parent)
    return f"<script src='../{plotly_file_name()}'></script>"


def compact(fig: Any) -> Any:
    """``fig`` with its arrays sent small: dates at midnight as ``YYYY-MM-DD`` text (plotly
    writes them with nanoseconds otherwise) and float64 arrays as float32, seven significant
    digits, plenty for a chart (plotly sends both as binary arrays). Changes ``fig`` in place."""
    import numpy as np

    for trace in fig.data:
        for key in ("x", "y", "z"):
            values = getattr(trace, key, None) if key in trace else None
            if not isinstance(values, np.ndarray):
                continue
            if values.dtype.kind == "M":
                days = values.astype("datetime64[D]")
                if (days == values).all():
                    trace[key] = np.datetime_as_string(days).astype(object)
            elif values.dtype == np.float64:
                trace[key] = values.astype(np.float32)
    return fig


def figure_div(fig: Any) -> str:
    """A plotly figure as a ``<div>`` (compacted) for a page that loads plotly.js itself."""
    return compact(fig).to_html(full_html=False, include_plotlyjs=False, config=PLOTLY_CONFIG)


def write_page(path: Path, title: str, body: str, *, run_dir: Path | None = None,
               self_contained: bool = False, css: str = "") -> Path:
    """Write a full HTML page: ``body`` (HTML, plotly divs included) under ``title``.

    ``run_dir``: the run folder the page belongs to (default: the page's folder); plotly.js
    is referenced from its parent unless ``self_contained``."""
    path = Path(path)
    script = plotly_script(run_dir or path.parent, self_contained=self_contained)
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{css}</style>{script}</head>"
            f"<body>{body}</body></html>")
    path.write_text(page, encoding="utf-8")
    return path


def write_figure(fig: Any, path: Path, *, run_dir: Path | None = None,
                 self_contained: bool = False) -> Path:
    """Write one plotly figure as a page (its layout title is the page title)."""
    title = fig.layout.title.text or Path(path).stem
    return write_page(path, title, figure_div(fig), run_dir=run_dir,
                      self_contained=self_contained)


def column_decimals(values) -> int:
    """Decimals that show about three significant digits of a column's typical magnitude
    (its median absolute non-zero value), between 0 and 7: 0.0000615, 0.482, 12.3, 1,234."""
    import math

    magnitudes = sorted(abs(float(v)) for v in values
                        if v is not None and v == v and math.isfinite(float(v)) and v != 0)
    if not magnitudes:
        return 2
    typical = magnitudes[len(magnitudes) // 2]
    return max(0, min(7, 2 - math.floor(math.log10(typical))))


def format_number(value: float) -> str:
    """One number with about three significant digits, never an exponent; a dash if missing."""
    import math

    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:,.{column_decimals([value])}f}"


def table_html(frame: Any, *, css_class: str = "tbl") -> str:
    """A pandas table as HTML a reader can scan: numbers formatted per column (no exponents,
    thousands separated), dates as YYYY-MM-DD, a default 0, 1, 2... index dropped, column
    names with spaces, missing values as a dash; text cells carry class ``txt`` (to align
    them left)."""
    import numbers

    import pandas as pd

    shown = frame.copy()
    default_index = (isinstance(shown.index, pd.RangeIndex) and shown.index.start == 0
                     and shown.index.step == 1 and shown.index.name is None)
    if not default_index:
        if isinstance(shown.index, pd.DatetimeIndex):
            shown.index = shown.index.strftime("%Y-%m-%d")
        shown = shown.reset_index()
    head = "".join(f"<th>{html.escape(str(c).replace('_', ' '))}</th>" for c in shown.columns)
    columns, text = [], []
    for name in shown.columns:
        text.append(not pd.api.types.is_numeric_dtype(shown[name])
                    or pd.api.types.is_bool_dtype(shown[name]))
        col = shown[name]
        if pd.api.types.is_datetime64_any_dtype(col):
            columns.append([("–" if pd.isna(v) else f"{v:%Y-%m-%d}") for v in col])
        elif pd.api.types.is_bool_dtype(col):
            columns.append(["yes" if v else "no" for v in col])
        elif pd.api.types.is_integer_dtype(col):
            columns.append([f"{int(v):,}" for v in col])
        elif pd.api.types.is_float_dtype(col):
            places = column_decimals(col.to_numpy())
            columns.append([("–" if not pd.notna(v) or v in (float("inf"), float("-inf"))
                             else f"{v:,.{places}f}") for v in col])
        else:
            columns.append([_cell(v, numbers) for v in col])
    tags = ["<td class='txt'>" if is_text else "<td>" for is_text in text]
    rows = "".join("<tr>" + "".join(f"{tag}{html.escape(cells[i])}</td>"
                                    for tag, cells in zip(tags, columns, strict=True))
                   + "</tr>" for i in range(len(shown)))
    return f"<table class='{css_class}'><tr>{head}</tr>{rows}</table>"


def _cell(value: Any, numbers: Any) -> str:
    """One cell of an object column: numbers with four significant digits, no exponent."""
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        return format_number(float(value))
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d")
    return str(value)
