"""Where run outputs land: ``reports/`` in the working folder, or $DRAIN_REPORTS_DIR."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPORTS_ENV = "DRAIN_REPORTS_DIR"


def reports_root() -> Path:
    """The folder that holds one sub-folder per run."""
    return Path(os.environ.get(REPORTS_ENV, "reports"))


@contextmanager
def atomic_run_dir(name: str) -> Iterator[Path]:
    """Yield a temp folder beside ``reports_root()/name``; rename it into place on success.

    On any error the temp folder is removed, so a failed run leaves nothing half-written.
    An existing run folder of the same name is replaced only once the new one is complete.
    """
    root = reports_root()
    root.mkdir(parents=True, exist_ok=True)
    final = root / name
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    tmp.chmod(0o755)  # mkdtemp makes it owner-only; a report folder is meant to be shared
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{name}.old.", dir=root))
        os.replace(final, old / "run")
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
