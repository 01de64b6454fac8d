"""Load the embedded snapshot merged with the live cache into one point-in-time ``Dataset``.

Prices become one wide frame of closes on NYSE sessions (tz-naive, a column per ticker, NaN where
a ticker has no real price: never filled). Crypto UTC-day closes move to the next NYSE session.
Macro, capex and bond-issuance observations stay long and carry ``available_at``, the first close
at which each may be used. ``Dataset.as_of(t)`` answers "what was known at the close of day t";
every stage downstream reads data through a ``Dataset``.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import os
from dataclasses import dataclass
from importlib import resources

import pandas as pd

from drain_core.errors import DrainError, EnvironmentFault
from drain_data import cache, validate
from drain_data.calendar import as_naive_dates, nyse_sessions
from drain_data.needs import Needs
from drain_data.releases import (
    MACRO_RULES,
    capex_available_at,
    crypto_available_at,
    issuance_available_at,
    macro_available_at,
)

CRYPTO_SUFFIX = "-USD"


def is_crypto(ticker: str) -> bool:
    """Crypto tickers (Yahoo's ``XXX-USD``) trade on UTC days, seven days a week."""
    return ticker.endswith(CRYPTO_SUFFIX)


@functools.cache
def _snapshot(name: str) -> pd.DataFrame:
    path = resources.files("drain_data") / "snapshot" / f"{name}.parquet"
    with resources.as_file(path) as real_path:
        frame = pd.read_parquet(real_path)
    for col in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[col]):
            frame[col] = frame[col].astype("datetime64[ns]")
    return frame


def _checked_snapshot(name: str) -> pd.DataFrame:
    """A snapshot table, its rows checked like the cache's: a damaged snapshot is a broken
    installation, not something the user did."""
    frame = _snapshot(name)
    if name in validate.KEYS and (damaged := validate.damaged_names(name, frame)):
        bad, reason = next(iter(damaged.items()))
        raise EnvironmentFault(f"the embedded {name} snapshot is damaged ({bad!r} holds "
                               f"{reason}); reinstall liquidity-drain")
    return frame


def _merged(table: str, key: str, value: str, use_cache: bool, cache_dir,
            needs: Needs | None = None, notes: list[str] | None = None) -> pd.DataFrame:
    """Snapshot rows overridden by cache rows.

    Damaged cache rows of a name in ``needs`` (every name when None), or a cache file of a
    table ``needs`` reads that cannot be read at all, are a DrainError naming the fix; other
    damaged rows are left out. With ``notes`` (``drain data show``) nothing is refused: each
    damage is left out and described in ``notes``.
    """
    snap = _checked_snapshot(table)[[key, "date", value]].assign(origin="snapshot")
    if not use_cache:
        return snap
    needed = None if needs is None else needs.names(table)
    try:
        cached, damaged = cache.read_checked(table, cache_dir)
    except DrainError as exc:
        if notes is None and (needed is None or needed):
            raise
        if notes is not None:
            notes.append(str(exc))
        return snap
    refused = {name: reason for name, reason in damaged.items()
               if needed is None or name in needed}
    if refused and notes is None:
        raise DrainError(cache.damage_message(table, refused, cache_dir))
    if damaged and notes is not None:
        notes.append(cache.damage_message(table, damaged, cache_dir))
    cached = cached[[key, "date", value]].assign(origin="cache")
    both = pd.concat([snap, cached], ignore_index=True) if len(cached) else snap
    both = both.drop_duplicates([key, "date"], keep="last")
    return both.sort_values([key, "date"], kind="stable").reset_index(drop=True)


def price_observations(*, use_cache: bool = True, cache_dir=None,
                       needs: Needs | None = None) -> pd.DataFrame:
    """Raw price rows (ticker, date, close, origin), snapshot overridden by cache."""
    return _merged("prices", "ticker", "close", use_cache, cache_dir, needs)


