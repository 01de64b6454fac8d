"""The live refresh: download Yahoo prices and FRED series into the on-disk cache.

``update`` is what ``drain data update`` runs. It validates the request, takes the cache lock,
downloads every ticker and series (retrying rate limits, 5xx answers and network errors with
exponential backoff), merges the new rows into the cache tables and writes each table atomically.
Any error before the write leaves the cache files untouched.

Conventions of the rows written (the same as the embedded snapshot's):
    prices  ticker, date, close, fetched_at   Yahoo auto-adjusted close; crypto keeps its UTC day
    macro   series, date, value, fetched_at   FRED's own units and dates; "." markers dropped
``fetched_at`` is the UTC time of the download, tz-naive. Bars that are not final yet (today's
equity bar before the NYSE close, today's UTC crypto bar) are never stored as closes.
"""

from __future__ import annotations

import datetime as dt
import difflib
import io
import logging
import re
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import requests
import tenacity

from drain_data import cache, store
from drain_data.calendar import as_naive_dates
from drain_data.errors import DrainError
from drain_data.releases import MACRO_RULES

FRED_CSV_URL = "https://fred.stlouisfed.org/graph/fredgraph.csv"
FRED_HOST = "fred.stlouisfed.org"
YAHOO_HOST = "query2.finance.yahoo.com"
FRED_TIMEOUT = (10.0, 60.0)  # connect, read (seconds)
YAHOO_TIMEOUT = 30.0
MAX_ATTEMPTS = 4
# Read at call time, so tests can make it tiny: 1 s, 2 s, 4 s (+ up to 1 s jitter) between tries.
DEFAULT_WAIT: tenacity.wait.wait_base = tenacity.wait_exponential(
    multiplier=1, min=1, max=20
) + tenacity.wait_random(0, 1)
# Engine names whose Yahoo symbol differs (index levels carry a caret on Yahoo).
YAHOO_SYMBOLS = {"VIX": "^VIX", "TNX": "^TNX", "IRX": "^IRX"}
NYSE_TZ = "America/New_York"
NYSE_CLOSE_BUFFER = dt.time(16, 30)  # after this NY time today's equity bar counts as final
STALE_TEMP_SECONDS = 300

_RATE_LIMIT_RE = re.compile(r"YFRateLimitError|Too Many Requests|Rate limited", re.I)
_OFFLINE_RE = re.compile(
    r"DNSError|ConnectionError|ConnectTimeout|Could not resolve|Failed to connect|"
    r"Connection (refused|reset|aborted)|Network is unreachable|timed out|Timeout|"
    r"curl: \((5|6|7|28|35|52|56)\)",
    re.I,
)
_T = TypeVar("_T")


class NetworkUnavailable(DrainError):
    """No connection to a data source after retries; the cache was left as it was.

    Not a user mistake: ``drain data update`` reports it in one line and exits with status 1.
    """

    def __init__(self, host: str | None = None) -> None:
        where = f" (could not reach {host})" if host else ""
        super().__init__(
            f"the network is unavailable{where}; nothing was updated and the engine keeps "
            f"working from the cache and the embedded snapshot"
        )
        self.host = host


class SourceUnavailable(DrainError):
    """A source kept refusing (rate limit, 5xx, no answer) after retries; the cache is unchanged.

    Like ``NetworkUnavailable`` it is not a user mistake: ``drain data update`` exits with 1.
    """


class EmptyDownload(DrainError):
    """A well-formed answer with no observations in it (unknown symbol, or nothing new)."""


class _Transient(Exception):
    """A failure worth retrying: kind is "rate", "server", "slow" or "offline"."""

    def __init__(self, kind: str, source: str, detail: str, host: str | None = None) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind, self.source, self.detail, self.host = kind, source, detail, host


def _utcnow() -> pd.Timestamp:
    """The current UTC time, tz-naive (a function so tests can pin the clock)."""
    return pd.Timestamp.now(tz="UTC").tz_localize(None)


