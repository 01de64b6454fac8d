"""Where sweep chunks (and placebo runs) execute: in this process, or on a Dask cluster.

``open_executor()`` is a context manager. With no workers and no scheduler it yields ``None``:
callers then take their in-process path (the sweep's pipelined threads). Otherwise it yields a
:class:`DaskExecutor` around a ``dask.distributed.Client``:

* ``workers=N``: a ``LocalCluster`` on this machine, N worker processes with one thread each
  (and one numba thread each, so N workers use N cores), their background work trimmed
  (``QUIET_CLUSTER``: no statistical profiler sampling every task, the event-loop and
  system monitors every few seconds rather than many times a second), the client fetching
  results straight from the workers rather than through the scheduler;
* ``scheduler=ADDRESS`` (or the environment variable ``DRAIN_DASK_SCHEDULER``): an existing
  cluster, e.g. one started with ``dask scheduler`` and ``dask worker ADDRESS`` on other hosts
  (or dask-jobqueue, dask-kubernetes behind the same address).

The dashboard address is printed (to stderr) when a cluster is used. On leaving the context,
including by Ctrl-C, the client is closed and a local cluster is shut down with its workers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from drain_core.errors import DrainError, EnvironmentFault

SCHEDULER_ENV = "DRAIN_DASK_SCHEDULER"
ONE_THREAD = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
RETRIES = 2  # a task that raises (or whose worker dies) is run again this many times
QUIET_CLUSTER = {  # a local cluster's background work, which takes the cores the sweep uses
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
}


class DaskExecutor:
    """A ``dask.distributed.Client`` with the defaults sweeps rely on."""

    def __init__(self, client: Any, retries: int = RETRIES) -> None:
        self.client = client
        self.retries = retries

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` on a worker; a future (``.result()``). Tasks are never
        deduplicated (``pure=False``) and are retried ``retries`` times on failure."""
        kwargs.setdefault("pure", False)
        kwargs.setdefault("retries", self.retries)
        return self.client.submit(fn, *args, **kwargs)

    def scatter(self, value: Any) -> Any:
        """``value`` copied once to every worker; a future that tasks take as an argument."""
        return self.client.scatter(value, broadcast=True, hash=False)

    def run_on_workers(self, fn: Callable[..., Any], *args: Any) -> None:
        """``fn(*args)`` once on every worker (e.g. to drop per-sweep state)."""
        self.client.run(fn, *args)

    @property
    def n_workers(self) -> int:
        """Workers connected now."""
        return len(self.worker_addresses())

    def worker_addresses(self) -> list[str]:
        """Addresses of the workers connected now, sorted."""
        return sorted(self.client.scheduler_info(n_workers=-1).get("workers", {}))

    def first_done(self, futures: list[Any]) -> list[Any]:
        """Wait until at least one of ``futures`` is done; the done ones, in given order."""
        from distributed import wait

        done = wait(futures, return_when="FIRST_COMPLETED").done
        return [f for f in futures if f in done]

    def cancel(self, futures: list[Any]) -> None:
        """Cancel futures still pending (an interrupted sweep)."""
        self.client.cancel(futures, force=True)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@contextlib.contextmanager
def open_executor(workers: int | None = None, scheduler: str | None = None,
                  *, processes: bool = True, quiet: bool = False,
                  connect_timeout: float = 10.0) -> Iterator[DaskExecutor | None]:
    """``None`` (in-process) without workers or a scheduler; else a :class:`DaskExecutor` on
    a ``LocalCluster`` of ``workers`` processes (one thread each) or on the scheduler at
    ``scheduler`` (default: the ``DRAIN_DASK_SCHEDULER`` environment variable, when set).
    ``processes=False`` runs local workers as threads of this process (for tests);
    ``connect_timeout`` is how many seconds to wait for a scheduler."""
    scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or None
    if workers is not None and (isinstance(workers, bool) or workers < 0):
        raise DrainError(f"the number of workers must be a whole number >= 0, got {workers!r}")
    if workers and workers > (cores := usable_cores()):
        raise DrainError(f"{workers} local workers are more than this machine's {cores} "
                         f"cores (each worker is a process computing on one core); give at most "
                         f"{cores}, or a scheduler address for a cluster")
    if scheduler and workers:
        raise DrainError("give either a number of local workers or a scheduler address, "
                         "not both")
    if not scheduler and not workers:
        yield None
        return
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - a dependency of the package
        raise DrainError("dask.distributed is not installed; install it with "
                         "\"pip install 'dask[distributed]'\"") from None
    with contextlib.ExitStack() as stack:
        if scheduler:
            try:
                client = stack.enter_context(Client(scheduler, timeout=connect_timeout))
            except ValueError as exc:  # distributed's address parser: not host:port
                raise DrainError(f"{scheduler!r} is not a Dask scheduler address ({exc}); give "
                                 f"one like tcp://host:8786") from None
            except (OSError, TimeoutError) as exc:
                raise EnvironmentFault(f"cannot reach the Dask scheduler at {scheduler!r} "
                                       f"({exc}); start one with 'dask scheduler' or fix the "
                                       f"address") from None
        else:
            one_thread = {"env": {name: "1" for name in ONE_THREAD}} if processes else {}
            with dask.config.set(QUIET_CLUSTER):
                cluster = stack.enter_context(LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=processes,
                    dashboard_address=":0", silence_logs=logging.ERROR, **one_thread))
                client = stack.enter_context(Client(cluster, direct_to_workers=True))
        if not quiet:
            print(f"dask: {len(client.scheduler_info(n_workers=-1).get('workers', {}))} "
                  f"workers, dashboard {client.dashboard_link}", file=sys.stderr)
        yield DaskExecutor(client)
