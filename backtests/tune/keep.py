"""Which daily returns a large sweep keeps: every metric always, returns only where needed.

A ``ReturnsPolicy`` keeps, updated chunk by chunk as chunks finish (in any order), the returns of

* the ``best`` combinations by whole-window Sharpe (the best in-sample, the re-runs and SPA);
* a seeded random ``sample`` of ``sample`` combinations (PBO's unbiased cross-section);
* with ``walkforward`` (a ``WalkForwardKeep``), for every walk-forward train window the top
  ``WalkForwardKeep.best`` combinations by that window's selection metric, computed on the
  train window only (so the candidates carry no test-window information), and, when
  ``groups`` are given (``select_by = "information"``), the top per (window, composite group)
  on every train window and on the whole window. The walk-forward's choice over the kept
  rows is then its choice over every row.

With ``walkforward`` every combination's scores are also kept (``KeptScores``): its excess
Sharpe on the whole window (the best's argmax, the deflated Sharpe's cross-section) and on
each test window (each choice's out-of-sample percentile), computed with
``backtests.tune.walkforward.score`` exactly as the keep-everything analysis computes them.
A train-window score is computed exactly too, unless a cheap running-sum estimate shows it
surely below what its window's tops already hold (then it is stored as NaN: it cannot enter).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from backtests.sim.fastsim import METRICS
from backtests.tune.walkforward import score
from drain_core.conventions import PERIODS_PER_YEAR
from drain_core.errors import DrainError


@dataclass(frozen=True, eq=False)
class WalkForwardKeep:
    """The walk-forward windows (session positions, ends exclusive) a policy keeps returns
    for, and how it ranks trials on them: ``metric`` on each train window (Sharpe of the
    returns in excess of ``cash``, the daily cash return per session), the top ``best`` per
    window, and per (window, group) when ``groups`` (each combination's composite) is given."""

    cash: np.ndarray
    trains: tuple[tuple[int, int], ...]
    tests: tuple[tuple[int, int], ...]
    metric: str = "sharpe"
    best: int = 10
    groups: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.best < 1:
            raise DrainError(f"keep at least 1 return series per walk-forward window, got "
                             f"{self.best}")

    @property
    def width(self) -> int:
        """Scores per combination: whole window, each train window, each test window."""
        return 1 + len(self.trains) + len(self.tests)

    def key(self) -> str:
        """A hash of what the scores depend on (saved chunks are reused only when it
        matches)."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.cash, dtype="<f8").tobytes())
        digest.update(repr((self.trains, self.tests, self.metric)).encode())
        return digest.hexdigest()[:20]

    def scores(self, returns: np.ndarray, floor: np.ndarray | None = None) -> np.ndarray:
        """(rows, width): whole-window excess Sharpe, each train window's metric, each test
        window's excess Sharpe, as ``walkforward.choose`` and ``walk_forward`` score them.

        ``floor`` (rows x train windows), when given: a train-window score that is surely
        below it (by a cheap running-sum Sharpe and a wide error bound) is not computed but
        NaN, the row being unable to enter that window's top."""
        out = np.empty((returns.shape[0], self.width))
        out[:, 0] = score(returns, "sharpe", self.cash)
        below = None if floor is None or self.metric != "sharpe" else _surely_below(
            returns, self.cash, self.trains, floor)
        for j, (lo, hi) in enumerate(self.trains, start=1):
            if below is None:
                out[:, j] = score(returns[:, lo:hi], self.metric, self.cash[lo:hi])
                continue
            rows = np.flatnonzero(~below[:, j - 1])
            out[:, j] = np.nan
            out[rows, j] = score(returns[rows, lo:hi], self.metric, self.cash[lo:hi])
        for j, (lo, hi) in enumerate(self.tests, start=1 + len(self.trains)):
            out[:, j] = score(returns[:, lo:hi], "sharpe", self.cash[lo:hi])
        return out


def _surely_below(returns: np.ndarray, cash: np.ndarray, windows: tuple[tuple[int, int], ...],
                  floor: np.ndarray) -> np.ndarray:
    """(rows, windows): whether each row's excess Sharpe on each window is surely below
    ``floor``, from sums of the excess return and its square (over the segments between the
    windows' bounds, accumulated). Their rounding error is
    about 1e-16 x the window's length x (1 + mean^2 / variance); the bound allowed is 1e-8
    (relative) times that conditioning, and a badly conditioned or undefined estimate is
    never "surely below" (it gets the exact score)."""
    excess = np.asarray(returns, dtype=np.float64) - cash
    n, t = excess.shape
    bounds = np.unique([0, t, *(b for window in windows for b in window)])
    at = {int(b): i for i, b in enumerate(bounds)}
    s1 = np.zeros((n, len(bounds)))  # sums up to each bound, from segment sums
    s2 = np.zeros((n, len(bounds)))
    np.cumsum(np.add.reduceat(excess, bounds[:-1], axis=1), axis=1, out=s1[:, 1:])
    np.multiply(excess, excess, out=excess)
    np.cumsum(np.add.reduceat(excess, bounds[:-1], axis=1), axis=1, out=s2[:, 1:])
    out = np.zeros((n, len(windows)), dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        for j, (lo, hi) in enumerate(windows):
            m = hi - lo
            if m < 2:
                continue
            total, squares = s1[:, at[hi]] - s1[:, at[lo]], s2[:, at[hi]] - s2[:, at[lo]]
            mean = total / m
            var = (squares - total * mean) / (m - 1)
            sharpe = mean / np.sqrt(var) * np.sqrt(PERIODS_PER_YEAR)
            conditioning = squares / (m * var)
            margin = 1e-8 * (1.0 + np.abs(sharpe)) * conditioning
            sound = (var > 0) & (conditioning < 1e6) & np.isfinite(sharpe)
            out[:, j] = sound & (sharpe + margin < floor[:, j])
    return out


@dataclass(frozen=True)
class ReturnsPolicy:
    """Which combinations' daily returns a large sweep keeps (every metric is always kept).

    ``best``: the combinations with the highest whole-window Sharpe (ties: the earlier one;
    the excess Sharpe of ``walkforward.scores`` when given, else the kernel's Sharpe metric);
    ``sample``: a seeded random set (``seed``, drawn as ``rng.choice(n, sample)`` of
    ``numpy.random.default_rng(seed)``) for PBO; ``walkforward``: the top per walk-forward
    train window (module docstring). Memory and disk then grow with the rows kept (plus, on
    disk, about ``k * ln(n / k)`` rows per top of ``k`` that were among the top when their
    chunk finished), not with the number of combinations.
    """

    best: int = 2000
    sample: int = 1500
    seed: int = 0
    walkforward: WalkForwardKeep | None = None

    def __post_init__(self) -> None:
        if self.best < 1 or self.sample < 0:
            raise DrainError(f"keep at least 1 best return series and a sample >= 0, got "
                             f"best={self.best}, sample={self.sample}")

    def key(self) -> str:
        """A hash of the policy (chunks saved under another policy are run again)."""
        wf = self.walkforward
        parts = [self.best, self.sample, self.seed]
        if wf is not None:
            groups = None if wf.groups is None else hashlib.sha256(
                np.ascontiguousarray(wf.groups, dtype="<i8").tobytes()).hexdigest()
            parts += [wf.key(), wf.best, groups]
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:20]


@dataclass(frozen=True)
class KeptScores:
    """Every combination's scores, kept when its returns are not."""

    excess_sharpe: np.ndarray  # (n,) whole-window excess Sharpe
    test_sharpes: np.ndarray  # (n_tests, n) excess Sharpe on each walk-forward test window


class _Top:
    """An exact running top ``size`` by (key descending, position ascending), with rows."""

    def __init__(self, size: int, n_days: int) -> None:
        self.size = size
        self.pos = np.full(size, -1, dtype=np.int64)  # -1: an empty slot
        self.key = np.full(size, -np.inf)
        self.rows = np.zeros((size, n_days), dtype=np.float32)
        self.has = np.zeros(size, dtype=bool)

    def offer(self, positions: np.ndarray, key: np.ndarray, returns: np.ndarray,
              has: np.ndarray) -> np.ndarray:
        """Offer rows (``key``: NaN already -inf); the indices of those that enter."""
        all_pos = np.concatenate([self.pos, positions])
        all_key = np.concatenate([self.key, key])
        # best first: key descending, then position ascending; empty slots last
        order = np.lexsort((np.where(all_pos < 0, np.iinfo(np.int64).max, all_pos), -all_key,
                            all_pos < 0))
        chosen = order[:self.size]
        entering = chosen[chosen >= self.size] - self.size
        free = np.setdiff1d(np.arange(self.size), chosen[chosen < self.size])
        self.pos[free] = positions[entering]
        self.key[free] = key[entering]
        self.has[free] = has[entering]
        self.rows[free] = returns[entering]
        return entering

    def filled(self) -> np.ndarray:
        """Mask of the occupied slots."""
        return self.pos >= 0

    def floor(self) -> float:
        """The key a row must reach to enter: the lowest kept one once full, else -inf."""
        return float(self.key.min()) if self.filled().all() else -np.inf


class KeptReturns:
    """The returns (and scores) a ``ReturnsPolicy`` keeps, updated chunk by chunk."""

    def __init__(self, n: int, n_days: int, policy: ReturnsPolicy) -> None:
        self.n_days = n_days
        self.walkforward = wf = policy.walkforward
        self.tops = [_Top(min(policy.best, n), n_days)]  # tops[0]: the whole-window best
        self.windows: list[tuple[int, int | None]] = []  # each other top's score column, group
        if wf is not None:
            k = min(wf.best, n)
            self.windows += [(1 + j, None) for j in range(len(wf.trains))]
            if wf.groups is not None:
                self.windows += [(j, int(g)) for j in range(1 + len(wf.trains))
                                 for g in np.unique(wf.groups)]
            self.tops += [_Top(k, n_days) for _ in self.windows]
            self.groups = wf.groups
            self.full = np.full(n, np.nan)
            self.tests = np.full((len(wf.tests), n), np.nan)
        rng = np.random.default_rng(policy.seed)
        self.sample_pos = np.sort(rng.choice(n, min(policy.sample, n), replace=False))
        self.sample_rows = np.zeros((len(self.sample_pos), n_days), dtype=np.float32)

    def score(self, lo: int, returns: np.ndarray) -> np.ndarray:
        """``WalkForwardKeep.scores`` of rows ``lo:lo + len(returns)``, skipping the train
        scores that surely cannot enter their window's tops as they stand (they only rise)."""
        wf = self.walkforward
        n = len(returns)
        floor = np.full((n, len(wf.trains)), np.inf)
        groups = None if wf.groups is None else wf.groups[lo:lo + n]
        for top, (column, group) in zip(self.tops[1:], self.windows, strict=True):
            if column == 0:
                continue
            rows = slice(None) if group is None else groups == group
            floor[rows, column - 1] = np.minimum(floor[rows, column - 1], top.floor())
        return wf.scores(returns, floor)

    def offer(self, lo: int, metrics: np.ndarray, returns: np.ndarray, has: np.ndarray,
              scores: np.ndarray | None = None) -> np.ndarray:
        """Rows ``lo:lo + len(metrics)`` finished (``returns[i]`` valid where ``has[i]``;
        ``scores``: their ``WalkForwardKeep.scores``, None for none); the mask of the rows
        whose returns are kept now."""
        n = len(metrics)
        positions = np.arange(lo, lo + n)
        keep = np.zeros(n, dtype=bool)
        wf = self.walkforward
        ranked = None
        if wf is not None:
            if scores is None:
                raise ValueError("a walk-forward returns policy needs each chunk's scores")
            ranked = np.where(np.isnan(scores), -np.inf, scores)
            self.full[lo:lo + n] = scores[:, 0]
            self.tests[:, lo:lo + n] = scores[:, 1 + len(wf.trains):].T
        key = ranked[:, 0] if ranked is not None else _finite(
            metrics[:, METRICS.index("sharpe")])
        keep[self.tops[0].offer(positions, key, returns, has)] = True
        groups = None if wf is None or wf.groups is None else wf.groups[lo:lo + n]
        for top, (column, group) in zip(self.tops[1:], self.windows, strict=True):
            rows = np.arange(n) if group is None else np.flatnonzero(groups == group)
            if len(rows):
                keep[rows[top.offer(positions[rows], ranked[rows, column], returns[rows],
                                    has[rows])]] = True
        slots = np.searchsorted(self.sample_pos, positions)
        sampled = (slots < len(self.sample_pos)) & (
            self.sample_pos[np.minimum(slots, len(self.sample_pos) - 1)] == positions)
        self.sample_rows[slots[sampled]] = returns[sampled]
        keep |= sampled
        if not has[sampled].all():
            raise missing_returns()
        return keep

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(positions, returns) of every kept combination, by position."""
        positions, rows = [self.sample_pos], [self.sample_rows]
        for top in self.tops:
            filled = top.filled()
            if not top.has[filled].all():
                raise missing_returns()
            positions.append(top.pos[filled])
            rows.append(top.rows[filled])
        positions, first = np.unique(np.concatenate(positions), return_index=True)
        return positions, np.concatenate(rows)[first]

    def scores(self) -> KeptScores | None:
        """Every combination's scores (None without ``walkforward``)."""
        if self.walkforward is None:
            return None
        return KeptScores(self.full, self.tests)


def _finite(values: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(values), -np.inf, values)


def missing_returns() -> DrainError:
    """The error of a saved chunk that lacks returns the policy needs."""
    return DrainError("a saved sweep chunk lacks returns the sweep needs (saved under another "
                      "returns policy?); delete the sweep's chunk folder and run it again")
