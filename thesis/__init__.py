"""``drain thesis``: test each claim of the liquidity-drain thesis, for and against.

    from thesis import CLAIMS, run_thesis, write_report
    run = run_thesis(load_dataset(), start="2016-01-01")
    write_report(run.claims, folder, run.meta())
    list(CLAIMS)                                   # the registered claims, in report order

Every claim implements ``thesis.claims.Claim`` and registers itself in ``CLAIMS``. The names
are loaded on first use: ``ThesisConfig`` alone imports nothing heavy, so every command can
check a file's [thesis] section; any other name loads ``thesis.run`` and with it every claim.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thesis.claims import CLAIMS, Claim, FunctionClaim, register
    from thesis.config import ThesisConfig
    from thesis.inputs import SignalView, ThesisInputs, build_inputs
    from thesis.report import write_report
    from thesis.result import VERDICTS, ClaimResult, InsufficientData, SubTest
    from thesis.run import ThesisRun, run_claims, run_thesis, save_thesis_run

__all__ = [
    "CLAIMS",
    "VERDICTS",
    "Claim",
    "ClaimResult",
    "FunctionClaim",
    "InsufficientData",
    "SignalView",
    "SubTest",
    "ThesisConfig",
    "ThesisInputs",
    "ThesisRun",
    "build_inputs",
    "register",
    "run_claims",
    "run_thesis",
    "save_thesis_run",
    "write_report",
]
_EXPORTS = {
    "CLAIMS": "thesis.claims", "Claim": "thesis.claims", "FunctionClaim": "thesis.claims",
    "register": "thesis.claims", "ThesisConfig": "thesis.config", "SignalView": "thesis.inputs",
    "ThesisInputs": "thesis.inputs", "build_inputs": "thesis.inputs",
    "write_report": "thesis.report", "VERDICTS": "thesis.result", "ClaimResult": "thesis.result",
    "InsufficientData": "thesis.result", "SubTest": "thesis.result", "ThesisRun": "thesis.run",
    "run_claims": "thesis.run", "run_thesis": "thesis.run", "save_thesis_run": "thesis.run",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'thesis' has no attribute {name!r}")
    if name != "ThesisConfig":
        import_module("thesis.run")  # registers every claim in CLAIMS
    return getattr(import_module(_EXPORTS[name]), name)
