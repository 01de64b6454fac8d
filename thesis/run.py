"""Run every claim on one set of inputs; a claim without enough data becomes a reasoned section."""

from __future__ import annotations

import datetime as dt
import importlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thesis.claims import CLAIMS, Claim
from thesis.config import ThesisConfig
from thesis.inputs import SignalView, ThesisInputs, build_inputs
from thesis.result import ClaimResult, InsufficientData, insufficient

# The claim modules, in the report's order: each registers its claim in ``thesis.claims.CLAIMS``
# when imported (here, first of all).
CLAIM_MODULES = (
    "thesis.capex_stimulus",
    "thesis.crowding_out",
    "thesis.funding_costs",
    "thesis.duration",
    "thesis.crypto_gauge",
    "thesis.against_spells",
    "thesis.against_safe_leg",
    "thesis.against_capex_surges",
)


def _claims_in_report_order() -> None:
    """Import every claim module and put ``CLAIMS`` in ``CLAIM_MODULES``' order, whichever
    claim module was imported first (``import thesis.crypto_gauge`` before this module
    registers that claim first); claims registered by anything else follow."""
    keys = [importlib.import_module(module).KEY for module in CLAIM_MODULES]
    ordered = {key: CLAIMS[key] for key in keys}
    ordered.update((key, claim) for key, claim in CLAIMS.items() if key not in ordered)
    CLAIMS.clear()
    CLAIMS.update(ordered)


_claims_in_report_order()
MIN_WINDOW = 2


@dataclass
class ThesisRun:
    """The inputs, one result per claim, and how long each took."""

    inputs: ThesisInputs
    claims: list[ClaimResult]
    seconds: dict[str, float] = field(default_factory=dict)

    def meta(self, **extra: Any) -> dict[str, Any]:
        """Window, data fingerprint, notes and configuration, for the report and the JSON."""
        inputs = self.inputs
        window = inputs.window
        signal_config = inputs.signal_config
        config = {
            "thesis": inputs.config.to_dict(),
            "signal": signal_config.to_dict() if signal_config is not None else "defaults",
            "baskets": {name: list(members) for name, members in inputs.baskets.items()},
            "long_basket": inputs.long_name,
            "short_basket": inputs.short_name,
        }
        return {
            "start": window[0].date().isoformat() if len(window) else None,
            "end": window[-1].date().isoformat() if len(window) else None,
            "sessions": len(window),
            "dataset_fingerprint": inputs.dataset.fingerprint(),
            "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "seconds": self.seconds,
            "notes": list(inputs.notes),
            "config": config,
            **extra,
        }


def run_claims(inputs: ThesisInputs, claims: Iterable[Claim] | None = None, *,
               on_claim: Callable[[Claim], None] | None = None) -> ThesisRun:
    """Run each claim (every registered one by default); ``InsufficientData`` marks that
    section with its reason. ``on_claim`` is called with each claim before it runs (progress)."""
    results, seconds = [], {}
    for claim in CLAIMS.values() if claims is None else claims:
        if on_claim is not None:
            on_claim(claim)
        started = time.perf_counter()
        if len(inputs.window) < MIN_WINDOW:
            result = insufficient(claim.key, claim.title, claim.statement,
                                  f"the window holds {len(inputs.window)} sessions",
                                  claim.counter)
        else:
            try:
                result = claim.run(inputs)
            except InsufficientData as exc:
                result = insufficient(claim.key, claim.title, claim.statement, str(exc),
                                      claim.counter)
        results.append(result)
        seconds[claim.key] = time.perf_counter() - started
    return ThesisRun(inputs=inputs, claims=results, seconds=seconds)


def run_thesis(dataset, *, signal_config=None, strategy=None, config: ThesisConfig | None = None,
               start=None, end=None, signal: SignalView | None = None,
               on_claim: Callable[[Claim], None] | None = None) -> ThesisRun:
    """Build the inputs (signal on everything known at ``end``) and test every claim
    (``on_claim`` is told of each claim before it runs)."""
    inputs = build_inputs(dataset, signal_config=signal_config, strategy=strategy, config=config,
                          start=start, end=end, signal=signal)
    return run_claims(inputs, on_claim=on_claim)


def save_thesis_run(result: ThesisRun, name: str | None, **meta: Any) -> Path:
    """Write the thesis report folder under the reports root atomically (default name
    ``thesis-<last session>``), refresh the runs index, and return the folder."""
    from backtests.report.runs_index import update_index
    from drain_core.paths import atomic_run_dir, reports_root
    from thesis.report import write_report

    window = result.inputs.window
    folder = name or (f"thesis-{window[-1].date()}" if len(window) else "thesis-empty")
    with atomic_run_dir(folder) as tmp:
        write_report(result.claims, tmp, result.meta(**meta))
    update_index(reports_root())
    return reports_root() / folder
