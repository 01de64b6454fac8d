"""What every case of the fault corpus (tests/test_faults*.py) checks, and a loopback server.

``expect_fault`` runs ``drain`` in this process and asserts the exit status (2 a user mistake,
1 a fault of the environment or network), that no traceback was printed, that stderr holds one
or two ``drain:`` lines naming the problem, and that the listed folders (hidden entries
included) are exactly as before.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from drain_cli.main import main

Listing = dict[str, tuple[str, int]]


def listing(*roots: Path) -> dict[str, Listing]:
    """Every entry under each root (hidden ones included): kind and size of files."""
    out: dict[str, Listing] = {}
    for root in roots:
        entries: Listing = {}
        if root.is_dir():
            for dirpath, dirnames, filenames in os.walk(root):
                for name in dirnames:
                    entries[os.path.relpath(os.path.join(dirpath, name), root)] = ("dir", 0)
                for name in filenames:
                    path = os.path.join(dirpath, name)
                    entries[os.path.relpath(path, root)] = ("file", os.path.getsize(path))
        elif root.exists():
            entries["."] = ("file", root.stat().st_size)
        out[str(root)] = entries
    return out


def expect_fault(capsys, argv: list[str], status: int, words: str | Iterable[str],
                 roots: Iterable[Path]) -> str:
    """Run ``drain argv``; assert the status, one or two clean lines, nothing changed."""
    roots = list(roots)
    before = listing(*roots)
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, err
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 2 and all(line.startswith("drain: ") for line in lines), err
    assert code == status, (code, err)
    for word in [words] if isinstance(words, str) else words:
        assert word in err, (word, err)
    assert listing(*roots) == before, "the folders changed"
    return err


# --------------------------------------------------------------------- loopback HTTP server

Behaviour = Callable[[http.server.BaseHTTPRequestHandler], None]


class Loopback:
    """An HTTP server on 127.0.0.1 (a free port) in a daemon thread: the n-th request gets the
    n-th behaviour of ``script`` (the last one repeats). Every behaviour ends within seconds."""

    def __init__(self, script: list[Behaviour]) -> None:
        self.script = list(script)
        self.requests: list[str] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                owner.requests.append(self.path)
                n = min(len(owner.requests), len(owner.script)) - 1
                # the client giving up first is the point of several faults
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    owner.script[n](self)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/fredgraph.csv"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def answer(body: bytes | str, status: int = 200, headers: dict[str, str] | None = None,
           length: int | None = None) -> Behaviour:
    """A complete answer (``length`` overrides the Content-Length sent)."""
    data = body.encode() if isinstance(body, str) else body

    def serve(handler) -> None:
        handler.send_response(status)
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data) if length is None else length))
        handler.end_headers()
        handler.wfile.write(data)
        handler.wfile.flush()
        if length is not None and length > len(data):
            handler.close_connection = True

    return serve


def cut_off(body: str) -> Behaviour:
    """An answer without Content-Length whose connection closes mid-body."""
    def serve(handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/csv")
        handler.end_headers()
        handler.wfile.write(body.encode())
        handler.close_connection = True

    return serve


def redirect_to_self() -> Behaviour:
    def serve(handler) -> None:
        handler.send_response(302)
        handler.send_header("Location", handler.path)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return serve


def stall(seconds: float) -> Behaviour:
    """Headers, then silence for ``seconds``."""
    def serve(handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        handler.wfile.flush()
        time.sleep(seconds)

    return serve


def trickle(body: str, every: float, for_seconds: float) -> Behaviour:
    """One byte every ``every`` seconds, for at most ``for_seconds``."""
    def serve(handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body) * 100))
        handler.end_headers()
        ends = time.monotonic() + for_seconds
        data = (body * 100).encode()
        for k in range(len(data)):
            if time.monotonic() > ends:
                return
            handler.wfile.write(data[k:k + 1])
            handler.wfile.flush()
            time.sleep(every)

    return serve


def hang_up() -> Behaviour:
    """Close the connection without a word."""
    def serve(handler) -> None:
        handler.close_connection = True
        handler.connection.shutdown(2)

    return serve
