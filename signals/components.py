"""The raw components of the liquidity-drain signal, one small pure function each.

Every function is ``(dataset, config) -> pd.Series`` on ``dataset.sessions``, named after the
component, oriented so that **higher = more drain**, and uses only observations whose
``available_at`` is on or before each session. Units are in ``signals.config.COMPONENTS``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from signals.config import SignalConfig
from signals.pit import (
    Prepared,
    as_ns,
    is_month_turn,
    macro_obs,
    macro_on_sessions,
    memo,
    on_sessions,
)

WEEKLY_SERIES = frozenset({"WALCL", "WRESBAL", "WTREGEN"})
IORB_START = pd.Timestamp("2021-07-29")  # first IORB; DFEDTARU (top of the range) before


def _series(values, dataset, name: str) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=dataset.sessions, name=name)


def _max_age(series: str, config: SignalConfig) -> int:
    return config.max_age_weekly if series in WEEKLY_SERIES else config.max_age_daily


def _macro(dataset, series: str, config: SignalConfig) -> pd.Series:
    max_age = _max_age(series, config)
    return memo(dataset, ("macro", series, max_age),
                lambda: macro_on_sessions(dataset, series, max_age=max_age)).copy()


# --- capex pressure -------------------------------------------------------------------------


def _quarter_ordinal(dates) -> np.ndarray:
    index = pd.DatetimeIndex(dates)
    return (index.year * 4 + (index.month - 1) // 3).to_numpy()


def capex_frame(dataset, config: SignalConfig) -> pd.DataFrame:
    """Aggregate hyperscaler capex YoY growth and its acceleration, matched names only.

    At each date a capex figure becomes public, every name contributes its latest fiscal quarter
    ``L`` provided the same quarter a year earlier (``L - 4``) is also known, and ``L`` is at most
    ``capex_max_stale_quarters`` behind the newest such quarter across names (a name that has not
    reported yet keeps its previous pair; an older one is dropped). The growth is
    ``sum(capex[L]) / sum(capex[L - 4]) - 1`` over those names only: a missing quarter drops that
    name from both sides, and a name covered late enters only once it has a year-ago quarter, so
    neither looks like capex falling. The acceleration is that growth minus the same ratio one
    quarter earlier (``L - 1`` over ``L - 5``), over the names with all four quarters.
    """
    capex = dataset.capex
    sessions = dataset.sessions
    empty = pd.DataFrame({"capex_yoy": np.nan, "capex_accel": np.nan}, index=sessions)
    if capex is None or len(capex) == 0:
        return empty
    rows = capex[["ticker", "fiscal_period_end", "capex_usd", "available_at"]].dropna()
    avail = as_ns(rows["available_at"])
    order = np.argsort(avail, kind="stable")
    avail = avail[order]
    tickers = rows["ticker"].to_numpy()[order].tolist()
    quarters = _quarter_ordinal(rows["fiscal_period_end"])[order].tolist()
    amounts = rows["capex_usd"].to_numpy(dtype=float)[order].tolist()
    known: dict[str, dict[int, float]] = {}
    events, yoy, accel = [], [], []
    stale = config.capex_max_stale_quarters
    for i, (ticker, q, value) in enumerate(zip(tickers, quarters, amounts, strict=True)):
        known.setdefault(ticker, {})[int(q)] = value
        if i + 1 < len(avail) and avail[i + 1] == avail[i]:
            continue  # aggregate once all rows published that day are in
        latest = {}
        for name, seen in known.items():
            last = max(seen)
            if last - 4 in seen:
                latest[name] = last
        events.append(avail[i])
        if not latest:
            yoy.append(np.nan)
            accel.append(np.nan)
            continue
        newest = max(latest.values())
        names = [t for t, last in latest.items() if last >= newest - stale]
        now = sum(known[t][latest[t]] for t in names)
        ago = sum(known[t][latest[t] - 4] for t in names)
        yoy.append(now / ago - 1.0 if ago > 0 else np.nan)
        both = [t for t in names if {latest[t] - 1, latest[t] - 5} <= known[t].keys()]
        if both:
            sums = [sum(known[t][latest[t] - lag] for t in both) for lag in (0, 4, 1, 5)]
            ok = sums[1] > 0 and sums[3] > 0
            accel.append(sums[0] / sums[1] - sums[2] / sums[3] if ok else np.nan)
        else:
            accel.append(np.nan)
    events = np.asarray(events, dtype="datetime64[ns]")
    return pd.DataFrame(
        {
            "capex_yoy": on_sessions(events, yoy, sessions),
            "capex_accel": on_sessions(events, accel, sessions),
        },
        index=sessions,
    )


def capex_yoy(dataset, config: SignalConfig) -> pd.Series:
    """Hyperscaler capex YoY growth (fraction), matched names, from each quarter's release."""
    return capex_frame(dataset, config)["capex_yoy"]


