"""Progress of the long stages of a tune (walk-forward, statistics, reports) on stderr.

A stage is a context manager yielding ``advance(n=1)``. ``Progress(enabled=False)`` costs
nothing, so library code always calls it; the sweep draws its own bar (``run_sweep``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Progress:
    """One rich progress bar per stage, removed when the stage ends (no-op when disabled)."""

    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled

    @contextmanager
    def stage(self, name: str, total: int) -> Iterator[Callable[..., None]]:
        """A bar called ``name`` of ``total`` steps; yields ``advance(n=1)``."""
        if not self.enabled:
            yield lambda n=1: None
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import (
            Progress as RichProgress,
        )

        bar = RichProgress(TextColumn(f"{name:<14}"), BarColumn(), MofNCompleteColumn(),
                           TimeElapsedColumn(), console=Console(stderr=True), transient=True)
        task = bar.add_task(name, total=total)
        with bar:
            yield lambda n=1: bar.advance(task, n)
