"""The tearsheet drawn by worker processes is the serial one; the tearsheet process reports
back what it wrote or what went wrong."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
from concurrent.futures import Future

import numpy as np
import pandas as pd
import pytest

from backtests.tearsheet import TearsheetWorker, _FigureFarm, write_tearsheet


@pytest.fixture(scope="module")
def returns() -> tuple[pd.Series, pd.Series]:
    index = pd.bdate_range("2022-01-03", periods=400)
    rng = np.random.default_rng(7)
    strategy = pd.Series(rng.normal(3e-4, 0.01, len(index)), index=index)
    benchmark = pd.Series(rng.normal(4e-4, 0.012, len(index)), index=index)
    return strategy, benchmark


def test_figures_drawn_by_workers_give_the_serial_page(returns, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")  # matplotlib stamps each SVG with the time
    serial = write_tearsheet(*returns, tmp_path / "serial.html", "t", workers=1)
    parallel = write_tearsheet(*returns, tmp_path / "parallel.html", "t", workers=2)
    page = parallel.read_text()
    assert page == serial.read_text()
    assert page.count("<svg") >= 14 and "liquidity-drain figure" not in page


class _RecordingPool:
    """Stands in for the process pool: records which figures are sent and answers at once."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def submit(self, function, name, *args) -> Future:
        self.sent.append(name)
        done: Future = Future()
        done.set_result(f"<svg>{len(self.sent)}:{name}</svg>".encode())
        return done


def test_second_pass_takes_the_figures_the_first_pass_sent(returns):
    strategy, benchmark = returns
    pool = _RecordingPool()
    farm = _FigureFarm(pool)  # type: ignore[arg-type]

    def page(calls) -> str:
        text = ""
        for name, series, title in calls:
            buffer = io.BytesIO()
            getattr(farm, name)(series, savefig={"fname": buffer, "format": "svg"}, title=title)
            text += buffer.getvalue().decode()
        return text

    page([("returns", strategy, "a"), ("drawdown", benchmark, "b")])
    farm.rewind()
    same_values = strategy.copy()
    same_values.index = pd.DatetimeIndex(list(strategy.index))  # equal, but not the same object
    second = page([("returns", same_values, "a"), ("drawdown", benchmark, "changed")])
    assert pool.sent == ["returns", "drawdown", "drawdown"]  # only the changed call is new
    assert farm.fill(second) == "<svg>1:returns</svg><svg>3:drawdown</svg>"


def test_worker_writes_the_tearsheet_and_raises_its_errors(returns, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    with TearsheetWorker() as worker:
        worker.submit(*returns, tmp_path / "worker.html", "t")
        written = worker.result()
        worker.submit(*returns, tmp_path / "no-such-folder" / "x.html", "t")
        with pytest.raises(FileNotFoundError, match="no-such-folder"):
            worker.result()
    reference = write_tearsheet(*returns, tmp_path / "here.html", "t", workers=1)
    assert written.read_text() == reference.read_text()


def test_closing_a_worker_that_is_still_importing_stops_it_there():
    worker = TearsheetWorker()  # its imports take about 2 s
    worker.close()  # e.g. a bad --config found meanwhile: the command must not wait for them
    # stopped by SIGTERM, before or after it set its handler (a finished worker exits with 0)
    assert worker._process.exitcode in (-signal.SIGTERM, 128 + signal.SIGTERM)


def test_cli_and_engine_leave_the_plotting_libraries_to_the_worker():
    probe = ("import sys; import drain_cli.main as m; m.build_parser(); "
             "light = 'pandas' not in sys.modules; import backtests.engine; "
             "print(light, 'quantstats' not in sys.modules, 'matplotlib' not in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "True", "True"]
