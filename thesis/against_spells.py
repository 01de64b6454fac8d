"""Counter-evidence 1: the drain spells in which the long/short spread lost money.

A drain spell is a run of sessions whose previous close was in a draining or scarce regime
(returns are attributed to the regime known at the close before them). Each spell's compounded
return is listed; the losing ones are the thesis's failures, shown with dates and losses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy.stats import binomtest

from backtests.stats.econometrics import bootstrap_mean, compound
from drain_core.conventions import DRAIN_REGIMES
from thesis.charts import PALETTE, styled
from thesis.claims import FunctionClaim, register
from thesis.inputs import MARKET, SPREAD, ThesisInputs
from thesis.result import ClaimResult, InsufficientData, subtest

KEY = "failed_spells"
TITLE = "C1. Where the thesis failed: drain spells in which the spread lost"
CLAIM = ("Spell after spell, the long/short spread (cash-flow minus speculative) makes money "
         "while the signal says 'drain'; every spell in which it lost is listed.")
COUNTER = True
register(FunctionClaim(KEY, TITLE, CLAIM, COUNTER, lambda inputs: run(inputs)))


def drain_spells(regime: pd.Series, returns: pd.DataFrame) -> pd.DataFrame:
    """One row per drain spell: first and last return session, length, compounded returns."""
    known = regime.shift(1)
    in_drain = known.isin(DRAIN_REGIMES)
    spell_id = (in_drain != in_drain.shift()).cumsum()
    rows = []
    for _, members in in_drain.groupby(spell_id):
        if not members.iloc[0]:
            continue
        days = members.index
        part = returns.loc[days]
        scarce = float((known.loc[days] == "scarce").mean())
        row = {"from": days[0], "to": days[-1], "sessions": len(days), "scarce_share": scarce,
               "ongoing": bool(days[-1] == returns.index[-1])}
        row.update({col: float(compound(part[col])) for col in returns.columns})
        rows.append(row)
    return pd.DataFrame(rows)


def _figure(spread: pd.Series, spells: pd.DataFrame) -> go.Figure:
    wealth = np.expm1(np.log1p(spread.fillna(0.0)).cumsum()) * 100
    fig = go.Figure(go.Scatter(x=wealth.index, y=wealth, name="spread, cumulative (%)",
                               line={"color": PALETTE[0]}))
    for row in spells.itertuples(index=False):
        lost = getattr(row, SPREAD) < 0
        fig.add_vrect(x0=row[0], x1=row[1], fillcolor=PALETTE[1] if lost else PALETTE[2],
                      opacity=0.18, line_width=0)
    return styled(fig, "Long/short spread through drain spells (red: the spread lost; green: "
                       "it gained)", y_title="cumulative return (%)")


def run(inputs: ThesisInputs) -> ClaimResult:
    """List the drain spells, the losing ones first, and test the mean spell return."""
    cfg = inputs.config
    result = ClaimResult(key=KEY, title=TITLE, claim=CLAIM, counter_evidence=True)
    returns = inputs.basket_returns[[SPREAD, inputs.long_name, inputs.short_name]].copy()
    if MARKET in inputs.returns:
        returns[MARKET] = inputs.returns[MARKET]
    if inputs.regime.notna().sum() < cfg.min_sessions:
        raise InsufficientData(f"{int(inputs.regime.notna().sum())} sessions with a known "
                               f"regime (need {cfg.min_sessions})")
    spells = drain_spells(inputs.regime, returns)
    if len(spells) < cfg.min_events:
        raise InsufficientData(f"{len(spells)} drain spells in the window "
                               f"(need {cfg.min_events})")
    losing = spells[spells[SPREAD] < 0].sort_values(SPREAD).reset_index(drop=True)
    result.tables["drain spells in which the spread lost (worst first)"] = losing
    result.tables["every drain spell"] = spells
    result.stats["spells"] = spells
    result.stats["losing_spells"] = int(len(losing))
    est = bootstrap_mean(spells[SPREAD], block=1, reps=cfg.bootstrap_reps, seed=cfg.seed,
                         min_obs=cfg.min_events)
    won = int((spells[SPREAD] > 0).sum())
    share = binomtest(won, len(spells)).proportion_ci(confidence_level=0.95)
    result.subtests = [
        subtest("mean spread return per drain spell", est.value, +1, est.n,
                ci=(est.ci_low, est.ci_high), unit="return"),
        subtest("share of drain spells won, minus one half", won / len(spells) - 0.5, +1,
                len(spells), ci=(share.low - 0.5, share.high - 0.5), unit="share"),
    ]
    result.figures.append(_figure(inputs.basket_returns[SPREAD], spells))
    result.decide()
    worst = losing.iloc[0] if len(losing) else None
    worst_text = (f"; worst {worst['from'].date()} to {worst['to'].date()}: "
                  f"{worst[SPREAD] * 100:+.1f}%" if worst is not None else "")
    result.headline = (f"the spread lost in {len(losing)} of {len(spells)} drain spells"
                       f"{worst_text}")
    result.notes += [
        "Spells are separated by at least one session in the abundant regime (or in the "
        "warm-up); the regime has a hysteresis band, so one-day flickers are rare.",
        "The mean's interval resamples whole spells (iid bootstrap over spells); the share's is "
        "Clopper-Pearson. The share is robust to one outsized spell; the mean is not.",
    ]
    return result
