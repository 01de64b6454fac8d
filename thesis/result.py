"""What each claim returns, and the verdict rules: written once in code, quoted in the report."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from drain_core.errors import InsufficientData as InsufficientData

SUPPORTED = "supported"
MIXED = "mixed"
NOT_SUPPORTED = "not supported"
INSUFFICIENT = "insufficient data"
VERDICTS = (SUPPORTED, MIXED, NOT_SUPPORTED, INSUFFICIENT)

T_CRITICAL = 2.0

SUBTEST_RULE = (
    "Each sub-test states the sign the thesis predicts. It is 'supported' when the estimate has "
    f"that sign and is significant (|t| > {T_CRITICAL:g} with Newey-West standard errors - for "
    "overlapping forward windows the larger of Newey-West and Hodrick 1B, for events the larger "
    "of cross-sectional and Brown-Warner - or a 95% bootstrap interval that excludes 0); "
    "'mixed' when the sign is "
    "right but not significant; 'not supported' when the sign is wrong (significant or not); "
    "'insufficient data' when the sample is too small or the data are missing."
)
COMBINE_RULE = (
    "A claim combines its sub-tests (insufficient ones are ignored): 'supported' when none has "
    "the wrong sign and at least half are supported; 'not supported' when more have the wrong "
    "sign than the right one; otherwise 'mixed'; 'insufficient data' when every sub-test is."
)


@dataclass(frozen=True)
class SubTest:
    """One signed test: estimate, its uncertainty, sample size, expected sign and verdict."""

    name: str
    estimate: float
    expected_sign: int
    n: int
    t: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    unit: str = ""
    verdict: str = INSUFFICIENT
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return dict(self.__dict__)


def _finite(value: float) -> bool:
    return value is not None and isinstance(value, int | float) and math.isfinite(value)


def verdict_for(estimate: float, expected_sign: int, t: float = math.nan,
                ci: tuple[float, float] = (math.nan, math.nan)) -> str:
    """The sub-test rule (``SUBTEST_RULE``) applied to one estimate."""
    if not _finite(estimate):
        return INSUFFICIENT
    if estimate * expected_sign <= 0:
        return NOT_SUPPORTED
    significant = (_finite(t) and abs(t) > T_CRITICAL) or (
        _finite(ci[0]) and _finite(ci[1]) and (ci[0] > 0 or ci[1] < 0)
    )
    return SUPPORTED if significant else MIXED


def subtest(name: str, estimate: float, expected_sign: int, n: int, *, t: float = math.nan,
            ci: tuple[float, float] = (math.nan, math.nan), unit: str = "",
            reason: str = "") -> SubTest:
    """Build a ``SubTest`` with its verdict decided by ``verdict_for``."""
    verdict = verdict_for(estimate, expected_sign, t, ci)
    if verdict == INSUFFICIENT and not reason:
        reason = "the estimate could not be computed"
    return SubTest(name=name, estimate=float(estimate), expected_sign=int(expected_sign),
                   n=int(n), t=float(t), ci_low=float(ci[0]), ci_high=float(ci[1]), unit=unit,
                   verdict=verdict, reason=reason)


def missing_subtest(name: str, expected_sign: int, reason: str, unit: str = "") -> SubTest:
    """A sub-test that could not be run, with the reason."""
    return SubTest(name=name, estimate=math.nan, expected_sign=expected_sign, n=0, unit=unit,
                   verdict=INSUFFICIENT, reason=reason)


def combine_verdicts(verdicts: list[str]) -> str:
    """The claim rule (``COMBINE_RULE``) over its sub-tests' verdicts."""
    known = [v for v in verdicts if v != INSUFFICIENT]
    if not known:
        return INSUFFICIENT
    right = sum(v in (SUPPORTED, MIXED) for v in known)
    wrong = sum(v == NOT_SUPPORTED for v in known)
    supported = sum(v == SUPPORTED for v in known)
    if wrong == 0 and supported * 2 >= len(known):
        return SUPPORTED
    if wrong > right:
        return NOT_SUPPORTED
    return MIXED


@dataclass
class ClaimResult:
    """One section of the report: the claim, its statistics, verdict, charts and tables."""

    key: str
    title: str
    claim: str
    verdict: str = INSUFFICIENT
    headline: str = ""
    reason: str = ""
    subtests: list[SubTest] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counter_evidence: bool = False

    def decide(self) -> ClaimResult:
        """Set the verdict from the sub-tests; the reason lists the insufficient ones."""
        self.verdict = combine_verdicts([s.verdict for s in self.subtests])
        if self.verdict == INSUFFICIENT and not self.reason:
            reasons = [f"{s.name}: {s.reason}" for s in self.subtests if s.reason]
            self.reason = "; ".join(reasons) or "no sub-test could be computed"
        return self


def insufficient(key: str, title: str, claim: str, reason: str,
                 counter_evidence: bool = False) -> ClaimResult:
    """A section that could not be computed, with the reason."""
    return ClaimResult(key=key, title=title, claim=claim, verdict=INSUFFICIENT,
                       headline=f"insufficient data: {reason}", reason=reason,
                       counter_evidence=counter_evidence)
