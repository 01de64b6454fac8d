"""The thesis claims behind one interface: registered once each, in the report's order."""

from __future__ import annotations

import dataclasses
import re
from types import SimpleNamespace

import pandas as pd
import pytest

from thesis import CLAIMS, ClaimResult, InsufficientData, register, run_claims
from thesis.result import INSUFFICIENT


def test_every_claim_registers_once_in_the_report_order():
    numbers = [re.match(r"(C?\d+)\. ", claim.title).group(1) for claim in CLAIMS.values()]
    assert numbers == ["1", "2", "3", "4", "5", "C1", "C2", "C3"]
    assert [claim.counter for claim in CLAIMS.values()] == [n.startswith("C") for n in numbers]
    assert all(key == claim.key for key, claim in CLAIMS.items())
    with pytest.raises(ValueError, match="already registered"):
        register(dataclasses.replace(CLAIMS["duration"], title="again"))
    assert CLAIMS["duration"].title.startswith("4. ")


def test_the_report_order_holds_whichever_claim_module_is_imported_first():
    """A claim module imported before ``thesis.run`` registers its claim first; the report's
    order is still the one ``thesis.run.CLAIM_MODULES`` gives."""
    import subprocess
    import sys

    code = ("import thesis.crypto_gauge, thesis.against_spells\n"
            "from thesis import CLAIMS\n"
            "print(' '.join(c.title.split('.')[0] for c in CLAIMS.values()))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=True)
    assert done.stdout.split() == ["1", "2", "3", "4", "5", "C1", "C2", "C3"]


@dataclasses.dataclass(frozen=True)
class _Planted:
    """A claim written as its own class (not a FunctionClaim): the protocol is all it needs."""

    key: str = "planted"
    title: str = "X. A planted claim"
    statement: str = "Something the inputs cannot show."
    counter: bool = False
    reason: str | None = None

    def run(self, inputs) -> ClaimResult:
        if self.reason:
            raise InsufficientData(self.reason)
        return ClaimResult(key=self.key, title=self.title, claim=self.statement)


def test_any_object_with_the_claim_interface_runs():
    inputs = SimpleNamespace(window=pd.bdate_range("2024-01-01", periods=5))
    run = run_claims(inputs, [_Planted(), _Planted(key="short", reason="no bond deals")])
    assert [c.key for c in run.claims] == ["planted", "short"]
    assert run.claims[0].claim == "Something the inputs cannot show."
    assert run.claims[1].verdict == INSUFFICIENT and run.claims[1].reason == "no bond deals"
    assert set(run.seconds) == {"planted", "short"}