def capex_accel(dataset, config: SignalConfig) -> pd.Series:
    """Change of the matched capex YoY growth vs the previous quarter (fraction points)."""
    return capex_frame(dataset, config)["capex_accel"]


# --- issuance pressure ----------------------------------------------------------------------


def issuance(dataset, config: SignalConfig) -> pd.Series:
    """Hyperscaler bonds ($bn) made public in the trailing ``issuance_window`` sessions.

    A deal counts from its ``available_at`` (the business day after its pricing day, or after the
    end of its week/month when only that is known) for ``issuance_window`` sessions. Before the
    first known deal the value is NaN: the deal list starts in 2020, which is a coverage start,
    not zero issuance.
    """
    sessions = dataset.sessions
    deals = dataset.issuance
    out = np.full(len(sessions), np.nan)
    if deals is None or len(deals) == 0 or len(sessions) == 0:
        return _series(out, dataset, "issuance")
    pos = np.searchsorted(as_ns(sessions), as_ns(deals["available_at"]), side="left")
    inside = pos < len(sessions)
    daily = np.zeros(len(sessions))
    # Whole dollars are integers below 2**53, so these sums are exact (no rolling residue).
    np.add.at(daily, pos[inside], deals["amount_usd"].to_numpy(dtype=float)[inside])
    total = np.cumsum(daily)
    window = config.issuance_window
    lagged = np.r_[np.zeros(window), total[:-window]] if len(total) > window else 0.0
    summed = (total - lagged) / 1e9
    if inside.any():
        first = pos[inside].min()
        out[first:] = summed[first:]
    return _series(out, dataset, "issuance")


# --- idle-money buffer ----------------------------------------------------------------------


def rrp_smoothed(dataset, config: SignalConfig) -> pd.Series:
    """ON RRP ($bn), rolling median over ``rrp_median_window`` observations, on sessions."""

    def compute() -> pd.Series:
        rows = macro_obs(dataset, "RRPONTSYD")
        smooth = rows["value"].rolling(config.rrp_median_window, min_periods=1).median()
        values = on_sessions(rows["available_at"], smooth, dataset.sessions,
                             max_age=config.max_age_daily, dates=rows["date"])
        return _series(values, dataset, "rrp_bn")

    key = ("rrp", config.rrp_median_window, config.max_age_daily)
    return memo(dataset, key, compute).copy()


def rrp_scarcity(dataset, config: SignalConfig) -> pd.Series:
    """``-log(1 + ON RRP $bn)``: 0 when the facility is empty, about -7.8 at its 2022 peak."""
    rrp = rrp_smoothed(dataset, config)
    return (-np.log1p(rrp.clip(lower=0.0))).rename("rrp_scarcity")


def buffer_depleted(dataset, config: SignalConfig) -> pd.Series:
    """True when the smoothed ON RRP is known and below ``buffer_depleted_bn``."""
    rrp = rrp_smoothed(dataset, config)
    return (rrp < config.buffer_depleted_bn).rename("buffer_depleted")