def _with_retries(call: Callable[[], _T], wait: tenacity.wait.wait_base | None) -> _T:
    """Run ``call`` up to MAX_ATTEMPTS times while it fails transiently; then a DrainError."""
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(MAX_ATTEMPTS),
        wait=DEFAULT_WAIT if wait is None else wait,
        retry=tenacity.retry_if_exception_type(_Transient),
        reraise=True,
    )
    try:
        return retrying(call)
    except _Transient as exc:
        if exc.kind == "offline":
            raise NetworkUnavailable(exc.host) from None
        what = {
            "rate": "kept rate-limiting the requests",
            "server": f"kept failing ({exc.detail})",
            "slow": f"did not answer in time ({exc.detail})",
        }[exc.kind]
        raise SourceUnavailable(
            f"{exc.source} {what} after {MAX_ATTEMPTS} attempts; nothing was updated, "
            f"try again in a few minutes"
        ) from None


# ---------------------------------------------------------------------------- argument checks


def parse_since(since: Any) -> pd.Timestamp:
    """A ``--since`` value as a tz-naive midnight; unparsable or after today -> DrainError."""
    if isinstance(since, dt.date):  # also datetime and pd.Timestamp
        stamp = pd.Timestamp(since)
    else:
        text = str(since).strip()
        try:
            stamp = pd.Timestamp(dt.date.fromisoformat(text))
        except ValueError:
            raise DrainError(
                f"--since {text!r} is not a date; write it as YYYY-MM-DD (e.g. 2026-01-02)"
            ) from None
    if stamp.tz is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    stamp = stamp.normalize().as_unit("ns")
    today = _utcnow().normalize()
    if stamp > today:
        raise DrainError(
            f"--since {stamp.date()} is after today ({today.date()} UTC); give a past date"
        )
    return stamp


def _as_list(names: str | Iterable[str]) -> list[str]:
    items = [names] if isinstance(names, str) else list(names)
    out: list[str] = []
    for item in items:
        for part in str(item).replace(",", " ").split():
            if part not in out:
                out.append(part)
    return out


def engine_ticker(symbol: str) -> str:
    """The engine's name for a Yahoo symbol: upper case, index carets dropped (^VIX -> VIX)."""
    name = symbol.strip().upper()
    reverse = {v: k for k, v in YAHOO_SYMBOLS.items()}
    return reverse.get(name, name)


def yahoo_symbol(ticker: str) -> str:
    """The Yahoo symbol of an engine ticker (VIX -> ^VIX; most tickers are unchanged)."""
    return YAHOO_SYMBOLS.get(ticker, ticker)


