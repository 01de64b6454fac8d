"""Claim 1: hyperscaler capex is debt-financed, and the bond deals act like stimulus.

Two parts: hyperscaler capex and bond issuance by quarter (how much of the capex bonds pay for),
and an event study around every deal. Day 0 is the deal's ``available_at`` session (the first
close that may know it: the business day after pricing, or after the end of the week/month when
only that is known; for those the pre-window is marked uncertain). Post-event returns are the
sessions strictly after day 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from backtests.stats.econometrics import EventStudy, event_study
from thesis.charts import PALETTE, styled
from thesis.claims import FunctionClaim, register
from thesis.inputs import MARKET, ThesisInputs
from thesis.result import (
    ClaimResult,
    InsufficientData,
    missing_subtest,
    subtest,
)

KEY = "capex_stimulus"
TITLE = "1. Capex is debt-financed stimulus"
CLAIM = ("Hyperscalers finance AI capex with bonds; while idle money exists (the buffer of the "
         "Fed's ON RRP is not depleted) each deal works like stimulus: after it, SPY rises and "
         "the speculative basket beats the market.")
COUNTER = False
register(FunctionClaim(KEY, TITLE, CLAIM, COUNTER, lambda inputs: run(inputs)))
BTC = "BTC-USD"


def capex_and_issuance(inputs: ThesisInputs) -> pd.DataFrame:
    """Hyperscaler capex and bond issuance ($bn) by calendar quarter, as known at the end."""
    capex, deals = inputs.dataset.capex, inputs.dataset.issuance
    start = inputs.window[0] if len(inputs.window) else None
    capex_q = (capex.assign(q=pd.PeriodIndex(capex["fiscal_period_end"], freq="Q"))
               .groupby("q")["capex_usd"].sum() / 1e9)
    names_q = capex.assign(q=pd.PeriodIndex(capex["fiscal_period_end"], freq="Q")).groupby("q")[
        "ticker"].nunique()
    deals_q = (deals.assign(q=pd.PeriodIndex(deals["date"], freq="Q"))
               .groupby("q")["amount_usd"].sum() / 1e9)
    frame = pd.DataFrame({"capex_bn": capex_q, "issuance_bn": deals_q, "capex_names": names_q})
    frame["issuance_bn"] = frame["issuance_bn"].fillna(0.0)
    if start is not None:
        frame = frame[frame.index.end_time >= start]
    frame.index = frame.index.astype(str)
    frame.index.name = "quarter"
    return frame


def _by_year(frame: pd.DataFrame) -> pd.DataFrame:
    years = frame.index.str[:4]
    yearly = frame.groupby(years)[["capex_bn", "issuance_bn"]].sum(min_count=1)
    yearly["bond_share"] = yearly["issuance_bn"] / yearly["capex_bn"]
    yearly["quarters"] = frame.groupby(years)["capex_bn"].count()
    yearly["names"] = frame.groupby(years)["capex_names"].max()
    yearly.index.name = "year"
    return yearly


def deal_table(inputs: ThesisInputs) -> pd.DataFrame:
    """The deals whose available_at falls in the window, with buffer state at day 0."""
    deals = inputs.dataset.issuance.copy()
    deals = deals[deals["available_at"].isin(inputs.window)]
    depleted = inputs.on_window(inputs.signal.buffer_depleted)
    deals["buffer_depleted"] = deals["available_at"].map(depleted).fillna(False).astype(bool)
    deals["pre_window_uncertain"] = deals["date_precision"].str.lower() != "day"
    deals["label"] = [f"{d.date()} {issuer[:24]} ${amt / 1e9:.1f}bn ({p})"
                      for d, issuer, amt, p in zip(deals["date"], deals["issuer"],
                                                   deals["amount_usd"], deals["date_precision"],
                                                   strict=True)]
    return deals.set_index("label")


def _assets(inputs: ThesisInputs) -> pd.DataFrame:
    cols = {inputs.short_name: inputs.basket_returns[inputs.short_name],
            inputs.long_name: inputs.basket_returns[inputs.long_name]}
    for ticker in (MARKET, BTC):
        if ticker in inputs.returns:
            cols[ticker] = inputs.returns[ticker]
    return pd.DataFrame(cols)


def _study(inputs: ThesisInputs, deals: pd.DataFrame) -> EventStudy:
    cfg = inputs.config
    returns = _assets(inputs)
    if MARKET not in returns:
        raise InsufficientData("no SPY prices for the market model")
    return event_study(returns, returns[MARKET].rename(MARKET), deals["available_at"],
                       pre=cfg.event_pre, post=cfg.event_post, model=cfg.event_model,
                       estimation=cfg.event_estimation, gap=cfg.event_gap,
                       min_events=cfg.min_events)


def _car_subtest(name: str, study: EventStudy | None, asset: str, min_events: int,
                 why: str) -> object:
    if study is None or asset not in study.summary.index or study.summary["n"].max() == 0:
        return missing_subtest(name, +1, why, "CAR")
    row = study.summary.loc[asset]
    if row["n"] < min_events:
        return missing_subtest(name, +1, f"{int(row['n'])} events with a full window "
                                         f"(need {min_events})", "CAR")
    return subtest(name, row["caar"], +1, int(row["n"]), t=row["t"],
                   ci=(row["ci_low"], row["ci_high"]), unit="CAR")


def _paths_figure(study: EventStudy, n_events: int, uncertain: int, pre: int) -> go.Figure:
    fig = go.Figure()
    for i, asset in enumerate(study.paths.columns):
        fig.add_trace(go.Scatter(x=study.paths.index, y=study.paths[asset] * 100, name=asset,
                                 mode="lines+markers", line={"color": PALETTE[i % 8]}))
    fig.add_vrect(x0=-pre - 0.5, x1=0.5, fillcolor="#cccccc", opacity=0.25, line_width=0,
                  annotation_text=f"pre-window ({uncertain} of {n_events} deals: uncertain day)",
                  annotation_position="top left")
    fig.add_vline(x=0, line_dash="dash", line_color="black")
    return styled(fig, "Mean cumulative abnormal return around hyperscaler bond deals "
                       "(day 0 = first close that knows the deal)",
                  y_title="CAR since day -5 (%)", x_title="sessions relative to day 0")


def _capex_figure(frame: pd.DataFrame, yoy: pd.Series) -> go.Figure:
    fig = go.Figure()
    fig.add_trace(go.Bar(x=frame.index, y=frame["capex_bn"], name="capex ($bn, sum of names)",
                         marker_color=PALETTE[0]))
    fig.add_trace(go.Bar(x=frame.index, y=frame["issuance_bn"], name="bond issuance ($bn)",
                         marker_color=PALETTE[1]))
    quarterly = yoy.groupby(yoy.index.to_period("Q")).last()
    quarterly.index = quarterly.index.astype(str)
    quarterly = quarterly.reindex(frame.index)
    fig.add_trace(go.Scatter(x=quarterly.index, y=quarterly * 100, name="capex YoY (%, right)",
                             yaxis="y2", mode="lines", line={"color": "black"}))
    fig.update_layout(barmode="group",
                      yaxis2={"overlaying": "y", "side": "right", "title": "YoY %"})
    return styled(fig, "Hyperscaler capex and bond issuance by calendar quarter",
                  y_title="$bn")


def run(inputs: ThesisInputs) -> ClaimResult:
    """Capex vs issuance over time, and the event study of every deal in the window."""
    cfg = inputs.config
    result = ClaimResult(key=KEY, title=TITLE, claim=CLAIM)
    if len(inputs.window) < cfg.event_post + cfg.event_pre + 2:
        raise InsufficientData(f"{len(inputs.window)} sessions in the window")
    quarters = capex_and_issuance(inputs)
    yearly = _by_year(quarters)
    result.tables["capex and issuance by year"] = yearly
    result.stats["by_year"] = yearly
    yoy = inputs.on_window(inputs.signal.components.get(
        "capex_yoy", pd.Series(np.nan, index=inputs.signal.composite.index)))
    if len(quarters):
        result.figures.append(_capex_figure(quarters, yoy))
    deals = deal_table(inputs)
    result.stats["deals"] = int(len(deals))
    if len(deals) < cfg.min_events:
        raise InsufficientData(f"{len(deals)} bond deals became public in the window "
                               f"(need {cfg.min_events})")
    study_all = _study(inputs, deals)
    groups = {"all deals": deals, "buffer available": deals[~deals["buffer_depleted"]],
              "buffer depleted": deals[deals["buffer_depleted"]]}
    studies: dict[str, EventStudy | None] = {}
    summaries = []
    for label, subset in groups.items():
        try:
            studies[label] = study_all if label == "all deals" else _study(inputs, subset)
        except InsufficientData:
            studies[label] = None
            continue
        summary = studies[label].summary.assign(group=label)
        summaries.append(summary.reset_index())
    summary = pd.concat(summaries, ignore_index=True) if summaries else pd.DataFrame()
    result.tables["CAR(+1..+20) by group and asset"] = summary
    result.stats["car_summary"] = summary
    per_event = study_all.per_event.merge(
        deals[["available_at", "date_precision", "pre_window_uncertain", "buffer_depleted"]],
        left_on="event", right_index=True, how="left")
    wide = deals[["available_at", "date_precision", "pre_window_uncertain", "buffer_depleted"]]
    if len(per_event):
        cars = per_event.pivot_table(index="event", columns="asset",
                                     values=["car_pre", "car_post"])
        cars.columns = [f"{a} {c.replace('car_', 'CAR ')}" for c, a in cars.columns]
        wide = wide.join(cars)
    result.tables["each deal (pre = -5..0, post = +1..+20)"] = wide
    result.stats["per_event"] = per_event
    available = studies.get("buffer available")
    why = (f"none of the {len(deals)} deals in the window came with the buffer available "
           "and a full event window")
    result.subtests = [
        _car_subtest(f"{MARKET} CAR(+1..+20) after deals, buffer available", available, MARKET,
                     cfg.min_events, why),
        _car_subtest(f"{inputs.short_name} abnormal CAR(+1..+20), buffer available", available,
                     inputs.short_name, cfg.min_events, why),
    ]
    uncertain = int(deals["pre_window_uncertain"].sum())
    coverage = inputs.dataset.capex.groupby("ticker")["fiscal_period_end"].agg(["min", "max"])
    result.notes.append("Capex coverage (the sum grows partly as names enter): " + ", ".join(
        f"{t} {lo.date()} to {hi.date()}" for t, (lo, hi) in coverage.iterrows()) + ".")
    result.figures.append(_paths_figure(study_all, len(deals), uncertain, cfg.event_pre))
    result.decide()
    head = result.subtests[1]
    result.headline = (f"{inputs.short_name} CAR(+1..+20) after {head.n} deals with the buffer "
                       f"available: {head.estimate * 100:+.2f}% (t = {head.t:.2f})"
                       if head.n else f"{len(deals)} deals; {head.reason}")
    result.notes += [
        f"{uncertain} of {len(deals)} deals are known only to the week or month: day 0 is the "
        "business day after that period, so the true announcement may lie in the pre-window "
        "(marked uncertain).",
        "Abnormal returns: market model vs SPY fit on sessions -130..-11 (excess over SPY when "
        "that window is short); SPY itself is mean-adjusted. Baskets are equal-weight over "
        "members priced that day.",
        "Deals cluster in time (late 2025: five within ten weeks), so the t-statistic is the "
        "more conservative of the cross-sectional and the Brown-Warner dependence-adjusted one; "
        "overlapping windows still make the events far from independent.",
        "'Buffer depleted' is the signal's rule (smoothed ON RRP below its threshold). In 2020 "
        "ON RRP was near zero while QE flooded reserves, so the proxy calls that buffer empty.",
    ]
    return result
