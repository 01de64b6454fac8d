"""The configurations shipped with the library: ``default.toml`` (a backtest) and ``tune.toml``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def shipped_config(name: str) -> Path:
    """Path of a shipped config file, ``default`` or ``tune``."""
    return Path(str(resources.files("drain_core.configs") / f"{name}.toml"))


def default_config_path() -> Path:
    """The shipped backtest configuration (``drain_core/configs/default.toml``)."""
    return shipped_config("default")


def tune_config_path() -> Path:
    """The shipped tuning configuration (``drain_core/configs/tune.toml``)."""
    return shipped_config("tune")
