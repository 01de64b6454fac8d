"""A finished ``drain backtest`` run folder for tests that read or damage one."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from drain_cli.main import main


def backtest_into(root: Path, name: str, start: str) -> Path:
    """Run ``drain backtest --start START --name NAME`` with ``root`` as the reports folder
    (the environment is restored after) and return the run folder."""
    saved = os.environ.get("DRAIN_REPORTS_DIR")
    os.environ["DRAIN_REPORTS_DIR"] = str(root)
    try:
        assert main(["backtest", "--start", start, "--name", name]) == 0
    finally:
        if saved is None:
            os.environ.pop("DRAIN_REPORTS_DIR")
        else:
            os.environ["DRAIN_REPORTS_DIR"] = saved
    return root / name


def check_ended_tickers(records: list[dict], weights: pd.DataFrame) -> None:
    """Assert each ended-ticker record matches ``weights`` (held at each close, dates as
    ``YYYY-MM-DD`` strings): a session's return comes from the weight held at the previous
    close, so the stale sessions are those after the last price entered holding the ticker,
    and the position is closed at the last of them (or still held at the window's end)."""
    assert records, "no ticker's data ends in the window"
    for record in records:
        ticker = record["ticker"]
        held = weights[ticker].fillna(0.0)
        carried = held.shift(1).fillna(0.0)
        after = weights.index > record["last_price"]
        stale = carried.index[after & (carried.abs() > 1e-9)]
        closed = weights.index[after & (held.abs() <= 1e-9)]
        assert record["stale_sessions"] == len(stale), ticker
        assert record["weight_at_last_price"] == pytest.approx(held[record["last_price"]])
        if len(stale):
            assert (record["first_stale"], record["last_stale"]) == (stale[0], stale[-1])
            assert record["closed_on"] == (closed[0] if len(closed) else None)
            if len(closed):
                assert closed[0] == stale[-1], ticker  # closed at the last stale close
            assert record["max_stale_weight"] == pytest.approx(carried[stale].abs().max())
