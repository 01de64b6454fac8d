"""FRED: vet series ids, download each series as fredgraph CSV, and parse and check the answer.

Rows are ``series, date, value, fetched_at`` in FRED's own units and dates, FRED's "." missing
markers dropped. Only series with a publication rule in ``releases.MACRO_RULES`` are fetched.
"""

from __future__ import annotations

import difflib
import io
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import requests
import tenacity

from drain_core.errors import DrainError
from drain_data import cache, clock
from drain_data.fetch_args import parse_since, since_text, split_names
from drain_data.fetch_errors import (
    BadAnswer,
    EmptyDownload,
    Transient,
    retry_after_seconds,
    with_retries,
)
from drain_data.releases import MACRO_RULES

FRED_CSV_URL = "https://fred.stlouisfed.org/graph/fredgraph.csv"
FRED_HOST = "fred.stlouisfed.org"
FRED_TIMEOUT = (10.0, 20.0)  # connect, and the longest silence while reading (seconds)
FRED_DEADLINE = 45.0  # the whole answer, however it trickles in (seconds)
MAX_REDIRECTS = 5
MAX_BODY_BYTES = 64 << 20  # a fredgraph CSV of a daily series since 1950 is under 1 MB


def check_series(series: str | Iterable[str]) -> list[str]:
    """Series ids that have a publication rule; anything else -> DrainError with did-you-mean."""
    names = [name.upper() for name in split_names(series)]
    for name in names:
        if name not in MACRO_RULES:
            close = difflib.get_close_matches(name, list(MACRO_RULES), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise DrainError(
                f"series {name!r} has no publication rule{hint}; fetchable series: "
                f"{', '.join(sorted(MACRO_RULES))} (add a rule in drain_data/releases.py first)"
            )
    return names


def _fred_get(http: requests.Session, name: str, since: pd.Timestamp | None) -> str:
    params = {"id": name}
    if since is not None:
        params["cosd"] = since.strftime("%Y-%m-%d")
    source = f"FRED ({name})"
    http.max_redirects = MAX_REDIRECTS
    try:
        response = http.get(FRED_CSV_URL, params=params, timeout=FRED_TIMEOUT, stream=True)
        with response:
            status = response.status_code
            if status in (429, 503):
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                raise Transient("rate" if status == 429 else "server", source, f"HTTP {status}",
                                retry_after=wait)
            if status >= 500:
                raise Transient("server", source, f"HTTP {status}")
            if status != 200:
                raise DrainError(
                    f"FRED answered HTTP {status} for series {name!r}; check the id on "
                    f"https://fred.stlouisfed.org/series/{name} or try again later"
                )
            body = _read_body(response, source)
    except requests.exceptions.TooManyRedirects:
        raise BadAnswer(f"{source} redirected more than {MAX_REDIRECTS} times (a redirect "
                        f"loop); nothing was updated, try again later") from None
    except requests.exceptions.ConnectionError as exc:  # includes ConnectTimeout, SSL, proxy
        raise Transient("offline", source, type(exc).__name__, FRED_HOST) from exc
    except requests.exceptions.Timeout as exc:
        raise Transient("slow", source, f"no answer within {FRED_TIMEOUT[1]:.0f} s") from exc
    except (
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.ContentDecodingError,
    ) as exc:
        raise Transient("server", source, f"broken answer: {type(exc).__name__}") from exc
    return body


def _read_body(response: requests.Response, source: str) -> str:
    """The whole body within FRED_DEADLINE seconds (a stalled or trickling answer is a
    timeout, not a hang: each read returns what has arrived, and the clock is checked after
    it), at most MAX_BODY_BYTES; a body shorter than its Content-Length is a broken answer."""
    import urllib3.exceptions as u3

    deadline = time.monotonic() + FRED_DEADLINE
    chunks, size = [], 0
    while True:
        try:
            chunk = response.raw.read1(1 << 16)
        except u3.ReadTimeoutError as exc:
            raise Transient("slow", source, f"silent for {FRED_TIMEOUT[1]:g} s mid-answer") \
                from exc
        except (u3.ProtocolError, u3.DecodeError) as exc:  # IncompleteRead: cut short
            raise Transient("server", source, f"broken answer: {type(exc).__name__}") from exc
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if time.monotonic() > deadline:
            raise Transient("slow", source, f"the answer took longer than {FRED_DEADLINE:g} s")
        if size > MAX_BODY_BYTES:
            raise BadAnswer(f"{source} sent more than {MAX_BODY_BYTES >> 20} MB, not a "
                            f"fredgraph CSV; nothing was updated, try again later")
    return b"".join(chunks).decode(response.encoding or "utf-8", errors="replace")


def parse_fred_csv(name: str, body: str, since: pd.Timestamp | None = None) -> pd.DataFrame:
    """FRED's fredgraph CSV body as rows ``series, date, value`` (missing markers dropped).

    The header is ``observation_date,NAME`` (``DATE,NAME`` before 2024). An empty body, an HTML
    page, any other header or a garbled row is a ``BadAnswer`` (a server fault: exit status 1);
    a header with no usable rows is an EmptyDownload.
    """
    text = body.lstrip("\ufeff")
    bad = f"FRED's answer for {name!r} is not the expected CSV"
    if not text.strip():
        raise BadAnswer(f"FRED returned an empty body for series {name!r}; try again later")
    if text.lstrip().startswith("<"):
        raise BadAnswer(f"{bad} but an HTML page (an outage or a moved URL); try again later")
    if not text.endswith("\n"):  # fredgraph CSV ends every row with a newline, the last too
        raise BadAnswer(f"{bad}: it ends mid-row (a truncated answer); try again later")
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeError) as exc:
        raise BadAnswer(f"{bad} ({type(exc).__name__}); try again later") from None
    header = [str(col).strip() for col in raw.columns]
    if len(header) != 2 or header[0] not in ("observation_date", "DATE") or header[1] != name:
        shown = ",".join(header)[:80]
        raise BadAnswer(
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
        raise BadAnswer(
            f"{bad}: row {row['date']!r},{row['value']!r} is not a date and a number "
            f"(a truncated or garbled answer); "
            f"try again later"
        )
    rows = pd.DataFrame({"series": name, "date": dates, "value": values.astype("float64")})
    rows = rows[~missing & np.isfinite(rows["value"])]
    if since is not None:
        rows = rows[rows["date"] >= since]
    if rows.empty:
        raise EmptyDownload(
            f"FRED has no observations of {name!r}{since_text(since)}; "
            f"pick an earlier start date or check https://fred.stlouisfed.org/series/{name}"
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
            body = with_retries(lambda name=name: _fred_get(http, name, start), wait)
            rows = parse_fred_csv(name, body, start)
            parts.append(rows.assign(fetched_at=clock.utcnow().as_unit("ns")))
    finally:
        if session is None:
            http.close()
    frame = pd.concat(parts, ignore_index=True)
    frame["fetched_at"] = frame["fetched_at"].astype("datetime64[ns]")
    return frame[cache.TABLES["macro"]]


__all__ = ["FRED_CSV_URL", "check_series", "fetch_fred", "parse_fred_csv"]
