"""The liquidity-drain signal: point-in-time components, z-scores, a gated composite, regimes.

    from signals import SignalConfig, compute_signal, SignalResult, REGIMES
    config = SignalConfig.from_toml("drain_core/configs/default.toml")
    result = compute_signal(load_dataset(), config)
"""

from signals.composite import SignalResult, compute_signal
from signals.config import COMPONENTS, DEFAULT_WEIGHTS, PILLARS, SignalConfig
from signals.transforms import REGIMES

__all__ = [
    "COMPONENTS",
    "DEFAULT_WEIGHTS",
    "PILLARS",
    "REGIMES",
    "SignalConfig",
    "SignalResult",
    "compute_signal",
]
