"""Rotation strategies: baskets and the drain signal in, target weights out."""

from strategies.build import STEPS, Step, Targets, build_targets, universe
from strategies.config import DEFAULT_BASKETS, StrategyConfig

__all__ = ["DEFAULT_BASKETS", "STEPS", "Step", "StrategyConfig", "Targets", "build_targets",
           "universe"]
