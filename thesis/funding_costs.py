"""Claim 3: funding costs rise in drain regimes.

For each funding measure, the change over the next ``horizon`` sessions is averaged by the regime
known at the close where the window starts (Newey-West errors, ``horizon`` lags, for the overlap).
The headline contrast is drain regimes (draining or scarce) minus abundant. Because the composite
itself contains funding-stress components, the same test is repeated with regimes from a signal
rebuilt without the funding pillar.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from backtests.stats.econometrics import group_difference, regime_means
from drain_core.conventions import DRAIN_REGIMES, REGIME_COLOURS, REGIMES
from drain_core.errors import DrainError
from thesis.charts import panels, styled
from thesis.claims import FunctionClaim, register
from thesis.inputs import ThesisInputs
from thesis.result import ClaimResult, InsufficientData, missing_subtest, subtest

KEY = "funding_costs"
TITLE = "3. Funding costs rise"
CLAIM = ("In drain regimes funding gets dearer: over the next month SOFR - IORB, the 2-year and "
         "10-year Treasury yields rise, and high-yield credit (HYG) lags Treasuries (IEF), more "
         "than in abundant regimes.")
COUNTER = False
register(FunctionClaim(KEY, TITLE, CLAIM, COUNTER, lambda inputs: run(inputs)))


def outcomes(inputs: ThesisInputs) -> dict[str, tuple[pd.Series | None, str, int, str]]:
    """name -> (level on the window as known at each close, unit, expected sign, why missing)."""
    from signals import SignalConfig
    from signals.components import sofr_iorb

    out: dict[str, tuple[pd.Series | None, str, int, str]] = {}
    config = inputs.signal_config or SignalConfig()
    sofr = sofr_iorb(inputs.dataset, config)
    out["SOFR - IORB"] = (inputs.on_window(sofr), "bp", +1, "no SOFR data")
    for series, label in (("DGS2", "2-year yield"), ("DGS10", "10-year yield")):
        try:
            level = inputs.dataset.macro_daily(series)[series] * 100.0
            out[label] = (inputs.on_window(level), "bp", +1, "")
        except DrainError:
            out[label] = (None, "bp", +1, f"no {series} series")
    prices = inputs.dataset.prices
    if {"HYG", "IEF"} <= set(prices.columns):
        credit = 100.0 * (np.log(prices["HYG"]) - np.log(prices["IEF"]))
        out["HYG vs IEF"] = (inputs.on_window(credit), "%", -1, "")
    else:
        out["HYG vs IEF"] = (None, "%", -1, "no HYG or IEF prices")
    return out


def _test(step: pd.Series, regime: pd.Series, horizon: int, min_obs: int
          ) -> tuple[pd.DataFrame, object]:
    means = regime_means(step, regime, REGIMES, horizon, min_obs=min_obs)
    drain = regime.isin(DRAIN_REGIMES).where(regime.notna())
    diff = group_difference(step, drain, horizon, min_obs=min_obs, min_each=horizon)
    return means, diff


def _figure(panels_data: dict[str, pd.DataFrame], units: dict[str, str], horizon: int
            ) -> go.Figure:
    names = list(panels_data)
    fig = panels(len(names), [f"{n} ({units[n]})" for n in names])
    for col, name in enumerate(names, start=1):
        frame = panels_data[name]
        fig.add_trace(go.Bar(
            x=list(frame.index), y=frame["mean"], showlegend=False,
            marker_color=[REGIME_COLOURS[r] for r in frame.index],
            error_y={"type": "data", "array": (frame["ci_high"] - frame["mean"]).tolist(),
                     "arrayminus": (frame["mean"] - frame["ci_low"]).tolist()}),
            row=1, col=col)
    return styled(fig, f"Mean change over the next {horizon} sessions by drain regime "
                       "(95% Newey-West intervals)", height=380)


def run(inputs: ThesisInputs) -> ClaimResult:
    """Forward changes of funding measures by regime; drain minus abundant is the test."""
    cfg = inputs.config
    result = ClaimResult(key=KEY, title=TITLE, claim=CLAIM)
    regime = inputs.regime
    if regime.notna().sum() < cfg.min_sessions:
        raise InsufficientData(f"{int(regime.notna().sum())} sessions with a known regime "
                               f"(need {cfg.min_sessions})")
    series = outcomes(inputs)
    try:
        ex_regime = inputs.on_window(inputs.signal_ex_funding.regime)
    except (DrainError, ValueError) as exc:
        ex_regime, ex_reason = None, str(exc)
    else:
        ex_reason = ""
    rows, robust, figure_data, units = [], [], {}, {}
    for name, (level, unit, sign, why) in series.items():
        units[name] = unit
        label = f"{name}: drain - abundant ({cfg.horizon}-session change, {unit})"
        if level is None or level.notna().sum() < cfg.min_sessions:
            result.subtests.append(missing_subtest(label, sign, why or "too few observations",
                                                   unit))
            continue
        step = level.diff()  # its forward sum is the change over the next horizon sessions
        try:
            means, diff = _test(step, regime, cfg.horizon, cfg.min_sessions // 2)
        except InsufficientData as exc:
            result.subtests.append(missing_subtest(label, sign, str(exc), unit))
            continue
        figure_data[name] = means
        levels = level.groupby(regime).mean()
        for reg, row in means.iterrows():
            rows.append({"measure": name, "unit": unit, "regime": reg, **row.to_dict(),
                         "mean_level": float(levels.get(reg, math.nan))})
        rows.append({"measure": name, "unit": unit, "regime": "drain - abundant",
                     "mean": diff.value, "se": diff.se, "t": diff.t, "n": diff.n,
                     "ci_low": diff.ci_low, "ci_high": diff.ci_high})
        result.subtests.append(subtest(label, diff.value, sign, diff.n, t=diff.t, unit=unit))
        if ex_regime is not None:
            try:
                _, ex_diff = _test(step, ex_regime, cfg.horizon, cfg.min_sessions // 2)
                robust.append({"measure": name, "unit": unit, "difference": ex_diff.value,
                               "t": ex_diff.t, "n": ex_diff.n,
                               "verdict": subtest(label, ex_diff.value, sign, ex_diff.n,
                                                  t=ex_diff.t).verdict})
            except InsufficientData as exc:
                robust.append({"measure": name, "unit": unit, "reason": str(exc)})
    result.tables["forward changes by regime"] = pd.DataFrame(rows)
    result.tables["robustness: regimes from the signal without its funding pillar"] = (
        pd.DataFrame(robust) if robust else pd.DataFrame({"reason": [ex_reason or "-"]}))
    result.stats["by_regime"] = rows
    result.stats["ex_funding_regimes"] = robust
    if figure_data:
        result.figures.append(_figure(figure_data, units, cfg.horizon))
    result.decide()
    parts = [f"{s.name.split(':')[0]} {s.estimate:+.1f}{s.unit} (t {s.t:.1f})"
             for s in result.subtests if s.n]
    result.headline = "drain - abundant: " + "; ".join(parts) if parts else result.reason
    result.notes += [
        "SOFR - IORB is the signal's de-spiked spread (month turns dropped, 5-day median; "
        "DFEDTARU stands in for IORB before 2021-07-29), as known at each close.",
        "The composite contains the funding measures' trailing changes, so the primary test "
        "is partly circular through momentum; the table without the funding pillar removes it.",
        "Regime means come from one regression on regime dummies over the whole window; each "
        f"error is the larger of Newey-West ({cfg.horizon} lags) and Hodrick 1B, which both "
        "account for the overlap of the monthly windows.",
    ]
    return result
