"""Counter-evidence 2: does the "safe" cash-flow leg also suffer when funding tightens?

Funding stress at each close is the mean of the signal's funding-pillar z-scores known then.
Forward returns over ``horizon`` sessions are averaged by stress decile; the worst decile is the
test (Frazzini & Pedersen: low-risk bets lose when funding constraints tighten).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from backtests.stats.econometrics import forward_return, nw_mean
from thesis.charts import PALETTE, styled
from thesis.claims import FunctionClaim, register
from thesis.inputs import FUNDING_COMPONENTS, MARKET, SPREAD, ThesisInputs
from thesis.result import ClaimResult, InsufficientData, missing_subtest, subtest

KEY = "safe_leg"
TITLE = "C2. Does the safe cash-flow leg suffer when funding tightens?"
CLAIM = ("The cash-flow basket holds up when funding is tightest: in the worst decile of "
         "funding stress its forward return is positive, and at least that of SPY.")
COUNTER = True
register(FunctionClaim(KEY, TITLE, CLAIM, COUNTER, lambda inputs: run(inputs)))


def funding_stress(inputs: ThesisInputs) -> pd.Series:
    """Mean of the funding-pillar z-scores available at each close of the window."""
    cols = [c for c in FUNDING_COMPONENTS if c in inputs.signal.zscores]
    if not cols:
        return pd.Series(float("nan"), index=inputs.window, name="stress")
    return inputs.on_window(inputs.signal.zscores[cols].mean(axis=1)).rename("stress")


def _figure(by_decile: pd.DataFrame, horizon: int) -> go.Figure:
    fig = go.Figure()
    for i, col in enumerate(by_decile.columns):
        fig.add_trace(go.Scatter(x=by_decile.index, y=by_decile[col] * 100, name=col,
                                 mode="lines+markers", line={"color": PALETTE[i % 8]}))
    fig.add_hline(y=0, line_color="black", line_width=1)
    return styled(fig, f"Mean forward {horizon}-session return by funding-stress decile "
                       "(10 = most stress)", x_title="decile", y_title="%")


def run(inputs: ThesisInputs) -> ClaimResult:
    """Forward returns by funding-stress decile; the worst decile is the test."""
    cfg = inputs.config
    result = ClaimResult(key=KEY, title=TITLE, claim=CLAIM, counter_evidence=True)
    stress = funding_stress(inputs)
    if stress.notna().sum() < cfg.min_sessions:
        raise InsufficientData(f"funding stress is known on {int(stress.notna().sum())} "
                               f"sessions (need {cfg.min_sessions})")
    daily = inputs.basket_returns.copy()
    if MARKET in inputs.returns:
        daily[MARKET] = inputs.returns[MARKET]
    fwd = forward_return(daily, cfg.horizon)
    long = inputs.long_name
    if MARKET in fwd:
        fwd[f"{long} - {MARKET}"] = fwd[long] - fwd[MARKET]
    data = fwd.assign(stress=stress).dropna(subset=["stress", long])
    if len(data) < cfg.min_sessions:
        raise InsufficientData(f"{len(data)} sessions with both stress and forward returns")
    data["decile"] = pd.qcut(data["stress"], 10, labels=False, duplicates="drop") + 1
    by_decile = data.groupby("decile")[[c for c in fwd.columns]].mean()
    result.tables["mean forward return by funding-stress decile"] = by_decile
    result.stats["by_decile"] = by_decile
    cutoff = data["stress"].quantile(cfg.stress_quantile)
    worst = data[data["stress"] >= cutoff]
    result.stats["stress_cutoff"] = float(cutoff)
    rows = []
    for col in fwd.columns:
        try:
            est = nw_mean(worst[col], cfg.horizon, min_obs=cfg.horizon)
            rows.append({"series": col, **est.to_dict()})
        except InsufficientData as exc:
            rows.append({"series": col, "reason": str(exc)})
    table = pd.DataFrame(rows).set_index("series")
    result.tables[f"worst stress decile (stress >= {cutoff:.2f})"] = table
    result.stats["worst_decile"] = table
    for col, name in ((long, f"{long} forward return in the worst stress decile"),
                      (f"{long} - {MARKET}", f"{long} minus SPY in the worst stress decile")):
        if col in table.index and "value" in table and pd.notna(table.loc[col, "value"]):
            row = table.loc[col]
            result.subtests.append(subtest(name, row["value"], +1, int(row["n"]), t=row["t"],
                                           unit="return"))
        else:
            result.subtests.append(missing_subtest(name, +1, "too few observations"))
    result.figures.append(_figure(by_decile, cfg.horizon))
    result.decide()
    head = result.subtests[0]
    spread = table.loc[SPREAD, "value"] if SPREAD in table.index and "value" in table else None
    spread_text = f"; spread {spread * 100:+.2f}%" if spread is not None else ""
    result.headline = (f"{long} {cfg.horizon}-session return in the worst stress decile: "
                       f"{head.estimate * 100:+.2f}% (t = {head.t:.2f}){spread_text}"
                       if head.n else head.reason)
    result.notes += [
        "Deciles are cut on the window's own distribution of the stress measure (a "
        "descriptive grouping; each stress value itself is point in time).",
        f"Newey-West errors with {cfg.horizon} lags on the worst-decile sessions in date order; "
        "those sessions bunch into a few episodes, so the effective sample is small.",
    ]
    return result
