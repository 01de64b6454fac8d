"""Fault corpus, data half: network faults on ``drain data update`` (a loopback FRED on
127.0.0.1) and damaged cache files read by ``drain signal`` / ``drain data show``.

Each case asserts the exit status (1 a fault of the network or server, 2 a mistake to fix),
one or two ``drain:`` lines naming the problem, no traceback, and unchanged cache and reports
folders (hidden entries included). See tests/faults_kit.py.
"""

from __future__ import annotations

import email.utils
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tenacity
import yfinance

from drain_data import clock, fetch_errors, fred
from tests.faults_kit import (
    Loopback,
    answer,
    cut_off,
    expect_fault,
    hang_up,
    listing,
    redirect_to_self,
    stall,
    trickle,
)

FIXTURES = Path(__file__).parent / "fixtures" / "live"
NOW = pd.Timestamp("2026-09-10 14:00")
SOFR = (FIXTURES / "fred_sofr.csv").read_text()


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    """No backoff, a fixed clock, short timeouts, and no real download ever."""
    monkeypatch.setattr(fetch_errors, "DEFAULT_WAIT", tenacity.wait_none())
    monkeypatch.setattr(clock, "utcnow", lambda: NOW)
    monkeypatch.setattr(fred, "FRED_TIMEOUT", (2.0, 0.5))
    monkeypatch.setattr(fred, "FRED_DEADLINE", 1.0)

    def no_network(*args, **kwargs):
        raise AssertionError("a test tried a real yfinance.download")

    monkeypatch.setattr(yfinance, "download", no_network)


@pytest.fixture
def waits(monkeypatch):
    """The waits between attempts, recorded instead of slept."""
    seen: list[float] = []
    monkeypatch.setattr(fetch_errors, "_sleep_within_deadline", seen.append)
    return seen


def _serve(monkeypatch, script):
    server = Loopback(script)
    monkeypatch.setattr(fred, "FRED_CSV_URL", server.url)
    return server


@pytest.fixture
def filled(tmp_path, monkeypatch):
    """A cache holding SOFR from one clean update through the loopback server."""
    folder = tmp_path / "cache"
    server = _serve(monkeypatch, [answer(SOFR)])
    try:
        from drain_cli.main import main

        assert main(_update(folder)) == 0
    finally:
        server.close()
    assert (folder / "macro.parquet").is_file()
    return folder


def _update(folder: Path, *extra: str) -> list[str]:
    return ["data", "update", "--cache-dir", str(folder), "--no-progress", "--series", "SOFR",
            *extra]


def _http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


HTML = "<!doctype html><html><body><h1>Service maintenance</h1></body></html>"
NETWORK_CASES = {
    "redirect-loop": ([redirect_to_self()], "redirected more than"),
    "stalled-body": ([stall(2.0)], "did not answer in time"),
    "trickling-body": ([trickle(SOFR, 0.02, 2.5)], "did not answer in time"),
    "html-200": ([answer(HTML, headers={"Content-Type": "text/html"})], "HTML page"),
    "truncated-content-length": ([answer(SOFR[:60], length=len(SOFR))], "broken answer"),
    "cut-mid-row": ([cut_off(SOFR[:66])], "truncated"),
    "empty-200": ([answer("")], "empty body"),
    "other-series-header": ([answer(SOFR.replace("SOFR", "WALCL"))], "header"),
    "binary-garbage": ([answer(bytes(range(256)) * 4 + b"\n")], "not the expected CSV"),
    "garbled-row": ([answer(SOFR.replace("3.64", "3,64x"))], "not the expected CSV"),
    "words-for-numbers": ([answer(SOFR.replace("3.64", "n/a"))], "not a date and a number"),
    "http-500": ([answer("oops", status=500)], "kept failing (HTTP 500)"),
    "http-502": ([answer("bad gateway", status=502)], "kept failing (HTTP 502)"),
    "http-503": ([answer("busy", status=503)], "kept failing (HTTP 503)"),
    "http-429": ([answer("slow down", status=429)], "rate-limiting"),
    "hang-up": ([hang_up()], "network is unavailable"),
    "oversized-body": ([answer(SOFR * 40)], "sent more than"),
}


@pytest.mark.parametrize("case", NETWORK_CASES)
def test_network_fault_exits_1_and_keeps_the_cache(filled, tmp_path, monkeypatch, capsys, waits,
                                                   case):
    script, words = NETWORK_CASES[case]
    if case == "oversized-body":
        monkeypatch.setattr(fred, "MAX_BODY_BYTES", len(SOFR) * 10)
    server = _serve(monkeypatch, script)
    try:
        expect_fault(capsys, _update(filled), 1, words, [filled, tmp_path / "reports"])
    finally:
        server.close()


