"""``report.html``: a backtest run on one screen, built from the run folder's files.

At the top: the window, the cash rate subtracted, the headline statistics of the strategy and
its benchmarks, the per-regime table and the data notes. Below: equity and drawdown shaded by
the regime known at the previous close, the composite over the speculative-minus-cash-flow
spread, exposure and contributions, each its own figure with its own legend; every series has
its own colour. The resolved configuration closes the page.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from backtests.report.integrity import read_run_csv
from drain_core.conventions import REGIME_COLOURS, REGIMES
from drain_core.pages import figure_div, write_page
from signals.plots import regime_runs


def _rgba(colour: str, alpha: float) -> str:
    """``#rrggbb`` as plotly's ``rgba(r,g,b,alpha)``."""
    red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha:.2f})"


# the regime colours, faint, behind the data (the abundant regime fainter still)
REGIME_SHADES = {name: _rgba(REGIME_COLOURS[name], alpha)
                 for name, alpha in zip(REGIMES, (0.10, 0.14, 0.14), strict=True)}
# one colour per series on the whole page (never two series sharing one)
FIXED_COLOURS = {"strategy": "#111111", "SPY": "#1f77b4", "60/40": "#9467bd",
                 "composite": "#e377c2", "spread": "#17becf", "gross": "#2ca02c",
                 "net": "#8c564b", "costs_and_cash": "#7f7f7f", "hedge_and_other": "#bcbd22"}
SPARE_COLOURS = ("#ff7f0e", "#d62728", "#1a55a8", "#aec7e8", "#98df8a", "#c5b0d5")
HEADLINE = (("Total return", "total_return", "pct"), ("CAGR", "cagr", "pct"),
            ("Volatility", "volatility", "pct"), ("Sharpe", "sharpe", "num"),
            ("Sortino", "sortino", "num"), ("Information ratio vs SPY", "information_ratio", "num"),
            ("Max drawdown", "max_drawdown", "pct"), ("Calmar", "calmar", "num"),
            ("Time in market", "time_in_market", "pct"),
            ("Gross exposure", "gross_exposure", "num"), ("Turnover / year", "turnover", "num"))
REGIME_COLUMNS = (("Share of days", "share", "pct"),
                  ("Excess return / yr", "excess_return", "pct"),
                  ("Volatility", "volatility", "pct"), ("Sharpe", "sharpe", "num"),
                  ("Hit rate", "hit_rate", "pct"), ("Worst drawdown", "max_drawdown", "pct"))
CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0 1.2em;color:#222;
font-size:13px} h1{font-size:1.35em;margin:.5em 0 .1em} h2{font-size:1.05em;margin:.8em 0 .3em}
.meta{color:#555;margin:.1em 0} .grid{display:grid;grid-template-columns:fit-content(700px) 1fr;
gap:0 1.2em;align-items:start} table{border-collapse:collapse;margin:.2em 0}
td,th{border-bottom:1px solid #e3e3e3;padding:2px 7px;text-align:right;white-space:nowrap}
th{background:#f5f5f5} td:first-child,th:first-child{text-align:left}
.ci{color:#888;font-size:.85em} .note{background:#fff6e5;border-left:4px solid #ff7f0e;
padding:.3em .8em;margin:.4em 0} pre{background:#f7f7f7;padding:.6em;font-size:11px}
"""


def colours_for(names: list[str]) -> dict[str, str]:
    """A distinct colour for each series name (fixed ones for the usual names)."""
    used = set(FIXED_COLOURS.values())
    spare = iter(c for c in SPARE_COLOURS if c not in used)
    return {n: FIXED_COLOURS.get(n) or next(spare) for n in names}


def _fmt(value, kind: str) -> str:
    if value is None or value != value:
        return "–"
    return f"{value:.1%}" if kind == "pct" else f"{value:.2f}"


def headline_table(statistics: dict[str, dict[str, float]]) -> str:
    """Rows: statistics; columns: the strategy and each benchmark."""
    names = list(statistics)
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    for label, key, kind in HEADLINE:
        if not any(key in statistics[n] for n in names):
            continue
        cells = "".join(f"<td>{_fmt(statistics[n].get(key), kind)}</td>" for n in names)
        rows.append(f"<tr><td>{label}</td>{cells}</tr>")
    return f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>"


def regime_html(regimes: dict[str, dict[str, float]]) -> str:
    """One row per regime, each statistic over its bootstrap interval."""
    head = "".join(f"<th>{label}</th>" for label, _, _ in REGIME_COLUMNS)
    rows = []
    for regime, row in regimes.items():
        cells = "".join(
            f"<td>{_fmt(row.get(k), kind)}<br><span class='ci'>[{_fmt(row.get(k + '_low'), kind)}"
            f", {_fmt(row.get(k + '_high'), kind)}]</span></td>" for _, k, kind in REGIME_COLUMNS)
        rows.append(f"<tr><td><span style='color:{REGIME_COLOURS.get(regime, '#444')}'>&#9632;"
                    f"</span> {html.escape(regime)}</td>{cells}</tr>")
    return f"<table><tr><th>regime</th>{head}</tr>{''.join(rows)}</table>"


def _shade(fig: go.Figure, regime: pd.Series) -> None:
    """Regime shading behind the data (added after the traces: plotly drops shapes on axes that
    have no trace yet), with one legend entry per regime."""
    shades = [{"type": "rect", "xref": "x", "yref": "y domain", "x0": first, "x1": last,
               "y0": 0, "y1": 1, "fillcolor": REGIME_SHADES.get(name, "white"),
               "line": {"width": 0}, "layer": "below"}
              for first, last, name in regime_runs(regime.dropna())]
    fig.update_layout(shapes=[*fig.layout.shapes, *shades])  # one update: add_vrect is slow
    for name, colour in REGIME_COLOURS.items():
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=f"regime: {name}",
                                 marker={"color": colour, "symbol": "square", "size": 11,
                                         "opacity": 0.35}, hoverinfo="skip"))


def _line(x: pd.Index, y: pd.Series, name: str, colour: str, width: float = 1.2,
          **kwargs) -> go.Scatter:
    """A line trace sent small: dates as YYYY-MM-DD, values as float32 (plotly's binary
    arrays), which keeps a page of a dozen daily series near 1 MB."""
    return go.Scatter(x=pd.DatetimeIndex(x).strftime("%Y-%m-%d").to_numpy(dtype=object),
                      y=y.to_numpy(dtype="float32"), name=name,
                      line={"color": colour, "width": width}, **kwargs)


def _figure(title: str, height: int, y_title: str = "") -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title={"text": title, "font": {"size": 13}, "y": 0.98, "yanchor": "top"},
                      height=height, template="plotly_white", hovermode="x unified",
                      margin={"l": 55, "r": 20, "t": 58, "b": 25},
                      legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0.0,
                              "font": {"size": 11}})
    fig.update_yaxes(title_text=y_title)
    return fig


def run_figures(equity: pd.DataFrame, weights: pd.DataFrame, signal: pd.DataFrame,
                contributions: pd.DataFrame, baskets: pd.DataFrame | None) -> list[go.Figure]:
    """Equity, drawdown, composite over the spread, exposure and contributions."""
    regime = signal["regime"].shift(1)  # known at the previous close
    colours = colours_for([*equity.columns, *contributions.columns])
    eq = _figure("Equity, growth of $1 (log scale), shaded by regime at the previous close",
                 330)
    for col in equity.columns:
        eq.add_trace(_line(equity.index, equity[col], col, colours[col], 1.3))
    eq.update_yaxes(type="log")
    _shade(eq, regime)
    dd = _figure("Drawdown", 230)
    for col in equity.columns:
        drawdown = equity[col] / equity[col].cummax() - 1.0
        dd.add_trace(_line(drawdown.index, drawdown, col, colours[col], 1.0))
    dd.update_yaxes(tickformat=".0%")
    _shade(dd, regime)
    figures = [eq, dd]
    sig = _figure("Drain composite over the speculative-minus-cash-flow spread", 300,
                  "composite (z)")
    sig.add_trace(_line(signal.index, signal["composite"], "composite",
                        FIXED_COLOURS["composite"]))
    if baskets is not None:
        spread = baskets.columns[-1]
        growth = (1.0 + baskets[spread]).cumprod() - 1.0
        sig.add_trace(_line(growth.index, growth, f"cumulative {spread.replace('_', ' ')} "
                            "(right)", FIXED_COLOURS["spread"], yaxis="y2"))
        sig.update_layout(yaxis2={"overlaying": "y", "side": "right", "tickformat": ".0%",
                                  "showgrid": False})
    _shade(sig, regime)
    figures.append(sig)
    exp = _figure("Exposure held at each close", 220, "share of equity")
    exp.add_trace(_line(weights.index, weights.abs().sum(axis=1), "gross",
                        FIXED_COLOURS["gross"], 1.0))
    exp.add_trace(_line(weights.index, weights.sum(axis=1), "net", FIXED_COLOURS["net"], 1.0))
    figures.append(exp)
    con = _figure("Cumulative contribution by basket (sum of daily contributions)", 260)
    for col in contributions.columns:
        con.add_trace(_line(contributions.index, contributions[col].cumsum(),
                            col.replace("_", " "), colours[col]))
    con.update_yaxes(tickformat=".0%")
    figures.append(con)
    return figures


def write_run_page(run_dir: Path, path: Path, *, manifest: dict, document: dict,
                   self_contained: bool = False) -> Path:
    """Write ``report.html`` for the run in ``run_dir`` (files read from there) to ``path``."""
    frames = [read_run_csv(run_dir, name) for name in ("equity.csv", "weights.csv", "signal.csv",
                                                       "contributions.csv")]
    # baskets.csv: not in a run saved before it was written
    baskets = read_run_csv(run_dir, "baskets.csv") if (run_dir / "baskets.csv").is_file() else None
    figures = run_figures(*frames, baskets)
    config = manifest.get("config", {})
    variant = config.get("strategy", {}).get("variant", "?")
    window = document["window"]
    notes = "".join(f"<div class='note'>{html.escape(n)}</div>"
                    for n in document.get("data_notes", []))
    regimes = document["regimes"].get("strategy", {})
    body = [
        f"<h1>{html.escape(manifest['name'])}: {html.escape(variant)}, {window['start']} to "
        f"{window['end']} ({window['sessions']} sessions)</h1>",
        f"<p class='meta'>Sharpe, Sortino, information ratio and per-regime figures are of "
        f"returns in excess of {html.escape(document['excess_of'])}. Total return and CAGR are "
        f"total. Data fingerprint {html.escape(str(manifest.get('data_fingerprint')))}; "
        f"written {html.escape(str(manifest.get('created_at')))}; "
        f"<a href='tearsheet.html'>quantstats tearsheet</a>.</p>",
        "<div class='grid'><div>",
        "<h2>Headline statistics</h2>", headline_table(document["statistics"]),
        "<h2>Strategy by regime (known at the previous close)</h2>", regime_html(regimes),
        f"<p class='meta'>{html.escape(document.get('regime_note', ''))}</p>",
        notes and f"<h2>Data notes</h2>{notes}",
        "</div><div>", figure_div(figures[0]), figure_div(figures[1]), "</div></div>",
        *(figure_div(f) for f in figures[2:]),
        "<h2>Resolved configuration</h2><details><summary>every parameter of this run "
        "(config.toml reruns it)</summary>"
        f"<pre>{html.escape(json.dumps(config, indent=1))}</pre></details>",
    ]
    return write_page(path, f"liquidity-drain: {manifest['name']}", "\n".join(body),
                      run_dir=run_dir, self_contained=self_contained, css=CSS)
