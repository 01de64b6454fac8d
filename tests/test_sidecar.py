"""The sidecar process runs calls in order and answers with their results or errors; the
``drain`` command starts without the heavy libraries it leaves to the sidecar."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from backtests.report.tearsheet import write_tearsheet
from drain_cli.sidecar import Sidecar
from drain_core.errors import DrainError


def _fail(message: str) -> None:
    raise DrainError(message)


def test_calls_run_in_order_and_errors_come_back_whole():
    with Sidecar() as sidecar:
        first = sidecar.submit(divmod, 17, 5)
        failed = sidecar.submit(_fail, "bad --start")
        last = sidecar.submit(sorted, [3, 1, 2], reverse=True)
        assert last.result() == [3, 2, 1]
        assert first.result() == (3, 2)
        with pytest.raises(DrainError, match="bad --start"):
            failed.result()


def test_tearsheet_written_by_the_sidecar_is_the_one_written_here(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")  # matplotlib stamps each SVG with the time
    index = pd.bdate_range("2023-01-02", periods=300)
    rng = np.random.default_rng(3)
    returns = pd.Series(rng.normal(2e-4, 0.01, len(index)), index=index)
    spy = pd.Series(rng.normal(3e-4, 0.01, len(index)), index=index)
    with Sidecar() as sidecar:
        there = sidecar.submit(write_tearsheet, returns, spy, tmp_path / "there.html", "t")
        assert there.result() == tmp_path / "there.html"
    here = write_tearsheet(returns, spy, tmp_path / "here.html", "t", workers=1)
    assert there.result().read_text() == here.read_text()


def test_shutdown_stops_a_busy_sidecar_at_once():
    sidecar = Sidecar()
    busy = sidecar.submit(time.sleep, 600)
    sidecar.shutdown()  # e.g. a bad --config found meanwhile: the command must not wait
    # stopped by SIGTERM, before or after it set its handler (one that finished exits with 0)
    assert sidecar._process.exitcode in (-signal.SIGTERM, 128 + signal.SIGTERM)
    with pytest.raises(RuntimeError, match="stopped before answering"):
        busy.result(timeout=5)
    with pytest.raises(RuntimeError, match="shut down"):
        sidecar.submit(divmod, 1, 1)


def test_cli_and_engine_leave_the_plotting_libraries_to_the_sidecar():
    probe = ("import sys; import drain_cli.main as m; m.build_parser(); "
             "light = 'pandas' not in sys.modules; import backtests.run.prepare; "
             "prepare = 'vectorbt' not in sys.modules; import backtests.sim.engine; "
             "print(light, prepare, 'quantstats' not in sys.modules, "
             "'matplotlib' not in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "True", "True", "True"]