def check_series(series: str | Iterable[str]) -> list[str]:
    """Series ids that have a publication rule; anything else -> DrainError with did-you-mean."""
    names = [name.upper() for name in _as_list(series)]
    for name in names:
        if name not in MACRO_RULES:
            close = difflib.get_close_matches(name, list(MACRO_RULES), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise DrainError(
                f"series {name!r} has no publication rule{hint}; fetchable series: "
                f"{', '.join(sorted(MACRO_RULES))} (add a rule in drain_data/releases.py first)"
            )
    return names


def _since_text(since: pd.Timestamp | None) -> str:
    return f" since {since.date()}" if since is not None else ""


# ---------------------------------------------------------------------------------------- FRED


def _fred_get(http: requests.Session, name: str, since: pd.Timestamp | None) -> str:
    params = {"id": name}
    if since is not None:
        params["cosd"] = since.strftime("%Y-%m-%d")
    source = f"FRED ({name})"
    try:
        response = http.get(FRED_CSV_URL, params=params, timeout=FRED_TIMEOUT)
    except requests.exceptions.ConnectionError as exc:  # includes ConnectTimeout, SSL, proxy
        raise _Transient("offline", source, type(exc).__name__, FRED_HOST) from exc
    except requests.exceptions.Timeout as exc:
        raise _Transient("slow", source, f"no answer within {FRED_TIMEOUT[1]:.0f} s") from exc
    except (
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.ContentDecodingError,
    ) as exc:
        raise _Transient("server", source, f"broken answer: {type(exc).__name__}") from exc
    status = response.status_code
    if status == 429:
        raise _Transient("rate", source, "HTTP 429")
    if status >= 500:
        raise _Transient("server", source, f"HTTP {status}")
    if status != 200:
        raise DrainError(
            f"FRED answered HTTP {status} for series {name!r}; check the id on "
            f"https://fred.stlouisfed.org/series/{name} or try again later"
        )
    return response.text


def parse_fred_csv(name: str, body: str, since: pd.Timestamp | None = None) -> pd.DataFrame:
    """FRED's fredgraph CSV body as rows ``series, date, value`` (missing markers dropped).

    The header is ``observation_date,NAME`` (``DATE,NAME`` before 2024). An empty body, an HTML
    page or any other header is a DrainError; a header with no usable rows is an EmptyDownload.
    """
    text = body.lstrip("\ufeff")
    bad = f"FRED's answer for {name!r} is not the expected CSV"
    if not text.strip():
        raise DrainError(f"FRED returned an empty body for series {name!r}; try again later")
    if text.lstrip().startswith("<"):
        raise DrainError(f"{bad} but an HTML page (an outage or a moved URL); try again later")
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeError) as exc:
        raise DrainError(f"{bad} ({type(exc).__name__}); try again later") from None
    header = [str(col).strip() for col in raw.columns]
    if len(header) != 2 or header[0] not in ("observation_date", "DATE") or header[1] != name:
        shown = ",".join(header)[:80]
        raise DrainError(
            f"{bad}: header {shown!r} instead of 'observation_date,{name}'; try again later"
        )
    raw.columns = ["date", "value"]
    dates = pd.to_datetime(raw["date"].str.strip(), format="%Y-%m-%d", errors="coerce")
    text_values = raw["value"].str.strip()
    missing = text_values.isin([".", ""])
    values = pd.to_numeric(text_values.where(~missing), errors="coerce")
    broken = dates.isna() | (values.isna() & ~missing)
    if broken.any():
        row = raw[broken].iloc[0]
        raise DrainError(
            f"{bad}: row {row['date']!r},{row['value']!r} is not a date and a number; "
            f"try again later"
        )
    rows = pd.DataFrame({"series": name, "date": dates, "value": values.astype("float64")})
    rows = rows[~missing & np.isfinite(rows["value"])]
    if since is not None:
        rows = rows[rows["date"] >= since]
    if rows.empty:
        raise EmptyDownload(
            f"FRED has no observations of {name!r}{_since_text(since)}; "
            f"pick an earlier --since or check https://fred.stlouisfed.org/series/{name}"
        )
    rows["series"] = rows["series"].astype("str")
    rows["date"] = rows["date"].astype("datetime64[ns]")
    rows = rows.drop_duplicates("date", keep="last")
    return rows.sort_values("date").reset_index(drop=True)


def fetch_fred(
    series: str | Iterable[str],
    since: Any = None,
    *,
    session: requests.Session | None = None,
    wait: tenacity.wait.wait_base | None = None,
) -> pd.DataFrame:
    """Download FRED series as long rows ``series, date, value, fetched_at``.

    Only series with a publication rule in ``releases.MACRO_RULES`` may be fetched. ``since``
    (a date) limits the observations to that date and later; None fetches the whole history.
    """
    names = check_series(series)
    start = parse_since(since) if since is not None else None
    http = session if session is not None else requests.Session()
    parts = []
    try:
        for name in names:
            body = _with_retries(lambda name=name: _fred_get(http, name, start), wait)
            rows = parse_fred_csv(name, body, start)
            parts.append(rows.assign(fetched_at=_utcnow().as_unit("ns")))
    finally:
        if session is None:
            http.close()
    frame = pd.concat(parts, ignore_index=True)
    frame["fetched_at"] = frame["fetched_at"].astype("datetime64[ns]")
    return frame[cache.TABLES["macro"]]


# --------------------------------------------------------------------------------------- Yahoo


