"""The signal tearsheet: does the signal predict what it claims to, before any strategy?

For the composite and each component's z-score: Pearson and Spearman correlation with the
forward log returns of the speculative-minus-cash-flow spread, each basket, SPY and BTC at 1, 5,
21 and 63 sessions, with overlap-robust t-statistics (``backtests.stats.information``); the
decay with horizon; the same by calendar year and by regime (the composite against every target,
each component against the spread); mean forward
spread return by composite quintile; a lead-lag chart; the rank IC on consecutive yearly
windows. Forward returns start at the close ``lag`` sessions after the signal's day (when a
trade on it is filled), so nothing here uses a return the signal could not have earned.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from backtests.stats.information import (
    HORIZONS,
    SPREAD,
    consecutive_windows,
    information_by,
    information_table,
    lead_lag,
    oos_information,
    quintile_means,
    target_returns,
)
from drain_core.conventions import PERIODS_PER_YEAR, REGIMES
from drain_core.pages import figure_div, write_page
from strategies.config import StrategyConfig

COMPOSITE = "composite"
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
LEAD_LAG_WINDOW = 21


@dataclass(frozen=True)
class SignalEvaluation:
    """Every table of the tearsheet."""

    ic: pd.DataFrame  # signal, target, horizon, pearson, spearman, t, t_nw, t_hodrick, n
    by_year: pd.DataFrame  # signal, target, horizon, group (year), pearson, ... (composite:
    #                        every target; components: the spread)
    by_regime: pd.DataFrame  # the same by the regime known at t
    quintiles: pd.DataFrame  # horizon, quintile, mean_forward, mean_signal, n (spread)
    lead_lag: pd.DataFrame  # lag, corr, n, band (composite vs 21-session spread return)
    windows: pd.DataFrame  # start, end, ic (yearly rank IC vs the 21-session spread return)
    lag: int
    first: pd.Timestamp
    last: pd.Timestamp

    def to_json(self) -> str:
        """All tables as JSON records."""
        tables = {k: getattr(self, k) for k in ("ic", "by_year", "by_regime", "quintiles",
                                                "windows")}
        out = {k: v.to_dict(orient="records") for k, v in tables.items()}
        out["lead_lag"] = self.lead_lag.reset_index().to_dict(orient="records")
        out["lag"] = self.lag
        out["sample"] = [str(self.first.date()), str(self.last.date())]
        return json.dumps(out, indent=1, default=str)


def evaluate_signal(prices: pd.DataFrame, result, strategy: StrategyConfig, lag: int = 1,
                    horizons=HORIZONS) -> SignalEvaluation:
    """The tearsheet's tables for ``result`` (a ``signals.SignalResult``) on ``prices``."""
    targets = target_returns(prices, strategy.baskets, strategy.long_basket,
                             strategy.short_basket)
    index = targets.index
    composite = result.composite.reindex(index).rename(COMPOSITE)
    signals = pd.concat([composite, result.zscores.reindex(index)], axis=1)
    ic = information_table(signals, targets, horizons, lag)
    years = pd.Series(index.year, index=index)
    regime = result.regime.reindex(index).astype(object)
    by_year, by_regime, quintiles = [], [], []
    order = {r: k for k, r in enumerate(REGIMES)}
    pairs = [(COMPOSITE, target) for target in targets.columns]
    pairs += [(name, SPREAD) for name in signals.columns if name != COMPOSITE]
    for name, target in pairs:
        for h in horizons:
            by_year.append(information_by(signals[name], targets[target], years, h, lag)
                           .assign(signal=name, target=target, horizon=h))
            part = information_by(signals[name], targets[target], regime, h, lag)
            part = part.assign(signal=name, target=target, horizon=h,
                               _o=part["group"].map(order)).sort_values("_o").drop(columns="_o")
            by_regime.append(part)
    for h in horizons:
        quintiles.append(quintile_means(composite, targets[SPREAD], h, lag).assign(horizon=h))
    known = np.flatnonzero(composite.notna().to_numpy())
    first = int(known[0]) if len(known) else 0
    windows = consecutive_windows(len(index), first, PERIODS_PER_YEAR)
    oos = oos_information(composite, targets[SPREAD], 21, windows, lag=lag, sign=1)
    windows_table = pd.DataFrame({"start": [index[lo].date() for lo, _ in windows],
                                  "end": [index[hi - 1].date() for _, hi in windows],
                                  "ic": oos.ics})
    return SignalEvaluation(
        ic=ic, by_year=pd.concat(by_year, ignore_index=True),
        by_regime=pd.concat(by_regime, ignore_index=True),
        quintiles=pd.concat(quintiles, ignore_index=True),
        lead_lag=lead_lag(composite, targets[SPREAD], LEAD_LAG_WINDOW, 126),
        windows=windows_table, lag=lag,
        first=index[first], last=index[-1])


