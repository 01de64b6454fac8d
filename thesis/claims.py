"""The one interface every claim of the thesis implements, and the registry that lists them.

A claim has a ``key`` (its name in ``thesis.json``), a ``title`` and a ``statement`` (what the
report prints), ``counter`` (True for the evidence against the thesis), and ``run(inputs)``,
which returns its ``ClaimResult`` or raises ``InsufficientData`` with the reason.

Each claim module registers one ``FunctionClaim`` when it is imported:

    register(FunctionClaim(KEY, TITLE, CLAIM, COUNTER, lambda inputs: run(inputs)))

``CLAIMS`` holds them in the report's order once ``thesis.run`` is imported (it imports the
modules and orders them as its ``CLAIM_MODULES``); a new claim is a module that registers itself
and an entry in ``thesis.run.CLAIM_MODULES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from thesis.inputs import ThesisInputs
    from thesis.result import ClaimResult


class Claim(Protocol):
    """One tested claim of the thesis (or one piece of evidence against it)."""

    key: str
    title: str
    statement: str
    counter: bool

    def run(self, inputs: ThesisInputs) -> ClaimResult:
        """The claim's result on ``inputs``; raises ``InsufficientData`` with the reason."""
        ...


@dataclass(frozen=True)
class FunctionClaim:
    """A claim whose test is one function of the inputs."""

    key: str
    title: str
    statement: str
    counter: bool
    test: Callable[[ThesisInputs], ClaimResult]

    def run(self, inputs: ThesisInputs) -> ClaimResult:
        return self.test(inputs)


CLAIMS: dict[str, Claim] = {}


def register(claim: Claim) -> Claim:
    """Add ``claim`` to ``CLAIMS`` (a second claim under the same key is a programming error)."""
    if claim.key in CLAIMS:
        raise ValueError(f"a thesis claim with key {claim.key!r} is already registered")
    CLAIMS[claim.key] = claim
    return claim