class _LogCollector(logging.Handler):
    """Collects what yfinance logs: ``download`` reports failures only through its logger."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.messages.append(record.getMessage())
        except Exception:  # a malformed record must not break the download
            self.messages.append(str(record.msg))


def _network_exceptions() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [requests.exceptions.ConnectionError]
    try:
        from curl_cffi.requests import exceptions as curl_exc

        types += [curl_exc.ConnectionError, curl_exc.Timeout]
    except ImportError:  # yfinance without curl_cffi
        pass
    return tuple(types)


def _yf_download(symbols: list[str], since: pd.Timestamp | None, session: Any) -> pd.DataFrame:
    import yfinance
    from yfinance.exceptions import YFRateLimitError

    source = f"Yahoo Finance ({', '.join(symbols)})"
    kwargs: dict[str, Any] = {
        "auto_adjust": True,
        "progress": False,
        "threads": len(symbols) > 1,
        "group_by": "column",
        "multi_level_index": True,
        # Each ticker keeps its own exchange-local day: crypto its UTC day, equities the NY day.
        "ignore_tz": True,
        "timeout": YAHOO_TIMEOUT,
    }
    if since is None:
        kwargs["period"] = "max"
    else:
        kwargs["start"] = since.strftime("%Y-%m-%d")
    if session is not None:
        kwargs["session"] = session
    collector = _LogCollector()
    logger = logging.getLogger("yfinance")
    logger.addHandler(collector)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = yfinance.download(symbols, **kwargs)
    except YFRateLimitError as exc:
        raise _Transient("rate", source, "rate limited") from exc
    except _network_exceptions() as exc:
        raise _Transient("offline", source, type(exc).__name__, YAHOO_HOST) from exc
    finally:
        logger.removeHandler(collector)
    log = "\n".join(collector.messages)
    if not _has_every_close(frame, symbols):  # yfinance logs failures instead of raising
        if _RATE_LIMIT_RE.search(log):
            raise _Transient("rate", source, "rate limited")
        if _OFFLINE_RE.search(log):
            raise _Transient("offline", source, "connection failed", YAHOO_HOST)
    return frame


def _has_every_close(frame: Any, symbols: list[str]) -> bool:
    """Whether the download holds at least one close for each symbol (any shape problem: no)."""
    try:
        if not isinstance(frame.columns, pd.MultiIndex) and len(symbols) == 1:
            return bool(frame["Close"].notna().any())
        closes = frame.xs("Close", axis=1, level=0)
        return all(closes[symbol].notna().any() for symbol in symbols)
    except Exception:
        return False


def _unexpected(symbols: list[str], what: str) -> DrainError:
    return DrainError(
        f"Yahoo's answer for {', '.join(symbols)} has an unexpected shape ({what}); check the "
        f"symbol on https://finance.yahoo.com, try again later, or update yfinance"
    )


def _closes_from_download(
    frame: Any, symbols: list[str], since: pd.Timestamp | None
) -> dict[str, pd.Series]:
    """Validate a ``yfinance.download`` frame and return each symbol's adjusted closes."""
    if not isinstance(frame, pd.DataFrame):
        raise _unexpected(symbols, f"a {type(frame).__name__} instead of a DataFrame")
    if frame.empty or frame.dropna(how="all").empty:
        raise EmptyDownload(
            f"Yahoo returned no prices for {', '.join(symbols)}{_since_text(since)}; check the "
            f"symbol on https://finance.yahoo.com, pick an earlier --since, or try again later"
        )
    columns = frame.columns
    if isinstance(columns, pd.MultiIndex):
        if columns.nlevels != 2:
            raise _unexpected(symbols, f"{columns.nlevels} column levels instead of 2")
        levels = [i for i in range(2) if "Close" in set(columns.get_level_values(i))]
        if not levels:
            fields = sorted({str(v) for v in columns.get_level_values(0)})
            raise _unexpected(symbols, f"no Close field among {fields}")
        closes = frame.xs("Close", axis=1, level=levels[0])
    elif "Close" in columns and len(symbols) == 1:
        closes = frame[["Close"]].set_axis(symbols, axis=1)
    elif "Close" in columns:
        raise _unexpected(symbols, "no ticker level in the columns")
    else:
        raise _unexpected(symbols, f"no Close field among {sorted(map(str, columns))}")
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise _unexpected(symbols, f"a {type(frame.index).__name__} index instead of dates")
    dates = as_naive_dates(frame.index)
    out = {}
    for symbol in symbols:
        if symbol not in closes.columns:
            raise DrainError(
                f"Yahoo's answer lacks ticker {symbol!r} (it has {sorted(map(str, closes))}); "
                f"check the symbol on https://finance.yahoo.com or try again later"
            )
        column = closes.loc[:, symbol]
        if isinstance(column, pd.DataFrame):
            raise _unexpected(symbols, f"ticker {symbol!r} appears twice")
        values = pd.Series(pd.to_numeric(column, errors="coerce").to_numpy(), index=dates)
        values = values[np.isfinite(values)]
        values = values[~values.index.duplicated(keep="last")].sort_index()
        if since is not None:
            values = values[values.index >= since]
        if values.empty:
            raise EmptyDownload(
                f"Yahoo returned no prices for {symbol!r}{_since_text(since)}; check the symbol "
                f"on https://finance.yahoo.com, pick an earlier --since, or try again later"
            )
        out[symbol] = values
    return out


