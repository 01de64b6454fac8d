"""Claim 5: crypto is the most sensitive gauge of the drain.

Rolling correlations of crypto (and MSTR, COIN) with SPY and with composite changes; weekly
lead-lag of BTC against composite changes; a Chow test (break date a parameter) and Andrews'
sup-Wald of BTC's weekly relation to SPY and the composite. Daily crypto closes are stored at the
next NYSE session (a UTC day ends after the NYSE close), so a one-session return overlaps the
equity session by only a few hours: correlations use 5-session returns, regressions weekly ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from backtests.stats.econometrics import (
    BreakTest,
    chow_test,
    cross_correlation,
    nw_ols,
    sup_wald_test,
)
from thesis.betas import drain_betas
from thesis.charts import PALETTE, styled
from thesis.claims import FunctionClaim, register
from thesis.inputs import CRYPTO_GAUGES, MARKET, ThesisInputs
from thesis.result import ClaimResult, InsufficientData, missing_subtest, subtest

KEY = "crypto_gauge"
TITLE = "5. Crypto is the most sensitive gauge"
CLAIM = ("Crypto reacts most to the drain: since 2020 BTC falls when the composite rises, more "
         "than SPY does, and its relation to equities broke around 2020 (near zero before, "
         "positive after).")
COUNTER = False
register(FunctionClaim(KEY, TITLE, CLAIM, COUNTER, lambda inputs: run(inputs)))
BTC = "BTC-USD"


def rolling_correlations(inputs: ThesisInputs) -> pd.DataFrame:
    """Rolling correlation of 5-session returns with SPY and with 5-session composite changes."""
    window = inputs.config.rolling_window
    prices = inputs.prices
    five = np.log(prices).diff(5)
    d_comp = inputs.composite.diff(5)
    out = {}
    for asset in [a for a in CRYPTO_GAUGES if a in five]:
        if MARKET in five:
            out[f"{asset} vs SPY"] = five[asset].rolling(window, min_periods=window // 2).corr(
                five[MARKET])
        out[f"{asset} vs composite change"] = five[asset].rolling(
            window, min_periods=window // 2).corr(d_comp)
    return pd.DataFrame(out, index=inputs.window)


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
SAME_DAY = "same calendar day"
NEXT_SESSION = "next session (as traded)"


def calendar_day_closes(prices: pd.DataFrame) -> pd.DataFrame:
    """Closes dated by their own calendar day: a crypto (``-USD``) column gets, on each
    session, the close of the UTC day with that session's date.

    The session data store a UTC-day close at the next NYSE session (it is known only after the
    NYSE close), keeping the last UTC day before it. So the UTC close of session s's own date is
    the value stored at the next session when that one is the next calendar day (Monday to
    Thursday, holidays aside), and is not in the data otherwise (a Friday's is overwritten by
    Sunday's): NaN there. Equity columns are unchanged.
    """
    index = prices.index
    following = pd.Series(index, index=index).shift(-1)
    next_day = ((following - pd.Series(index, index=index)) == pd.Timedelta(days=1)).to_numpy()
    out = prices.copy()
    for col in [c for c in prices.columns if str(c).endswith("-USD")]:
        out[col] = prices[col].shift(-1).where(next_day)
    return out


def anchored_weekly(levels: pd.DataFrame, weekday: int) -> pd.DataFrame:
    """Simple returns from one ``weekday`` close to the next, seven calendar days apart."""
    days = levels[levels.index.day_of_week == weekday]
    returns = days.pct_change(fill_method=None)
    seven = (days.index.to_series().diff() == pd.Timedelta(days=7)).to_numpy()
    return returns[seven]


def _corr_beta(weekly: pd.DataFrame, asset: str) -> tuple[int, float, float]:
    pair = weekly[[asset, MARKET]].dropna()
    if len(pair) < 3:
        return len(pair), np.nan, np.nan
    var = pair[MARKET].var()
    return (len(pair), float(pair[asset].corr(pair[MARKET])),
            float(pair[asset].cov(pair[MARKET]) / var) if var > 0 else np.nan)


def comovement(inputs: ThesisInputs) -> pd.DataFrame:
    """Weekly correlation and beta of each crypto coin with SPY before and after the break, in
    both alignments, on weeks anchored on each weekday (Monday to Thursday: the weekdays whose
    UTC close the session data hold).

    ``same calendar day``: the coin's UTC close and SPY's NYSE close of the same date (four
    hours apart): the descriptive co-movement. ``next session``: the coin as the sessions carry
    it (the previous UTC day's close, the one known at the NYSE close): what a strategy trading
    at the close sees, and what the other figures of this claim use.
    """
    date = pd.Timestamp(inputs.config.break_date)
    coins = [a for a in CRYPTO_GAUGES if a.endswith("-USD") and a in inputs.prices]
    if MARKET not in inputs.prices or not coins:
        return pd.DataFrame()
    sessions = inputs.prices[[*coins, MARKET]]
    same_day = calendar_day_closes(sessions)
    rows = []
    for alignment, levels in ((SAME_DAY, same_day), (NEXT_SESSION, sessions)):
        for weekday in range(4):
            weekly = anchored_weekly(levels, weekday)
            for asset in coins:
                for label, part in (("before", weekly[weekly.index < date]),
                                    ("after", weekly[weekly.index >= date])):
                    weeks, corr, beta = _corr_beta(part, asset)
                    if weeks < inputs.config.min_weeks:
                        continue
                    rows.append({"asset": asset, "period": f"{label} {date.date()}",
                                 "alignment": alignment, "weeks ending": WEEKDAYS[weekday],
                                 "weeks": weeks, "corr_with_spy": corr, "beta_to_spy": beta})
    return pd.DataFrame(rows)


def comovement_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per coin, period and alignment: the mean over the anchor weekdays and their range."""
    if table.empty:
        return table
    grouped = table.groupby(["asset", "period", "alignment"], sort=False)
    return pd.DataFrame({
        "anchors": grouped.size(), "weeks": grouped["weeks"].mean().round(),
        "corr_with_spy": grouped["corr_with_spy"].mean(),
        "corr_low": grouped["corr_with_spy"].min(), "corr_high": grouped["corr_with_spy"].max(),
        "beta_to_spy": grouped["beta_to_spy"].mean(),
        "beta_low": grouped["beta_to_spy"].min(), "beta_high": grouped["beta_to_spy"].max(),
    }).reset_index()


def before_after(inputs: ThesisInputs) -> pd.DataFrame:
    """Weekly (Friday, next-session alignment) correlation and beta of each crypto gauge with
    SPY before and after the break: the weekly returns the regressions of this claim use."""
    weekly = inputs.weekly_returns
    date = pd.Timestamp(inputs.config.break_date)
    rows = []
    for asset in [a for a in CRYPTO_GAUGES if a in weekly]:
        for label, part in (("before", weekly[weekly.index < date]),
                            ("after", weekly[weekly.index >= date])):
            pair = part[[asset, MARKET]].dropna()
            if len(pair) < inputs.config.min_weeks:
                continue
            var = pair[MARKET].var()
            rows.append({"asset": asset, "period": f"{label} {date.date()}", "weeks": len(pair),
                         "alignment": f"{NEXT_SESSION}, weeks ending Friday",
                         "corr_with_spy": pair[asset].corr(pair[MARKET]),
                         "beta_to_spy": pair[asset].cov(pair[MARKET]) / var if var > 0
                         else np.nan, "ann_vol": pair[asset].std() * np.sqrt(52)})
    return pd.DataFrame(rows)


def _break(inputs: ThesisInputs, btc: pd.Series) -> tuple[BreakTest | None, str, tuple]:
    cfg = inputs.config
    weekly = inputs.weekly_returns
    x = pd.DataFrame({"spy": weekly[MARKET], "d_composite": inputs.weekly_composite_change})
    try:
        test = chow_test(btc, x, cfg.break_date, min_each=cfg.min_weeks)
    except InsufficientData as exc:
        return None, str(exc), (np.nan, None, np.nan)
    try:
        sup = sup_wald_test(btc, x, cfg.break_trim, seed=cfg.seed)
    except InsufficientData:
        sup = (np.nan, None, np.nan)
    return test, "", sup


def _corr_figure(rolling: pd.DataFrame, window: int) -> go.Figure:
    fig = go.Figure()
    for i, col in enumerate(rolling.columns):
        fig.add_trace(go.Scatter(x=rolling.index, y=rolling[col], name=col, mode="lines",
                                 line={"color": PALETTE[i % 8],
                                       "dash": "dot" if "composite" in col else "solid"}))
    fig.add_hline(y=0, line_color="black", line_width=1)
    return styled(fig, f"Rolling {window}-session correlation of 5-session returns",
                  y_title="correlation")


def lead_lag(inputs: ThesisInputs) -> pd.DataFrame:
    """Weekly cross-correlations of each crypto gauge with composite changes, BTC's band."""
    weekly, d_comp = inputs.weekly_returns, inputs.weekly_composite_change
    cols = {}
    band = None
    for asset in [a for a in CRYPTO_GAUGES if a in weekly]:
        if weekly[asset].notna().sum() < inputs.config.min_weeks:
            continue
        xcorr = cross_correlation(weekly[asset], d_comp, inputs.config.max_lag_weeks)
        cols[asset] = xcorr["corr"]
        cols[f"{asset} n"] = xcorr["n"]
        if asset == BTC:
            band = xcorr["band"]
    frame = pd.DataFrame(cols)
    if band is not None:
        frame["band (BTC, 5%)"] = band
    return frame


def _xcorr_figure(xcorr: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    assets = [c for c in xcorr.columns if c in CRYPTO_GAUGES]
    for i, asset in enumerate(assets):
        fig.add_trace(go.Bar(x=xcorr.index, y=xcorr[asset], marker_color=PALETTE[i % 8],
                             name=asset))
    band = xcorr["band (BTC, 5%)"]
    fig.add_trace(go.Scatter(x=xcorr.index, y=band, mode="lines", name="BTC +-1.96/sqrt(n)",
                             line={"color": "grey", "dash": "dash"}))
    fig.add_trace(go.Scatter(x=xcorr.index, y=-band, mode="lines", showlegend=False,
                             line={"color": "grey", "dash": "dash"}))
    fig.update_layout(barmode="group")
    return styled(fig, "Lead-lag: corr(weekly return at t, composite change at t+k); "
                       "k > 0: crypto leads the signal", x_title="k (weeks)",
                  y_title="correlation")


def run(inputs: ThesisInputs) -> ClaimResult:
    """Correlations, lead-lag, the break test and the signed sub-tests on BTC."""
    cfg = inputs.config
    result = ClaimResult(key=KEY, title=TITLE, claim=CLAIM)
    weekly = inputs.weekly_returns
    if BTC not in weekly or weekly[BTC].notna().sum() < cfg.min_weeks:
        last = inputs.dataset.prices[BTC].last_valid_index() if (
            BTC in inputs.dataset.prices) else None
        tail = f" (the data's last BTC price is {last.date()})" if last is not None else ""
        have = int(weekly[BTC].notna().sum()) if BTC in weekly else 0
        raise InsufficientData(f"{have} weeks of {BTC} returns in the window, need "
                               f"{cfg.min_weeks}{tail}")
    if MARKET not in weekly:
        raise InsufficientData("no SPY prices")
    btc = weekly[BTC]
    since = pd.Timestamp(cfg.break_date)
    d_comp = inputs.weekly_composite_change
    rolling = rolling_correlations(inputs)
    result.figures.append(_corr_figure(rolling, cfg.rolling_window))
    result.stats["rolling_correlation_last"] = rolling.ffill().iloc[-1].to_dict() if len(
        rolling) else {}
    xcorr = lead_lag(inputs)
    result.tables["lead-lag: weekly crypto returns vs composite change"] = xcorr
    result.stats["lead_lag"] = xcorr
    result.figures.append(_xcorr_figure(xcorr))
    subs = []
    try:
        post = nw_ols(btc[btc.index >= since], d_comp, min_obs=cfg.min_weeks)
        subs.append(subtest(f"BTC drain beta since {since.date()} (weekly)",
                            post.params.iloc[1], -1, post.n, t=post.t.iloc[1]))
    except InsufficientData as exc:
        subs.append(missing_subtest(f"BTC drain beta since {since.date()}", -1, str(exc)))
    try:
        excess = (btc - weekly[MARKET])[btc.index >= since]
        fit = nw_ols(excess, d_comp, min_obs=cfg.min_weeks)
        subs.append(subtest("BTC minus SPY drain beta (more sensitive than equities)",
                            fit.params.iloc[1], -1, fit.n, t=fit.t.iloc[1]))
    except InsufficientData as exc:
        subs.append(missing_subtest("BTC minus SPY drain beta", -1, str(exc)))
    test, why, sup = _break(inputs, btc)
    if test is None:
        subs.append(missing_subtest(f"BTC beta to SPY: after - before {since.date()}", +1, why))
    else:
        change, se = test.change["spy"], test.change_se["spy"]
        subs.append(subtest(f"BTC beta to SPY: after - before {since.date()}", change, +1,
                            test.n_before + test.n_after, t=change / se if se else np.nan))
        brk = test.to_dict() | {"sup_wald": sup[0], "sup_date": sup[1], "sup_p": sup[2],
                                "sup_f": sup[0] / test.k if test.k else np.nan}
        result.stats["break_test"] = brk
        result.tables["structural break of BTC ~ SPY + composite change (weekly)"] = (
            pd.DataFrame([{"test": f"Chow F at {since.date()}", "statistic": test.f,
                           "p_value": test.f_p},
                          {"test": f"NW-robust Wald at {since.date()}", "statistic": test.wald,
                           "p_value": test.wald_p},
                          {"test": f"Andrews sup-Wald (trim {cfg.break_trim:g}), argmax "
                                   f"{sup[1].date() if sup[1] is not None else '-'}",
                           "statistic": sup[0], "p_value": sup[2]}]))
    result.subtests = subs
    split = before_after(inputs)
    if len(split):
        result.tables["weekly correlation and beta with SPY, before and after the break "
                      "(next-session alignment, Friday weeks: as the regressions use them)"] = split
        result.stats["before_after"] = split
    anchored = comovement(inputs)
    if len(anchored):
        summary = comovement_summary(anchored)
        result.tables["crypto-equity co-movement in both alignments (mean over weeks ending "
                      "Monday to Thursday, with the range)"] = summary
        result.tables["crypto-equity co-movement by alignment and week-ending day"] = anchored
        result.stats["comovement"] = summary
        result.stats["comovement_by_weekday"] = anchored
    try:
        ranking = drain_betas(inputs, since=since)
        result.tables[f"drain betas since {since.date()} (crypto gauges marked)"] = ranking.assign(
            crypto=ranking["asset"].isin(CRYPTO_GAUGES))
        result.stats["drain_betas_post_break"] = ranking
        rank = ranking.index[ranking["asset"] == BTC]
        result.stats["btc_rank"] = int(rank[0]) if len(rank) else None
        result.stats["assets_ranked"] = int(len(ranking))
    except InsufficientData:
        result.stats["btc_rank"] = None
    result.decide()
    first = subs[0]
    rank_text = (f"; rank {result.stats['btc_rank']} of {result.stats['assets_ranked']}"
                 if result.stats.get("btc_rank") else "")
    result.headline = (f"BTC drain beta since {since.date()}: {first.estimate * 100:+.2f}% per "
                       f"unit (t = {first.t:.2f}, {first.n} weeks){rank_text}"
                       if first.n else first.reason)
    result.notes += [
        "Crypto closes are UTC-day closes, four or more hours after the NYSE close. Two "
        "alignments: 'next session' pairs each NYSE close with the last UTC close known at it "
        "(the previous UTC day): right for anything traded at the close, and used by the "
        "regressions, the break test, the lead-lag and the rolling correlations here. 'Same "
        "calendar day' pairs SPY's close with the coin's close of the same date: right for "
        "describing co-movement (the one-day offset of 'next session' understates it). The "
        "session data hold a coin's same-day close only Monday to Thursday (a Friday's is "
        "overwritten by the weekend's), so the co-movement table anchors weeks on each of those "
        "days and reports the mean and range; the week-ending day moves the numbers about as "
        "much as the alignment does.",
        "Lead-lag bars outside the dashed band are individually significant at 5% (no "
        "correction for the 21 lags tried).",
        f"The break date {since.date()} is a parameter (break_date); the sup-Wald searches the "
        f"middle {1 - 2 * cfg.break_trim:.0%} of the weeks, p-value from Andrews' asymptotic "
        "distribution (simulated).",
    ]
    return result