def test_refused_connection_exits_1(filled, tmp_path, monkeypatch, capsys):
    server = _serve(monkeypatch, [answer(SOFR)])
    server.close()  # nothing listens on the port any more
    expect_fault(capsys, _update(filled), 1, "network is unavailable", [filled])


def test_unknown_series_answer_404_is_a_user_mistake(filled, monkeypatch, capsys):
    server = _serve(monkeypatch, [answer("no such series", status=404)])
    try:
        expect_fault(capsys, _update(filled), 2, "HTTP 404", [filled])
    finally:
        server.close()


def test_retry_after_is_honoured_and_capped(filled, monkeypatch, capsys, waits):
    server = _serve(monkeypatch, [answer("", status=429, headers={"Retry-After": "99999"})])
    try:
        expect_fault(capsys, _update(filled), 1, "rate-limiting", [filled])
    finally:
        server.close()
    assert waits == [fetch_errors.RETRY_AFTER_CAP_SECONDS] * (fetch_errors.MAX_ATTEMPTS - 1)
    assert len(server.requests) == fetch_errors.MAX_ATTEMPTS


def test_retry_after_then_success_updates(filled, monkeypatch, capsys, waits):
    server = _serve(monkeypatch, [answer("", status=429, headers={"Retry-After": "2"}),
                                  answer("", status=503, headers={"Retry-After": _http_date(9)}),
                                  answer(SOFR)])
    try:
        from drain_cli.main import main

        assert main(_update(filled)) == 0
    finally:
        server.close()
    assert waits[0] == 2.0 and 7.0 <= waits[1] <= 9.0  # an HTTP date, a second or two early


def test_retry_after_header_parsing():
    cap = fetch_errors.RETRY_AFTER_CAP_SECONDS
    assert fetch_errors.retry_after_seconds("5") == 5.0
    assert fetch_errors.retry_after_seconds("1e9") == cap
    assert fetch_errors.retry_after_seconds("-3") == 0.0
    assert fetch_errors.retry_after_seconds("soon") is None
    assert fetch_errors.retry_after_seconds(None) is None
    assert fetch_errors.retry_after_seconds("nan") is None
    assert fetch_errors.retry_after_seconds(_http_date(-60)) == 0.0


def test_the_command_deadline_stops_the_retries(filled, monkeypatch, capsys, waits):
    monkeypatch.setattr(fetch_errors, "COMMAND_DEADLINE_SECONDS", 0.0)
    server = _serve(monkeypatch, [answer("busy", status=503)])
    try:
        expect_fault(capsys, _update(filled), 1, "HTTP 503", [filled])
    finally:
        server.close()
    assert len(server.requests) == 1 and waits == []  # no second attempt past the deadline


def test_a_zero_close_from_yahoo_is_a_bad_answer(filled, monkeypatch, capsys):
    dates = pd.DatetimeIndex(["2026-08-27", "2026-08-28"])
    columns = pd.MultiIndex.from_tuples([("Close", "SPY")], names=["Price", "Ticker"])
    frame = pd.DataFrame([[640.0], [0.0]], index=dates, columns=columns)
    monkeypatch.setattr(yfinance, "download", lambda *a, **k: frame)
    argv = ["data", "update", "--cache-dir", str(filled), "--no-progress", "--tickers", "SPY"]
    expect_fault(capsys, argv, 1, ["Yahoo", "zero or negative"], [filled])


# ------------------------------------------------------------------------ damaged cache files


def _prices() -> pd.DataFrame:
    dates = pd.bdate_range("2026-08-03", periods=10)
    return pd.DataFrame({"ticker": "SPY", "date": dates, "close": np.linspace(630, 640, 10),
                         "fetched_at": pd.Timestamp("2026-08-20")})


def _macro() -> pd.DataFrame:
    dates = pd.bdate_range("2026-08-03", periods=10)
    return pd.DataFrame({"series": "SOFR", "date": dates, "value": np.linspace(4.3, 4.4, 10),
                         "fetched_at": pd.Timestamp("2026-08-20")})


def _with(frame: pd.DataFrame, row: int, column: str, value) -> pd.DataFrame:
    frame = frame.copy()
    if isinstance(value, str) and column not in ("ticker", "series"):
        frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    return frame


