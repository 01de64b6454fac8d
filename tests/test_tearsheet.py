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


def _page_series(returns):
    from backtests.tune.analysis import PageSeries

    strategy, benchmark = returns
    cash = pd.Series(1e-4, index=strategy.index)
    exposure = pd.Series(np.where(np.arange(len(strategy)) % 3 == 0, 0.0, 1.0),
                         index=strategy.index)
    oos = strategy.iloc[100:]
    return PageSeries(oos=oos, oos_exposure=exposure.iloc[100:], best=strategy,
                      best_exposure=exposure, best_label="gate=none", spy=benchmark, cash=cash,
                      cash_label="the test's cash rate")


def test_tune_tearsheets_drawn_by_the_sidecar_are_the_ones_drawn_here(returns, tmp_path,
                                                                        monkeypatch):
    """``drain tune`` has its sidecar draw both tearsheets while it computes statistics: the
    pages it moves into the run folder are byte for byte the ones drawn in this process, and
    the drafts' temp folder is gone after the block."""
    from backtests.report.tune_tearsheets import (
        TEARSHEETS,
        DraftTearsheets,
        write_tune_tearsheets,
    )
    from drain_cli.sidecar import Sidecar

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    monkeypatch.setenv("DRAIN_REPORTS_DIR", str(tmp_path / "reports"))
    series = _page_series(returns)
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    write_tune_tearsheets(series, here)
    with Sidecar() as sidecar, DraftTearsheets(sidecar, "run") as drafts:
        drafts.draw(series)
        assert drafts.sent and drafts.folder.parent == tmp_path / "reports"
        drafts.move_into(there)
    assert sorted(p.name for p in there.iterdir()) == sorted(TEARSHEETS)
    for page in TEARSHEETS:
        assert (there / page).read_bytes() == (here / page).read_bytes()
    assert "excess of the test&#x27;s cash rate" in (here / TEARSHEETS[0]).read_text()
    assert [p.name for p in (tmp_path / "reports").iterdir()] == []


def test_drafts_interrupted_leave_no_temp_folder(returns, tmp_path, monkeypatch):
    """A tune that fails after its pages were sent leaves nothing in the reports folder."""
    from backtests.report.tune_tearsheets import DraftTearsheets
    from drain_cli.sidecar import Sidecar

    monkeypatch.setenv("DRAIN_REPORTS_DIR", str(tmp_path / "reports"))
    with pytest.raises(KeyboardInterrupt), Sidecar() as sidecar, \
            DraftTearsheets(sidecar, "run") as drafts:
        drafts.draw(_page_series(returns))
        raise KeyboardInterrupt
    assert [p.name for p in (tmp_path / "reports").iterdir()] == []
