"""Where run outputs land: ``reports/`` in the working folder, or $DRAIN_REPORTS_DIR, one folder
per run beside the files the reports folder itself holds (``root_file_names``)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from drain_core.errors import EnvironmentFault
from drain_core.fs import OWNER_FILE, claim, describe, guarded, make_dirs, remove_stale_temp_dirs

REPORTS_ENV = "DRAIN_REPORTS_DIR"
RUNS_INDEX = "index.html"  # the runs index (backtests.report.runs_index) in the reports folder


def reports_root() -> Path:
    """The folder that holds one sub-folder per run."""
    return Path(os.environ.get(REPORTS_ENV, "reports"))


def root_file_names() -> frozenset[str]:
    """The files the reports folder itself gets, never a run's name: the runs index and the
    shared plotly.js (``drain_core.pages``); their temp files start with '.'."""
    from drain_core.pages import plotly_file_name

    return frozenset({RUNS_INDEX, plotly_file_name()})


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder`` itself (flock on its descriptor: no lock file left
    behind), held while run folders are swapped into place; a no-op where flock is missing."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _remove(folder: Path | None, attempts: int = 10) -> None:
    """Remove ``folder``, trying again for a moment while a helper process that is being
    stopped may still be adding files to it (rmtree then finds a folder not empty)."""
    for _ in range(attempts):
        if folder is None or not folder.exists():
            return
        shutil.rmtree(folder, ignore_errors=True)
        if folder.exists():
            time.sleep(0.1)


def _swap_into_place(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``; a previous ``final`` is set aside first and removed after,
    or put back if the swap is interrupted (an error, Ctrl-C, SIGTERM) half-way."""
    if not final.exists():
        os.replace(tmp, final)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old.", dir=final.parent))
    claim(old)
    try:
        os.replace(final, old / "run")
        os.replace(tmp, final)
    except BaseException:
        if not final.exists() and (old / "run").exists():
            os.replace(old / "run", final)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_run_dir(name: str) -> Iterator[Path]:
    """Yield a temp folder beside ``reports_root()/name``; rename it into place on success.

    On any error the temp folder is removed, so a failed run leaves nothing half-written; a
    file-system failure inside the block (disk full, read-only, ...) is an ``EnvironmentFault``
    naming the path. The temp folder is claimed by this process, so the next run removes it if
    this one is killed. An existing run folder of the same name is replaced only once the new
    one is complete; two runs of the same name at once both finish, the later one in place.
    """
    root = make_dirs(reports_root(), "create the reports folder")
    remove_stale_temp_dirs(root)
    tmp: Path | None = None
    try:  # a signal may land anywhere from here on: whatever was made is removed
        with guarded(root, "create a run folder in"):
            tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
            claim(tmp)
            tmp.chmod(0o755)  # mkdtemp makes it owner-only; a report folder is shared
        yield tmp
    except OSError as exc:
        _remove(tmp)
        raise EnvironmentFault(describe(exc, tmp, "write the run folder")) from None
    except BaseException:
        _remove(tmp)
        raise
    final = root / name
    try:
        with guarded(final, "move the finished run into"), _folder_lock(root):
            _swap_into_place(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    with suppress(OSError):
        (final / OWNER_FILE).unlink()
