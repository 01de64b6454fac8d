"""How a download fails: the errors callers see, and the retry with backoff that leads to them.

The source modules raise ``Transient`` for failures worth retrying (rate limits, 5xx answers,
timeouts, network errors); ``with_retries`` retries them with exponential backoff and, once the
attempts run out, turns them into ``NetworkUnavailable`` or ``SourceUnavailable``.
``EmptyDownload`` is a well-formed answer with nothing in it.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import tenacity

from drain_core.errors import DrainError, EnvironmentFault

MAX_ATTEMPTS = 4
RETRY_AFTER_CAP_SECONDS = 30.0  # a longer Retry-After is waited for this long, then retried
COMMAND_DEADLINE_SECONDS = 600.0  # one update, every request and wait included
# Read at call time, so tests can make it tiny: 1 s, 2 s, 4 s (+ up to 1 s jitter) between tries.
DEFAULT_WAIT: tenacity.wait.wait_base = tenacity.wait_exponential(
    multiplier=1, min=1, max=20
) + tenacity.wait_random(0, 1)
_T = TypeVar("_T")


class NetworkUnavailable(EnvironmentFault):
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


class SourceUnavailable(EnvironmentFault):
    """A source kept refusing (rate limit, 5xx, no answer) after retries; the cache is unchanged.

    Like ``NetworkUnavailable`` it is not a user mistake: ``drain data update`` exits with 1.
    """


class BadAnswer(EnvironmentFault):
    """A source answered, but not with the data asked for (an HTML page, a truncated or
    garbled body, a redirect loop): a fault of the server, exit status 1; nothing is written."""


class EmptyDownload(DrainError):
    """A well-formed answer with no observations in it (unknown symbol, or nothing new)."""


class Transient(Exception):
    """A failure worth retrying: kind is "rate", "server", "slow" or "offline";
    ``retry_after`` the seconds the server asked to wait (already capped), if it did."""

    def __init__(self, kind: str, source: str, detail: str, host: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind, self.source, self.detail, self.host = kind, source, detail, host
        self.retry_after = retry_after


def retry_after_seconds(header: str | None, now: float | None = None) -> float | None:
    """A ``Retry-After`` header (seconds, or an HTTP date) as seconds to wait, capped at
    RETRY_AFTER_CAP_SECONDS; None when absent or unreadable."""
    if not header:
        return None
    text = header.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_SECONDS)


class _HonourRetryAfter(tenacity.wait.wait_base):
    """The usual backoff, or the server's Retry-After when that is longer."""

    def __init__(self, base: tenacity.wait.wait_base) -> None:
        self.base = base

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        waited = self.base(retry_state)
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        asked = getattr(failure, "retry_after", None)
        return max(waited, asked) if asked is not None else waited


_deadline: float | None = None  # time.monotonic() by which the current command must be done


@contextmanager
def command_deadline(seconds: float | None = None) -> Iterator[None]:
    """Bound every retried download inside the block to ``seconds`` in all (default:
    COMMAND_DEADLINE_SECONDS): no new attempt starts, and no wait runs, past it."""
    global _deadline
    saved = _deadline
    _deadline = time.monotonic() + (COMMAND_DEADLINE_SECONDS if seconds is None else seconds)
    try:
        yield
    finally:
        _deadline = saved


def _past_deadline(retry_state: tenacity.RetryCallState) -> bool:
    return _deadline is not None and time.monotonic() >= _deadline


def with_retries(call: Callable[[], _T], wait: tenacity.wait.wait_base | None) -> _T:
    """Run ``call`` up to MAX_ATTEMPTS times while it fails transiently (no longer than the
    command's deadline); then a DrainError."""
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(MAX_ATTEMPTS) | _past_deadline,
        wait=_HonourRetryAfter(DEFAULT_WAIT if wait is None else wait),
        retry=tenacity.retry_if_exception_type(Transient),
        reraise=True,
        sleep=_sleep_within_deadline,
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


def _sleep_within_deadline(seconds: float) -> None:
    if _deadline is not None:
        seconds = min(seconds, max(0.0, _deadline - time.monotonic()))
    time.sleep(seconds)


__all__ = [
    "DEFAULT_WAIT",
    "BadAnswer",
    "MAX_ATTEMPTS",
    "EmptyDownload",
    "NetworkUnavailable",
    "SourceUnavailable",
    "Transient",
    "command_deadline",
    "retry_after_seconds",
    "with_retries",
]
