"""Child processes die with their parent: however ``drain`` ends (SIGKILL included), no helper
process it started computes on for more than a moment.

``die_with_parent(parent_pid)`` is called first thing in a child. On Linux it asks the kernel
for a signal when the parent ends (``prctl(PR_SET_PDEATHSIG)``); elsewhere, or if that fails, a
daemon thread polls ``os.getppid()`` twice a second. Either way the child gets SIGTERM, which
unwinds it like an exception (so it closes what it opened), and is killed outright if it has
not ended two seconds later.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
POLL_SECONDS = 0.5
GRACE_SECONDS = 2.0


def die_with_parent(parent_pid: int | None = None) -> None:
    """Make this process end when ``parent_pid`` (default: the current parent) ends."""
    parent = os.getppid() if parent_pid is None else parent_pid
    if sys.platform.startswith("linux") and _kernel_watch():
        if os.getppid() != parent:  # the parent died before the kernel was asked to watch it
            _end()
        return
    threading.Thread(target=_poll, args=(parent,), name="drain-lifeline", daemon=True).start()


def _kernel_watch() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _poll(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    _end()


def _end() -> None:
    exit_soon()
    os.kill(os.getpid(), signal.SIGTERM)


def exit_soon(seconds: float = GRACE_SECONDS) -> None:
    """End this process ``seconds`` from now whatever it is doing (a SIGTERM handler calls it
    before unwinding: a call stuck in C code cannot keep the process alive)."""
    def hard_exit() -> None:
        time.sleep(seconds)
        os._exit(128 + signal.SIGTERM)

    threading.Thread(target=hard_exit, name="drain-lifeline-exit", daemon=True).start()


__all__ = ["die_with_parent", "exit_soon"]