def _final_bars(ticker: str, closes: pd.Series, now: pd.Timestamp) -> pd.Series:
    """Drop bars that are not final at ``now`` (UTC): a close must be a close."""
    if store.is_crypto(ticker):
        return closes[closes.index < now.normalize()]  # the UTC day is not over
    ny_now = now.tz_localize("UTC").tz_convert(NYSE_TZ)
    today = pd.Timestamp(ny_now.date())
    last_final = today if ny_now.time() >= NYSE_CLOSE_BUFFER else today - pd.Timedelta(days=1)
    return closes[closes.index <= last_final]


def fetch_prices(
    tickers: str | Iterable[str],
    since: Any = None,
    *,
    session: Any = None,
    wait: tenacity.wait.wait_base | None = None,
) -> pd.DataFrame:
    """Download Yahoo auto-adjusted closes as long rows ``ticker, date, close, fetched_at``.

    Tickers use the engine's names (``VIX`` is fetched as ``^VIX``). ``since`` limits the rows
    to that date and later; None fetches the whole history. Dates are tz-naive: equities carry
    their NYSE day, crypto (``BTC-USD``) its UTC day. An empty answer, one without a Close field
    or one missing a ticker is a DrainError; bars not final yet are left out.
    """
    names = [engine_ticker(t) for t in _as_list(tickers)]
    if not names:
        raise DrainError("no tickers to fetch; name at least one, e.g. --tickers SPY")
    start = parse_since(since) if since is not None else None
    symbols = [yahoo_symbol(name) for name in names]
    frame = _with_retries(lambda: _yf_download(symbols, start, session), wait)
    now = _utcnow()
    closes = _closes_from_download(frame, symbols, start)
    parts = []
    for name, symbol in zip(names, symbols, strict=True):
        final = _final_bars(name, closes[symbol], now)
        if final.empty:
            raise EmptyDownload(
                f"Yahoo has no final close for {name!r}{_since_text(start)} yet (today's bar "
                f"is still open); pick an earlier --since or try after the close"
            )
        parts.append(
            pd.DataFrame(
                {"ticker": name, "date": final.index, "close": final.to_numpy(dtype="float64")}
            )
        )
    out = pd.concat(parts, ignore_index=True)
    out["ticker"] = out["ticker"].astype("str")
    out["date"] = out["date"].astype("datetime64[ns]")
    out["fetched_at"] = now.as_unit("ns")
    out["fetched_at"] = out["fetched_at"].astype("datetime64[ns]")
    return out[cache.TABLES["prices"]]


# -------------------------------------------------------------------------------------- update


@dataclass(frozen=True)
class TableUpdate:
    """What one update did to one cache table."""

    table: str
    names: tuple[str, ...]
    fetched_rows: int
    new_rows: int
    revised_rows: int
    path: Path

    def line(self) -> str:
        """One human line: rows fetched, new and revised rows, the cache file."""
        kind = "tickers" if self.table == "prices" else "series"
        return (
            f"{self.table}: {self.fetched_rows:,} rows fetched for {len(self.names)} {kind}, "
            f"{self.new_rows:,} new, {self.revised_rows:,} revised -> {self.path}"
        )