# --- the page -------------------------------------------------------------------------------


def _styled(fig: go.Figure, title: str, x_title: str, y_title: str,
            height: int = 420) -> go.Figure:
    fig.update_layout(template="plotly_white", title=title, height=height,
                      margin={"l": 60, "r": 20, "t": 60, "b": 50},
                      legend={"orientation": "h", "y": -0.2})
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title)
    return fig


def decay_figure(ev: SignalEvaluation) -> go.Figure:
    """The composite's IC against horizon, one line per target (filled markers: |t| > 2)."""
    fig = go.Figure()
    comp = ev.ic[ev.ic["signal"] == COMPOSITE]
    for i, (target, rows) in enumerate(comp.groupby("target", sort=False)):
        filled = ["circle" if abs(t) > 2 else "circle-open" for t in rows["t"].fillna(0)]
        fig.add_trace(go.Scatter(x=rows["horizon"], y=rows["pearson"], name=target,
                                 mode="lines+markers", line={"color": PALETTE[i % 6]},
                                 marker={"symbol": filled, "size": 10},
                                 customdata=rows[["spearman", "t", "n"]].to_numpy(),
                                 hovertemplate="h=%{x}: Pearson %{y:.3f}, Spearman "
                                               "%{customdata[0]:.3f}, t %{customdata[1]:.2f}, "
                                               "n %{customdata[2]}<extra>" + target + "</extra>"))
    fig.add_hline(y=0, line_color="black", line_width=1)
    fig.update_xaxes(type="log", tickvals=list(sorted(comp["horizon"].unique())))
    return _styled(fig, "Composite vs forward returns: IC by horizon (filled: |t| > 2, "
                        "overlap-robust)", "horizon (sessions, log scale)", "Pearson IC")


def components_figure(ev: SignalEvaluation) -> go.Figure:
    """Heatmap: each signal's Pearson IC with the forward spread return, text = t."""
    rows = ev.ic[ev.ic["target"] == SPREAD]
    table = rows.pivot(index="signal", columns="horizon", values="pearson")
    tstat = rows.pivot(index="signal", columns="horizon", values="t")
    order = [COMPOSITE, *[s for s in table.index if s != COMPOSITE]]
    table, tstat = table.loc[order], tstat.loc[order]
    text = [[f"{v:.3f}<br>t {t:.1f}" if v == v else "-" for v, t in zip(r1, r2, strict=True)]
            for r1, r2 in zip(table.to_numpy(), tstat.to_numpy(), strict=True)]
    bound = float(np.nanmax(np.abs(table.to_numpy()))) if table.size else 1.0
    fig = go.Figure(go.Heatmap(z=table.to_numpy(), x=[f"{h} sessions" for h in table.columns],
                               y=list(table.index), text=text, texttemplate="%{text}",
                               colorscale="RdBu", zmid=0, zmin=-bound, zmax=bound))
    fig.update_yaxes(autorange="reversed")
    return _styled(fig, "IC with the forward speculative-minus-cash-flow spread return, "
                        "composite and components", "horizon", "", height=620)


def by_year_figure(ev: SignalEvaluation, horizon: int = 21) -> go.Figure:
    """Bars: the composite's IC with the forward spread return in each calendar year."""
    by_year = ev.by_year[ev.by_year["signal"] == COMPOSITE]
    rows = by_year[(by_year["target"] == SPREAD) & (by_year["horizon"] == horizon)]
    fig = go.Figure(go.Bar(x=rows["group"].astype(str), y=rows["pearson"],
                           marker_color=["#d62728" if abs(t) > 2 else "#8da0cb"
                                         for t in rows["t"].fillna(0)],
                           customdata=rows[["t", "n"]].to_numpy(),
                           hovertemplate="%{x}: IC %{y:.3f}, t %{customdata[0]:.2f}, "
                                         "n %{customdata[1]}<extra></extra>"))
    fig.add_hline(y=0, line_color="black", line_width=1)
    return _styled(fig, f"Composite IC with the {horizon}-session forward spread return, by "
                        f"calendar year of the signal (red: |t| > 2)", "year", "Pearson IC")


