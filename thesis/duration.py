"""Claim 4: speculative long-duration assets lose in drain regimes, near-term cash flow wins.

Daily returns are attributed to the regime known at the previous close (a tradable split) and
annualised (x252); intervals come from a stationary block bootstrap that resamples returns and
regime labels together. Drain betas (weekly returns on weekly composite changes) rank the assets.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from backtests.stats.econometrics import conditional_means
from drain_core.conventions import DRAIN_REGIMES, REGIMES
from thesis.betas import drain_betas
from thesis.charts import PALETTE, bars_with_ci, styled
from thesis.claims import FunctionClaim, register
from thesis.inputs import MARKET, SPREAD, ThesisInputs
from thesis.result import ClaimResult, InsufficientData, missing_subtest, subtest

KEY = "duration"
TITLE = "4. Speculative long-duration loses, near-term cash flow wins"
CLAIM = ("In drain regimes the speculative basket does worst and the cash-flow basket holds up: "
         "the long/short spread (cash-flow minus speculative) earns money in drain regimes, more "
         "than in abundant ones, and rises with the drain composite.")
COUNTER = False
register(FunctionClaim(KEY, TITLE, CLAIM, COUNTER, lambda inputs: run(inputs)))
GROUPS = {**{name: (name,) for name in REGIMES}, "drain": DRAIN_REGIMES}
CONTRAST = "drain - abundant"


def regime_returns(inputs: ThesisInputs) -> pd.DataFrame:
    """Annualised mean daily return by regime (and drain - abundant), bootstrap 95% CIs."""
    cfg = inputs.config
    frame = inputs.basket_returns.copy()
    if MARKET in inputs.returns:
        frame[MARKET] = inputs.returns[MARKET]
    labels = inputs.regime.shift(1)
    if labels.notna().sum() < cfg.min_sessions:
        raise InsufficientData(f"{int(labels.notna().sum())} sessions with a known regime "
                               f"(need {cfg.min_sessions})")
    return conditional_means(frame, labels, GROUPS, {CONTRAST: ("drain", "abundant")},
                             block=cfg.block_sessions, reps=cfg.bootstrap_reps, seed=cfg.seed,
                             min_obs=cfg.min_sessions)


def _pick(table: pd.DataFrame, column: str, group: str) -> pd.Series | None:
    rows = table[(table["column"] == column) & (table["group"] == group)]
    return rows.iloc[0] if len(rows) else None


def _return_subtest(name: str, row: pd.Series | None, min_n: int):
    if row is None or row["n"] < min_n:
        return missing_subtest(name, +1, "too few sessions in the regime", "ann. return")
    return subtest(name, row["value"], +1, int(row["n"]), ci=(row["ci_low"], row["ci_high"]),
                   unit="ann. return")


def _regime_figure(table: pd.DataFrame, columns: list[str]) -> go.Figure:
    groups = [*REGIMES, "drain", CONTRAST]
    series = {}
    for col in columns:
        part = table[table["column"] == col].set_index("group").reindex(groups)
        series[col] = ((part["value"] * 100).tolist(), (part["ci_low"] * 100).tolist(),
                       (part["ci_high"] * 100).tolist())
    return bars_with_ci(groups, series, "Annualised return by regime known at the previous "
                        "close (95% stationary block-bootstrap intervals)", "% a year")


def _beta_figure(betas: pd.DataFrame) -> go.Figure:
    colours = {"speculative": PALETTE[1], "cash_flow": PALETTE[2], "basket": PALETTE[0],
               "market": PALETTE[3]}
    fig = go.Figure(go.Bar(
        y=betas["asset"], x=betas["beta"] * 100, orientation="h",
        marker_color=[colours.get(g, PALETTE[7]) for g in betas["group"]],
        error_x={"type": "data", "array": (1.96 * betas["beta"].abs()
                                          / betas["t"].abs().where(betas["t"] != 0) * 100)},
        hovertext=[f"{g}, t = {t:.2f}, {w} weeks" for g, t, w in
                   zip(betas["group"], betas["t"], betas["weeks"], strict=True)]))
    fig.update_yaxes(autorange="reversed")
    return styled(fig, "Drain beta: weekly return per unit weekly change of the composite "
                       "(most negative first; red speculative, green cash-flow)",
                  x_title="% per unit of composite change", height=max(420, 18 * len(betas)))


def run(inputs: ThesisInputs) -> ClaimResult:
    """Regime-conditional returns, the spread's drain beta, and the ranking of assets."""
    cfg = inputs.config
    result = ClaimResult(key=KEY, title=TITLE, claim=CLAIM)
    table = regime_returns(inputs)
    result.tables["annualised return by regime"] = table.pivot(
        index="group", columns="column", values="value").reindex([*GROUPS, CONTRAST])
    result.tables["regime returns with intervals"] = table
    result.stats["regime_returns"] = table
    result.subtests = [
        _return_subtest("spread annualised return in drain regimes",
                        _pick(table, SPREAD, "drain"), cfg.horizon),
        _return_subtest("spread: drain minus abundant (annualised)",
                        _pick(table, SPREAD, CONTRAST), cfg.horizon),
    ]
    try:
        betas = drain_betas(inputs)
    except InsufficientData as exc:
        result.subtests.append(missing_subtest("spread drain beta", +1, str(exc)))
        betas = None
    if betas is not None:
        result.tables["assets ranked by drain beta"] = betas
        result.stats["drain_betas"] = betas
        spread = betas[betas["asset"] == SPREAD]
        if len(spread):
            row = spread.iloc[0]
            result.subtests.append(subtest("spread drain beta (weekly)", row["beta"], +1,
                                           int(row["weeks"]), t=row["t"]))
        else:
            result.subtests.append(missing_subtest("spread drain beta", +1,
                                                   "too few weeks of spread returns"))
    result.figures.append(_regime_figure(
        table, [c for c in (inputs.short_name, inputs.long_name, SPREAD, MARKET)
                if c in set(table["column"])]))
    if betas is not None:
        result.figures.append(_beta_figure(betas))
    result.decide()
    drain = _pick(table, SPREAD, "drain")
    abundant = _pick(table, SPREAD, "abundant")
    if drain is not None and pd.notna(drain["value"]):
        other = (f"{abundant['value'] * 100:+.1f}%/yr abundant" if abundant is not None
                 and pd.notna(abundant["value"]) else "no abundant session in the window")
        result.headline = (f"spread {drain['value'] * 100:+.1f}%/yr in drain regimes "
                           f"[{drain['ci_low'] * 100:+.1f}, {drain['ci_high'] * 100:+.1f}] vs "
                           f"{other}")
    else:
        result.headline = result.reason or "no drain session in the window"
    result.notes += [
        "Returns are gross: daily-rebalanced equal weights over members priced that day, no "
        "costs, no borrow fee, no interest on cash.",
        f"Bootstrap: {cfg.bootstrap_reps} stationary-bootstrap replications, mean block "
        f"{cfg.block_sessions} sessions, returns and regime labels resampled together.",
        "The composite contains credit components priced from HYG and LQD, so every risky "
        "asset co-moves with it mechanically; 'beta_ex_market' controls for SPY's return.",
        "Weekly crypto returns run Thursday-to-Thursday UTC (a UTC day is stored at the next "
        "NYSE session), six of seven days in common with the equity week.",
    ]
    return result
