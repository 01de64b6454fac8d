"""Shared test setup: no test reads the user's real cache or writes into the real reports/."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("DRAIN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DRAIN_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
