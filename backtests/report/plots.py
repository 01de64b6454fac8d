"""The project's own interactive run report: signal and regimes, equity, drawdown, exposure,
basket contributions, one plotly figure with a shared time axis."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from signals.plots import regime_runs

REGIME_COLOURS = {"abundant": "rgba(46,139,87,0.12)", "draining": "rgba(255,165,0,0.15)",
                  "scarce": "rgba(220,20,60,0.15)"}


SERIES_COLOURS = ("#111111", "#7b3fe4", "#f28e2b", "#59a14f", "#e15759")


def run_figure(equity: pd.DataFrame, weights: pd.DataFrame, signal: pd.DataFrame,
               contributions: pd.DataFrame, title: str) -> go.Figure:
    """Five stacked panels sharing the date axis."""
    fig = make_subplots(
        rows=5, cols=1, shared_xaxes=True, vertical_spacing=0.03,
        row_heights=[0.2, 0.28, 0.14, 0.14, 0.24],
        subplot_titles=("Drain composite and regime", "Equity (log scale)", "Drawdown",
                        "Gross and net exposure", "Cumulative contribution by basket"),
    )
    fig.add_trace(go.Scatter(x=signal.index, y=signal["composite"], name="composite",
                             line={"color": "black", "width": 1}), row=1, col=1)
    if "composite_ungated" in signal:
        fig.add_trace(go.Scatter(x=signal.index, y=signal["composite_ungated"],
                                 name="composite (no gate)",
                                 line={"color": "grey", "width": 1, "dash": "dot"}), row=1, col=1)
    shapes = [
        {"type": "rect", "xref": "x", "yref": "y domain", "x0": first, "x1": last, "y0": 0,
         "y1": 1, "fillcolor": REGIME_COLOURS.get(name, "white"), "line": {"width": 0},
         "layer": "below"}
        for first, last, name in regime_runs(signal["regime"])
    ]
    colours = dict(zip(equity.columns, SERIES_COLOURS, strict=False))
    for col in equity.columns:
        fig.add_trace(go.Scatter(x=equity.index, y=equity[col], name=col, legendgroup=col,
                                 line={"color": colours[col], "width": 1.2}), row=2, col=1)
    fig.update_yaxes(type="log", row=2, col=1)
    for col in equity.columns:
        dd = equity[col] / equity[col].cummax() - 1.0
        fig.add_trace(go.Scatter(x=dd.index, y=dd, name=f"drawdown {col}", legendgroup=col,
                                 showlegend=False, line={"color": colours[col], "width": 1}),
                      row=3, col=1)
    fig.add_trace(go.Scatter(x=weights.index, y=weights.abs().sum(axis=1), name="gross"),
                  row=4, col=1)
    fig.add_trace(go.Scatter(x=weights.index, y=weights.sum(axis=1), name="net"), row=4, col=1)
    for col in contributions.columns:
        fig.add_trace(go.Scatter(x=contributions.index, y=contributions[col].cumsum(),
                                 name=f"contribution {col}"), row=5, col=1)
    fig.update_layout(title=title, height=1400, hovermode="x unified", template="plotly_white",
                      shapes=shapes)
    return fig
