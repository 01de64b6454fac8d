"""Yahoo Finance: download auto-adjusted closes with yfinance and check the answer's shape.

Rows are ``ticker, date, close, fetched_at`` under the engine's ticker names (``VIX`` is Yahoo's
``^VIX``), with tz-naive dates: equities their NYSE day, crypto its UTC day. Bars that are not
final yet (today's equity bar before the NYSE close, today's UTC crypto bar) are left out.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import requests
import tenacity

from drain_core.errors import DrainError
from drain_data import cache, clock, store
from drain_data.calendar import as_naive_dates
from drain_data.fetch_args import parse_since, since_text, split_names
from drain_data.fetch_errors import BadAnswer, EmptyDownload, Transient, with_retries

YAHOO_HOST = "query2.finance.yahoo.com"
YAHOO_TIMEOUT = 30.0  # seconds for a whole request: curl_cffi's timeout is the total time
# Engine names whose Yahoo symbol differs (index levels carry a caret on Yahoo).
YAHOO_SYMBOLS = {"VIX": "^VIX", "TNX": "^TNX", "IRX": "^IRX"}
NYSE_TZ = "America/New_York"
NYSE_CLOSE_BUFFER = dt.time(16, 30)  # after this NY time today's equity bar counts as final

_RATE_LIMIT_RE = re.compile(r"YFRateLimitError|Too Many Requests|Rate limited", re.I)
# curl's total-time limit (``timeout`` is the whole transfer in curl_cffi): connected, too slow
_SLOW_RE = re.compile(r"curl: \(28\)|Operation timed out after", re.I)
_REDIRECT_RE = re.compile(r"curl: \(47\)|Maximum \(\d+\) redirects|TooManyRedirects", re.I)
_OFFLINE_RE = re.compile(
    r"DNSError|ConnectionError|ConnectTimeout|Could not resolve|Failed to connect|"
    r"Connection (refused|reset|aborted)|Network is unreachable|timed out|Timeout|"
    r"curl: \((5|6|7|28|35|52|56)\)",
    re.I,
)


def engine_ticker(symbol: str) -> str:
    """The engine's name for a Yahoo symbol: upper case, index carets dropped (^VIX -> VIX)."""
    name = symbol.strip().upper()
    reverse = {v: k for k, v in YAHOO_SYMBOLS.items()}
    return reverse.get(name, name)


def yahoo_symbol(ticker: str) -> str:
    """The Yahoo symbol of an engine ticker (VIX -> ^VIX; most tickers are unchanged)."""
    return YAHOO_SYMBOLS.get(ticker, ticker)


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
        raise Transient("rate", source, "rate limited") from exc
    except _network_exceptions() as exc:
        raise Transient("offline", source, type(exc).__name__, YAHOO_HOST) from exc
    finally:
        logger.removeHandler(collector)
    log = "\n".join(collector.messages)
    if not _has_every_close(frame, symbols):  # yfinance logs failures instead of raising
        if _RATE_LIMIT_RE.search(log):
            raise Transient("rate", source, "rate limited")
        if _REDIRECT_RE.search(log):
            raise BadAnswer(f"{source} redirected without end (a redirect loop); nothing was "
                            f"updated, try again later")
        if _SLOW_RE.search(log):
            raise Transient("slow", source, f"no complete answer within {YAHOO_TIMEOUT:g} s")
        if _OFFLINE_RE.search(log):
            raise Transient("offline", source, "connection failed", YAHOO_HOST)
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


def _unexpected(symbols: list[str], what: str) -> BadAnswer:
    return BadAnswer(
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
            f"Yahoo returned no prices for {', '.join(symbols)}{since_text(since)}; check the "
            f"symbol on https://finance.yahoo.com, pick an earlier start date, or try again later"
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
                f"Yahoo returned no prices for {symbol!r}{since_text(since)}; check the symbol "
                f"on https://finance.yahoo.com, pick an earlier start date, or try again later"
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
    names = [engine_ticker(t) for t in split_names(tickers)]
    if not names:
        raise DrainError("no tickers to fetch; name at least one, e.g. SPY")
    start = parse_since(since) if since is not None else None
    symbols = [yahoo_symbol(name) for name in names]
    frame = with_retries(lambda: _yf_download(symbols, start, session), wait)
    now = clock.utcnow()
    closes = _closes_from_download(frame, symbols, start)
    parts = []
    for name, symbol in zip(names, symbols, strict=True):
        final = _final_bars(name, closes[symbol], now)
        if final.empty:
            raise EmptyDownload(
                f"Yahoo has no final close for {name!r}{since_text(start)} yet (today's bar "
                f"is still open); pick an earlier start date or try after the close"
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


__all__ = ["engine_ticker", "fetch_prices", "yahoo_symbol"]
