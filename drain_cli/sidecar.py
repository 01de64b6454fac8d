"""A second Python process that runs the functions it is sent, in order, while this one works on.

``drain backtest`` has two cores and two long imports: vectorbt for the portfolio, matplotlib
and quantstats for the tearsheet. It starts a ``Sidecar`` first thing, sends it the steps that
need neither vectorbt nor this process (data, signal and weights, then the tearsheet's imports,
later the tearsheet itself), and imports vectorbt meanwhile:

    with Sidecar() as sidecar:
        prepared = sidecar.submit(prepare_run, config)   # a concurrent.futures.Future
        sidecar.submit(import_plotting)
        ...                                              # this process imports vectorbt
        run = simulate(prepared.result())                # raises what prepare_run raised

Arguments and results travel by pickle. Leaving the block stops the sidecar at once, whatever it
is doing (a user's mistake found meanwhile must not wait for its imports).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import threading
import traceback
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from multiprocessing.connection import Connection


class Sidecar(Executor):
    """An executor of one spawned process: calls run one after another, results come back as
    futures (filled by a thread that reads the process's replies)."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")  # a clean process, on every platform
        calls_out, calls_in = context.Pipe(duplex=False)
        replies_out, replies_in = context.Pipe(duplex=False)
        self._process = context.Process(target=_serve, args=(calls_out, replies_in, os.getpid()),
                                         name="drain-sidecar")
        with _signals_deferred():  # a process stopped half-way through its start would
            self._process.start()  # print a traceback for the data it never received
        calls_out.close()
        replies_in.close()
        self._calls = calls_in
        self._replies = replies_out
        self._pending: dict[int, Future] = {}
        self._lock = threading.Lock()
        self._count = 0
        self._reader = threading.Thread(target=self._read_replies, name="drain-sidecar-replies",
                                        daemon=True)
        self._reader.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Run ``fn(*args, **kwargs)`` in the sidecar after the calls sent before."""
        future: Future = Future()
        with self._lock:
            if self._calls.closed:
                raise RuntimeError("the sidecar is shut down")
            number = self._count
            self._count += 1
            self._pending[number] = future
            self._calls.send((number, fn, args, kwargs))
        return future

    def _read_replies(self) -> None:
        while True:
            try:
                number, ok, value = self._replies.recv()
            except (EOFError, OSError):  # the process ended
                break
            with self._lock:
                future = self._pending.pop(number)
            (future.set_result if ok else future.set_exception)(value)
        with self._lock:
            stranded, self._pending = list(self._pending.values()), {}
        for future in stranded:
            future.set_exception(RuntimeError(f"the sidecar process stopped before answering "
                                              f"(exit code {self._process.exitcode})"))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the sidecar now: calls not finished get an error."""
        with self._lock:
            self._calls.close()
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        self._reader.join()
        self._replies.close()


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done (POSIX; elsewhere a no-op). A process
    started inside inherits the mask: ``_serve`` lifts it."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _serve(calls: Connection, replies: Connection, parent: int) -> None:
    """The sidecar's loop: run each call it is sent and send back its result or its exception,
    until the other end closes. Ctrl-C is left to the caller, which stops the sidecar with
    SIGTERM; that unwinds like an exception, so whatever the running call opened is closed.
    If the caller dies (even by SIGKILL) the sidecar gets SIGTERM too and ends within seconds."""
    from drain_core.lifeline import die_with_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop)
    if hasattr(signal, "pthread_sigmask"):  # blocked while the caller started this process
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    die_with_parent(parent)
    try:
        _serve_calls(calls, replies)
    finally:  # from here the interpreter only shuts down: a SIGTERM raising SystemExit now
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # would land in an exit handler and
        # print its traceback; the default action ends the process quietly instead


def _serve_calls(calls: Connection, replies: Connection) -> None:
    while True:
        try:
            number, fn, args, kwargs = calls.recv()
        except EOFError:
            gc.freeze()  # exit without walking every object the imports made (about 0.5 s)
            return
        try:
            reply = (number, True, fn(*args, **kwargs))
        except Exception as exc:  # sent back whole, raised in the caller
            exc.add_note("".join(traceback.format_exception(exc)).rstrip())
            reply = (number, False, exc)
        try:
            _send(replies, reply, fn)
        except OSError:  # the caller is gone (BrokenPipeError): nobody to answer
            gc.freeze()
            return


def _send(replies: Connection, reply: tuple, fn: Callable[..., Any]) -> None:
    try:
        replies.send(reply)
    except OSError:
        raise
    except Exception as exc:  # a result or exception that cannot be pickled
        replies.send((reply[0], False, RuntimeError(f"{fn.__name__}: its result could not "
                                                    f"be sent back ({exc})")))


def _stop(signum: int, frame: object) -> None:
    from drain_core.lifeline import exit_soon

    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: a second one would land mid-unwind
    exit_soon()  # unwinding must not take long: a figure pool waits for its workers
    gc.freeze()
    raise SystemExit(128 + signum)
