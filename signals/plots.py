"""Plots of the signal: composite with regime shading, component z-scores, SPY and BTC."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from drain_core.conventions import REGIME_COLOURS
from signals.composite import SignalResult
from signals.config import MARKET_TICKERS

PLOT_START = "2014-01-01"



def regime_runs(regime: pd.Series) -> list[tuple[pd.Timestamp, pd.Timestamp, str]]:
    """(start, end, regime) for each run of one regime; end = the next run's first day."""
    values = [None if v != v else v for v in regime.astype(object).tolist()]
    index = regime.index
    runs = []
    start = 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[start]:
            if values[start] is not None:
                runs.append((index[start], index[min(i, len(values) - 1)], values[start]))
            start = i
    return runs


def _markets(dataset):
    cols = [c for c in MARKET_TICKERS if c in dataset.prices.columns]
    return dataset.prices[cols].loc[pd.Timestamp(PLOT_START):] if cols else None


def write_signal_html(dataset, result: SignalResult, path, *,
                      self_contained: bool = False) -> None:
    """Plotly page: composite shaded by regime, z-scores, SPY and BTC (plotly.js shared from
    the reports folder unless ``self_contained``, see ``drain_core.pages``)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from drain_core.pages import write_figure

    z = result.zscores.loc[PLOT_START:]
    composite = result.composite.loc[PLOT_START:]
    fig = make_subplots(
        rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.05, row_heights=[0.4, 0.35, 0.25],
        subplot_titles=("Liquidity-drain composite (shaded by regime)",
                        "Component z-scores (expanding, winsorised; higher = more drain)",
                        "SPY and BTC-USD (log scale)"),
    )
    fig.add_trace(go.Scatter(x=composite.index, y=composite, name="composite (gated)",
                             line={"color": "black", "width": 1.4}), row=1, col=1)
    fig.add_trace(go.Scatter(x=composite.index, y=result.composite_ungated.loc[PLOT_START:],
                             name="composite (ungated)",
                             line={"color": "#1f77b4", "width": 1, "dash": "dot"}), row=1, col=1)
    for regime, colour in REGIME_COLOURS.items():  # legend entries for the shading
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=regime,
                                 marker={"color": colour, "symbol": "square", "size": 12,
                                         "opacity": 0.4}), row=1, col=1)
    fig.add_trace(go.Heatmap(x=z.index, y=list(z.columns), z=z.T.to_numpy(), zmin=-3, zmax=3,
                             colorscale="RdBu", reversescale=True, showscale=True,
                             colorbar={"title": "z", "len": 0.33, "y": 0.47}, name="z-scores"),
                  row=2, col=1)
    markets = _markets(dataset)
    if markets is not None:
        for col, colour in zip(markets.columns, ("#1f77b4", "#ff7f0e"), strict=False):
            series = markets[col].dropna()
            fig.add_trace(go.Scatter(x=series.index, y=series, name=col,
                                     line={"color": colour, "width": 1}), row=3, col=1)
        fig.update_yaxes(type="log", row=3, col=1)
    # shading last: plotly drops shapes added to a subplot before it holds any trace
    for start, end, regime in regime_runs(result.regime.loc[PLOT_START:]):
        fig.add_vrect(x0=start, x1=end, fillcolor=REGIME_COLOURS[regime], opacity=0.15,
                      line_width=0, layer="below", row=1, col=1)
    fig.update_xaxes(range=[PLOT_START, str(result.composite.index[-1].date())])
    fig.update_layout(height=1000, template="plotly_white", hovermode="x unified",
                      title=f"liquidity-drain signal as of {result.composite.index[-1].date()}")
    write_figure(fig, Path(path), self_contained=self_contained)


def write_signal_png(dataset, result: SignalResult, path) -> None:
    """The same three panels as a static PNG (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.patches import Patch

    z = result.zscores.loc[PLOT_START:]
    composite = result.composite.loc[PLOT_START:]
    fig, axes = plt.subplots(3, 1, figsize=(14, 12), sharex=True,
                             gridspec_kw={"height_ratios": [4, 4, 2.5]})
    ax = axes[0]
    for start, end, regime in regime_runs(result.regime.loc[PLOT_START:]):
        ax.axvspan(start, end, color=REGIME_COLOURS[regime], alpha=0.18, lw=0)
    ax.plot(composite.index, composite, color="black", lw=1.0, label="composite (gated)")
    ax.plot(composite.index, result.composite_ungated.loc[PLOT_START:], color="#1f77b4", lw=0.8,
            ls=":", label="composite (ungated)")
    ax.axhline(0, color="grey", lw=0.5)
    handles, _ = ax.get_legend_handles_labels()
    handles += [Patch(color=c, alpha=0.3, label=r) for r, c in REGIME_COLOURS.items()]
    ax.legend(handles=handles, loc="upper left", fontsize=8, ncol=5)
    ax.set_title(f"Liquidity-drain composite, as of {result.composite.index[-1].date()} "
                 f"(shaded by regime)")
    ax = axes[1]
    # one image column per calendar day (each session's z held to the next session): imshow is
    # an order of magnitude faster than a 47,000-cell pcolormesh and the time axis stays exact
    days = z.reindex(pd.date_range(z.index[0], z.index[-1] + pd.Timedelta(days=1)), method="ffill")
    extent = (mdates.date2num(days.index[0]), mdates.date2num(days.index[-1]), len(z.columns), 0)
    mesh = ax.imshow(days.T.to_numpy(), aspect="auto", cmap="RdBu_r", vmin=-3, vmax=3,
                     extent=extent, interpolation="nearest")
    ax.set_yticks(np.arange(len(z.columns)) + 0.5, labels=list(z.columns), fontsize=8)
    ax.set_title("Component z-scores (expanding, winsorised; red = more drain)")
    fig.colorbar(mesh, cax=ax.inset_axes([1.005, 0.0, 0.012, 1.0]), label="z")
    ax = axes[2]
    markets = _markets(dataset)
    if markets is not None:
        for col, colour in zip(markets.columns, ("#1f77b4", "#ff7f0e"), strict=False):
            series = markets[col].dropna()
            ax.plot(series.index, series, lw=0.9, color=colour, label=col)
        ax.set_yscale("log")
        ax.legend(loc="upper left", fontsize=8)
    ax.set_title("SPY and BTC-USD (log scale)")
    ax.set_xlim(np.datetime64(PLOT_START), result.composite.index[-1])
    for a in axes:
        a.grid(alpha=0.3, lw=0.5)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
