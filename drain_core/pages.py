"""Writing HTML pages with plotly figures, small: plotly.js once per reports folder.

A page in a run folder ``reports/<run>/`` loads plotly.js from ``../plotly-<version>.min.js``,
written once into the reports folder, so each page holds only its own data and a run folder
stays portable when copied with its parent. ``self_contained=True`` inlines plotly.js instead
(one file to mail, about 4.6 MB more). plotly is imported only when a page is written.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}


def plotly_file_name() -> str:
    """File name of the shared plotly.js, versioned so that pages never load another version."""
    import plotly

    return f"plotly-{plotly.__version__}.min.js"


def shared_plotly(reports_dir: Path) -> Path:
    """Write plotly.js into ``reports_dir`` unless it is there already (atomically)."""
    from plotly.offline import get_plotlyjs

    path = Path(reports_dir) / plotly_file_name()
    if not path.is_file():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(get_plotlyjs(), encoding="utf-8")
        os.replace(tmp, path)
    return path


def plotly_script(run_dir: Path, *, self_contained: bool = False) -> str:
    """The ``<script>`` element a page of ``run_dir`` loads plotly.js with: inlined, or a
    relative reference to the copy in ``run_dir``'s parent (written there if missing)."""
    if self_contained:
        from plotly.offline import get_plotlyjs

        return f"<script type='text/javascript'>{get_plotlyjs()}</script>"
    shared_plotly(Path(run_dir).resolve().parent)
    return f"<script src='../{plotly_file_name()}'></script>"


def figure_div(fig: Any) -> str:
    """A plotly figure as a ``<div>`` for a page that loads plotly.js itself."""
    return fig.to_html(full_html=False, include_plotlyjs=False, config=PLOTLY_CONFIG)


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
