"""How a download fails: the errors callers see, and the retry with backoff that leads to them.

The source modules raise ``Transient`` for failures worth retrying (rate limits, 5xx answers,
timeouts, network errors); ``with_retries`` retries them with exponential backoff and, once the
attempts run out, turns them into ``NetworkUnavailable`` or ``SourceUnavailable``.
``EmptyDownload`` is a well-formed answer with nothing in it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import tenacity

from drain_core.errors import DrainError

MAX_ATTEMPTS = 4
# Read at call time, so tests can make it tiny: 1 s, 2 s, 4 s (+ up to 1 s jitter) between tries.
DEFAULT_WAIT: tenacity.wait.wait_base = tenacity.wait_exponential(
    multiplier=1, min=1, max=20
) + tenacity.wait_random(0, 1)
_T = TypeVar("_T")


class NetworkUnavailable(DrainError):
    """No connection to a data source after retries; the cache was left as it was.

    Not a user mistake: ``drain data update`` reports it in one line and exits with status 1.
    """

    def __init__(self, host: str | None = None) -> None:
        where = f" (could not reach {host})" if host else ""
        super().__init__(
            f"the network is unavailable{where}; nothing was updated and the engine keeps "
            f"working from the cache and the embedded snapshot"
        )
        self.host = host


class SourceUnavailable(DrainError):
    """A source kept refusing (rate limit, 5xx, no answer) after retries; the cache is unchanged.

    Like ``NetworkUnavailable`` it is not a user mistake: ``drain data update`` exits with 1.
    """


class EmptyDownload(DrainError):
    """A well-formed answer with no observations in it (unknown symbol, or nothing new)."""


class Transient(Exception):
    """A failure worth retrying: kind is "rate", "server", "slow" or "offline"."""

    def __init__(self, kind: str, source: str, detail: str, host: str | None = None) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind, self.source, self.detail, self.host = kind, source, detail, host


def with_retries(call: Callable[[], _T], wait: tenacity.wait.wait_base | None) -> _T:
    """Run ``call`` up to MAX_ATTEMPTS times while it fails transiently; then a DrainError."""
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(MAX_ATTEMPTS),
        wait=DEFAULT_WAIT if wait is None else wait,
        retry=tenacity.retry_if_exception_type(Transient),
        reraise=True,
    )
    try:
        return retrying(call)
    except Transient as exc:
        if exc.kind == "offline":
            raise NetworkUnavailable(exc.host) from None
        what = {
            "rate": "kept rate-limiting the requests",
            "server": f"kept failing ({exc.detail})",
            "slow": f"did not answer in time ({exc.detail})",
        }[exc.kind]
        raise SourceUnavailable(
            f"{exc.source} {what} after {MAX_ATTEMPTS} attempts; nothing was updated, "
            f"try again in a few minutes"
        ) from None


__all__ = [
    "DEFAULT_WAIT",
    "MAX_ATTEMPTS",
    "EmptyDownload",
    "NetworkUnavailable",
    "SourceUnavailable",
    "Transient",
    "with_retries",
]
