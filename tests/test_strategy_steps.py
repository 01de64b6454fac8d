"""The strategy's declared steps: each reads what it requires and writes what it sets."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from strategies import StrategyConfig, build
from strategies.build import STEPS, Step, run_steps


def test_the_docstring_lists_the_steps_in_order_with_their_declarations():
    listed = re.findall(r"^\d\. ``(\w+)``: Requires ([\w, ]+)\. Sets ([\w, ]+):",
                        build.__doc__, flags=re.MULTILINE)
    declared = [(s.name, ", ".join(s.requires), ", ".join(s.sets)) for s in STEPS]
    assert listed == declared


def test_every_requirement_is_an_input_or_set_by_an_earlier_step():
    available = {"prices", "composite", "regime"}
    for step in STEPS:
        assert set(step.requires) <= available, step.name
        available |= set(step.sets)
    assert {"weights", "rebalance", "orders"} <= available


def test_a_step_must_set_exactly_what_it_declares():
    config = StrategyConfig()
    sloppy = Step("sloppy", requires=("weights",), sets=("weights",),
                  apply=lambda state, config: {"weights": state["weights"], "extra": 1})
    with pytest.raises(KeyError, match="sloppy.*declares it sets"):
        run_steps((sloppy,), {"weights": pd.DataFrame()}, config)
    with pytest.raises(KeyError, match="requires \\['weights'\\]"):
        run_steps((sloppy,), {"prices": pd.DataFrame()}, config)


def test_a_step_sees_only_what_it_requires():
    seen = []
    probe = Step("probe", requires=("regime",), sets=(),
                 apply=lambda state, config: seen.append(sorted(state)) or {})
    run_steps((probe,), {"prices": 1, "regime": 2}, StrategyConfig())
    assert seen == [["regime"]]