def quintile_figure(ev: SignalEvaluation) -> go.Figure:
    """Grouped bars: mean forward spread return by composite quintile, one group per horizon."""
    fig = go.Figure()
    for i, (h, rows) in enumerate(ev.quintiles.groupby("horizon")):
        fig.add_trace(go.Bar(x=rows["quintile"], y=rows["mean_forward"] * 100,
                             name=f"{h} sessions", marker_color=PALETTE[i % 6]))
    fig.update_layout(barmode="group")
    return _styled(fig, "Mean forward spread log return by composite quintile (1 = lowest "
                        "drain; edges from the whole sample: descriptive)", "quintile",
                   "mean forward log return (%)")


def lead_lag_figure(ev: SignalEvaluation) -> go.Figure:
    """corr(composite at t, 21-session spread return ending at t + k)."""
    ll = ev.lead_lag
    fig = go.Figure(go.Scatter(x=ll.index, y=ll["corr"], mode="lines", name="correlation",
                               line={"color": "#1f77b4"}))
    fig.add_trace(go.Scatter(x=ll.index, y=ll["band"], mode="lines", name="+-1.96/sqrt(n) "
                             "(iid; overlapping returns need a wider band)",
                             line={"color": "grey", "dash": "dash"}))
    fig.add_trace(go.Scatter(x=ll.index, y=-ll["band"], mode="lines", showlegend=False,
                             line={"color": "grey", "dash": "dash"}))
    fig.add_vline(x=LEAD_LAG_WINDOW + ev.lag, line_color="#d62728", line_dash="dot")
    fig.add_vline(x=0, line_color="black", line_width=1)
    return _styled(fig, f"Lead-lag: corr(composite at t, {LEAD_LAG_WINDOW}-session spread "
                        f"return ending at t + k); right of the red line the return lies "
                        f"wholly after the fill (the signal leads)", "k (sessions)",
                   "correlation")


def _table(frame: pd.DataFrame, columns: list[str]) -> str:
    def cell(v):
        if isinstance(v, float):
            return "-" if not math.isfinite(v) else f"{v:.3f}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
                   for row in frame[columns].itertuples(index=False))
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(pearson: float, t: float, n: int) -> str:
    if not math.isfinite(pearson):
        return f"<td title='n {n}'>-</td>"
    text = f"{pearson:+.2f} ({t:+.1f})" if math.isfinite(t) else f"{pearson:+.2f}"
    strong = math.isfinite(t) and abs(t) > 2
    return f"<td title='n {n}'>{'<b>' + text + '</b>' if strong else text}</td>"


def _grid(frame: pd.DataFrame, row: str, columns: list[str]) -> str:
    """Rows by ``row``, one column per combination of ``columns``; each cell the Pearson IC
    and its t (bold: |t| > 2), the number of signal days on hover."""
    keys = list(dict.fromkeys(frame[columns].itertuples(index=False, name=None)))
    cells = {(r[row], *(r[c] for c in columns)): r for r in frame.to_dict(orient="records")}
    head = "".join(f"<th>{html.escape(' '.join(str(k) for k in key))}</th>" for key in keys)
    body = []
    for name in dict.fromkeys(frame[row]):
        tds = []
        for key in keys:
            r = cells.get((name, *key))
            tds.append(_cell(r["pearson"], r["t"], r["n"]) if r else "<td>-</td>")
        body.append(f"<tr><td>{html.escape(str(name))}</td>{''.join(tds)}</tr>")
    return f"<table class='grid'><tr><th></th>{head}</tr>{''.join(body)}</table>"