def _dup(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([frame, frame.iloc[[3]]], ignore_index=True)


CACHE_CASES = {
    # table, the damaged frame (or raw bytes), words of the message
    "close-zero": ("prices", _with(_prices(), 4, "close", 0.0), ["'SPY'", "zero or negative",
                                                                  "--tickers SPY"]),
    "close-negative": ("prices", _with(_prices(), 2, "close", -5.0), ["zero or negative"]),
    "close-infinite": ("prices", _with(_prices(), 2, "close", np.inf), ["infinite"]),
    "close-nan": ("prices", _with(_prices(), 7, "close", np.nan), ["NaN"]),
    "close-as-strings": ("prices", _prices().astype({"close": str}), ["instead of numbers",
                                                                      "delete the file"]),
    "close-as-bools": ("prices", _prices().assign(close=True), ["instead of numbers"]),
    "dates-as-strings": ("prices", _prices().astype({"date": str}), ["instead of dates"]),
    "date-missing": ("prices", _with(_prices(), 1, "date", pd.NaT), ["not a date"]),
    "date-beyond-calendar": ("prices", _with(_prices(), 9, "date", pd.Timestamp("2035-01-02")),
                             ["outside the calendar"]),
    "date-before-calendar": ("prices", _with(_prices(), 0, "date", pd.Timestamp("1980-01-02")),
                             ["outside the calendar"]),
    "date-twice": ("prices", _dup(_prices()), ["the same date twice"]),
    "ticker-as-numbers": ("prices", _prices().assign(ticker=7), ["instead of names"]),
    "column-missing": ("prices", _prices().drop(columns="fetched_at"), ["lacks columns"]),
    "truncated-parquet": ("prices", "truncate", ["unreadable", "delete it"]),
    "random-bytes": ("prices", b"\x00garbage" * 100, ["unreadable"]),
    "empty-file": ("prices", b"", ["unreadable"]),
    "a-folder-not-a-file": ("prices", "folder", ["is not a file"]),
    "series-value-infinite": ("macro", _with(_macro(), 3, "value", -np.inf), ["infinite"]),
    "series-date-missing": ("macro", _with(_macro(), 3, "date", pd.NaT), ["not a date",
                                                                          "--series SOFR"]),
    "series-date-twice": ("macro", _dup(_macro()), ["twice"]),
    "series-values-as-text": ("macro", _macro().astype({"value": str}), ["instead of numbers"]),
    "rate-of-5000-percent": ("macro", _with(_macro(), 3, "value", 5000.0),
                             ["plausible range", "[-5, 50]", "--series SOFR"]),
    "rate-of-minus-1e308": ("macro", _with(_macro(), 3, "value", -1e308), ["plausible range"]),
    "balance-negative": ("macro", _macro().assign(series="WALCL", value=-1.0),
                         ["'WALCL'", "plausible range", "balance"]),
    "balance-of-1e300": ("macro", _with(_macro().assign(series="WRESBAL"), 3, "value", 1e300),
                         ["plausible range"]),
}
# names no source knows: no command reads them, and no update can refresh them
UNKNOWN_CASES = {
    "series-unknown": ("macro", _macro().assign(series="NOTASERIES"),
                       ["'NOTASERIES'", "no publication rule"]),
    "ticker-not-a-symbol": ("prices", _prices().assign(ticker="spy; rm -rf"), ["not a ticker"]),
}


def _damage(folder: Path, table: str, damage) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{table}.parquet"
    if isinstance(damage, pd.DataFrame):
        damage.to_parquet(path, index=False)
    elif damage == "truncate":
        _prices().to_parquet(path, index=False)
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "folder":
        path.mkdir()
    else:
        path.write_bytes(damage)


@pytest.mark.parametrize("case", CACHE_CASES)
def test_damaged_cache_is_named_with_its_fix(tmp_path, monkeypatch, capsys, case):
    table, damage, words = CACHE_CASES[case]
    folder = tmp_path / "cache"
    _damage(folder, table, damage)
    monkeypatch.setenv("DRAIN_CACHE_DIR", str(folder))
    words = [str(folder / f"{table}.parquet"), *words]
    expect_fault(capsys, ["signal", "--name", "s"], 2, words, [folder, tmp_path / "reports"])


@pytest.mark.parametrize("case", [*CACHE_CASES, *UNKNOWN_CASES])
def test_data_show_lists_the_rest_and_names_the_damage(tmp_path, capsys, case):
    """``drain data show`` refuses nothing: it lists the snapshot and every usable cache row,
    and names each damage and its fix in one ``drain:`` line on stderr, exit status 0."""
    table, damage, words = {**CACHE_CASES, **UNKNOWN_CASES}[case]
    folder = tmp_path / "cache"
    _damage(folder, table, damage)
    path = folder / f"{table}.parquet"
    expect_fault(capsys, ["data", "show", "--cache-dir", str(folder)], 0, [str(path), *words],
                 [folder])
    from drain_cli.main import main

    assert main(["data", "show", "--cache-dir", str(folder)]) == 0
    shown = capsys.readouterr().out
    assert all(name in shown for name in ("SPY", "QQQ", "SOFR", "WALCL", "hyperscaler bonds"))


@pytest.mark.parametrize("case", UNKNOWN_CASES)
def test_an_unknown_name_is_fixed_by_deleting_the_file(tmp_path, case):
    """No update can refresh a series or ticker no source knows: the fix is deleting the file."""
    from drain_data import load_dataset

    table, damage, words = UNKNOWN_CASES[case]
    folder = tmp_path / "cache"
    _damage(folder, table, damage)
    with pytest.raises(fetch_errors.DrainError) as caught:
        load_dataset(cache_dir=folder)  # every name read
    message = str(caught.value)
    assert f"delete the file {folder / f'{table}.parquet'}" in message, message
    assert "drain data update" not in message and all(word in message for word in words)


UNREAD_DAMAGE = {  # damage to the cached rows of QQQ, which neither signal nor backtest reads
    "closes-as-strings": lambda frame: frame.astype({"close": str}),
    "dates-as-strings": lambda frame: frame.astype({"date": str}),
    "close-zero": lambda frame: _with(frame, 4, "close", 0.0),
    "close-negative": lambda frame: _with(frame, 2, "close", -5.0),
    "close-infinite": lambda frame: _with(frame, 2, "close", np.inf),
}


@pytest.mark.parametrize("case", UNREAD_DAMAGE)
def test_damage_blocks_only_the_commands_that_read_it(tmp_path, case):
    """Damaged cache rows of QQQ leave the signal's and a backtest's data loading (QQQ's
    snapshot rows stand); a command that reads QQQ (every name) is refused, naming the fix.
    Damage to GME, in the default speculative basket, refuses a backtest but not the signal."""
    from backtests.run.config import RunConfig
    from drain_data import load_dataset

    folder = tmp_path / "cache"
    config = RunConfig()
    _damage(folder, "prices", UNREAD_DAMAGE[case](_prices().assign(ticker="QQQ")))
    for needs in (config.needs(signal_only=True), config.needs()):
        data = load_dataset(cache_dir=folder, needs=needs)
        assert data.prices["QQQ"].notna().any() and data.prices["SPY"].notna().any()
    with pytest.raises(fetch_errors.DrainError, match="--tickers QQQ"):
        load_dataset(cache_dir=folder)
    _damage(folder, "prices", UNREAD_DAMAGE[case](_prices().assign(ticker="GME")))
    load_dataset(cache_dir=folder, needs=config.needs(signal_only=True))
    with pytest.raises(fetch_errors.DrainError, match="--tickers GME"):
        load_dataset(cache_dir=folder, needs=config.needs())


def test_drain_signal_runs_beside_a_damaged_ticker_it_does_not_read(tmp_path, monkeypatch,
                                                                    capsys):
    from drain_cli.main import main

    folder = tmp_path / "cache"
    _damage(folder, "prices", _prices().assign(ticker="QQQ").astype({"close": str}))
    _damage(folder, "macro", _macro().assign(series="NOTASERIES"))
    monkeypatch.setenv("DRAIN_CACHE_DIR", str(folder))
    assert main(["signal", "--name", "s"]) == 0, capsys.readouterr().err
    assert (tmp_path / "reports" / "s" / "signal.csv").is_file()


IMPLAUSIBLE = {"5000-percent": "5000", "minus-1e308": "-1e308", "1e300": "1e300"}


@pytest.mark.parametrize("case", IMPLAUSIBLE)
def test_an_implausible_fred_value_is_a_bad_answer(filled, tmp_path, monkeypatch, capsys, case):
    """A fetched value outside the series' plausible range: exit 1, the cache unchanged."""
    server = _serve(monkeypatch, [answer(SOFR.replace("3.64", IMPLAUSIBLE[case]))])
    try:
        expect_fault(capsys, _update(filled), 1, ["FRED", "'SOFR'", "plausible range"],
                     [filled, tmp_path / "reports"])
    finally:
        server.close()


def test_a_failed_update_removes_the_cache_folder_it_created(tmp_path, monkeypatch, capsys):
    server = _serve(monkeypatch, [hang_up()])
    try:
        expect_fault(capsys, _update(tmp_path / "new" / "cache"), 1, "network is unavailable",
                     [tmp_path / "new"])  # absent before, absent after
        (tmp_path / "kept").mkdir()
        expect_fault(capsys, _update(tmp_path / "kept"), 1, "network is unavailable", [])
    finally:
        server.close()
    assert (tmp_path / "kept").is_dir()  # a folder that was there stays


def test_the_rest_of_the_data_keeps_working_and_an_update_repairs(tmp_path, monkeypatch, capsys):
    """A damaged ticker is left out of ``drain data show``; updating it rewrites the cache
    without the damaged rows, after which the data loads again."""
    from drain_cli.main import main
    from drain_data import load_dataset

    folder = tmp_path / "cache"
    bad = pd.concat([_with(_prices(), 4, "close", -1.0),
                     _prices().assign(ticker="QQQ")], ignore_index=True)
    _damage(folder, "prices", bad)
    assert main(["data", "show", "--cache-dir", str(folder)]) == 0
    shown = capsys.readouterr().out
    assert "QQQ" in shown and "snapshot+cache" not in shown.split("SPY")[1].split("\n")[0]
    with pytest.raises(fetch_errors.DrainError, match="--tickers SPY"):
        load_dataset(cache_dir=folder)
    dates = pd.DatetimeIndex(["2026-08-27", "2026-08-28"])
    columns = pd.MultiIndex.from_tuples([("Close", "SPY")], names=["Price", "Ticker"])
    fresh = pd.DataFrame([[640.0], [641.0]], index=dates, columns=columns)
    monkeypatch.setattr(yfinance, "download", lambda *a, **k: fresh)
    assert main(["data", "update", "--cache-dir", str(folder), "--no-progress", "--tickers", "SPY",
                 "--since", "2026-08-27"]) == 0
    assert "dropped the cached rows of 'SPY'" in capsys.readouterr().err
    prices = load_dataset(cache_dir=folder).prices
    assert prices.loc["2026-08-28", "SPY"] == 641.0 and prices["QQQ"].notna().any()
    assert not list(folder.glob(".*.tmp"))


def test_an_unwritable_cache_folder_is_an_environment_fault(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("not a folder")
    server = _serve(monkeypatch, [answer(SOFR)])
    try:
        expect_fault(capsys, _update(blocker), 1, [str(blocker), "is a file"], [tmp_path])
        expect_fault(capsys, _update(blocker / "sub"), 1, "is a file", [tmp_path])
        long = tmp_path / ("x" * 300)
        expect_fault(capsys, _update(long), 1, "name too long", [tmp_path])
    finally:
        server.close()
    assert listing(tmp_path)[str(tmp_path)].keys() >= {"cache-is-a-file"}


def _failing_yahoo(message: str):
    """yfinance 1.7's way to fail: log the error, return an empty frame."""
    import logging

    def download(tickers, **kwargs):
        tickers = [tickers] if isinstance(tickers, str) else list(tickers)
        logging.getLogger("yfinance").error(f"{tickers}: {message}")
        fields = ["Adj Close", "Close", "High", "Low", "Open", "Volume"]
        columns = pd.MultiIndex.from_product([fields, tickers], names=["Price", "Ticker"])
        return pd.DataFrame(index=pd.DatetimeIndex([]), columns=columns, dtype="float64")

    return download


YAHOO_LOGGED = {
    "redirect-loop": ("Failed to perform, curl: (47) Maximum (30) redirects followed.",
                      "redirect loop"),
    "total-timeout": ("Failed to perform, curl: (28) Operation timed out after 30002 "
                      "milliseconds with 5120 bytes received.", "did not answer in time"),
    "connection-refused": ("Failed to perform, curl: (7) Failed to connect to "
                           "query2.finance.yahoo.com port 443", "network is unavailable"),
}


@pytest.mark.parametrize("case", YAHOO_LOGGED)
def test_yahoo_transport_faults_exit_1(filled, monkeypatch, capsys, case):
    message, words = YAHOO_LOGGED[case]
    monkeypatch.setattr(yfinance, "download", _failing_yahoo(message))
    argv = ["data", "update", "--cache-dir", str(filled), "--no-progress", "--tickers", "SPY"]
    expect_fault(capsys, argv, 1, words, [filled])