@dataclass(frozen=True)
class UpdateSummary:
    """The result of ``update``: one entry per table written, plus warnings worth reading."""

    tables: tuple[TableUpdate, ...]
    warnings: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """One line per table."""
        return [table.line() for table in self.tables]


def _remove_stale_temp_files(folder: Path) -> None:
    """Delete temp files left by a killed writer (only called while holding the lock)."""
    cutoff = time.time() - STALE_TEMP_SECONDS
    for table in cache.TABLES:
        for tmp in folder.glob(f".{table}.*.tmp"):
            try:
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
            except OSError:
                pass


def _compare(
    known: pd.DataFrame, fetched: pd.DataFrame, key: str, value: str
) -> tuple[int, int]:
    """(new, revised): fetched rows absent from ``known``, and rows whose value changed."""
    joined = fetched[[key, "date", value]].merge(
        known[[key, "date", value]], on=[key, "date"], how="left", suffixes=("", "_old")
    )
    old = joined[f"{value}_old"]
    new = int(old.isna().sum())
    present = old.notna()
    same = np.isclose(joined.loc[present, value], old[present], rtol=1e-9, atol=0.0)
    return new, int((~same).sum())


def _seam_warnings(known: pd.DataFrame, fetched: pd.DataFrame) -> list[str]:
    """Tickers whose fresh closes sit on a different adjustment basis than the older rows kept."""
    out = []
    for ticker, rows in fetched.groupby("ticker", sort=True):
        first = rows["date"].min()
        history = known[known["ticker"] == ticker]
        if not (history["date"] < first).any():
            continue
        overlap = history.loc[history["date"] == first, "close"]
        if overlap.empty:
            continue
        fresh = float(rows.loc[rows["date"] == first, "close"].iloc[0])
        old = float(overlap.iloc[-1])
        if old and abs(fresh / old - 1) > 1e-5:
            out.append(
                f"{ticker}: closes before {first.date()} stay on an older dividend/split "
                f"adjustment ({fresh / old - 1:+.3%} at {first.date()}); update without --since "
                f"to refresh the whole history"
            )
    return out


def _known_rows(snapshot: pd.DataFrame, cached: pd.DataFrame, key: str, value: str):
    both = pd.concat([snapshot[[key, "date", value]], cached[[key, "date", value]]])
    return both.drop_duplicates([key, "date"], keep="last")


def update(
    tickers: Iterable[str] | None = None,
    series: Iterable[str] | None = None,
    since: Any = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    *,
    lock_timeout: float | None = None,
    wait: tenacity.wait.wait_base | None = None,
    session: Any = None,
    fred_session: requests.Session | None = None,
) -> UpdateSummary:
    """Download prices and FRED series and merge them into the cache; return what changed.

    ``tickers``/``series`` None means every ticker/series of the embedded snapshot, an empty
    list means none. ``since`` None refreshes from the snapshot's first date (so every cached
    price series sits on one dividend-adjustment basis). The cache lock is held throughout
    (``lock_timeout`` seconds to get it, else DrainError); all downloads finish before any
    file is written, so a failed update leaves the cache as it was.
    """
    start = parse_since(since) if since is not None else None
    snap_prices = store.price_observations(use_cache=False)
    snap_macro = store.macro_observations(use_cache=False)
    if tickers is None:
        names = sorted(set(snap_prices["ticker"]))
    else:
        names = list(dict.fromkeys(engine_ticker(t) for t in _as_list(tickers)))
    series_names = (
        sorted(set(snap_macro["series"])) if series is None else check_series(series)
    )
    if not names and not series_names:
        raise DrainError("nothing to update; name --tickers and/or --series")
    price_start = start if start is not None else snap_prices["date"].min()
    macro_start = start if start is not None else snap_macro["date"].min()

    folder = cache.cache_dir(cache_dir)
    lock = cache.cache_lock(folder)
    timeout = cache.LOCK_TIMEOUT_SECONDS if lock_timeout is None else lock_timeout
    try:
        lock.acquire(timeout=timeout)
    except cache.Timeout:
        raise DrainError(
            f"another 'drain data update' is writing the cache in {folder} (lock not free "
            f"after {timeout:g} s); wait for it to finish and run the update again"
        ) from None
    try:
        _remove_stale_temp_files(folder)
        old_prices = cache.read_table("prices", folder) if names else None
        old_macro = cache.read_table("macro", folder) if series_names else None
        fetched_prices, fetched_macro = _download_all(
            names, series_names, price_start, macro_start, start is not None,
            set(snap_prices["ticker"]) | (set(old_prices["ticker"]) if names else set()),
            progress, wait, session, fred_session,
        )
        tables, notes = [], []
        if names:
            known = _known_rows(snap_prices, old_prices, "ticker", "close")
            if fetched_prices is not None:
                notes += _seam_warnings(known, fetched_prices)
            tables.append(
                _write("prices", "ticker", "close", names, old_prices, fetched_prices, known,
                       folder)
            )
        if series_names:
            known = _known_rows(snap_macro, old_macro, "series", "value")
            tables.append(
                _write("macro", "series", "value", series_names, old_macro, fetched_macro,
                       known, folder)
            )
    finally:
        lock.release()
    return UpdateSummary(tables=tuple(tables), warnings=tuple(notes))


