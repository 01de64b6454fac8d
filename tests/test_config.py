"""Configuration: the shipped file states the code defaults, and configs round-trip via TOML."""

from __future__ import annotations

import pytest

from backtests.run.pipeline import RunConfig
from drain_core.tomlfile import read_toml, write_toml
from drain_data import DrainError
from strategies import StrategyConfig


def test_shipped_config_equals_the_code_defaults():
    assert RunConfig.load() == RunConfig()


def test_config_round_trips_through_toml(tmp_path):
    config = RunConfig(strategy=StrategyConfig(variant="beta_hedged", vol_target=0.1,
                                               rebalance="monthly"))
    path = write_toml(config.to_dict(), tmp_path / "c.toml")
    assert RunConfig.from_dict(read_toml(path)) == config


@pytest.mark.parametrize("text, key", [
    ("[strategi]\n", "[strategi]"),
    ("[strategy]\nrebalance = 'hourly'\n", "strategy.rebalance"),
    ("[strategy]\nleg_size = -1\n", "strategy.leg_size"),
    ("[strategy]\nlong_basket = 'memory'\n", "'memory'"),
    ("[strategy.tilt]\nscarce = [0.9, 0.0, 0.5]\n", "strategy.tilt.scarce"),
    ("[backtest.costs.fee_bps]\nbonds = 1.0\n", "backtest.costs.fee_bps.bonds"),
    ("[backtest]\ninit_cash = 0\n", "backtest.init_cash"),
])
def test_bad_config_names_the_key(tmp_path, text, key):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(DrainError) as err:
        RunConfig.load(path)
    assert key in str(err.value)
