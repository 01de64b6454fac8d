"""Walk-forward selection: choose on each train window, trade the next test window, stitch.

Splits are positions on the session index. Test windows follow each other (``test`` sessions
each, the last one possibly shorter); the train window ends ``embargo`` sessions before its test
window starts (a purge: with multi-week holding periods the returns right before the test window
overlap the positions held into it), and starts at session 0 (``expanding``) or ``train``
sessions before its end (``rolling``). The choice for a test window reads only train-window
returns, so it uses nothing at or after that window's start.

Sharpe ratios (the selection metric "sharpe", the in- and out-of-sample Sharpe of each split)
are computed on returns in excess of ``cash``, the daily cash return the engine credits
(``backtests.sim.accrual.daily_rates``); CAGR and total return stay total.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from backtests.stats import performance
from drain_core.errors import DrainError

SCHEMES = ("expanding", "rolling")
SELECTION_METRICS = ("sharpe", "cagr", "total_return")
_BLOCK = 512  # combinations scored at a time (bounds the float64 temporaries)


@dataclass(frozen=True)
class WalkForwardConfig:
    """Split sizes in sessions, the purge gap and the selection metric."""

    scheme: str = "expanding"
    train: int = 756  # three years before the first test window
    test: int = 126  # six months per test window
    embargo: int = 5  # sessions dropped between train and test (>= the holding horizon)
    metric: str = "sharpe"

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise DrainError(f"tune.walkforward.scheme = {self.scheme!r} is not one of "
                             f"{', '.join(SCHEMES)}")
        if self.metric not in SELECTION_METRICS:
            raise DrainError(f"tune.walkforward.metric = {self.metric!r} is not one of "
                             f"{', '.join(SELECTION_METRICS)}")
        for key, low in (("train", 2), ("test", 1), ("embargo", 0)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise DrainError(f"tune.walkforward.{key} must be a whole number >= {low}, "
                                 f"got {value!r}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> WalkForwardConfig:
        """Build from the ``[tune.walkforward]`` table; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            close = difflib.get_close_matches(unknown[0], sorted(names), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise DrainError(f"unknown key tune.walkforward.{unknown[0]}{hint}; known keys: "
                             f"{', '.join(sorted(names))}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The ``[tune.walkforward]`` table; ``from_dict(c.to_dict()) == c``."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> WalkForwardConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Split:
    """One walk-forward step as session positions (ends exclusive)."""

    number: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int


def make_splits(n_sessions: int, config: WalkForwardConfig) -> list[Split]:
    """Consecutive test windows after the first ``train`` (+ embargo) sessions."""
    splits = []
    test_start = config.train + config.embargo
    while test_start < n_sessions:
        train_end = test_start - config.embargo
        train_start = 0 if config.scheme == "expanding" else max(0, train_end - config.train)
        test_end = min(test_start + config.test, n_sessions)
        splits.append(Split(len(splits), train_start, train_end, test_start, test_end))
        test_start = test_end
    if not splits:
        raise DrainError(f"{n_sessions} sessions are too few for a walk-forward with train = "
                         f"{config.train} and embargo = {config.embargo}; shorten "
                         f"[tune.walkforward] train or widen the date range")
    return splits


def score(returns: np.ndarray, metric: str, cash: np.ndarray | None = None) -> np.ndarray:
    """``metric`` of each row of ``returns`` (combinations x sessions); NaN when undefined.

    "sharpe" is computed on ``returns - cash`` (``cash``: one daily cash return per session)."""
    scorer = {"sharpe": performance.sharpe, "cagr": performance.cagr,
              "total_return": performance.total_return}[metric]
    out = np.empty(returns.shape[0])
    for lo in range(0, returns.shape[0], _BLOCK):
        block = np.asarray(returns[lo:lo + _BLOCK], dtype=np.float64)
        if metric == "sharpe" and cash is not None:
            block = block - np.asarray(cash, dtype=np.float64)
        out[lo:lo + len(block)] = scorer(block, axis=1)
    return out


def choose(returns: np.ndarray, split: Split, metric: str,
           cash: np.ndarray | None = None, allowed: np.ndarray | None = None) -> int:
    """The combination with the best ``metric`` over the split's train window (ties: first),
    among the rows where the boolean mask ``allowed`` is true (None: all rows)."""
    train = slice(split.train_start, split.train_end)
    scores = score(returns[:, train], metric, None if cash is None else cash[train])
    scores = np.where(np.isnan(scores), -np.inf, scores)
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
        if not allowed[int(np.argmax(scores))]:  # every allowed row scored NaN
            return int(np.argmax(allowed))
    return int(np.argmax(scores))


@dataclass(frozen=True)
class WalkForwardResult:
    """Per-split choices with in- and out-of-sample figures, and the stitched OOS returns."""

    splits: pd.DataFrame
    oos_returns: pd.Series
    config: WalkForwardConfig


def walk_forward(returns: np.ndarray, index: pd.DatetimeIndex, config: WalkForwardConfig,
                 cash: np.ndarray | None = None,
                 on_split: Callable[[], None] | None = None,
                 allowed: Callable[[Split], np.ndarray | None] | None = None,
                 trials: np.ndarray | None = None,
                 oos_sharpes: np.ndarray | None = None) -> WalkForwardResult:
    """Choose on every train window, report IS beside OOS, stitch the chosen OOS returns.

    ``returns`` is combinations x sessions (rows in sweep order); ``cash`` the daily cash
    return on each session (Sharpe ratios are of the excess over it; None: zero).
    ``on_split()`` is called after each split. ``allowed(split)``, when given, returns the
    boolean mask of rows a split may choose from (reading only its train window), or None.

    When ``returns`` holds only some trials (a sweep that kept the returns of each train
    window's top trials), ``trials`` gives each row's trial number (reported as "chosen") and
    ``oos_sharpes`` (splits x every trial) each trial's test-window excess Sharpe, against
    which the choice's out-of-sample percentile is taken.
    """
    cash = np.zeros(returns.shape[1]) if cash is None else np.asarray(cash, dtype=np.float64)
    rows = []
    pieces = []
    for split in make_splits(returns.shape[1], config):
        train, test_days = (slice(split.train_start, split.train_end),
                            slice(split.test_start, split.test_end))
        chosen = choose(returns, split, config.metric, cash,
                        None if allowed is None else allowed(split))
        train_row = returns[chosen:chosen + 1, train]
        test = returns[:, test_days]
        if oos_sharpes is None:
            oos_all = score(test, "sharpe", cash[test_days])
            oos = oos_all[chosen]
        else:
            oos_all = oos_sharpes[split.number]
            oos = oos_all[trials[chosen]]
        valid = oos_all[~np.isnan(oos_all)]
        rank = float((valid < oos).mean() + 0.5 * (valid == oos).mean()) if valid.size and not \
            np.isnan(oos) else math.nan
        rows.append({
            "split": split.number,
            "train_start": index[split.train_start],
            "train_end": index[split.train_end - 1],
            "test_start": index[split.test_start],
            "test_end": index[split.test_end - 1],
            "chosen": chosen if trials is None else int(trials[chosen]),
            "is_metric": float(score(train_row, config.metric, cash[train])[0]),
            "oos_metric": float(score(test[chosen:chosen + 1], config.metric,
                                      cash[test_days])[0]),
            "is_sharpe": float(score(train_row, "sharpe", cash[train])[0]),
            "oos_sharpe": float(oos),
            "oos_percentile": rank,
        })
        pieces.append(pd.Series(returns[chosen, test_days].astype(np.float64),
                                index=index[test_days]))
        if on_split is not None:
            on_split()
    stitched = pd.concat(pieces).rename("oos_returns")
    return WalkForwardResult(splits=pd.DataFrame(rows), oos_returns=stitched, config=config)
