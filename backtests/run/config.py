"""``RunConfig``: the [signal], [strategy] and [backtest] sections of one config file, typed.

``RunConfig.load(path)`` reads these three sections of a config file: ``read_config`` refuses an
unknown or malformed section, each section's typed config refuses unknown keys and values of
the wrong type or range, and the rules joining sections are checked here, all before any data
is loaded. [tune] and [thesis] are left to their own typed configs (the commands build every
section of a file: ``drain_cli.args.load_config``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backtests.sim.config import BacktestConfig
from drain_core.config import KNOWN_SECTIONS, check_sections, read_config
from drain_core.errors import DrainError
from drain_data.needs import Needs
from signals.config import CREDIT_TICKERS, MARKET_TICKERS, SignalConfig
from strategies.config import StrategyConfig

__all__ = ["KNOWN_SECTIONS", "RunConfig"]


@dataclass(frozen=True)
class RunConfig:
    """The [signal], [strategy] and [backtest] sections of one configuration (hashable)."""

    signal: SignalConfig = field(default_factory=SignalConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    backtest: BacktestConfig = field(default_factory=BacktestConfig)

    def __post_init__(self) -> None:
        windows = {f"strategy.{key}": getattr(self.strategy, key)
                   for key in _strategy_windows(self.strategy)}
        windows |= {f"signal.{key}": getattr(self.signal, key)
                    for key in ("issuance_window", "buffer_window", "rates_window",
                                "credit_window", "dollar_window")}
        key, shortest = min(windows.items(), key=lambda kv: kv[1])
        if self.backtest.lag >= shortest:
            raise DrainError(f"backtest.lag = {self.backtest.lag} must be below {key} "
                             f"({shortest}): a trade acting later than the window its weights "
                             f"look back on trades a stale book")

    @classmethod
    def from_dict(cls, values: Any) -> RunConfig:
        """Build from a parsed TOML document; unknown sections and keys are errors."""
        if not isinstance(values, dict):
            raise DrainError(f"a config document must be a table of sections, got {values!r}")
        check_sections(values)
        return cls(
            signal=SignalConfig.from_dict(values.get("signal", {})),
            strategy=StrategyConfig.from_dict(values.get("strategy", {})),
            backtest=BacktestConfig.from_dict(values.get("backtest", {})),
        )

    @classmethod
    def load(cls, path: str | Path | None = None) -> RunConfig:
        """Read a TOML file (the shipped default when ``path`` is None)."""
        return cls.from_dict(read_config(path).sections)

    def to_dict(self) -> dict[str, Any]:
        """A TOML-friendly dict; ``RunConfig.from_dict(c.to_dict()) == c``."""
        return {
            "signal": self.signal.to_dict(),
            "strategy": self.strategy.to_dict(),
            "backtest": self.backtest.to_dict(),
        }

    def require_history(self, history: int, traded: int) -> None:
        """Refuse windows the data cannot fill: the signal's against the ``history`` sessions
        it is computed on, the strategy's look-backs against the ``traded`` sessions."""
        for key, value in _signal_windows(self.signal).items():
            if value >= history:
                raise DrainError(f"signal.{key} = {value} needs more sessions than the data "
                                 f"hold ({history}); shorten it or use longer data")
        for key in _strategy_windows(self.strategy):
            value = getattr(self.strategy, key)
            if value >= traded:
                raise DrainError(f"strategy.{key} = {value} needs more sessions than the date "
                                 f"range holds ({traded}); shorten it or widen the date range")

    def needs(self, *, signal_only: bool = False) -> Needs:
        """What a run of this config reads (``load_dataset(needs=)``): every macro series and
        the signal's tickers (the SPY and 60/40 SPY/IEF benchmarks among them); unless
        ``signal_only``, both traded baskets, the hedge asset and the cash rate too."""
        from drain_data.releases import MACRO_RULES

        strategy = self.strategy
        tickers = {*CREDIT_TICKERS, *MARKET_TICKERS}
        if not signal_only:
            tickers |= {*strategy.baskets[strategy.long_basket],
                        *strategy.baskets[strategy.short_basket], strategy.hedge_asset,
                        self.backtest.cash_rate_ticker}
        return Needs.of(tickers, MACRO_RULES)

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with some sections changed (checked again)."""
        return dataclasses.replace(self, **changes)


def _signal_windows(signal: SignalConfig) -> dict[str, int]:
    """The look-back windows of the signal that its settings actually read."""
    keys = ["z_min_periods", "issuance_window", "buffer_window", "rates_window",
            "credit_window", "dollar_window"]
    if signal.standardise == "rolling":
        keys.append("z_window")
    if signal.combine == "pca":
        keys.append("pca_min_periods")
    return {key: getattr(signal, key) for key in keys}


def _strategy_windows(strategy: StrategyConfig) -> list[str]:
    """The look-back windows of the strategy that its settings actually read."""
    keys = ["vol_lookback"] if strategy.weighting == "inverse_vol" else []
    if strategy.vol_target is not None:
        keys.append("vol_target_lookback")
    if strategy.variant == "beta_hedged":
        keys.append("beta_lookback")
    return keys