def macro_observations(*, use_cache: bool = True, cache_dir=None,
                       needs: Needs | None = None) -> pd.DataFrame:
    """Macro rows (series, date, value, origin, available_at)."""
    obs = _merged("macro", "series", "value", use_cache, cache_dir, needs)
    parts = [
        group.assign(available_at=macro_available_at(name, group["date"]).to_numpy())
        for name, group in obs.groupby("series", sort=True)
    ]
    return pd.concat(parts, ignore_index=True)


def capex_observations() -> pd.DataFrame:
    """Hyperscaler quarterly capex with ``available_at`` (quarter end + 45/60 days)."""
    capex = _snapshot("capex")[["ticker", "fiscal_period_end", "capex_usd", "method"]].copy()
    capex["available_at"] = capex_available_at(capex["ticker"], capex["fiscal_period_end"])
    return capex.sort_values(["ticker", "fiscal_period_end"]).reset_index(drop=True)


def issuance_observations() -> pd.DataFrame:
    """Hyperscaler bond deals with ``available_at`` respecting each date's precision."""
    deals = _snapshot("issuance")[["date", "issuer", "amount_usd", "date_precision"]].copy()
    deals["available_at"] = issuance_available_at(deals["date"], deals["date_precision"])
    return deals.sort_values("date").reset_index(drop=True)


def wide_prices(obs: pd.DataFrame) -> pd.DataFrame:
    """Pivot long price rows onto NYSE sessions; crypto closes land on the next session."""
    obs = obs[["ticker", "date", "close"]].dropna(subset=["close"])
    crypto = obs["ticker"].str.endswith(CRYPTO_SUFFIX).astype(bool)  # is_crypto, vectorised
    session = pd.Series(pd.NaT, index=obs.index, dtype="datetime64[ns]")
    session[crypto] = crypto_available_at(obs.loc[crypto, "date"]).to_numpy()
    other = obs.loc[~crypto, "date"]
    sessions = nyse_sessions(other.min() if len(other) else None)
    on_session = other.isin(sessions)  # drops rows on NYSE holidays (e.g. VIX)
    session[other.index[on_session]] = other[on_session].to_numpy()
    obs = obs.assign(session=session).dropna(subset=["session"])
    obs = obs.sort_values(["ticker", "date"]).drop_duplicates(["ticker", "session"], keep="last")
    wide = obs.pivot(index="session", columns="ticker", values="close")
    index = nyse_sessions(wide.index.min(), wide.index.max())
    wide = wide.reindex(index)
    wide.index.name = "date"
    wide.columns.name = None
    return wide


def _did_you_mean(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True)
class Dataset:
    """Everything the engine knows, each observation tagged with when it became known."""

    prices: pd.DataFrame
    macro: pd.DataFrame
    capex: pd.DataFrame
    issuance: pd.DataFrame

    @property
    def sessions(self) -> pd.DatetimeIndex:
        """The NYSE sessions the prices cover."""
        return self.prices.index

    def as_of(self, t) -> Dataset:
        """What was known at the close of session ``t``: nothing dated or published later."""
        t = pd.Timestamp(t)
        return Dataset(
            prices=self.prices.loc[:t],
            macro=self.macro[self.macro["available_at"] <= t],
            capex=self.capex[self.capex["available_at"] <= t],
            issuance=self.issuance[self.issuance["available_at"] <= t],
        )

    def macro_daily(self, series: str | list[str], index=None) -> pd.DataFrame:
        """Each series' latest value known at each session's close (NaN before its first one)."""
        names = [series] if isinstance(series, str) else list(series)
        index = self.sessions if index is None else as_naive_dates(index)
        known = set(MACRO_RULES) | set(self.macro["series"])
        out = {}
        for name in names:
            if name not in known:
                raise DrainError(
                    f"unknown macro series {name!r}{_did_you_mean(name, known)}; "
                    f"'drain data show' lists the series"
                )
            obs = self.macro[self.macro["series"] == name].sort_values(["available_at", "date"])
            by_release = obs.drop_duplicates("available_at", keep="last").set_index("available_at")
            out[name] = by_release["value"].reindex(
                by_release.index.union(index)
            ).ffill().reindex(index)
        frame = pd.DataFrame(out, index=index)
        frame.index.name = "date"
        return frame

    def fingerprint(self) -> str:
        """A short hash of every value in the dataset, for run manifests."""
        digest = hashlib.sha256()
        for frame in (self.prices, self.macro, self.capex, self.issuance):
            digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
        return digest.hexdigest()[:16]