def _grouped_tables(ev: SignalEvaluation, horizon: int = 21) -> str:
    """By calendar year and by regime: composite and components against the spread, and the
    composite against every target."""
    def pick(frame, **where):
        for key, value in where.items():
            frame = frame[frame[key] == value]
        return frame

    spread_year = pick(ev.by_year, target=SPREAD, horizon=horizon)
    by_regime = ev.by_regime.assign(horizon=[f"h={h}" for h in ev.by_regime["horizon"]])
    spread_regime = pick(by_regime, target=SPREAD)
    composite_year = pick(ev.by_year, signal=COMPOSITE, horizon=horizon)
    composite_regime = pick(by_regime, signal=COMPOSITE)
    return (
        "<p class='meta'>Each cell: Pearson IC (overlap-robust t), bold where |t| &gt; 2; "
        "hover for the number of signal days. The group is the signal day's (calendar year, "
        "or the regime known at its close); its forward window may run past the group's end. "
        "Every horizon and target is in signal_eval.json.</p>"
        f"<h2>By calendar year: composite and components vs the spread ({horizon} sessions)"
        f"</h2>{_grid(spread_year, 'signal', ['group'])}"
        f"<h2>By regime: composite and components vs the spread (horizon, regime)</h2>"
        f"{_grid(spread_regime, 'signal', ['horizon', 'group'])}"
        f"<h2>By calendar year: the composite vs each target ({horizon} sessions)</h2>"
        f"{_grid(composite_year, 'target', ['group'])}"
        f"<h2>By regime: the composite vs each target (horizon, regime)</h2>"
        f"{_grid(composite_regime, 'target', ['horizon', 'group'])}")


def write_signal_eval_page(ev: SignalEvaluation, path: Path) -> None:
    """The self-contained HTML tearsheet."""
    comp = ev.ic[ev.ic["signal"] == COMPOSITE]
    wide = comp.pivot(index="target", columns="horizon", values=["pearson", "spearman", "t"])
    wide.columns = [f"{stat} h={h}" for stat, h in wide.columns]
    wide = wide.reindex(comp["target"].unique()).reset_index()
    cols = ["target", *[f"{s} h={h}" for h in sorted(comp["horizon"].unique())
                        for s in ("pearson", "spearman", "t")]]
    figures = [decay_figure(ev), components_figure(ev), by_year_figure(ev), quintile_figure(ev),
               lead_lag_figure(ev)]
    plots = "".join(figure_div(f) for f in figures)
    valid = ev.windows["ic"].dropna()
    notes = [
        f"Sample: signal days {ev.first.date()} to {ev.last.date()}. The signal of day t is "
        f"known at close t; a trade on it is filled at close t + {ev.lag}; the forward return "
        f"over h sessions is the log return from close t + {ev.lag} to close t + {ev.lag} + h "
        f"(the return of the {ev.lag} session(s) before the fill is left out).",
        "Returns are raw log returns of daily-rebalanced books: no cash rate is subtracted "
        "(a correlation is unchanged by it; the spread is dollar neutral). Baskets are "
        "equal-weight over the members priced on both closes; the spread is the speculative "
        "basket minus the cash-flow basket, so the thesis expects a negative IC with it.",
        "t = slope of the forward return on the standardised signal over the larger of its "
        "Newey-West (h lags) and Hodrick (1992) 1B standard errors: overlapping windows and a "
        "persistent signal make plain t-statistics far too large.",
        f"Yearly windows: rank IC of the composite with the 21-session forward spread return "
        f"inside each window of {PERIODS_PER_YEAR} sessions (only signal days whose forward "
        f"return ends inside it); mean {valid.mean():.3f} over {len(valid)} windows." if len(
            valid) else "Yearly windows: none with enough data.",
    ]
    css = ("body{font-family:sans-serif;margin:24px;max-width:1250px}table{border-"
           "collapse:collapse;margin:12px 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px"
           " 6px;text-align:right}td:first-child,th:first-child{text-align:left}"
           "table.grid td{white-space:nowrap}.meta{color:#555;font-size:13px}")
    body = (
        "<h1>Signal tearsheet: does the composite predict returns?</h1>"
        f"<ul>{''.join(f'<li>{n}</li>' for n in notes)}</ul>"
        "<h2>Composite vs forward returns</h2>" + _table(wide, cols) +
        _grouped_tables(ev) +
        "<h2>Yearly windows (rank IC, spread, 21 sessions)</h2>" +
        _table(ev.windows, ["start", "end", "ic"]) + plots)
    write_page(path, "Signal tearsheet", body, css=css)


def write_signal_eval(ev: SignalEvaluation, folder: Path) -> None:
    """``signal_eval.html`` and ``signal_eval.json`` into ``folder``."""
    write_signal_eval_page(ev, folder / "signal_eval.html")
    (folder / "signal_eval.json").write_text(ev.to_json() + "\n")
