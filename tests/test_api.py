"""The public Python API: the names each package exports resolve, and importing is light."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = ("drain_data", "signals", "strategies", "backtests", "thesis")


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_resolves(package):
    module = importlib.import_module(package)
    assert module.__all__, package
    missing = [name for name in module.__all__ if getattr(module, name, None) is None]
    assert not missing, missing


def test_importing_backtests_loads_neither_pandas_nor_vectorbt():
    """``drain backtest`` imports vectorbt in its main process only, while its sidecar runs the
    steps before the portfolio: the package itself must stay light until a name is used."""
    probe = ("import sys, backtests; light = 'pandas' not in sys.modules; "
             "backtests.RunConfig; config = 'vectorbt' not in sys.modules; "
             "backtests.compare_configs; print(light, config, 'vectorbt' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "True", "True"]
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        importlib.import_module("backtests").nothing  # noqa: B018
