"""Every page the project writes, opened in headless Chromium: no JavaScript error, and every
plotly figure drawn with data.

The pages of the demo backtest, a small tune (``--sample``), the signal and the thesis are
written into one reports folder and each is loaded from disk (``file://``, the shared
``../plotly-<version>.min.js`` included). Chromium prints the page's console to stderr
(``--enable-logging=stderr``) and the DOM after its scripts ran (``--dump-dom``): a figure
holds data when plotly drew a line, a bar, a marker or a heatmap image in its div.
Skipped, with the reason, only where no Chromium is installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from drain_cli.main import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH "
                                "(apt-get install -y chromium; .ci/run does)")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=8000", "--dump-dom")
CONSOLE = re.compile(r'INFO:CONSOLE[^\]]*\] "(?P<message>.*)", source: (?P<source>\S*)')
SMALL_TUNE = """
[tune]
bootstrap_reps = 100

[tune.walkforward]
train = 250
test = 126

[tune.grid.signal]
hysteresis = [0.05, 0.15]

[tune.grid.strategy]
rebalance = ["weekly", "monthly"]
"""
MARKS = ("js-line", "point", "box", "js-fill", "bartext", "hm")  # plotly's data marks
TAG = re.compile(r"<(?:path|g|image)\b[^>]*>")


def drawn(figure: str) -> bool:
    """Whether plotly drew any data mark (a line, bar, marker, box or heatmap) in ``figure``."""
    for tag in TAG.findall(figure):
        classes = re.search(r'class="([^"]*)"', tag)
        if classes and set(classes[1].split()) & set(MARKS):
            path = re.search(r' d="M([^"]*)"', tag)
            if path is None and tag.startswith("<path"):
                continue
            if path is None or len(path[1]) > 4:
                return True
    return False


def open_page(page: Path, profile: Path) -> tuple[str, list[str]]:
    """The DOM after the page's scripts ran, and its console errors."""
    done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)
    errors = [f"{m['message']} ({m['source']})" for m in CONSOLE.finditer(done.stderr)
              if "error" in m["message"].lower() or "uncaught" in m["message"].lower()]
    return done.stdout, errors


def figures(dom: str) -> list[str]:
    """The rendered HTML of each plotly figure in ``dom``."""
    starts = [m.start() for m in re.finditer(r'<div[^>]*class="[^"]*plotly-graph-div', dom)]
    return [dom[a:b] for a, b in zip(starts, [*starts[1:], len(dom)][:len(starts)], strict=True)]


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("browser") / "reports"
    tune_config = root.parent / "tune.toml"
    tune_config.write_text(SMALL_TUNE)
    old = os.environ.get("DRAIN_REPORTS_DIR")
    os.environ["DRAIN_REPORTS_DIR"] = str(root)
    try:
        assert main(["backtest", "--name", "demo"]) == 0
        assert main(["thesis", "--name", "thesis", "--reps", "50"]) == 0
        assert main(["signal", "--name", "signal"]) == 0
        assert main(["tune", "--config", str(tune_config), "--sample", "3", "--start",
                     "2019-01-02", "--end", "2021-12-31", "--name", "tune",
                     "--no-progress"]) == 0
    finally:
        if old is None:
            os.environ.pop("DRAIN_REPORTS_DIR")
        else:
            os.environ["DRAIN_REPORTS_DIR"] = old
    return root


def test_every_page_loads_without_errors_and_every_figure_holds_data(reports, tmp_path):
    pages = sorted(reports.rglob("*.html"))
    names = {p.relative_to(reports).as_posix() for p in pages}
    assert {"index.html", "demo/report.html", "demo/tearsheet.html", "thesis/index.html",
            "signal/signal.html", "tune/overfitting.html"} <= names
    empty, broken = [], {}
    for page in pages:
        dom, errors = open_page(page, tmp_path / "profile")
        if errors:
            broken[page.name] = errors
        for k, figure in enumerate(figures(dom)):
            if not drawn(figure):
                empty.append(f"{page.relative_to(reports)} figure {k}")
        source = page.read_text(encoding="utf-8")
        assert source.count("Plotly.newPlot") == len(figures(dom)), page  # every figure drawn
    assert not broken, broken
    assert not empty, empty


def test_report_page_shows_the_tables_and_all_five_figures(reports, tmp_path):
    dom, _ = open_page(reports / "demo" / "report.html", tmp_path / "profile")
    assert len(figures(dom)) == 5
    for text in ("Headline statistics", "Strategy by regime", "in excess of the 13-week T-bill",
                 "BTC-USD: price data ends", "Resolved configuration"):
        assert text in dom, text
    assert dom.count("regime: scarce") >= 3  # a shading legend on equity, drawdown, composite
    source = (reports / "demo" / "report.html").read_text()
    assert source.count('"type":"rect"') >= 3 * 3  # shading drawn on those three figures


def test_the_check_sees_a_script_error_and_a_figure_without_data(tmp_path):
    import plotly.graph_objects as go

    from drain_core.pages import figure_div, write_page

    run = tmp_path / "reports" / "run"
    run.mkdir(parents=True)
    body = (figure_div(go.Figure(go.Scatter(x=[1, 2, 3], y=[1, 3, 2])))
            + figure_div(go.Figure()) + "<script>notDefined()</script>")
    page = write_page(run / "page.html", "t", body)
    dom, errors = open_page(page, tmp_path / "profile")
    assert [drawn(f) for f in figures(dom)] == [True, False]
    assert any("notDefined is not defined" in e for e in errors), errors
