"""Plotly building blocks shared by the claims: one look for every chart of the report."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf",
           "#7f7f7f")


def styled(fig: go.Figure, title: str, *, y_title: str = "", x_title: str = "",
           height: int = 420) -> go.Figure:
    """Common layout: white template, title, axis titles, legend on top."""
    fig.update_layout(template="plotly_white", title=title, height=height,
                      margin={"l": 60, "r": 20, "t": 70, "b": 50},
                      legend={"orientation": "h", "y": -0.18})
    if y_title:
        fig.update_yaxes(title_text=y_title)
    if x_title:
        fig.update_xaxes(title_text=x_title)
    return fig


def bars_with_ci(groups: list[str], series: dict[str, tuple[list, list, list]], title: str,
                 y_title: str) -> go.Figure:
    """Grouped bars, one trace per series: ``name -> (values, ci_low, ci_high)``."""
    fig = go.Figure()
    for i, (name, (values, lows, highs)) in enumerate(series.items()):
        plus = [h - v if h == h and v == v else None for v, h in zip(values, highs, strict=True)]
        minus = [v - lo if lo == lo and v == v else None
                 for v, lo in zip(values, lows, strict=True)]
        fig.add_trace(go.Bar(x=groups, y=values, name=name, marker_color=PALETTE[i % 8],
                             error_y={"type": "data", "array": plus, "arrayminus": minus}))
    fig.update_layout(barmode="group")
    return styled(fig, title, y_title=y_title)


def panels(n: int, titles: list[str]) -> go.Figure:
    """``n`` side-by-side panels."""
    return make_subplots(rows=1, cols=n, subplot_titles=titles)