def _download_all(
    names: list[str],
    series_names: list[str],
    price_start: pd.Timestamp,
    macro_start: pd.Timestamp,
    explicit_since: bool,
    known_tickers: set[str],
    progress: bool,
    wait: tenacity.wait.wait_base | None,
    session: Any,
    fred_session: requests.Session | None,
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Fetch every ticker and series (one request each), with an optional progress bar."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    prices, macro = [], []
    columns = (TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    console = Console(stderr=True)
    # Off when stderr is not a terminal: rich would leave a stray blank line in logs and pipes.
    with requests.Session() as own_http, Progress(
        *columns, console=console, transient=True, disable=not (progress and console.is_terminal)
    ) as bar:
        http = fred_session if fred_session is not None else own_http
        task = bar.add_task("downloading", total=len(names) + len(series_names))
        for name in names:
            bar.update(task, description=f"Yahoo {name}")
            try:
                prices.append(fetch_prices([name], price_start, session=session, wait=wait))
            except EmptyDownload:
                # Nothing new for a ticker we already have, since a date the user chose: fine.
                if not (explicit_since and name in known_tickers):
                    raise
            bar.advance(task)
        for name in series_names:
            bar.update(task, description=f"FRED {name}")
            try:
                macro.append(fetch_fred([name], macro_start, session=http, wait=wait))
            except EmptyDownload:
                if not explicit_since:
                    raise
            bar.advance(task)
    return (
        pd.concat(prices, ignore_index=True) if prices else None,
        pd.concat(macro, ignore_index=True) if macro else None,
    )


def _write(
    table: str,
    key: str,
    value: str,
    names: list[str],
    old: pd.DataFrame,
    fetched: pd.DataFrame | None,
    known: pd.DataFrame,
    folder: Path,
) -> TableUpdate:
    """Merge ``fetched`` into the old table and replace the file (untouched if nothing came)."""
    path = folder / f"{table}.parquet"
    if fetched is None or fetched.empty:
        return TableUpdate(table, tuple(names), 0, 0, 0, path)
    new_rows, revised_rows = _compare(known, fetched, key, value)
    if len(old):
        merged = cache.merge_rows(old, fetched, key)
    else:
        merged = fetched.sort_values([key, "date"]).reset_index(drop=True)
    path = cache.write_table(table, merged, folder)
    return TableUpdate(table, tuple(names), len(fetched), new_rows, revised_rows, path)


__all__ = [
    "DEFAULT_WAIT",
    "EmptyDownload",
    "NetworkUnavailable",
    "SourceUnavailable",
    "TableUpdate",
    "UpdateSummary",
    "check_series",
    "engine_ticker",
    "fetch_fred",
    "fetch_prices",
    "parse_fred_csv",
    "parse_since",
    "update",
    "yahoo_symbol",
]
