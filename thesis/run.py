"""Run every claim on one set of inputs; a claim without enough data becomes a reasoned section."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from thesis import (
    against_capex_surges,
    against_safe_leg,
    against_spells,
    capex_stimulus,
    crowding_out,
    crypto_gauge,
    duration,
    funding_costs,
)
from thesis.config import ThesisConfig
from thesis.inputs import SignalView, ThesisInputs, build_inputs
from thesis.result import ClaimResult, InsufficientData, insufficient

CLAIM_MODULES: tuple[ModuleType, ...] = (
    capex_stimulus,
    crowding_out,
    funding_costs,
    duration,
    crypto_gauge,
    against_spells,
    against_safe_leg,
    against_capex_surges,
)
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


def run_claims(inputs: ThesisInputs,
               modules: tuple[ModuleType, ...] = CLAIM_MODULES) -> ThesisRun:
    """Run each claim module; ``InsufficientData`` marks that section with its reason."""
    claims, seconds = [], {}
    for module in modules:
        started = time.perf_counter()
        if len(inputs.window) < MIN_WINDOW:
            result = insufficient(module.KEY, module.TITLE, module.CLAIM,
                                  f"the window holds {len(inputs.window)} sessions",
                                  module.COUNTER)
        else:
            try:
                result = module.run(inputs)
            except InsufficientData as exc:
                result = insufficient(module.KEY, module.TITLE, module.CLAIM, str(exc),
                                      module.COUNTER)
        claims.append(result)
        seconds[module.KEY] = time.perf_counter() - started
    return ThesisRun(inputs=inputs, claims=claims, seconds=seconds)


def run_thesis(dataset, *, signal_config=None, strategy=None, config: ThesisConfig | None = None,
               start=None, end=None, signal: SignalView | None = None) -> ThesisRun:
    """Build the inputs (signal on everything known at ``end``) and test every claim."""
    inputs = build_inputs(dataset, signal_config=signal_config, strategy=strategy, config=config,
                          start=start, end=end, signal=signal)
    return run_claims(inputs)