def load_dataset(
    tickers: list[str] | None = None,
    *,
    start=None,
    end=None,
    use_cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    needs: Needs | None = None,
) -> Dataset:
    """Load prices (all, or ``tickers``), macro, capex and issuance as one ``Dataset``.

    ``start``/``end`` trim the price sessions; macro history is kept whole so that expanding
    statistics can warm up before ``start``. ``end`` truncates everything via ``as_of``.
    ``needs``: the tickers and series the caller reads; damaged cache rows of other names are
    left out rather than refused (None: every name is read).
    """
    obs = price_observations(use_cache=use_cache, cache_dir=cache_dir, needs=needs)
    if tickers is not None:
        available = set(obs["ticker"])
        for ticker in tickers:
            if ticker not in available:
                raise DrainError(
                    f"no price data for ticker {ticker!r}{_did_you_mean(ticker, available)}; "
                    f"fetch it with 'drain data update --tickers {ticker}'"
                )
        obs = obs[obs["ticker"].isin(tickers)]
    dataset = Dataset(
        prices=wide_prices(obs),
        macro=macro_observations(use_cache=use_cache, cache_dir=cache_dir, needs=needs),
        capex=capex_observations(),
        issuance=issuance_observations(),
    )
    if end is not None:
        dataset = dataset.as_of(pd.Timestamp(end))
    if start is not None:
        dataset = Dataset(
            prices=dataset.prices.loc[pd.Timestamp(start):],
            macro=dataset.macro,
            capex=dataset.capex,
            issuance=dataset.issuance,
        )
    if dataset.prices.empty or dataset.prices.dropna(how="all").empty:
        raise DrainError(
            f"no price data between {start or 'the first date'} and {end or 'the last date'}; "
            f"widen the date range (the embedded data covers 2014-01-02 to 2026-07-31)"
        )
    return dataset


def coverage(*, use_cache: bool = True, cache_dir=None,
             notes: list[str] | None = None) -> pd.DataFrame:
    """One row per ticker or series: kind, name, first, last, rows, source. Damaged cache rows
    are left out, each damage described by one line added to ``notes``."""
    notes = [] if notes is None else notes
    rows = []
    for kind, key, frame in (
        ("price", "ticker",
         _merged("prices", "ticker", "close", use_cache, cache_dir, notes=notes)),
        ("macro", "series",
         _merged("macro", "series", "value", use_cache, cache_dir, notes=notes)),
    ):
        for name, group in frame.groupby(key, sort=True):
            origins = sorted(set(group["origin"]))
            rows.append(
                {
                    "kind": kind,
                    "name": name,
                    "first": group["date"].min().date(),
                    "last": group["date"].max().date(),
                    "rows": len(group),
                    "source": "+".join(origins),
                }
            )
    capex = capex_observations()
    for name, group in capex.groupby("ticker"):
        rows.append({"kind": "capex", "name": name,
                     "first": group["fiscal_period_end"].min().date(),
                     "last": group["fiscal_period_end"].max().date(),
                     "rows": len(group), "source": "snapshot"})
    deals = issuance_observations()
    rows.append({"kind": "issuance", "name": "hyperscaler bonds",
                 "first": deals["date"].min().date(), "last": deals["date"].max().date(),
                 "rows": len(deals), "source": "snapshot"})
    return pd.DataFrame(rows)
