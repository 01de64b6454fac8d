"""Synthetic inputs for the thesis tests: a small ``Dataset`` and a hand-made signal.

Builders, not tests (one sanity test at the end). Effects are planted through ``Plant``: a drift
of the baskets by the regime known at the previous close, a loading on composite changes, or
jumps on given sessions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from drain_data.calendar import nyse_sessions
from drain_data.releases import capex_available_at, issuance_available_at, macro_available_at
from drain_data.store import Dataset
from strategies.config import DEFAULT_BASKETS
from thesis import SignalView

START, END = "2016-01-04", "2021-12-31"
SPEC = DEFAULT_BASKETS["speculative"]
CASH = DEFAULT_BASKETS["cash_flow"]
OTHERS = ("SPY", "QQQ", "HYG", "IEF", "LQD", "MSFT", "GOOGL", "AMZN", "META", "ORCL")
CRYPTO = ("BTC-USD", "ETH-USD", "MSTR", "COIN")
PRESSURE = ("capex_yoy", "capex_accel", "issuance")
FUNDING = ("sofr_iorb", "effr_iorb", "dgs2_change", "dgs10_change", "hy_credit", "ig_credit",
           "dollar")
DEALS = (  # date, precision, issuer, $bn
    ("2016-06-14", "day", "Alphabet", 5.0),
    ("2017-03-08", "week", "Amazon", 8.0),
    ("2017-11-02", "month", "Meta", 6.0),
    ("2018-09-20", "day", "Alphabet", 7.0),
    ("2019-05-13", "day", "Amazon", 10.0),
    ("2020-02-11", "week", "Meta", 9.0),
    ("2020-10-06", "day", "Alphabet", 10.0),
    ("2021-04-21", "month", "Amazon", 12.0),
)


@dataclass
class Plant:
    """Effects planted in the synthetic returns (daily, as fractions)."""

    drain_drift_spec: float = 0.0  # added to speculative members when regime[t-1] is drain
    drain_drift_cash: float = 0.0
    beta_spec: float = 0.0  # loading of speculative members on the composite change at t
    beta_cash: float = 0.0
    jumps: dict[str, list[tuple[pd.Timestamp, float]]] = field(default_factory=dict)


def synthetic_signal(sessions: pd.DatetimeIndex, seed: int = 1, warmup: int = 60) -> SignalView:
    """A persistent AR(1) composite, threshold regimes, and AR(1) components/z-scores."""
    rng = np.random.default_rng(seed)
    n = len(sessions)
    comp = np.zeros(n)
    for t in range(1, n):
        comp[t] = 0.995 * comp[t - 1] + 0.08 * rng.standard_normal()
    composite = pd.Series(comp, index=sessions, name="composite")
    regime = pd.Series(np.where(comp > 0.75, "scarce", np.where(comp > 0.25, "draining",
                                                                  "abundant")),
                       index=sessions, dtype=object)
    regime.iloc[:warmup] = None
    composite.iloc[:warmup] = np.nan
    names = (*PRESSURE, *FUNDING)
    z = np.zeros((n, len(names)))
    for t in range(1, n):
        z[t] = 0.99 * z[t - 1] + 0.14 * rng.standard_normal(len(names))
    zscores = pd.DataFrame(z, index=sessions, columns=list(names))
    depleted = pd.Series(np.arange(n) >= int(n * 0.7), index=sessions, name="buffer_depleted")
    return SignalView(composite=composite, regime=regime, buffer_depleted=depleted,
                      components=zscores.copy(), zscores=zscores)


def _macro(sessions: pd.DatetimeIndex, rng: np.random.Generator) -> pd.DataFrame:
    n = len(sessions)
    t = np.linspace(0, 1, n)
    rrp = np.clip(2000 * np.sin(np.pi * np.clip((t - 0.2) / 0.5, 0, 1)), 0, None)
    series = {
        "RRPONTSYD": rrp,
        "DGS2": 1.5 + np.cumsum(rng.normal(0, 0.03, n)),
        "DGS10": 2.5 + np.cumsum(rng.normal(0, 0.03, n)),
        "SOFR": 1.6 + rng.normal(0, 0.02, n),
        "DFEDTARU": np.full(n, 1.75),
    }
    parts = []
    for name, values in series.items():
        avail = macro_available_at(name, sessions)
        parts.append(pd.DataFrame({"series": name, "date": sessions, "value": values,
                                   "available_at": avail}))
    return pd.concat(parts, ignore_index=True)


def _capex(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    ends = pd.date_range("2014-03-31", "2021-09-30", freq="QE")
    for ticker in ("MSFT", "GOOGL", "AMZN", "META"):
        level = 5e9
        for end in ends:
            level *= float(np.exp(rng.normal(0.04, 0.08)))
            rows.append({"ticker": ticker, "fiscal_period_end": end, "capex_usd": level})
    frame = pd.DataFrame(rows)
    frame["available_at"] = capex_available_at(frame["ticker"], frame["fiscal_period_end"])
    frame["method"] = "synthetic"
    return frame


def synthetic_issuance(deals=DEALS) -> pd.DataFrame:
    """Bond deals with the real publication rule for their date precision."""
    frame = pd.DataFrame([{"date": pd.Timestamp(d), "issuer": i, "amount_usd": a * 1e9,
                           "date_precision": p} for d, p, i, a in deals])
    frame["available_at"] = issuance_available_at(frame["date"], frame["date_precision"])
    return frame


def synthetic_dataset(signal: SignalView | None = None, plant: Plant | None = None, *,
                      crypto: bool = True, seed: int = 0, start: str = START,
                      end: str = END) -> tuple[Dataset, SignalView]:
    """Prices driven by a market factor plus planted effects; macro, capex and deals."""
    rng = np.random.default_rng(seed)
    sessions = nyse_sessions(start, end)
    signal = signal or synthetic_signal(sessions)
    plant = plant or Plant()
    n = len(sessions)
    market = rng.normal(0.0004, 0.01, n)
    d_comp = signal.composite.diff().fillna(0.0).to_numpy()
    drain_prev = signal.regime.shift(1).isin(("draining", "scarce")).to_numpy()
    tickers = [t for t in dict.fromkeys((*SPEC, *CASH, *OTHERS))
               if crypto or t not in CRYPTO]
    returns = {}
    for ticker in tickers:
        idio = 0.0 if ticker == "SPY" else rng.normal(0, 0.012, n)
        r = market + idio
        if ticker in SPEC:
            r = r + plant.drain_drift_spec * drain_prev + plant.beta_spec * d_comp
        if ticker in CASH:
            r = r + plant.drain_drift_cash * drain_prev + plant.beta_cash * d_comp
        returns[ticker] = r
    frame = pd.DataFrame(returns, index=sessions)
    for ticker, jumps in plant.jumps.items():
        for date, size in jumps:
            frame.loc[pd.Timestamp(date), ticker] += size
    prices = 100.0 * (1.0 + frame).cumprod()
    prices.index.name = "date"
    dataset = Dataset(prices=prices, macro=_macro(sessions, rng), capex=_capex(rng),
                      issuance=synthetic_issuance())
    return dataset, signal


def test_synthetic_dataset_is_consistent():
    dataset, signal = synthetic_dataset()
    assert dataset.prices.index.equals(signal.composite.index)
    assert dataset.prices.notna().all().all()
    assert {"BTC-USD", "SPY", "MU"} <= set(dataset.prices.columns)
    month = dataset.issuance[dataset.issuance["date_precision"] == "month"].iloc[0]
    assert month["available_at"] == pd.Timestamp("2017-12-01")  # business day after Nov 30
