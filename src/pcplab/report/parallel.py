"""Where the units of a `compare` or `sweep` run: in this process, in worker processes, on Dask.

A unit (one machine x design x workload, :class:`pcplab.report.units.Unit`) is independent of
every other and seeded by its own parameters, so the order in which units finish changes nothing
in their results.  Every executor here takes plain data (the unit, whose design is the spec string
as given -- a built-in name or an absolute file path, loaded again by the worker -- and the
backend's name) and hands back ``(index, result, wall_s)`` as units finish; the caller stores each
result as it arrives (see :func:`pcplab.report.compare.run_units`).

* :class:`SerialExecutor`: in this process, in plan order (``--jobs 1``; the only executor that can
  pass a unit's own fine-grained progress through).
* :class:`ProcessExecutor`: ``concurrent.futures.ProcessPoolExecutor`` with the ``forkserver``
  start method (``spawn`` where there is none): workers import pcplab afresh instead of inheriting
  the parent's state (an open SQLite connection, a half-built progress display).  Workers ignore
  SIGINT: Ctrl-C reaches the parent, which stops the workers and reports ``aborted``.
* :class:`DaskExecutor`: ``dask.distributed.Client`` connected to a scheduler address (the optional
  extra ``dask``); the workers must have the same pcplab installed (and design files at the same
  paths).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol

from pcplab.errors import PcplabError

#: what an executor yields: (index into the units, result without provenance, wall seconds)
Finished = tuple[int, dict[str, Any], float]
UnitProgress = Callable[[int], Callable[..., Any] | None]


def run_unit(unit: Any, backend: Any, progress: Callable[..., Any] | None = None
             ) -> tuple[dict[str, Any], float]:
    """Run one unit with ``backend`` (a Backend, or its name in a worker); (result, wall s)."""
    from pcplab.report.backends import get_backend
    from pcplab.report.units import execute

    started = time.perf_counter()
    if isinstance(backend, str):
        backend = get_backend(backend)
    result = execute(unit, backend, progress)
    return result, time.perf_counter() - started


def _worker_init() -> None:
    # Ctrl-C goes to the whole process group; only the parent answers it (one "aborted" line,
    # no traceback from each worker)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a parent killed outright (SIGKILL) cannot stop its workers: they end themselves once its
    # end of the spawn pipe closes, instead of finishing their unit for nobody while holding the
    # parent's stdout and stderr open
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: Any) -> None:
    parent.join()
    os._exit(1)


class Executor(Protocol):
    def run(self, units: Sequence[Any], backend: Any,
            on_start: UnitProgress | None = None) -> Iterator[Finished]: ...


class SerialExecutor:
    """One unit after another in this process, in the given order."""

    jobs = 1

    def run(self, units: Sequence[Any], backend: Any,
            on_start: UnitProgress | None = None) -> Iterator[Finished]:
        for i, unit in enumerate(units):
            progress = on_start(i) if on_start else None
            result, wall = run_unit(unit, backend, progress)
            yield i, result, wall


#: imported once by the fork server, so that each worker forked from it starts with them loaded
#: (about a second per worker otherwise on a loaded 2-core machine); design files given by path
#: are not among them: every worker loads those itself
PRELOAD = ["pcplab.report.units", "pcplab.report.backends", "pcplab.sim.api", "pcplab.check.api"]


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


class ProcessExecutor:
    """Up to ``jobs`` units at once, each in a worker process; yields them as they finish."""

    def __init__(self, jobs: int) -> None:
        if jobs < 1:
            raise PcplabError(f"--jobs must be at least 1, got {jobs}")
        self.jobs = jobs

    def run(self, units: Sequence[Any], backend: Any,
            on_start: UnitProgress | None = None) -> Iterator[Finished]:
        if not units:
            return
        pool = ProcessPoolExecutor(max_workers=min(self.jobs, len(units)), mp_context=_context(),
                                   initializer=_worker_init)
        pending: dict[Future[tuple[dict[str, Any], float]], int] = {}
        try:
            for i, unit in enumerate(units):
                pending[pool.submit(run_unit, unit, backend.name)] = i
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                # the same finishing order for the same completion set: lowest index first
                for fut in sorted(done, key=pending.__getitem__):
                    i = pending.pop(fut)
                    result, wall = fut.result()
                    yield i, result, wall
        finally:
            if pending:
                _stop_pool(pool)
            else:
                pool.shutdown(wait=True)


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Interrupted or failed: nothing more is started and running workers are ended now (the
    results already stored stay; the units in flight are run again on resume)."""
    pool.shutdown(wait=False, cancel_futures=True)
    # Python 3.11 has no public way to end running workers (3.14 adds terminate_workers())
    procs = getattr(pool, "_processes", None) or {}
    for proc in list(procs.values()):
        if proc.is_alive():
            proc.terminate()
    for proc in list(procs.values()):
        proc.join(timeout=5)


class DaskExecutor:
    """Units on a Dask cluster (``dask.distributed``), yielded as they finish."""

    def __init__(self, scheduler: str) -> None:
        self.scheduler = scheduler
        self.jobs = 0  # decided by the cluster
        self.client: Any = None

    def connect(self) -> None:
        """Reach the scheduler now (the CLI does, before it opens the database): an unreachable
        cluster is bad input, reported before any work."""
        if self.client is not None:
            return
        distributed = import_distributed()
        try:
            self.client = distributed.Client(self.scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise PcplabError(f"cannot reach the Dask scheduler {self.scheduler} ({exc}); "
                              "start it (dask scheduler) or check --scheduler") from None

    def run(self, units: Sequence[Any], backend: Any,
            on_start: UnitProgress | None = None) -> Iterator[Finished]:
        if not units:
            return
        distributed = import_distributed()
        self.connect()
        client = self.client
        try:
            # pure=False: every unit is its own task even when two look alike to Dask's hashing
            futures = {client.submit(run_unit, unit, backend.name, pure=False,
                                     key=f"pcplab-unit-{os.getpid()}-{i}-{unit.key[:16]}"): i
                       for i, unit in enumerate(units)}
            for fut in distributed.as_completed(list(futures)):
                result, wall = fut.result()
                yield futures[fut], result, wall
        finally:
            client.close()
            self.client = None


def import_distributed() -> Any:
    try:
        import distributed
    except ModuleNotFoundError:
        raise PcplabError("--scheduler needs Dask: pip install 'pcplab[dask]' "
                          "(dask.distributed)") from None
    return distributed


def executor_for(jobs: int | None, scheduler: str | None = None) -> Executor:
    """``--scheduler`` wins; else ``jobs`` processes (None: the machine's cores; 1: serial)."""
    if scheduler:
        import_distributed()  # fails now, before any work, when the extra is missing
        return DaskExecutor(scheduler)
    n = default_jobs() if jobs is None else jobs
    return SerialExecutor() if n == 1 else ProcessExecutor(n)


def default_jobs() -> int:
    return max(1, os.cpu_count() or 1)
