"""A finished ``drain backtest`` run folder for tests that read or damage one."""

from __future__ import annotations

import os
from pathlib import Path

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
