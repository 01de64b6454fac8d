"""Write a thesis run as ``index.html`` and JSON.

The page loads plotly.js from the reports folder (``drain_core.pages``), or inlines it when
written self-contained; its tables are formatted per column (no exponents, no 0/1/2 index).

Every statistic of every claim goes into the JSON, NaN and infinities as ``null``. The HTML shows
the verdicts first (claims and counter-evidence side by side), the verdict rule, then one section
per claim: its statement, headline, sub-tests, charts, tables and caveats.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from drain_core.pages import figure_div, format_number, table_html, write_page
from thesis.result import COMBINE_RULE, SUBTEST_RULE, ClaimResult, SubTest

BADGE = {"supported": "#2ca02c", "mixed": "#e6a100", "not supported": "#d62728",
         "insufficient data": "#7f7f7f"}
LONG_TABLE = 25


# --- JSON -------------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """Recursively turn pandas/numpy values into JSON types; NaN and infinities become None."""
    if isinstance(value, pd.DataFrame):
        frame = value.copy()
        index = frame.index
        default = (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
                   and index.name is None)
        if not default:
            frame = frame.reset_index()
        frame.columns = [str(c) for c in frame.columns]
        return [jsonable(r) for r in frame.to_dict(orient="records")]
    if isinstance(value, pd.Series):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, SubTest):
        return jsonable(value.to_dict())
    if hasattr(value, "to_dict") and not isinstance(value, type):
        return jsonable(value.to_dict())
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date):
        return None if pd.isna(value) else pd.Timestamp(value).date().isoformat()
    if isinstance(value, pd.Period):
        return str(value)
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, int | str):
        return value
    return str(value)


def claim_json(claim: ClaimResult) -> dict[str, Any]:
    """One claim's verdict, headline, sub-tests, statistics and tables."""
    return {"key": claim.key, "title": claim.title, "claim": claim.claim,
            "counter_evidence": claim.counter_evidence, "verdict": claim.verdict,
            "headline": claim.headline, "reason": claim.reason or None,
            "subtests": jsonable(claim.subtests), "stats": jsonable(claim.stats),
            "tables": {name: jsonable(frame) for name, frame in claim.tables.items()},
            "notes": claim.notes}


def thesis_json(claims: list[ClaimResult], meta: dict[str, Any]) -> dict[str, Any]:
    """The whole JSON document."""
    return {"meta": jsonable(meta), "rule": {"subtest": SUBTEST_RULE, "claim": COMBINE_RULE},
            "claims": [claim_json(c) for c in claims]}


