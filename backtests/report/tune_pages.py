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


def _figures_html(figures: list, title: str, intro: str) -> str:
    parts = [f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
             f"<body style='font-family:sans-serif;max-width:1100px;margin:auto'>"
             f"<h1>{html.escape(title)}</h1><p>{intro}</p>"]
    for k, fig in enumerate(figures):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(k == 0)))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_heatmaps(table: pd.DataFrame, params: list[str], path: Path,
                   metric: str = "sharpe") -> Path:
    """Median ``metric`` over two-parameter slices of the most influential parameters."""
    import plotly.graph_objects as go

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
                                   colorbar={"title": f"median {metric}"}))
        fig.update_layout(title=f"{y} x {x}: median {metric} over every other parameter",
                          xaxis_title=x, yaxis_title=y, height=420,
                          xaxis={"type": "category"}, yaxis={"type": "category"})
        figures.append(fig)
    if not figures:  # a single varying parameter: one bar per value
        param = ranked[0] if ranked else params[0]
        medians = table.groupby(table[param].map(_label))[metric].median()
        figures.append(go.Figure(go.Bar(x=list(medians.index), y=medians.to_numpy()))
                       .update_layout(title=f"median {metric} by {param}", height=420))
    intro = (f"{len(table):,} combinations. Parameters ranked by how much the median {metric} "
             f"moves across their values: {', '.join(ranked)}. A robust setting sits in a "
             f"broad region of similar colour, not on an isolated bright cell.")
    path.write_text(_figures_html(figures, "Parameter heatmaps", html.escape(intro)))
    return path


def write_stability(table: pd.DataFrame, splits: pd.DataFrame, params: list[str], path: Path,
                    metric: str = "sharpe") -> Path:
    """The value each walk-forward split chose for every parameter, over time, and the metric's
    spread across each parameter's values."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

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
    box.update_layout(title=f"{metric} across each parameter's values (all combinations)",
                      showlegend=False, height=520)
    intro = ("A stable choice keeps its values from one walk-forward split to the next; a "
             "choice that jumps around is chasing noise.")
    path.write_text(_figures_html([fig, box], "Parameter stability", html.escape(intro)))
    return path


# --------------------------------------------------------------------------------------------
# The overfitting panel
# --------------------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else f"{value:,.4g}"
    if isinstance(value, tuple | list):
        return " / ".join(_fmt(v) for v in value)
    return html.escape(str(value))


def write_overfitting_panel(stats: dict[str, Any], splits: pd.DataFrame, logits: np.ndarray,
                            path: Path) -> Path:
    """Trials, IS vs OOS Sharpe, DSR, PBO, bootstrap CIs, SPA and the verdict, as HTML."""
    import plotly.graph_objects as go

    rows = [
        ("Trials run (combinations simulated)", stats["n_trials"]),
        ("Grid / sampled / invalid / duplicate", f"{stats['grid_size']:,} / "
         f"{stats['sampled'] or 'all'} / {stats['invalid']} / {stats['duplicates']}"),
        ("Best in-sample configuration (full sample)", stats["best_label"]),
        ("Best in-sample Sharpe (vectorbt re-run)", stats["is_sharpe"]),
        ("Walk-forward out-of-sample Sharpe (stitched, vectorbt)", stats["oos_sharpe"]),
        ("OOS Sharpe 95% stationary-bootstrap CI (lo / hi)", stats["oos_sharpe_ci"]),
        ("OOS CAGR 95% stationary-bootstrap CI (lo / point / hi)", stats["oos_cagr_ci"]),
        ("Best in-sample Sharpe 95% bootstrap CI (lo / point / hi)", stats["is_sharpe_ci"]),
        ("Deflated Sharpe ratio (prob. true SR > expected max of N)", stats["dsr"]),
        ("Expected max Sharpe of N unskilled trials (annualised)", stats["sr0_annual"]),
        ("Skew / raw kurtosis of the best", (stats["skew"], stats["kurtosis"])),
        ("PBO (CSCV, share of splits with logit <= 0)", stats["pbo"]),
        ("PBO configurations / blocks / splits", f"{stats['pbo_configs']:,} / "
         f"{stats['pbo_blocks']} / {stats['pbo_splits']:,}"),
        ("IS -> OOS degradation slope", stats["degradation_slope"]),
        ("P(OOS Sharpe < 0) of the IS winner", stats["prob_oos_loss"]),
        ("SPA p-value vs SPY buy-and-hold (consistent)", stats["spa_pvalue"]),
        ("SPA models tested", stats["spa_models"]),
        ("SPY buy-and-hold Sharpe (same engine, same window)", stats["spy_sharpe"]),
        ("Fast kernel vs vectorbt, max |daily return diff|", stats["max_return_diff"]),
    ]
    table = "".join(f"<tr><td>{html.escape(k)}</td><td style='text-align:right'>{_fmt(v)}</td>"
                    f"</tr>" for k, v in rows)
    scatter = go.Figure(go.Scatter(x=splits["is_sharpe"], y=splits["oos_sharpe"],
                                   mode="markers+text", text=splits["split"].astype(str),
                                   textposition="top center"))
    scatter.add_hline(y=0.0, line_dash="dot")
    scatter.update_layout(title="Each walk-forward split: Sharpe of the chosen configuration "
                          "on its train window (x) and its test window (y)",
                          xaxis_title="in-sample Sharpe", yaxis_title="out-of-sample Sharpe",
                          height=420)
    hist = go.Figure(go.Histogram(x=logits, nbinsx=40))
    hist.add_vline(x=0.0, line_dash="dot")
    hist.update_layout(title="CSCV logits of the in-sample winner's out-of-sample rank "
                       "(left of 0: below the median)", height=360)
    split_cols = ["split", "train_start", "train_end", "test_start", "test_end", "chosen",
                  "is_sharpe", "oos_sharpe", "oos_percentile"]
    split_html = splits[split_cols].to_html(index=False, float_format=lambda v: f"{v:.3f}")
    body = (f"<html><head><meta charset='utf-8'><title>Overfitting panel</title></head>"
            f"<body style='font-family:sans-serif;max-width:1100px;margin:auto'>"
            f"<h1>Overfitting panel</h1><p><b>{html.escape(stats['verdict'])}</b></p>"
            f"<table border='1' cellpadding='4' style='border-collapse:collapse'>{table}"
            f"</table>"
            f"{scatter.to_html(full_html=False, include_plotlyjs=True)}"
            f"{hist.to_html(full_html=False, include_plotlyjs=False)}"
            f"<h2>Walk-forward splits: in-sample beside out-of-sample</h2>{split_html}"
            f"<p>Notes: {html.escape(stats.get('notes', ''))}</p></body></html>")
    path.write_text(body)
    return path
