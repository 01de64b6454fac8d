"""``drain thesis``: test each claim of the liquidity-drain thesis, for and against.

    from thesis import CLAIMS, run_thesis, write_report
    run = run_thesis(load_dataset(), start="2016-01-01")
    write_report(run.claims, folder, run.meta())
    list(CLAIMS)                                   # the registered claims, in report order

Every claim implements ``thesis.claims.Claim`` and registers itself in ``CLAIMS``.
"""

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
