"""Counter-evidence 3: what hyperscalers' own stocks did after capex surges (Titman-Wei-Xie).

For each hyperscaler quarter, capex YoY growth and its acceleration (growth minus the previous
quarter's growth) become known at the quarter's ``available_at``. A release is a "surge" when its
acceleration is in the top quartile of all accelerations known before it (point in time). The
forward return is the stock's over the ``capex_forward`` sessions after day 0, minus SPY's.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from thesis.charts import PALETTE, styled
from thesis.claims import FunctionClaim, register
from thesis.inputs import HYPERSCALERS, MARKET, ThesisInputs
from thesis.result import ClaimResult, InsufficientData, subtest

KEY = "capex_surges"
TITLE = "C3. Hyperscalers after capex surges (Titman, Wei & Xie 2004)"
CLAIM = ("Firms that sharply raise capex later underperform: a hyperscaler's stock lags SPY "
         "over the quarter after a top-quartile acceleration of its capex growth, relative to "
         "its other quarters. (A positive gap is evidence that the market rewards the capex.)")
COUNTER = True
register(FunctionClaim(KEY, TITLE, CLAIM, COUNTER, lambda inputs: run(inputs)))


def capex_accelerations(capex: pd.DataFrame) -> pd.DataFrame:
    """Per name and quarter: YoY growth, its acceleration and when both became known."""
    rows = []
    for ticker, group in capex.groupby("ticker"):
        if ticker not in HYPERSCALERS:
            continue
        periods = pd.PeriodIndex(group["fiscal_period_end"], freq="Q")
        series = pd.Series(group["capex_usd"].to_numpy(dtype=float), index=periods)
        avail = pd.Series(group["available_at"].to_numpy(), index=periods)
        series = series[~series.index.duplicated(keep="last")]
        avail = avail[~avail.index.duplicated(keep="last")]
        for q in series.index:
            prev, yago, prev_yago = q - 1, q - 4, q - 5
            if not {yago, prev, prev_yago} <= set(series.index):
                continue
            yoy = series[q] / series[yago] - 1
            prev_yoy = series[prev] / series[prev_yago] - 1
            rows.append({"ticker": ticker, "quarter": str(q), "available_at": avail[q],
                         "capex_yoy": yoy, "acceleration": yoy - prev_yoy})
    frame = pd.DataFrame(rows, columns=["ticker", "quarter", "available_at", "capex_yoy",
                                        "acceleration"])
    return frame.sort_values(["available_at", "ticker"]).reset_index(drop=True)


def classify_surges(events: pd.DataFrame, min_history: int) -> pd.Series:
    """True/False where an acceleration is (not) in the top quartile of those known before it;
    NaN until ``min_history`` earlier accelerations exist."""
    out = pd.Series(np.nan, index=events.index, dtype=object)
    for i, row in events.iterrows():
        past = events.loc[events["available_at"] < row["available_at"], "acceleration"]
        if len(past) >= min_history:
            out[i] = bool(row["acceleration"] >= past.quantile(0.75))
    return out


def forward_excess(inputs: ThesisInputs, events: pd.DataFrame, horizon: int) -> pd.Series:
    """Stock return minus SPY's from the close of day 0 to the close ``horizon`` sessions later
    (NaN unless day 0 and the whole forward window lie in the window)."""
    prices = inputs.prices
    out = pd.Series(np.nan, index=events.index)
    for i, row in events.iterrows():
        day0 = pd.Timestamp(row["available_at"])
        pos = inputs.window.searchsorted(day0)
        if pos + horizon >= len(inputs.window) or inputs.window[pos] != day0:
            continue
        if row["ticker"] not in prices or MARKET not in prices:
            continue
        start, end = prices.iloc[pos], prices.iloc[pos + horizon]
        stock = end[row["ticker"]] / start[row["ticker"]] - 1
        market = end[MARKET] / start[MARKET] - 1
        out[i] = stock - market
    return out


def _figure(events: pd.DataFrame, horizon: int) -> go.Figure:
    fig = go.Figure()
    for i, (flag, name) in enumerate(((False, "other quarters"), (True, "top-quartile surge"))):
        part = events[events["surge"] == flag]
        fig.add_trace(go.Scatter(
            x=part["acceleration"] * 100, y=part["excess"] * 100, mode="markers", name=name,
            marker={"color": PALETTE[i + 1 if flag else 0], "size": 8},
            text=[f"{t} {q}" for t, q in zip(part["ticker"], part["quarter"], strict=True)]))
    fig.add_hline(y=0, line_color="black", line_width=1)
    return styled(fig, f"Hyperscaler return minus SPY over the {horizon} sessions after each "
                       "capex release", x_title="capex YoY acceleration (pp)",
                  y_title="excess return (%)")


def run(inputs: ThesisInputs) -> ClaimResult:
    """Forward excess returns after top-quartile capex accelerations vs after the rest."""
    cfg = inputs.config
    result = ClaimResult(key=KEY, title=TITLE, claim=CLAIM, counter_evidence=True)
    events = capex_accelerations(inputs.dataset.capex)
    events["surge"] = classify_surges(events, cfg.capex_min_history)
    events["excess"] = forward_excess(inputs, events, cfg.capex_forward)
    usable = events.dropna(subset=["surge", "excess"])
    result.tables["capex releases"] = events
    result.stats["events"] = events
    top = usable.loc[usable["surge"].astype(bool), "excess"]
    rest = usable.loc[~usable["surge"].astype(bool), "excess"]
    if min(len(top), len(rest)) < cfg.min_events:
        raise InsufficientData(f"{len(top)} surge releases and {len(rest)} others with a full "
                               f"{cfg.capex_forward}-session window (need {cfg.min_events} each)")
    diff = float(top.mean() - rest.mean())
    se = math.sqrt(top.var(ddof=1) / len(top) + rest.var(ddof=1) / len(rest))
    result.subtests = [subtest("surge minus other quarters: forward excess return", diff, -1,
                               len(top) + len(rest), t=diff / se if se else math.nan,
                               unit="return")]
    per_name = usable.groupby(["ticker", "surge"])["excess"].agg(["mean", "count"]).unstack()
    result.tables["mean forward excess return by name"] = per_name
    result.stats["top_mean"], result.stats["rest_mean"] = float(top.mean()), float(rest.mean())
    result.figures.append(_figure(usable, cfg.capex_forward))
    result.decide()
    result.headline = (f"after surges {top.mean() * 100:+.1f}% vs SPY ({len(top)}), after the "
                       f"rest {rest.mean() * 100:+.1f}% ({len(rest)}); gap {diff * 100:+.1f}% "
                       f"(t = {diff / se if se else math.nan:.2f})")
    result.notes += [
        "Day 0 is the conservative capex available_at (quarter end + 45 days, + 60 for a "
        "fiscal-year end), usually after the earnings release: the forward window holds no "
        "announcement return.",
        "Releases of different names overlap in time and the five stocks are correlated, so "
        "the Welch t-statistic overstates the independent information.",
    ]
    return result
