"""What every stage shares: the user-facing error, TOML files, conventions and shipped configs.

Nothing here imports pandas or any later stage, so every package (data, signals, strategies,
backtests, thesis, CLI) may import it.
"""

from drain_core.conventions import DAY_COUNT, DRAIN_REGIMES, PERIODS_PER_YEAR, REGIMES
from drain_core.errors import DrainError

__all__ = ["DAY_COUNT", "DRAIN_REGIMES", "PERIODS_PER_YEAR", "REGIMES", "DrainError"]
