"""Every write of the project goes through here: file-system failures become one-line errors.

``guarded(path, "write the run folder")`` turns an ``OSError`` raised inside the block (disk full,
read-only, permission denied, name too long, a path that is a file, quota) into an
``EnvironmentFault`` naming the path and the fix; ``write_text``/``write_bytes`` write a file
atomically (a temp file beside it, renamed into place), so a failed write leaves nothing partial.

Temp folders (``.NAME.xxxx`` beside their final place) carry an owner file with the writing
process's pid and start time; ``remove_stale_temp_dirs`` deletes those whose owner is gone (a
``kill -9`` leaves them behind), and ``owner_alive`` tells a live owner from a reused pid.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from drain_core.errors import EnvironmentFault

OWNER_FILE = ".drain-owner"
# errno -> what to do about it (the path is named by the message itself)
_FIXES = {
    errno.ENOSPC: ("no space left on the device", "free some space and run the command again"),
    errno.EDQUOT: ("disk quota exceeded", "free some space and run the command again"),
    errno.EFBIG: ("file too large for this file system or process limit",
                  "free some space or raise the file-size limit and run the command again"),
    errno.EROFS: ("read-only file system",
                  "point DRAIN_REPORTS_DIR / DRAIN_CACHE_DIR at a writable folder"),
    errno.EACCES: ("permission denied",
                   "fix the folder's permissions or point DRAIN_REPORTS_DIR / DRAIN_CACHE_DIR "
                   "at a writable folder"),
    errno.EPERM: ("operation not permitted",
                  "fix the folder's permissions or point DRAIN_REPORTS_DIR / DRAIN_CACHE_DIR "
                  "at a writable folder"),
    errno.ENAMETOOLONG: ("file name too long", "use a shorter run name or a shorter folder path"),
    errno.ENOTDIR: ("a path on the way is a file, not a folder",
                    "move that file away or point DRAIN_REPORTS_DIR / DRAIN_CACHE_DIR elsewhere"),
    errno.EEXIST: ("a file is in the way", "move that file away and run the command again"),
    errno.EISDIR: ("a folder is in the way", "move that folder away and run the command again"),
    errno.ENOENT: ("no such file or folder",
                   "check the path; a folder may have been removed while the command ran"),
    errno.ENOTEMPTY: ("the folder is not empty (another command wrote it meanwhile)",
                      "run the command again"),
    errno.EIO: ("input/output error", "check the disk and run the command again"),
    errno.EMFILE: ("too many open files", "raise 'ulimit -n' and run the command again"),
}


def describe(exc: OSError, path: str | os.PathLike | None = None, action: str = "write") -> str:
    """One line for an ``OSError``: what failed, on which path, and how to fix it."""
    where = exc.filename if exc.filename is not None else path
    reason, fix = _FIXES.get(exc.errno or -1, (exc.strerror or type(exc).__name__,
                                               "check the path and run the command again"))
    target = f" {where}" if where is not None else ""
    return f"could not {action}{target}: {reason}; {fix}"


@contextmanager
def guarded(path: str | os.PathLike | None, action: str = "write") -> Iterator[None]:
    """Turn an ``OSError`` raised in the block into an ``EnvironmentFault`` (exit status 1)."""
    try:
        yield
    except OSError as exc:
        raise EnvironmentFault(describe(exc, path, action)) from None


def no_file_in_the_way(folder: str | os.PathLike, action: str = "create the folder") -> Path:
    """``folder``, if it is a folder or could be made one: a file where it or a folder above it
    should be is an ``EnvironmentFault`` naming that file. Nothing is created."""
    folder = Path(folder)
    for path in (folder, *folder.parents):  # up to the nearest one that exists
        if path.exists():
            if not path.is_dir():
                error = NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
                raise EnvironmentFault(describe(error, path, action))
            break
    return folder


def make_dirs(folder: str | os.PathLike, action: str = "create the folder") -> Path:
    """``folder`` and its parents, created if missing; a file in the way is a one-line error."""
    folder = no_file_in_the_way(folder, action)
    with guarded(folder, action):
        folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def undone_if_failed(folder: str | os.PathLike, leftovers: Iterable[str] = ()) -> Iterator[None]:
    """If the block fails, remove the folders up to ``folder`` that did not exist before it,
    after the files ``leftovers`` in ``folder`` (a lock file); a folder something else wrote
    into is kept."""
    folder = Path(folder).absolute()
    created = [path for path in (folder, *folder.parents) if not path.exists()]
    try:
        yield
    except BaseException:
        if created:
            for name in leftovers:
                with suppress(OSError):
                    (folder / name).unlink()
        for path in created:  # the deepest first
            with suppress(OSError):
                path.rmdir()
        raise


def write_bytes(path: str | os.PathLike, data: bytes | memoryview, action: str = "write",
                ) -> Path:
    """Write ``data`` to ``path`` atomically: nothing partial is ever seen at ``path``."""
    path = Path(path)
    with guarded(path, action):
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return path


def write_text(path: str | os.PathLike, text: str, action: str = "write") -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"), action)


# ------------------------------------------------------------------------ temp folder owners


def _start_time(pid: int) -> str | None:
    """The kernel's start time of process ``pid`` (Linux), telling a reused pid from its first
    owner; None where /proc is not available or the process does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after the command name


def claim(folder: Path) -> None:
    """Mark ``folder`` as being written by this process."""
    pid = os.getpid()
    (folder / OWNER_FILE).write_text(f"{pid} {_start_time(pid) or '-'}\n")


def owner_alive(folder: Path) -> bool:
    """Whether the process that claimed ``folder`` still runs (no owner file: assumed alive)."""
    try:
        pid_text, started = (folder / OWNER_FILE).read_text().split()
        pid = int(pid_text)
    except FileNotFoundError:
        return True
    except (OSError, ValueError):  # a torn owner file: its writer died while writing it
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    now = _start_time(pid)
    return started == "-" or now is None or now == started


def remove_stale_temp_dirs(root: Path, prefix: str = ".") -> list[Path]:
    """Delete the claimed temp folders under ``root`` whose owner process is gone."""
    removed = []
    try:
        candidates = [p for p in root.iterdir() if p.name.startswith(prefix) and p.is_dir()]
    except OSError:
        return removed
    for folder in candidates:
        if (folder / OWNER_FILE).exists() and not owner_alive(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


__all__ = ["OWNER_FILE", "claim", "describe", "guarded", "make_dirs", "no_file_in_the_way",
           "owner_alive", "remove_stale_temp_dirs", "write_bytes", "write_text"]
