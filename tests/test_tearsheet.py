"""The tearsheet drawn by worker processes is the serial one; the tearsheet process reports
back what it wrote or what went wrong."""

from __future__ import annotations

import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from backtests.tearsheet import TearsheetWorker, write_tearsheet


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
