"""The live refresh (``drain_data.update``, ``.yahoo``, ``.fred``), never touching the network.

Yahoo answers come from recorded/shaped frames served by a fake ``yfinance.download``; FRED
answers from CSV bodies served by ``responses``. See tests/fixtures/live/README.md.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import requests
import responses
import tenacity
import yfinance
from responses import matchers

from drain_cli.main import main
from drain_core.errors import DrainError
from drain_data import cache, clock, coverage, fetch_errors, load_dataset
from drain_data.fetch_args import parse_since
from drain_data.fetch_errors import (
    MAX_ATTEMPTS,
    EmptyDownload,
    NetworkUnavailable,
    SourceUnavailable,
)
from drain_data.fred import FRED_CSV_URL, fetch_fred
from drain_data.update import STALE_TEMP_SECONDS, update
from drain_data.yahoo import fetch_prices

FIXTURES = Path(__file__).parent / "fixtures" / "live"
REPO = Path(__file__).resolve().parents[1]
NOW = pd.Timestamp("2026-09-10 14:00")  # UTC: after every fixture bar became final
FRED = FRED_CSV_URL


# ------------------------------------------------------------------------------------ helpers


@pytest.fixture(autouse=True)
def _fast_and_pinned(monkeypatch):
    """No backoff sleeps, a fixed clock, and no real download if a test forgets to fake one."""
    monkeypatch.setattr(fetch_errors, "DEFAULT_WAIT", tenacity.wait_none())
    monkeypatch.setattr(clock, "utcnow", lambda: NOW)

    def _no_network(*args, **kwargs):
        raise AssertionError("test tried a real yfinance.download")

    monkeypatch.setattr(yfinance, "download", _no_network)


class FakeYahoo:
    """Stands in for ``yfinance.download``: serves a fixture frame the way yfinance would.

    ``script`` items run one per call before serving: "rate" logs a rate-limit failure (as
    yfinance 1.7 does), "raise-rate" raises YFRateLimitError, "offline" replays the recorded
    offline answer, anything else (a DataFrame, None) is returned as is.
    """

    def __init__(self, frame: pd.DataFrame, script=()):
        self.frame = frame
        self.script = list(script)
        self.calls: list[tuple[list[str], dict]] = []

    def __call__(self, tickers, **kwargs):
        tickers = [tickers] if isinstance(tickers, str) else list(tickers)
        self.calls.append((tickers, kwargs))
        log = logging.getLogger("yfinance")
        if self.script:
            step = self.script.pop(0)
            if not isinstance(step, str):
                return step
            if step == "raise-rate":
                from yfinance.exceptions import YFRateLimitError

                raise YFRateLimitError()
            if step == "rate":
                log.error("\n1 Failed download:")
                log.error(
                    f"{tickers}: YFRateLimitError('Too Many Requests. Rate limited. "
                    f"Try after a while.')"
                )
                return _empty_answer(tickers)
            if step == "offline":
                for line in (FIXTURES / "yf_offline_spy.log").read_text().splitlines():
                    if line.strip():
                        log.error(line)
                return pd.read_parquet(FIXTURES / "yf_offline_spy.parquet")
        known = set(self.frame.columns.get_level_values("Ticker"))
        if not set(tickers) <= known:
            log.error(f"{sorted(set(tickers) - known)}: YFPricesMissingError('possibly "
                      f"delisted; no price data found')")
            if not set(tickers) & known:
                return _empty_answer(tickers)
        frame = self.frame.loc[:, self.frame.columns.get_level_values("Ticker").isin(tickers)]
        if kwargs.get("start"):
            index = frame.index
            start = pd.Timestamp(kwargs["start"])
            if index.tz is not None:
                start = start.tz_localize(index.tz)
            frame = frame[index >= start]
        return frame.dropna(how="all")


def _empty_answer(tickers) -> pd.DataFrame:
    """What yfinance 1.7 returns when every ticker failed (as recorded offline)."""
    fields = ["Adj Close", "Close", "High", "Low", "Open", "Volume"]
    columns = pd.MultiIndex.from_product([fields, tickers], names=["Price", "Ticker"])
    return pd.DataFrame(index=pd.DatetimeIndex([], dtype="datetime64[s]"), columns=columns,
                        dtype="float64")


def _spy_btc() -> pd.DataFrame:
    return pd.read_parquet(FIXTURES / "yf_spy_btc.parquet")


@pytest.fixture
def yahoo(monkeypatch):
    fake = FakeYahoo(_spy_btc())
    monkeypatch.setattr(yfinance, "download", fake)
    return fake


@pytest.fixture
def fred():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def _sofr_body() -> str:
    return (FIXTURES / "fred_sofr.csv").read_text()


def _add_sofr(mock, body=None, status=200, since=None):
    """Serve a SOFR answer; with ``since`` only to a request carrying exactly that cosd."""
    if since is None:
        match = matchers.query_param_matcher({"id": "SOFR"}, strict_match=False)
    else:
        match = matchers.query_param_matcher({"id": "SOFR", "cosd": since})
    mock.add(responses.GET, FRED, body=_sofr_body() if body is None else body, status=status,
             match=[match])


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _update_cli(cache_dir, *extra):
    return ["data", "update", "--cache-dir", str(cache_dir), "--no-progress", *extra]


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "live-cache"


@pytest.fixture
def filled_cache(cache_dir, yahoo, fred) -> Path:
    """A cache holding one earlier successful update of SPY, BTC-USD and SOFR."""
    _add_sofr(fred, since="2026-07-27")
    update(["SPY", "BTC-USD"], ["SOFR"], since="2026-07-27", cache_dir=cache_dir,
           progress=False)
    fred.reset()
    yahoo.calls.clear()
    return cache_dir


def _snapshot_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.parquet"))}


# ------------------------------------------------------------------------------ fetch_prices


def test_fetch_prices_reads_yfinance_layout(yahoo):
    rows = fetch_prices(["SPY", "BTC-USD"], since="2026-07-27")
    assert list(rows.columns) == ["ticker", "date", "close", "fetched_at"]
    assert str(rows["date"].dtype) == "datetime64[ns]"
    assert str(rows["fetched_at"].dtype) == "datetime64[ns]"
    assert rows["close"].notna().all()
    assert (rows["fetched_at"] == NOW).all()
    spy = rows[rows["ticker"] == "SPY"].set_index("date")["close"]
    btc = rows[rows["ticker"] == "BTC-USD"].set_index("date")["close"]
    assert len(spy) == 10 and len(btc) == 12
    assert spy.index.dayofweek.max() <= 4  # no NaN weekend rows for an equity
    assert pd.Timestamp("2026-08-01") in btc.index  # crypto keeps its own (UTC) Saturday
    assert spy[pd.Timestamp("2026-08-07")] == pytest.approx(755.02002)
    tickers, kwargs = yahoo.calls[0]
    assert sorted(tickers) == ["BTC-USD", "SPY"]
    assert kwargs["start"] == "2026-07-27"
    assert kwargs["auto_adjust"] is True and kwargs["progress"] is False
    assert kwargs["ignore_tz"] is True


def test_fetch_prices_tz_aware_index_keeps_the_exchange_day(monkeypatch):
    aware = pd.read_parquet(FIXTURES / "yf_spy_tzaware.parquet")
    assert aware.index.tz is not None
    monkeypatch.setattr(yfinance, "download", FakeYahoo(aware))
    rows = fetch_prices("SPY")
    assert rows["date"].dt.tz is None
    assert (rows["date"] == rows["date"].dt.normalize()).all()
    assert rows["date"].min() == pd.Timestamp("2026-07-27")
    assert rows["date"].max() == pd.Timestamp("2026-08-07")


def test_fetch_prices_maps_index_symbols(monkeypatch):
    frame = _spy_btc().rename(columns={"SPY": "^VIX"}, level="Ticker")
    fake = FakeYahoo(frame)
    monkeypatch.setattr(yfinance, "download", fake)
    rows = fetch_prices(["vix"], since="2026-07-27")
    assert fake.calls[0][0] == ["^VIX"]
    assert set(rows["ticker"]) == {"VIX"}


@pytest.mark.parametrize(
    ("now", "spy_last", "btc_last"),
    [
        ("2026-08-07 18:00", "2026-08-06", "2026-08-06"),  # 14:00 ET: SPY's bar still open
        ("2026-08-07 21:00", "2026-08-07", "2026-08-06"),  # 17:00 ET: closed; UTC day is not
        ("2026-08-08 00:30", "2026-08-07", "2026-08-07"),
    ],
)
def test_fetch_prices_never_stores_an_open_bar(monkeypatch, yahoo, now, spy_last, btc_last):
    monkeypatch.setattr(clock, "utcnow", lambda: pd.Timestamp(now))
    rows = fetch_prices(["SPY", "BTC-USD"], since="2026-07-27")
    last = rows.groupby("ticker")["date"].max()
    assert last["SPY"] == pd.Timestamp(spy_last)
    assert last["BTC-USD"] == pd.Timestamp(btc_last)


def _no_close(frame):
    return frame.drop(columns="Close", level="Price")


def _three_levels(frame):
    frame = frame.copy()
    frame.columns = pd.MultiIndex.from_tuples([(*c, "x") for c in frame.columns])
    return frame


def _string_index(frame):
    return frame.set_axis(frame.index.strftime("%Y-%m-%d"), axis=0)


@pytest.mark.parametrize(
    ("reshape", "words"),
    [
        (_no_close, "no Close field"),
        (_three_levels, "3 column levels"),
        (_string_index, "instead of dates"),
        (lambda frame: None, "NoneType"),
        (lambda frame: frame.xs("Close", axis=1, level="Price"), "no Close field"),
    ],
)
def test_fetch_prices_unexpected_shape_is_a_drain_error(monkeypatch, reshape, words):
    answer = reshape(_spy_btc())
    monkeypatch.setattr(yfinance, "download", FakeYahoo(_spy_btc(), script=[answer]))
    with pytest.raises(DrainError) as info:
        fetch_prices(["SPY", "BTC-USD"], since="2026-07-27")
    message = str(info.value)
    assert words in message and "SPY" in message and "finance.yahoo.com" in message
    assert "\n" not in message


def test_fetch_prices_ticker_missing_from_columns(monkeypatch):
    spy_only = _spy_btc().loc[:, (slice(None), ["SPY"])]
    monkeypatch.setattr(yfinance, "download", FakeYahoo(_spy_btc(), script=[spy_only]))
    with pytest.raises(DrainError, match=r"lacks ticker 'BTC-USD'.*finance\.yahoo\.com"):
        fetch_prices(["SPY", "BTC-USD"])


def test_fetch_prices_empty_frame_names_the_ticker_and_the_fix(monkeypatch):
    monkeypatch.setattr(yfinance, "download",
                        FakeYahoo(_spy_btc(), script=[_empty_answer(["NOPE"])]))
    with pytest.raises(EmptyDownload, match=r"no prices for NOPE.*check the symbol"):
        fetch_prices("NOPE")


def test_yahoo_rate_limit_is_retried(monkeypatch):
    fake = FakeYahoo(_spy_btc(), script=["rate", "raise-rate"])
    monkeypatch.setattr(yfinance, "download", fake)
    rows = fetch_prices("SPY", since="2026-07-27")
    assert len(fake.calls) == 3 and len(rows) == 10


def test_yahoo_offline_is_network_unavailable(monkeypatch):
    fake = FakeYahoo(_spy_btc(), script=["offline"] * 10)
    monkeypatch.setattr(yfinance, "download", fake)
    with pytest.raises(NetworkUnavailable) as info:
        fetch_prices("SPY")
    assert len(fake.calls) == MAX_ATTEMPTS
    assert "network is unavailable" in str(info.value)
    assert "cache and the embedded snapshot" in str(info.value)


def test_yahoo_persistent_rate_limit_is_source_unavailable(monkeypatch):
    monkeypatch.setattr(yfinance, "download", FakeYahoo(_spy_btc(), script=["rate"] * 10))
    with pytest.raises(SourceUnavailable, match="rate-limiting.*4 attempts"):
        fetch_prices("SPY")


# -------------------------------------------------------------------------------- fetch_fred


def test_fetch_fred_parses_csv_and_drops_missing_marker(fred):
    _add_sofr(fred, since="2026-08-27")
    rows = fetch_fred("SOFR", since="2026-08-27")
    assert list(rows.columns) == ["series", "date", "value", "fetched_at"]
    assert len(rows) == 9  # ten rows, Labor Day's "." dropped
    assert pd.Timestamp("2026-09-07") not in set(rows["date"])
    assert str(rows["date"].dtype) == "datetime64[ns]"
    assert rows["value"].iloc[0] == pytest.approx(3.61)
    assert (rows["fetched_at"] == NOW).all()


def test_fetch_fred_accepts_the_old_header(fred):
    _add_sofr(fred, body=_sofr_body().replace("observation_date", "DATE"))
    assert len(fetch_fred(["SOFR"])) == 9


def test_fred_rate_limit_then_success(fred):
    _add_sofr(fred, status=429, body="Too Many Requests")
    _add_sofr(fred)
    rows = fetch_fred("SOFR")
    assert len(fred.calls) == 2 and len(rows) == 9


def test_fred_server_errors_and_timeouts_are_retried(fred):
    _add_sofr(fred, status=503, body="busy")
    fred.add(responses.GET, FRED, body=requests.exceptions.ReadTimeout("slow"))
    _add_sofr(fred)
    assert len(fetch_fred("SOFR")) == 9
    assert len(fred.calls) == 3


def test_fred_persistent_5xx_is_source_unavailable(fred):
    _add_sofr(fred, status=503, body="busy")
    with pytest.raises(SourceUnavailable, match=r"HTTP 503.*4 attempts"):
        fetch_fred("SOFR")
    assert len(fred.calls) == MAX_ATTEMPTS


def test_fred_connection_error_is_network_unavailable_in_one_line(fred):
    fred.add(responses.GET, FRED, body=requests.exceptions.ConnectionError("no route"))
    with pytest.raises(NetworkUnavailable) as info:
        fetch_fred("SOFR")
    assert len(fred.calls) == MAX_ATTEMPTS
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("the network is unavailable")
    assert "keeps working from the cache and the embedded snapshot" in message


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("", "empty body"),
        ((FIXTURES / "fred_error.html").read_text(), "HTML page"),
        ("date,value\n2026-08-27,3.61\n", "header"),
        ("observation_date,SOFR\n2026-08-27,abc\n", "not a date and a number"),
    ],
)
def test_fred_malformed_body_is_a_drain_error(fred, body, words):
    _add_sofr(fred, body=body)
    with pytest.raises(DrainError, match=words):
        fetch_fred("SOFR")
    assert len(fred.calls) == 1  # not retried: a broken answer is not a transient failure


def test_fred_header_only_is_an_empty_download(fred):
    _add_sofr(fred, body="observation_date,SOFR\n", since="2026-09-09")
    with pytest.raises(EmptyDownload, match="no observations of 'SOFR' since 2026-09-09"):
        fetch_fred("SOFR", since="2026-09-09")


def test_unknown_series_never_reaches_the_network(fred):
    with pytest.raises(DrainError, match=r"did you mean 'SOFR'\?"):
        fetch_fred("SOFT")
    assert len(fred.calls) == 0


@pytest.mark.parametrize(
    ("since", "words"),
    [("2026-13-01", "not a date"), ("yesterday", "not a date"), ("2026-09-11", "after today")],
)
def test_bad_since_is_a_drain_error(since, words):
    with pytest.raises(DrainError, match=words):
        parse_since(since)


# ------------------------------------------------------------------------------------- update


def test_update_writes_the_cache_and_overrides_the_snapshot(cache_dir, yahoo, fred):
    _add_sofr(fred, since="2026-07-27")
    before = load_dataset(["SPY"], use_cache=False)
    summary = update(["SPY", "BTC-USD"], ["SOFR"], since="2026-07-27",
                     cache_dir=cache_dir, progress=False)
    prices, macro = summary.tables
    assert (prices.fetched_rows, prices.new_rows, prices.revised_rows) == (22, 17, 5)
    assert (macro.fetched_rows, macro.new_rows, macro.revised_rows) == (9, 9, 0)
    assert prices.path == cache_dir / "prices.parquet" and prices.path.exists()
    assert any(w.startswith("SPY:") and "older dividend" in w for w in summary.warnings)
    assert not any(w.startswith("BTC-USD") for w in summary.warnings)

    dataset = load_dataset(["SPY", "BTC-USD"], cache_dir=cache_dir)
    spy = dataset.prices["SPY"]
    assert spy[pd.Timestamp("2026-07-31")] == pytest.approx(747.030029 * 0.9972)
    assert before.prices["SPY"][pd.Timestamp("2026-07-31")] == pytest.approx(747.030029)
    assert spy[pd.Timestamp("2026-08-07")] == pytest.approx(755.02002)
    assert spy[pd.Timestamp("2026-07-24")] == pytest.approx(738.929993)  # older: snapshot
    # BTC's Sunday 2026-08-02 UTC close is first usable at Monday's NYSE session.
    assert dataset.prices["BTC-USD"][pd.Timestamp("2026-08-03")] == pytest.approx(98540.36)
    sofr = dataset.macro[dataset.macro["series"] == "SOFR"].set_index("date")
    assert sofr.loc[pd.Timestamp("2026-09-09"), "value"] == pytest.approx(3.63)
    assert sofr.loc[pd.Timestamp("2026-09-09"), "available_at"] == pd.Timestamp("2026-09-10")

    table = coverage(cache_dir=cache_dir).set_index(["kind", "name"])
    assert set(table.loc[("price", "SPY"), "source"].split("+")) == {"snapshot", "cache"}
    assert set(table.loc[("macro", "SOFR"), "source"].split("+")) == {"snapshot", "cache"}
    assert table.loc[("price", "SPY"), "last"] == pd.Timestamp("2026-08-07").date()
    assert table.loc[("price", "QQQ"), "source"] == "snapshot"


def test_update_merges_with_the_previous_cache(filled_cache, monkeypatch):
    first = cache.read_table("prices", filled_cache)
    later = pd.Timestamp("2026-09-11 14:00")
    monkeypatch.setattr(clock, "utcnow", lambda: later)
    revised = _spy_btc()
    revised.loc[pd.Timestamp("2026-08-07"), ("Close", "SPY")] = 760.0
    monkeypatch.setattr(yfinance, "download", FakeYahoo(revised))
    summary = update(["SPY"], [], since="2026-08-03", cache_dir=filled_cache,
                     progress=False)
    assert [t.table for t in summary.tables] == ["prices"]
    assert (summary.tables[0].new_rows, summary.tables[0].revised_rows) == (0, 1)
    after = cache.read_table("prices", filled_cache)
    assert len(after) == len(first)  # BTC rows kept, SPY rows replaced, nothing doubled
    row = after[(after["ticker"] == "SPY") & (after["date"] == "2026-08-07")].iloc[0]
    assert row["close"] == 760.0 and row["fetched_at"] == later
    older = after[(after["ticker"] == "SPY") & (after["date"] == "2026-07-27")].iloc[0]
    assert older["fetched_at"] == NOW


def test_update_defaults_cover_every_snapshot_ticker_from_its_first_date(cache_dir, monkeypatch):
    calls = []

    def any_symbol(tickers, **kwargs):
        calls.append((tickers, kwargs))
        columns = pd.MultiIndex.from_product([["Close"], tickers], names=["Price", "Ticker"])
        index = pd.DatetimeIndex(["2026-08-06", "2026-08-07"], name="Date")
        return pd.DataFrame(100.0, index=index, columns=columns)

    monkeypatch.setattr(yfinance, "download", any_symbol)
    summary = update(series=[], cache_dir=cache_dir, progress=False)
    symbols = {tickers[0] for tickers, _ in calls}
    assert len(symbols) == 47 and {"^VIX", "^TNX", "^IRX", "BTC-USD", "SPY"} <= symbols
    assert {kwargs["start"] for _, kwargs in calls} == {"2014-01-02"}
    assert summary.tables[0].fetched_rows == 94
    assert {"VIX", "TNX", "IRX"} <= set(cache.read_table("prices", cache_dir)["ticker"])


def test_update_new_ticker_with_no_data_is_a_drain_error(cache_dir, yahoo):
    with pytest.raises(DrainError, match="NOPE"):
        update(["NOPE"], [], since="2026-07-27", cache_dir=cache_dir, progress=False)


def test_update_known_ticker_with_nothing_new_since_is_fine(filled_cache, monkeypatch):
    monkeypatch.setattr(yfinance, "download",
                        FakeYahoo(_spy_btc(), script=[_empty_answer(["SPY"])]))
    before = _snapshot_bytes(filled_cache)
    summary = update(["SPY"], [], since="2026-09-08", cache_dir=filled_cache,
                     progress=False)
    assert summary.tables[0].fetched_rows == 0
    assert _snapshot_bytes(filled_cache) == before


def test_update_rejects_unknown_series_before_taking_the_lock(cache_dir):
    with pytest.raises(DrainError, match="did you mean 'WALCL'"):
        update([], ["WALCX"], cache_dir=cache_dir, progress=False)
    assert not cache_dir.exists()


# ---------------------------------------------------------------------------- CLI, exit codes


def test_cli_update_prints_one_line_per_table(cache_dir, yahoo, fred, capsys):
    _add_sofr(fred, since="2026-07-27")
    code, out, err = _run(
        _update_cli(cache_dir, "--tickers", "SPY", "BTC-USD", "--series", "SOFR",
                    "--since", "2026-07-27"),
        capsys,
    )
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("prices: 22 rows fetched for 2 tickers, 17 new, 5 revised -> ")
    assert lines[0].endswith(str(cache_dir / "prices.parquet"))
    assert lines[1].startswith("macro: 9 rows fetched for 1 series, 9 new, 0 revised -> ")
    assert err.startswith("drain: warning: SPY:")


def test_cli_tickers_only_leaves_macro_alone(cache_dir, yahoo, fred, capsys):
    code, out, _ = _run(_update_cli(cache_dir, "--tickers", "SPY", "--since", "2026-07-27"),
                        capsys)
    assert code == 0 and out.startswith("prices:") and "macro" not in out
    assert len(fred.calls) == 0 and not (cache_dir / "macro.parquet").exists()


def test_cli_network_unavailable_exits_1_with_one_line(cache_dir, fred, capsys):
    fred.add(responses.GET, FRED, body=requests.exceptions.ConnectionError("no route"))
    code, out, err = _run(_update_cli(cache_dir, "--series", "SOFR"), capsys)
    assert code == 1 and out == ""
    assert err.count("\n") == 1
    assert err.startswith("drain: error: the network is unavailable")


@pytest.mark.parametrize(
    ("case", "status"),
    [("fred-empty-body", 1), ("fred-html", 1), ("yahoo-empty-new-ticker", 2),
     ("yahoo-bad-shape", 1)],
)
def test_cli_bad_answer_keeps_the_cache(filled_cache, fred, monkeypatch, capsys, case, status):
    """A server's broken answer exits 1 (not the user's fault), a symbol without data 2."""
    before = _snapshot_bytes(filled_cache)
    assert set(before) == {"prices.parquet", "macro.parquet"}
    if case == "fred-empty-body":
        _add_sofr(fred, body="")
        argv = ["--series", "SOFR"]
    elif case == "fred-html":
        _add_sofr(fred, body=(FIXTURES / "fred_error.html").read_text())
        argv = ["--tickers", "SPY", "--series", "SOFR"]  # prices download fine, then FRED fails
        monkeypatch.setattr(yfinance, "download", FakeYahoo(_spy_btc()))
    elif case == "yahoo-empty-new-ticker":
        monkeypatch.setattr(yfinance, "download", FakeYahoo(_spy_btc()))
        argv = ["--tickers", "SPY", "NOPE"]
    else:
        bad = _no_close(_spy_btc())
        monkeypatch.setattr(yfinance, "download", FakeYahoo(_spy_btc(), script=[bad]))
        argv = ["--tickers", "SPY"]
    code, out, err = _run(_update_cli(filled_cache, *argv), capsys)
    assert code == status and out == ""
    assert err.startswith("drain: error: ") and err.count("\n") == 1
    assert _snapshot_bytes(filled_cache) == before


def test_cli_bad_since_and_unknown_series_exit_2(cache_dir, capsys):
    for argv in (["--since", "2026-02-30"], ["--since", "2027-01-01"], ["--series", "SOFT"]):
        code, out, err = _run(_update_cli(cache_dir, *argv), capsys)
        assert code == 2 and out == "" and err.count("\n") == 1, argv


def test_cli_show_still_works_with_a_cache(filled_cache, capsys):
    code, out, _ = _run(["data", "show", "--cache-dir", str(filled_cache)], capsys)
    assert code == 0
    assert "cache+snapshot" in out or "snapshot+cache" in out


# ------------------------------------------------------------------- broken and killed caches


def test_truncated_cache_file_is_a_drain_error(filled_cache, capsys):
    path = filled_cache / "prices.parquet"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DrainError, match="unreadable.*delete it"):
        cache.read_table("prices", filled_cache)
    # drain data show lists the snapshot and names the damage, exit 0 (issue #14)
    code, out, err = _run(["data", "show", "--cache-dir", str(filled_cache)], capsys)
    assert code == 0 and "SPY" in out and err.count("\n") == 1
    assert err.startswith("drain: ") and "prices.parquet is unreadable" in err
    # An update refuses to build on it and leaves it for the user to delete.
    truncated = path.read_bytes()
    code, _, err = _run(_update_cli(filled_cache, "--tickers", "SPY"), capsys)
    assert code == 2 and "unreadable" in err
    assert path.read_bytes() == truncated


KILLED_WRITER = textwrap.dedent(
    """
    import os, sys, time
    import numpy as np, pandas as pd
    from drain_data import cache

    real_fdopen = os.fdopen

    class SlowFile:
        # A file that stalls after its first few kilobytes, as a slow disk would.
        def __init__(self, handle):
            self.handle, self.written = handle, 0
        def write(self, data):
            count = self.handle.write(data)
            self.written += len(data)
            if self.written > 2048:
                self.handle.flush()
                print("WRITING", flush=True)
                time.sleep(120)
            return count
        def __getattr__(self, name):
            return getattr(self.handle, name)
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            return self.handle.__exit__(*exc)

    os.fdopen = lambda fd, *a, **k: SlowFile(real_fdopen(fd, *a, **k))
    n = 300_000
    frame = pd.DataFrame({
        "ticker": np.repeat(["SPY", "QQQ", "IWM"], n // 3),
        "date": pd.Timestamp("2000-01-03") + pd.to_timedelta(np.arange(n) % 9000, unit="D"),
        "close": np.random.default_rng(0).random(n),
        "fetched_at": pd.Timestamp("2026-09-10"),
    })
    cache.write_table("prices", frame, sys.argv[1])
    print("FINISHED", flush=True)
    """
)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _wait_for_line(proc: subprocess.Popen, expected: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.strip() == expected:
            return
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"child never printed {expected}: {proc.stderr.read()}")


def test_kill_during_write_leaves_the_previous_cache(filled_cache, fred, monkeypatch):
    previous_bytes = (filled_cache / "prices.parquet").read_bytes()
    previous = cache.read_table("prices", filled_cache)
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(filled_cache)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_child_env(),
    )
    try:
        _wait_for_line(proc, "WRITING")
        temps = list(filled_cache.glob(".prices.*.tmp"))
        assert len(temps) == 1 and temps[0].stat().st_size > 2048  # really mid-write
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()
    assert (filled_cache / "prices.parquet").read_bytes() == previous_bytes
    pd.testing.assert_frame_equal(cache.read_table("prices", filled_cache), previous)
    # The next update removes the orphaned temp file once it is stale, and succeeds.
    old = time.time() - STALE_TEMP_SECONDS - 60
    os.utime(temps[0], (old, old))
    monkeypatch.setattr(yfinance, "download", FakeYahoo(_spy_btc()))
    update(["SPY"], [], since="2026-07-27", cache_dir=filled_cache, progress=False)
    assert not temps[0].exists()


LOCK_HOLDER = textwrap.dedent(
    """
    import sys, time
    from drain_data import cache

    lock = cache.cache_lock(sys.argv[1])
    with lock:
        print("LOCKED", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def _hold_lock(folder: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(folder), str(seconds)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_child_env(),
    )
    _wait_for_line(proc, "LOCKED")
    return proc


def _finish(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)
    proc.stdout.close()
    proc.stderr.close()


def test_update_gives_up_when_another_update_holds_the_lock(filled_cache, monkeypatch):
    monkeypatch.setattr(yfinance, "download", FakeYahoo(_spy_btc()))
    before = _snapshot_bytes(filled_cache)
    proc = _hold_lock(filled_cache, 60)
    try:
        started = time.monotonic()
        with pytest.raises(DrainError, match="another 'drain data update'.*wait for it"):
            update(["SPY"], [], since="2026-07-27", cache_dir=filled_cache,
                   progress=False, lock_timeout=0.3)
        assert time.monotonic() - started < 5
    finally:
        _finish(proc)
    assert _snapshot_bytes(filled_cache) == before


def test_concurrent_updates_serialize_on_the_lock(filled_cache, monkeypatch):
    monkeypatch.setattr(yfinance, "download", FakeYahoo(_spy_btc()))
    proc = _hold_lock(filled_cache, 1.5)
    try:
        update(["SPY"], [], since="2026-07-27", cache_dir=filled_cache, progress=False,
               lock_timeout=60)
        # It could only run once the holder let go, i.e. after the holder finished.
        assert proc.wait(timeout=1) == 0
    finally:
        _finish(proc)
