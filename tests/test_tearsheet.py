"""The tearsheet drawn by worker processes is the serial one."""

from __future__ import annotations

import io
from concurrent.futures import Future

import numpy as np
import pandas as pd
import pytest

from backtests.report.tearsheet import _FigureFarm, write_tearsheet


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
