"""Typed ``[tune]`` settings: sweep size, statistics' resamples, walk-forward, holdout, grids.

``TuneConfig.from_dict`` reads one ``[tune]`` table (unknown keys are an error with a
did-you-mean); ``TuneConfig.load`` fills what a user's table lacks from the shipped
``drain_core/configs/tune.toml``. Every range check is in ``__post_init__`` and says why; the
caps bound what one tune may ask of memory and time on a workstation.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from backtests.tune.grid import Grid, grid_from_table, resolve_grid_name
from backtests.tune.walkforward import WalkForwardConfig
from drain_core.configs import tune_config_path
from drain_core.errors import DrainError
from drain_core.schema import conform, reject_unknown, require_table, whole
from drain_core.tomlfile import read_toml

# Caps, each with the reason a bigger request is refused rather than attempted:
MAX_TRIALS = 200_000  # a sweep of up to keep_returns trials keeps every trial's daily returns in
#                       memory (float32): 200,000 trials x 3,200 sessions is 2.6 GB
MAX_SAMPLE = 2_000_000  # above keep_returns only the returns the statistics need are kept, but
#                         every trial's parameters, metrics and walk-forward scores are held
#                         (a few hundred bytes each, plus its Combination object)
MAX_PER_WINDOW = 1000  # the top trials kept per walk-forward window (and composite) are held
MAX_CHUNK = 100_000  # one chunk's returns are held twice while saved (1.3 GB at the cap)
MAX_PBO_BLOCKS = 20  # CSCV evaluates C(S, S/2) splits: 184,756 at 20, 2.7 million at 24
MAX_PBO_CONFIGS = 20_000  # PBO's block Sharpe table is splits x configurations
MAX_SPA_MODELS = 20_000  # SPA's loss matrix is sessions x models in float64 (0.5 GB at the cap)
MAX_SPA_REPS = 20_000  # each resample re-averages the whole loss matrix
MAX_BOOTSTRAP_REPS = 100_000  # each resample recomputes Sharpe and CAGR over the whole series;
#                               beyond this the CI's Monte-Carlo error is far below its width

Trials = whole(1, MAX_SAMPLE, "every trial's parameters, metrics and scores are held in memory")
KeepReturns = whole(1, MAX_TRIALS, "up to this many trials, every daily return is held in memory")
PerWindow = whole(1, MAX_PER_WINDOW, "each window's top trials' daily returns are held in memory")
ChunkSize = whole(1, MAX_CHUNK, "a chunk's returns are held in memory while saved")
PBOBlocks = whole(2, MAX_PBO_BLOCKS, "CSCV evaluates C(S, S/2) splits")
PBOConfigs = whole(2, MAX_PBO_CONFIGS, "PBO scores every configuration on every split")
SPAModels = whole(1, MAX_SPA_MODELS, "SPA holds a sessions x models loss matrix")
SPAReps = whole(1, MAX_SPA_REPS, "each SPA resample re-averages the whole loss matrix")
BootstrapReps = whole(2, MAX_BOOTSTRAP_REPS, "more resamples do not narrow the CI further")
SelectBy = Literal["sharpe", "information"]  # how the walk-forward and best.toml choose


@dataclass(frozen=True)
class TuneConfig:
    """What ``drain tune`` sweeps and how it judges the result (one ``[tune]`` table)."""

    cap: Trials = 20_000  # a grid with more combinations than this needs a random sample
    # above this many trials the sweep keeps every trial's metrics but the daily returns of
    # only the trials the statistics need (``backtests.tune.keep``)
    keep_returns: KeepReturns = 20_000
    keep_per_window: PerWindow = 10  # then: the top trials kept per walk-forward train window
    chunk_size: ChunkSize = 1000  # combinations per saved chunk (the resume unit)
    pbo_blocks: PBOBlocks = 16  # CSCV blocks for the probability of backtest overfitting
    pbo_max_configs: PBOConfigs = 1500  # above this, PBO uses a seeded random subset
    spa_max_models: SPAModels = 1500  # above this, SPA tests the best this many (optimistic)
    spa_reps: SPAReps = 1000  # SPA bootstrap resamples
    bootstrap_reps: BootstrapReps = 2000  # stationary-bootstrap resamples of the CIs
    holdout_from: str | None = None  # "YYYY-MM-DD": sessions from here on are sealed away
    # "sharpe": the best train-window excess Sharpe of all trials; "information": first the
    # signal with the best train-window rank IC, then the best Sharpe among its trials
    select_by: SelectBy = "sharpe"
    walkforward: WalkForwardConfig = field(default_factory=WalkForwardConfig)
    grids: tuple[Grid, ...] = ()  # the default grid is named "default"

    def __post_init__(self) -> None:
        conform(self, "tune")
        if self.pbo_blocks % 2:
            raise DrainError(f"tune.pbo_blocks must be even (CSCV splits the blocks in halves), "
                             f"got {self.pbo_blocks}")
        if self.holdout_from is not None:
            try:
                dt.date.fromisoformat(self.holdout_from)
            except (TypeError, ValueError):
                raise DrainError(f"tune.holdout_from = {self.holdout_from!r} is not a date; "
                                 f"write it as \"YYYY-MM-DD\"") from None
        names = [g.name for g in self.grids]
        if len(set(names)) != len(names):
            raise DrainError(f"tune grids must have distinct names, got {', '.join(names)}")

    @property
    def holdout_start(self):
        """``holdout_from`` as a pandas Timestamp (None when nothing is sealed)."""
        import pandas as pd

        return pd.Timestamp(self.holdout_from) if self.holdout_from is not None else None

    def grid(self, name: str | None = None) -> Grid:
        """The grid called ``name`` (None or "default": the ``[tune.grid]`` table)."""
        wanted = resolve_grid_name(name, [g.name for g in self.grids])
        return next(g for g in self.grids if g.name == wanted)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TuneConfig:
        """Build from one ``[tune]`` table; unknown keys are an error with a did-you-mean."""
        values = dict(require_table("tune", values))
        _reject_unknown(values)
        walkforward = WalkForwardConfig.from_dict(
            require_table("tune.walkforward", values.pop("walkforward", {})))
        grids = []
        if values.get("grid"):
            grids.append(grid_from_table(require_table("tune.grid", values["grid"]), "default"))
        for name, table in require_table("tune.grids", values.pop("grids", {})).items():
            grids.append(grid_from_table(require_table(f"tune.grids.{name}", table), name))
        values.pop("grid", None)
        holdout = values.get("holdout_from")
        if isinstance(holdout, dt.date):  # a bare TOML date
            values["holdout_from"] = holdout.isoformat()
        return cls(**values, walkforward=walkforward, grids=tuple(grids))

    @classmethod
    def load(cls, values: dict[str, Any] | None = None) -> TuneConfig:
        """A user's ``[tune]`` table over the shipped one. A table with its own grids uses only
        those; its ``[tune.walkforward]`` keys replace the shipped ones one by one."""
        own = dict(require_table("tune", values))
        _reject_unknown(own)
        for key in ("walkforward", "grid", "grids"):
            require_table(f"tune.{key}", own.get(key))
        shipped = read_toml(tune_config_path())["tune"]
        merged = {**shipped, **own}
        if "grid" in own or "grids" in own:
            merged["grid"] = own.get("grid", {})
            merged["grids"] = own.get("grids", {})
        merged["walkforward"] = {**shipped.get("walkforward", {}), **own.get("walkforward", {})}
        return cls.from_dict(merged)

    def to_dict(self) -> dict[str, Any]:
        """A TOML-friendly ``[tune]`` table; ``from_dict(c.to_dict()) == c``."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                               if f.name not in ("walkforward", "grids", "holdout_from")}
        if self.holdout_from is not None:
            out["holdout_from"] = self.holdout_from
        out["walkforward"] = self.walkforward.to_dict()
        for grid in self.grids:
            if grid.name == "default":
                out["grid"] = grid.to_table()
            else:
                out.setdefault("grids", {})[grid.name] = grid.to_table()
        return out

    def replace(self, **changes: Any) -> TuneConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _reject_unknown(values: dict[str, Any]) -> None:
    known = [f.name for f in dataclasses.fields(TuneConfig) if f.name != "grids"]
    reject_unknown("tune", values, [*known, "grid", "grids"])