def rrp_drain(dataset, config: SignalConfig) -> pd.Series:
    """Fall of the smoothed ON RRP over ``buffer_window`` sessions ($bn)."""
    rrp = rrp_smoothed(dataset, config)
    return (-rrp.diff(config.buffer_window)).rename("rrp_drain")


def reserves_drain(dataset, config: SignalConfig) -> pd.Series:
    """Fall of reserve balances WRESBAL ($mn -> $bn) over ``buffer_window`` sessions."""
    reserves = _macro(dataset, "WRESBAL", config) / 1000.0
    return (-reserves.diff(config.buffer_window)).rename("reserves_drain")


def tga_rebuild(dataset, config: SignalConfig) -> pd.Series:
    """Rise of the Treasury General Account WTREGEN ($mn -> $bn) over ``buffer_window``."""
    tga = _macro(dataset, "WTREGEN", config) / 1000.0
    return tga.diff(config.buffer_window).rename("tga_rebuild")


def net_liquidity(dataset, config: SignalConfig) -> pd.Series:
    """WALCL - WTREGEN - RRPONTSYD in $bn (WALCL, WTREGEN in $mn; RRP in $bn, smoothed)."""
    walcl = _macro(dataset, "WALCL", config) / 1000.0
    tga = _macro(dataset, "WTREGEN", config) / 1000.0
    return (walcl - tga - rrp_smoothed(dataset, config)).rename("net_liquidity_bn")


def netliq_drain(dataset, config: SignalConfig) -> pd.Series:
    """Fall of net liquidity over ``buffer_window`` sessions ($bn)."""
    return (-net_liquidity(dataset, config).diff(config.buffer_window)).rename("netliq_drain")


# --- funding stress -------------------------------------------------------------------------


def policy_rate_on(dataset, dates) -> np.ndarray:
    """IORB in effect on each date; before IORB existed, DFEDTARU (top of the target range)."""
    dates = as_ns(dates)
    out = np.full(len(dates), np.nan)
    for series, mask in (
        ("DFEDTARU", np.ones(len(dates), dtype=bool)),
        ("IORB", dates >= as_ns([IORB_START])[0]),
    ):
        rows = macro_obs(dataset, series)
        if len(rows) == 0:
            continue
        obs_dates = as_ns(rows["date"])
        pos = np.searchsorted(obs_dates, dates, side="right") - 1
        use = mask & (pos >= 0)
        out[use] = rows["value"].to_numpy(dtype=float)[pos[use]]
    return out


def _rate_spread(dataset, config: SignalConfig, series: str, name: str) -> pd.Series:
    """``series`` minus the policy rate on the same observation date (bp), de-spiked.

    The spread is formed on the observation date (SOFR of day D against IORB of day D), so an
    FOMC change never produces a one-day artefact; month turns are dropped when
    ``spread_exclude_turns``; a rolling median over ``spread_median_window`` observations
    follows; then each value becomes usable at the rate's own ``available_at`` (D + 1).
    """
    rows = macro_obs(dataset, series)
    if len(rows) == 0:
        return _series(np.full(len(dataset.sessions), np.nan), dataset, name)
    spread = (rows["value"].to_numpy(dtype=float) - policy_rate_on(dataset, rows["date"])) * 100
    rows = rows.assign(spread=spread).dropna(subset=["spread"])
    if config.spread_exclude_turns:
        rows = rows[~is_month_turn(rows["date"])]
    smooth = rows["spread"].rolling(config.spread_median_window, min_periods=1).median()
    values = on_sessions(rows["available_at"], smooth, dataset.sessions,
                         max_age=config.max_age_daily, dates=rows["date"])
    return _series(values, dataset, name)


def sofr_iorb(dataset, config: SignalConfig) -> pd.Series:
    """SOFR - IORB (bp; DFEDTARU before 2021-07-29), month turns dropped, rolling median."""
    return _rate_spread(dataset, config, "SOFR", "sofr_iorb")