# --- HTML -------------------------------------------------------------------------------------

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;margin:auto;
padding:1em 2em;color:#222;line-height:1.45}
h1{margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
.badge{display:inline-block;padding:.15em .6em;border-radius:.8em;color:#fff;font-weight:600;
font-size:.9em;white-space:nowrap}
table.tbl{border-collapse:collapse;font-size:.85em;margin:.6em 0}
table.tbl th,table.tbl td{border:1px solid #ddd;padding:.25em .5em;text-align:right}
table.tbl th{background:#f5f5f5} table.tbl td:first-child,table.tbl td.txt{text-align:left}
.claim{font-style:italic;color:#444} .headline{font-size:1.1em;font-weight:600}
.counter{border-left:6px solid #d62728;padding-left:1em}
.support{border-left:6px solid #1f77b4;padding-left:1em}
.box{background:#fff4f4;border:1px solid #f0c0c0;padding:.6em 1em;border-radius:.4em}
.rule{background:#f7f7f7;padding:.6em 1em;border-radius:.4em;font-size:.9em}
.reason{color:#a00} .meta{color:#666;font-size:.9em}
"""


def _badge(verdict: str) -> str:
    return (f'<span class="badge" style="background:{BADGE.get(verdict, "#444")}">'
            f"{html.escape(verdict)}</span>")


def _fmt(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return format_number(float(value))
    if isinstance(value, pd.Timestamp):
        return str(value.date())
    return html.escape(str(value))


def _table(frame: pd.DataFrame) -> str:
    return table_html(frame, css_class="tbl")


def _subtests(claim: ClaimResult) -> str:
    if not claim.subtests:
        return ""
    rows = []
    for s in claim.subtests:
        ci = f"[{_fmt(s.ci_low)}, {_fmt(s.ci_high)}]" if math.isfinite(s.ci_low) else "–"
        sign = "+" if s.expected_sign > 0 else "−"
        rows.append(f"<tr><td>{html.escape(s.name)}</td><td>{sign}</td><td>{_fmt(s.estimate)}"
                    f"</td><td>{_fmt(s.t)}</td><td>{ci}</td><td>{s.n}</td>"
                    f"<td>{_badge(s.verdict)}</td><td>{html.escape(s.reason)}</td></tr>")
    return ('<table class="tbl"><tr><th>sub-test</th><th>claimed sign</th><th>estimate</th>'
            "<th>t</th><th>95% interval</th><th>n</th><th>verdict</th><th>note</th></tr>"
            + "".join(rows) + "</table>")


def _section(claim: ClaimResult) -> str:
    cls = "counter" if claim.counter_evidence else "support"
    parts = [f'<section id="{claim.key}" class="{cls}">',
             f"<h2>{html.escape(claim.title)} {_badge(claim.verdict)}</h2>",
             f'<p class="claim">{html.escape(claim.claim)}</p>',
             f'<p class="headline">{html.escape(claim.headline)}</p>']
    if claim.reason:
        parts.append(f'<p class="reason">Insufficient data: {html.escape(claim.reason)}</p>')
    parts.append(_subtests(claim))
    for fig in claim.figures:
        parts.append(figure_div(fig))
    for name, frame in claim.tables.items():
        if frame is None or len(frame) == 0:
            continue
        table = _table(frame)
        if len(frame) > LONG_TABLE:
            parts.append(f"<details><summary>{html.escape(name)} ({len(frame)} rows)</summary>"
                         f"{table}</details>")
        else:
            parts.append(f"<h4>{html.escape(name)}</h4>{table}")
    if claim.notes:
        parts.append("<h4>Caveats</h4><ul>" + "".join(f"<li>{html.escape(n)}</li>"
                                                      for n in claim.notes) + "</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def _summary(claims: list[ClaimResult]) -> str:
    rows = []
    for c in claims:
        kind = "counter-evidence" if c.counter_evidence else "claim"
        rows.append(f'<tr><td><a href="#{c.key}">{html.escape(c.title)}</a></td><td>{kind}</td>'
                    f"<td>{html.escape(c.headline)}</td><td>{_badge(c.verdict)}</td></tr>")
    return ('<table class="tbl"><tr><th>claim</th><th>kind</th><th>headline statistic</th>'
            "<th>verdict</th></tr>" + "".join(rows) + "</table>")


def _failures(claims: list[ClaimResult]) -> str:
    items = [f'<li><a href="#{c.key}">{html.escape(c.title)}</a>: {html.escape(c.headline)} '
             f"{_badge(c.verdict)}</li>" for c in claims if c.counter_evidence]
    against = [f'<li><a href="#{c.key}">{html.escape(c.title)}</a>: '
               f"{html.escape(c.headline)}</li>"
               for c in claims if not c.counter_evidence and c.verdict == "not supported"]
    body = "<ul>" + "".join(items + against) + "</ul>"
    return f'<div class="box"><h3>Evidence against the thesis</h3>{body}</div>'


def render_body(claims: list[ClaimResult], meta: dict[str, Any]) -> str:
    """The page's body: verdicts, rule, data notes, one section per claim, configuration."""
    info = (f"Window {meta.get('start')} to {meta.get('end')} ({meta.get('sessions')} sessions); "
            f"data fingerprint {meta.get('dataset_fingerprint')}; generated "
            f"{meta.get('generated_at')}.")
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in meta.get("notes", []))
    body = [
        "<h1>liquidity-drain: the thesis, claim by claim, for and against</h1>",
        f'<p class="meta">{html.escape(info)}</p>',
        "<h2>Verdicts</h2>", _summary(claims), _failures(claims),
        f'<div class="rule"><b>How a verdict is decided.</b> {html.escape(SUBTEST_RULE)} '
        f"{html.escape(COMBINE_RULE)}</div>",
    ]
    if notes:
        body.append(f"<h3>Data notes</h3><ul>{notes}</ul>")
    body += [_section(c) for c in claims]
    config = html.escape(json.dumps(jsonable(meta.get("config", {})), indent=1))
    body.append(f"<h2>Configuration</h2><details><summary>parameters of this run</summary>"
                f"<pre>{config}</pre></details>")
    return "\n".join(body)


def write_report(claims: list[ClaimResult], folder: Path, meta: dict[str, Any], *,
                 self_contained: bool = False) -> None:
    """Write ``index.html`` (plotly.js from ``folder``'s parent unless ``self_contained``) and
    ``thesis.json`` into ``folder``."""
    folder = Path(folder)
    document = thesis_json(claims, meta)
    (folder / "thesis.json").write_text(json.dumps(document, indent=1, allow_nan=False) + "\n",
                                        encoding="utf-8")
    write_page(folder / "index.html", "liquidity-drain thesis", render_body(claims, meta),
               run_dir=folder, self_contained=self_contained, css=CSS)
