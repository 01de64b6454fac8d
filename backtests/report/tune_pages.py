"""The pages of a tune run: heatmaps, the stability plot and the overfitting panel.

Every function takes plain frames and dicts and writes one file; nothing here runs a backtest.
"""

from __future__ import annotations

import html
import json
import math
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.report.data_notes import notes_html
from drain_core.pages import figure_div, write_page

MAX_HEATMAP_PARAMS = 5  # the most influential parameters; every pair of them gets a heatmap
MAX_STABILITY_PARAMS = 8


# --------------------------------------------------------------------------------------------
# Heatmaps and parameter stability
# --------------------------------------------------------------------------------------------


def _label(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def influence(table: pd.DataFrame, params: list[str], metric: str = "sharpe") -> pd.Series:
    """Spread of the metric's median across each parameter's values (largest first)."""
    spread = {}
    for param in params:
        medians = table.groupby(table[param].map(_label))[metric].median()
        spread[param] = float(medians.max() - medians.min()) if len(medians) > 1 else 0.0
    return pd.Series(spread, dtype=float).sort_values(ascending=False)


_PAGE_CSS = "body{font-family:sans-serif;max-width:1100px;margin:auto}"


def _write_figures_page(path: Path, figures: list, title: str, intro: str) -> None:
    """A page of plotly figures under a title and an intro (plotly.js shared, see
    ``drain_core.pages``)."""
    body = (f"<h1>{html.escape(title)}</h1><p>{intro}</p>"
            + "\n".join(figure_div(fig) for fig in figures))
    write_page(path, title, body, css=_PAGE_CSS)


def write_heatmaps(table: pd.DataFrame, params: list[str], path: Path,
                   metric: str = "sharpe", note: str = "") -> Path:
    """Median ``metric`` over two-parameter slices of the most influential parameters
    (``note``: a sentence added to the page's introduction)."""
    import plotly.graph_objects as go

    metric_name = metric.replace("_", " ")
    ranked = list(influence(table, params, metric).index[:MAX_HEATMAP_PARAMS])
    figures = []
    for x, y in combinations(ranked, 2):
        frame = table.assign(_x=table[x].map(_label), _y=table[y].map(_label))
        pivot = frame.pivot_table(index="_y", columns="_x", values=metric, aggfunc="median")
        counts = frame.pivot_table(index="_y", columns="_x", values=metric, aggfunc="size")
        text = [[f"{v:.2f}<br>n={int(c)}" if np.isfinite(v) else "" for v, c in zip(row, crow,
                                                                                     strict=True)]
                for row, crow in zip(pivot.to_numpy(), counts.reindex_like(pivot).fillna(0)
                                     .to_numpy(), strict=True)]
        fig = go.Figure(go.Heatmap(z=pivot.to_numpy(), x=list(pivot.columns),
                                   y=list(pivot.index), text=text, texttemplate="%{text}",
                                   colorscale="RdBu", zmid=0.0,
                                   colorbar={"title": f"median {metric_name}"}))
        fig.update_layout(title=f"{y} x {x}: median {metric_name} over every other parameter",
                          xaxis_title=x, yaxis_title=y, height=420,
                          xaxis={"type": "category"}, yaxis={"type": "category"})
        figures.append(fig)
    if not figures:  # a single varying parameter: one bar per value
        param = ranked[0] if ranked else params[0]
        medians = table.groupby(table[param].map(_label))[metric].median()
        figures.append(go.Figure(go.Bar(x=list(medians.index), y=medians.to_numpy()))
                       .update_layout(title=f"median {metric_name} by {param}", height=420))
    intro = (f"{len(table):,} combinations. Parameters ranked by how much the median {metric_name} "
             f"moves across their values: {', '.join(ranked)}. A robust setting sits in a "
             f"broad region of similar colour, not on an isolated bright cell. {note}")
    _write_figures_page(path, figures, "Parameter heatmaps", html.escape(intro))
    return path


def write_stability(table: pd.DataFrame, splits: pd.DataFrame, params: list[str], path: Path,
                    metric: str = "sharpe", note: str = "") -> Path:
    """The value each walk-forward split chose for every parameter, over time, and the metric's
    spread across each parameter's values (``note``: added to the introduction)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    metric_name = metric.replace("_", " ")
    shown = list(influence(table, params, metric).index[:MAX_STABILITY_PARAMS]) or params[:1]
    chosen = table.iloc[splits["chosen"].to_numpy()].reset_index(drop=True)
    fig = make_subplots(rows=len(shown), cols=1, shared_xaxes=True, subplot_titles=shown,
                        vertical_spacing=0.04)
    for row, param in enumerate(shown, start=1):
        order = sorted(table[param].map(_label).unique())
        fig.add_trace(go.Scatter(x=splits["test_start"], y=chosen[param].map(_label),
                                 mode="lines+markers", line_shape="hv", name=param,
                                 showlegend=False), row=row, col=1)
        fig.update_yaxes(type="category", categoryorder="array", categoryarray=order, row=row,
                         col=1)
    fig.update_layout(height=170 * len(shown) + 120,
                      title="Value chosen on each train window (x: start of its test window)")
    box = go.Figure()
    for param in shown:
        for value, group in table.groupby(table[param].map(_label)):
            box.add_trace(go.Box(y=group[metric], name=f"{param}={value}", boxpoints=False))
    box.update_layout(title=f"{metric_name} across each parameter's values (all combinations)",
                      showlegend=False, height=520)
    intro = ("A stable choice keeps its values from one walk-forward split to the next; a "
             "choice that jumps around is chasing noise. " + note)
    _write_figures_page(path, [fig, box], "Parameter stability", html.escape(intro))
    return path


# --------------------------------------------------------------------------------------------
# The overfitting panel
# --------------------------------------------------------------------------------------------


def _number(value: Any, kind: str) -> str:
    """``value`` formatted as ``kind``: "ratio" (2 decimals), "prob" (3 decimals), "pct",
    "count" (thousands separators), "sci" (small differences) or "text"."""
    if isinstance(value, tuple | list):
        return " to ".join(_number(v, kind) for v in value)
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if kind == "ratio":
        return f"{value:.2f}"
    if kind == "prob":
        return f"{value:.3f}"
    if kind == "pct":
        return f"{value:.1%}"
    if kind == "count":
        return f"{value:,}"
    if kind == "sci":
        return f"{value:.1e}"
    return html.escape(str(value))


_TABLE_STYLE = ("<style>table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;"
                "padding:4px 8px}th{background:#f3f3f3;text-align:left}td.d{white-space:nowrap}"
                "td.n{text-align:right;"
                "font-variant-numeric:tabular-nums}</style>")


def cash_sentence(stats: dict[str, Any]) -> str:
    """Which rate every Sharpe ratio of the run is in excess of (one sentence)."""
    cash = stats.get("cash_rate") or {}
    if not cash:
        return "Sharpe ratios are of total returns."
    return (f"Every Sharpe ratio on this page is of daily returns in excess of "
            f"{cash['description']} (average {cash['mean_annual']:.2%} a year over the window); "
            f"total return and CAGR are total.")


def splits_table(splits: pd.DataFrame) -> str:
    """The walk-forward splits as HTML: windows as dates, the choice by its parameters."""
    def day(value: Any) -> str:
        return pd.Timestamp(value).strftime("%Y-%m-%d")

    head = ("<tr><th>split</th><th>train window</th><th>test window</th><th>chosen "
            "configuration</th><th>IS Sharpe</th><th>OOS Sharpe</th><th>OOS rank among all "
            "trials</th></tr>")
    rows = []
    for row in splits.itertuples():
        label = getattr(row, "label", f"trial {row.chosen}")
        rows.append(
            f"<tr><td class='n'>{row.split}</td><td class='d'>{day(row.train_start)} to "
            f"{day(row.train_end)}</td><td class='d'>{day(row.test_start)} to "
            f"{day(row.test_end)}</td>"
            f"<td>{html.escape(str(label))}</td>"
            f"<td class='n'>{_number(row.is_sharpe, 'ratio')}</td>"
            f"<td class='n'>{_number(row.oos_sharpe, 'ratio')}</td>"
            f"<td class='n'>{_number(row.oos_percentile, 'pct')}</td></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def information_html(information: pd.DataFrame, stats: dict[str, Any]) -> str:
    """The signal-information table (one row per distinct composite) with what it measures."""
    info = stats.get("signal_information") or {}
    params = [c for c in information.columns
              if c not in ("signal", "oos_ic", "oos_ic_t", "windows", "full_ic", "trials")]
    params = params or ["signal"]  # no signal parameter varies: the one composite's label
    head = "".join(f"<th>{html.escape(c)}</th>" for c in params)
    rows = []
    for row in information.to_dict("records"):
        cells = "".join(f"<td>{html.escape(str(row[c]))}</td>" for c in params)
        rows.append(f"<tr>{cells}<td class='n'>{_number(row['oos_ic'], 'prob')}</td>"
                    f"<td class='n'>{_number(row['oos_ic_t'], 'ratio')}</td>"
                    f"<td class='n'>{_number(row['windows'], 'count')}</td>"
                    f"<td class='n'>{_number(row['full_ic'], 'prob')}</td>"
                    f"<td class='n'>{_number(row['trials'], 'count')}</td></tr>")
    chosen = ("Walk-forward choices and the best configuration were selected by this "
              "information first (the composite with the best rank IC on each train window, "
              "then the best train-window excess Sharpe among its trials)."
              if stats.get("select_by") == "information" else
              "Selection here was by excess Sharpe; set [tune] select_by = \"information\" to "
              "choose the composite by its train-window rank IC first.")
    return (f"<h2>Signal information: out-of-sample rank IC of each composite</h2>"
            f"<p>{html.escape(info.get('description', ''))}. Configurations that differ only "
            f"in regime thresholds share a composite and a row. {html.escape(chosen)}</p>"
            f"<table><tr>{head}<th>mean OOS IC</th><th>t</th><th>test windows</th>"
            f"<th>full-window IC (in-sample)</th><th>trials</th></tr>{''.join(rows)}</table>")


def write_overfitting_panel(stats: dict[str, Any], splits: pd.DataFrame, logits: np.ndarray,
                            path: Path, information: pd.DataFrame | None = None) -> Path:
    """Trials, IS vs OOS Sharpe, DSR, PBO, bootstrap CIs, SPA and the verdict, as HTML
    (with the signal-information table when ``information`` is given)."""
    import plotly.graph_objects as go

    sampled = stats["sampled"]
    rows = [
        ("Trials run (combinations simulated)", stats["n_trials"], "count"),
        ("Daily-return series kept (the rest: metrics and walk-forward scores only)",
         stats.get("returns_kept", stats["n_trials"]), "count"),
        ("Grid combinations / sampled / invalid / duplicate",
         f"{stats['grid_size']:,} / {f'{sampled:,}' if sampled else 'all'} / "
         f"{stats['invalid']:,} / {stats['duplicates']:,}", "text"),
        ("Best in-sample configuration (full sample)", stats["best_label"], "text"),
        ("Best in-sample Sharpe (vectorbt re-run)", stats["is_sharpe"], "ratio"),
        ("Best in-sample Sharpe, 95% bootstrap CI", [stats["is_sharpe_ci"][0],
                                                     stats["is_sharpe_ci"][2]], "ratio"),
        ("Walk-forward out-of-sample Sharpe (stitched, vectorbt)", stats["oos_sharpe"],
         "ratio"),
        ("Out-of-sample Sharpe, 95% stationary-bootstrap CI", stats["oos_sharpe_ci"], "ratio"),
        ("Out-of-sample CAGR, 95% stationary-bootstrap CI", [stats["oos_cagr_ci"][0],
                                                             stats["oos_cagr_ci"][2]], "pct"),
        ("SPY buy-and-hold Sharpe (same engine, same window)", stats["spy_sharpe"], "ratio"),
        ("Selection rule", "best rank IC of the composite first, then excess Sharpe"
         if stats.get("select_by") == "information" else "excess Sharpe", "text"),
        ("Deflated Sharpe ratio (prob. the true Sharpe beats the luckiest of N)", stats["dsr"],
         "prob"),
        ("DSR's N: this run's trials + earlier tune runs of the same data and holdout "
         "(runs / their trials)",
         f"{stats.get('dsr_n_trials', stats['n_trials']):,} = {stats['n_trials']:,} + "
         f"{stats.get('dsr_prior_trials', 0):,} ({stats.get('dsr_prior_runs', 0)} runs / "
         f"{stats.get('dsr_prior_trials', 0):,} trials)", "text"),
        ("Expected best Sharpe of N unskilled trials (annualised)", stats["sr0_annual"],
         "ratio"),
        ("Skew / raw kurtosis of the best's daily returns",
         f"{_number(stats['skew'], 'ratio')} / {_number(stats['kurtosis'], 'ratio')}", "text"),
        ("PBO (CSCV: share of splits where the IS winner ranks below the OOS median)",
         stats["pbo"], "pct"),
        ("PBO configurations / blocks / splits", f"{stats['pbo_configs']:,} / "
         f"{stats['pbo_blocks']} / {stats['pbo_splits']:,}", "text"),
        ("IS to OOS degradation slope", stats["degradation_slope"], "ratio"),
        ("P(OOS Sharpe < 0) of the IS winner", stats["prob_oos_loss"], "pct"),
        ("SPA p-value vs SPY buy-and-hold (Hansen, consistent)", stats["spa_pvalue"], "prob"),
        ("SPA models tested / bootstrap resamples",
         f"{stats['spa_models']:,} / {stats.get('spa_reps', 0):,}", "text"),
        ("Fast kernel vs vectorbt: largest daily return difference", stats["max_return_diff"],
         "sci"),
    ]
    table = "".join(f"<tr><td>{html.escape(k)}</td><td class='n'>{_number(v, kind)}</td></tr>"
                    for k, v, kind in rows)
    hover = splits["label"] if "label" in splits else splits["chosen"].astype(str)
    scatter = go.Figure(go.Scatter(x=splits["is_sharpe"], y=splits["oos_sharpe"],
                                   mode="markers+text", text=splits["split"].astype(str),
                                   hovertext=hover, textposition="top center"))
    scatter.add_hline(y=0.0, line_dash="dot")
    scatter.update_layout(title="Each walk-forward split: excess Sharpe of the chosen "
                          "configuration on its train window (x) and its test window (y)",
                          xaxis_title="in-sample Sharpe", yaxis_title="out-of-sample Sharpe",
                          height=420)
    hist = go.Figure(go.Histogram(x=logits, nbinsx=40))
    hist.add_vline(x=0.0, line_dash="dot")
    hist.update_layout(title="CSCV logits of the in-sample winner's out-of-sample rank "
                       "(left of 0: below the median)", height=360)
    window = f"{stats.get('start', '?')} to {stats.get('end', '?')}"
    sealed = (f"<p>Holdout sealed from {html.escape(str(stats['holdout_from']))}: no session "
              f"or release from then on was used.</p>" if stats.get("holdout_from") else "")
    body = (f"{_TABLE_STYLE}"
            f"<h1>Overfitting panel</h1><p>Window {html.escape(window)}.</p>{sealed}"
            f"<p><b>{html.escape(stats['verdict'])}</b></p>"
            f"<p>{html.escape(cash_sentence(stats))}</p><table>{table}</table>"
            f"{figure_div(scatter)}{figure_div(hist)}"
            f"<h2>Walk-forward splits: in-sample beside out-of-sample</h2>"
            f"{splits_table(splits)}"
            f"{information_html(information, stats) if information is not None else ''}"
            f"<p>Notes: {html.escape(stats.get('notes', ''))}</p>")
    write_page(path, "Overfitting panel", body, css=_PAGE_CSS)
    return path


def write_holdout_page(record: dict[str, Any], path: Path) -> Path:
    """The one look at a sealed holdout: the chosen configuration beside SPY, and when."""
    figures = record["figures"]
    rows = [("Total return", "total_return", "pct"), ("CAGR", "cagr", "pct"),
            ("Sharpe (excess of cash)", "sharpe", "ratio"),
            ("Max drawdown", "max_drawdown", "pct")]
    body = "".join(f"<tr><td>{label}</td>"
                   + "".join(f"<td class='n'>{_number(figures[who][key], kind)}</td>"
                             for who in ("strategy", "SPY"))
                   + "</tr>" for label, key, kind in rows)
    text = (f"<html><head><meta charset='utf-8'><title>Holdout</title>{_TABLE_STYLE}</head>"
            f"<body style='font-family:sans-serif;max-width:900px;margin:auto'>"
            f"<h1>Sealed holdout, unsealed once</h1>"
            f"<p>{record['start']} to {record['end']} ({record['sessions']:,} sessions), "
            f"unsealed {html.escape(record['unsealed_at'])}. The configuration evaluated has "
            f"SHA-256 <code>{record['chosen_config_sha256']}</code>, recorded in the run's "
            f"manifest when the tune finished, before this look. Signal and weights use all "
            f"the history known at each day; trades happen only in the holdout.</p>"
            f"<table><tr><th></th><th>chosen configuration</th><th>SPY buy-and-hold</th></tr>"
            f"{body}</table><p>{html.escape(record['sharpe_basis'])}.</p>"
            f"{notes_html(record.get('data_notes', []))}</body></html>")
    path.write_text(text)
    return path
