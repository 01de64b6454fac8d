"""``drain thesis``: test each claim of the liquidity-drain thesis, for and against.

    from thesis import run_thesis, write_report
    run = run_thesis(load_dataset(), start="2016-01-01")
    write_report(run.claims, folder, run.meta())
"""

from thesis.config import ThesisConfig
from thesis.inputs import SignalView, ThesisInputs, build_inputs
from thesis.report import write_report
from thesis.result import VERDICTS, ClaimResult, InsufficientData, SubTest
from thesis.run import CLAIM_MODULES, ThesisRun, run_claims, run_thesis

__all__ = [
    "CLAIM_MODULES",
    "VERDICTS",
    "ClaimResult",
    "InsufficientData",
    "SignalView",
    "SubTest",
    "ThesisConfig",
    "ThesisInputs",
    "ThesisRun",
    "build_inputs",
    "run_claims",
    "run_thesis",
    "write_report",
]