def effr_iorb(dataset, config: SignalConfig) -> pd.Series:
    """EFFR - IORB (bp; DFEDTARU before 2021-07-29), month turns dropped, rolling median."""
    return _rate_spread(dataset, config, "EFFR", "effr_iorb")


def _yield_change(dataset, config: SignalConfig, series: str, name: str) -> pd.Series:
    return (_macro(dataset, series, config).diff(config.rates_window) * 100).rename(name)


def dgs2_change(dataset, config: SignalConfig) -> pd.Series:
    """Change of the 2-year Treasury yield over ``rates_window`` sessions (bp)."""
    return _yield_change(dataset, config, "DGS2", "dgs2_change")


def dgs10_change(dataset, config: SignalConfig) -> pd.Series:
    """Change of the 10-year Treasury yield over ``rates_window`` sessions (bp)."""
    return _yield_change(dataset, config, "DGS10", "dgs10_change")


def _price(dataset, ticker: str) -> pd.Series:
    if ticker in dataset.prices.columns:
        return dataset.prices[ticker].astype(float)
    return pd.Series(np.nan, index=dataset.sessions)


def _underperformance(dataset, config: SignalConfig, risky: str, name: str) -> pd.Series:
    """``-(log return of risky - log return of IEF)`` over ``credit_window`` sessions (%)."""
    ratio = np.log(_price(dataset, risky)) - np.log(_price(dataset, "IEF"))
    return (-ratio.diff(config.credit_window) * 100).rename(name)


def hy_credit(dataset, config: SignalConfig) -> pd.Series:
    """High-yield stress: HYG underperforming IEF over ``credit_window`` (log points, %)."""
    return _underperformance(dataset, config, "HYG", "hy_credit")


def ig_credit(dataset, config: SignalConfig) -> pd.Series:
    """Investment-grade stress: LQD underperforming IEF over ``credit_window`` (%)."""
    return _underperformance(dataset, config, "LQD", "ig_credit")


def dollar(dataset, config: SignalConfig) -> pd.Series:
    """Rise of the broad dollar DTWEXBGS over ``dollar_window`` sessions (log change, %).

    DTWEXBGS stops on 2025-12-26 in the snapshot: once its latest release is more than
    ``max_age_daily`` sessions old the component is NaN, and the composite re-weights.
    """
    level = _macro(dataset, "DTWEXBGS", config)
    return (np.log(level).diff(config.dollar_window) * 100).rename("dollar")


Component = Callable[[object, SignalConfig], pd.Series]

COMPONENT_FUNCTIONS: dict[str, Component] = {
    "capex_yoy": capex_yoy,
    "capex_accel": capex_accel,
    "issuance": issuance,
    "rrp_scarcity": rrp_scarcity,
    "rrp_drain": rrp_drain,
    "reserves_drain": reserves_drain,
    "tga_rebuild": tga_rebuild,
    "netliq_drain": netliq_drain,
    "sofr_iorb": sofr_iorb,
    "effr_iorb": effr_iorb,
    "dgs2_change": dgs2_change,
    "dgs10_change": dgs10_change,
    "hy_credit": hy_credit,
    "ig_credit": ig_credit,
    "dollar": dollar,
}


def compute_components(dataset, config: SignalConfig) -> pd.DataFrame:
    """Every selected component as one frame on ``dataset.sessions`` (capex computed once)."""
    dataset = dataset if isinstance(dataset, Prepared) else Prepared(dataset)
    columns: dict[str, pd.Series] = {}
    capex = None
    for name in config.components:
        if name in ("capex_yoy", "capex_accel"):
            capex = capex_frame(dataset, config) if capex is None else capex
            columns[name] = capex[name]
        else:
            columns[name] = COMPONENT_FUNCTIONS[name](dataset, config)
    frame = pd.DataFrame(columns, index=dataset.sessions)
    frame.columns.name = "component"
    return frame
