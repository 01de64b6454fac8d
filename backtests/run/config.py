"""``RunConfig``: the [signal], [strategy] and [backtest] sections of one TOML file, typed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backtests.sim.config import BacktestConfig
from drain_core.configs import default_config_path
from drain_core.errors import DrainError
from drain_core.tomlfile import read_toml
from signals.config import SignalConfig
from strategies.config import StrategyConfig

KNOWN_SECTIONS = ("signal", "strategy", "backtest", "tune", "thesis")


@dataclass(frozen=True)
class RunConfig:
    """The [signal], [strategy] and [backtest] sections of one configuration."""

    signal: SignalConfig = field(default_factory=SignalConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    backtest: BacktestConfig = field(default_factory=BacktestConfig)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        """Build from a parsed TOML document; unknown sections are an error naming them."""
        unknown = sorted(set(values) - set(KNOWN_SECTIONS))
        if unknown:
            raise DrainError(f"unknown config section [{unknown[0]}]; known sections: "
                             f"{', '.join(KNOWN_SECTIONS)}")
        return cls(
            signal=SignalConfig.from_dict(values.get("signal", {})),
            strategy=StrategyConfig.from_dict(values.get("strategy", {})),
            backtest=BacktestConfig.from_dict(values.get("backtest", {})),
        )

    @classmethod
    def load(cls, path: str | Path | None = None) -> RunConfig:
        """Read a TOML file (the shipped default when ``path`` is None)."""
        return cls.from_dict(read_toml(path or default_config_path()))

    def to_dict(self) -> dict[str, Any]:
        """A TOML-friendly dict; ``RunConfig.from_dict(c.to_dict()) == c``."""
        return {
            "signal": self.signal.to_dict(),
            "strategy": self.strategy.to_dict(),
            "backtest": self.backtest.to_dict(),
        }
