"""Is the timing worth anything? Placebo backtests: surrogate signals and random baskets."""
