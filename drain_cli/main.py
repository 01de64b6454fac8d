"""Entry point of the ``drain`` command: parse arguments, dispatch, turn errors into one line.

Exit status: 0 done, 1 a fault of the environment (disk, file system, network, data source),
2 a mistake in the command or its files, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).

Each subcommand lives in its own module ``drain_cli/<name>_cmd.py`` exposing
``add_arguments(parser)`` and ``run(args) -> int``; heavy libraries are imported inside ``run``.
"""

from __future__ import annotations

import _thread
import argparse
import gc
import importlib
import importlib.util
import os
import signal
import sys
import threading

from drain_core.errors import DrainError, EnvironmentFault

COMMANDS = {
    "data": ("drain_cli.data_cmd", "inspect and refresh the data (show, update)"),
    "signal": ("drain_cli.signal_cmd", "compute the liquidity-drain signal and its plot"),
    "backtest": ("drain_cli.backtest_cmd", "backtest a rotation strategy and write its report"),
    "report": ("drain_cli.report_cmd", "rebuild the reports of a finished run"),
    "tune": ("drain_cli.tune_cmd", "sweep parameters with walk-forward and overfitting checks"),
    "thesis": ("drain_cli.thesis_cmd", "test each claim of the thesis against the data"),
    "placebo": ("drain_cli.placebo_cmd", "placebo backtests: surrogate signals, random baskets"),
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage mistakes in one line with exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"drain: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, one sub-parser per available command module."""
    parser = _Parser(prog="drain", description="liquidity-drain: test the AI-capex drain thesis")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, (module_name, help_text) in COMMANDS.items():
        if importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like Ctrl-C, so temp folders and child processes are cleaned."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


REDELIVER_AFTER_SECONDS = 0.05


class _LostInterrupts:
    """``sys.unraisablehook`` while ``main`` runs. A Ctrl-C or SIGTERM whose exception is raised
    inside a weakref callback or ``__del__`` (an import-lock callback, say) is swallowed by
    Python with an "Exception ignored" traceback, and the run would go on as if never stopped.
    This hook delivers such a signal again a moment later, from outside that callback; every
    other unraisable exception goes to the hook it replaced."""

    def __init__(self, previous) -> None:
        self.previous = previous
        self.timers: list[threading.Timer] = []

    def __call__(self, unraisable) -> None:
        signum = {KeyboardInterrupt: signal.SIGINT, Terminated: signal.SIGTERM}.get(
            unraisable.exc_type)
        if signum is None:
            self.previous(unraisable)
            return
        timer = threading.Timer(REDELIVER_AFTER_SECONDS, _thread.interrupt_main, (signum,))
        timer.daemon = True
        self.timers.append(timer)
        timer.start()

    def cancel(self) -> None:
        """Stop deliveries still pending: ``main`` is done and its status decided. A timer
        already past its wait is joined, so no delivery lands after this returns."""
        for timer in self.timers:
            timer.cancel()
        for timer in self.timers:
            timer.join()


def _set_dropping_pending(signum: int, handler) -> None:
    """Install ``handler`` for ``signum``, dropping a delivery still pending (one re-delivered
    as ``main`` decided its status): Python runs pending handlers before changing one, so the
    handler is first set to SIG_IGN, under which a pending delivery is discarded."""
    while True:
        try:
            signal.signal(signum, signal.SIG_IGN)
            break
        except (KeyboardInterrupt, Terminated):
            continue
    signal.signal(signum, handler)


def main(argv: list[str] | None = None) -> int:
    """Run ``drain``; every failure is one line on stderr (never a traceback) and its status."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    previous_sigint = signal.getsignal(signal.SIGINT)
    lost = _LostInterrupts(sys.unraisablehook)
    if in_main_thread:
        sys.unraisablehook = lost
    try:
        args = build_parser().parse_args(argv)
        return int(args._run(args) or 0)
    except EnvironmentFault as exc:
        return _fail(f"drain: error: {exc}", 1)
    except DrainError as exc:
        return _fail(f"drain: error: {exc}", 2)
    except BrokenPipeError:  # the reader of our output went away (drain ... | head)
        _silence_stdout()
        return 1
    except OSError as exc:  # a file-system fault no module turned into a DrainError
        from drain_core.fs import describe

        return _fail(f"drain: error: {describe(exc)}", 1)
    except KeyboardInterrupt:
        return _fail("drain: interrupted; nothing half-written was left behind", 130)
    except Terminated:
        return _fail("drain: terminated (SIGTERM); nothing half-written was left behind", 143)
    finally:
        if in_main_thread:  # None: a handler set outside Python, restored as the default
            lost.cancel()
            _set_dropping_pending(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
            _set_dropping_pending(signal.SIGINT, signal.SIG_DFL if previous_sigint is None
                                  else previous_sigint)
            sys.unraisablehook = lost.previous


def _fail(line: str, status: int) -> int:
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except OSError:
        pass
    return status


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so flushing it at exit raises no second BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def cli() -> None:
    """The ``drain`` console script: ``main()``, then exit without the interpreter's last
    garbage collection, which walks every object vectorbt and numba created (about 0.7 s of
    a ``drain backtest``); ``gc.freeze`` exempts them. Exit handlers and flushing still run."""
    try:
        code = main()
    except KeyboardInterrupt:  # a second Ctrl-C while the first one's line was written
        code = 130
    except Terminated:
        code = 143
    if threading.current_thread() is threading.main_thread():
        # Cleanup is done and the status decided: a Ctrl-C landing now (or one held back while
        # a child started) must not turn the exit into a death by SIGINT with another status.
        _set_dropping_pending(signal.SIGINT, signal.SIG_IGN)
    gc.freeze()
    sys.exit(code)

