"""Running sweep tasks: in this process, on a LocalCluster, or on a Dask scheduler.

Each finished task's rows come back to the calling process, which writes them to the store,
so workers need no shared file system: a cluster only has to have pssim installed. A task
that raises is retried (``RETRIES`` times, on any worker) and then reported; the others go
on. A scheduler that goes away ends the sweep in one :class:`SweepFault` (rerunning
resumes it), as does a LocalCluster that fails ``START_ATTEMPTS`` starts in a row (a loaded
machine can fail one: "Nanny failed to start").
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from simulator.errors import PssimError
from simulator.studies.sweeps._faults import SweepFault
from simulator.studies.sweeps._rows import Task, run_task

__all__ = [
    "MAX_WORKERS_PER_CORE",
    "RETRIES",
    "SERIAL",
    "TaskFailure",
    "check_scheduler",
    "default_workers",
    "executor",
]

#: Extra attempts of a failing task before it is reported.
RETRIES = 2
#: The ``scheduler`` that runs tasks in the calling process, one after another.
SERIAL = "serial"
#: LocalCluster workers allowed per core: each is a single-threaded process, so more than
#: one per core only shares the cores, while each costs a process's memory; a few per core
#: are still allowed (tasks that wait, measurements of oversubscription).
MAX_WORKERS_PER_CORE = 4
#: Starts of a LocalCluster tried before giving up, and the pause (seconds) after the
#: first failure (doubled after each next one).
START_ATTEMPTS = 3
START_PAUSE_S = 5.0
#: How long a starting worker may take to reach its scheduler: on a loaded machine,
#: longer than dask's default (30 s).
START_CONNECT_TIMEOUT = "120s"
#: Environment of LocalCluster workers: one BLAS/OpenMP thread each, so N workers use N
#: cores. (No XLA flags: they are part of JAX's compilation-cache key, and workers share
#: the cache with every other pssim process.)
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class TaskFailure(Exception):
    """A task that failed on every attempt: its configurations and the last error."""

    def __init__(self, task: Task, error: BaseException) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.task = task
        self.error = error


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def check_scheduler(scheduler: str | None, workers: int | None) -> tuple[str | None, int]:
    """Validated ``scheduler`` (None: a LocalCluster; ``serial``; or an address) and the
    number of LocalCluster workers (at most :data:`MAX_WORKERS_PER_CORE` per core this
    process may use)."""
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise PssimError(
            f"`scheduler` must be None, {SERIAL!r} or a Dask scheduler address such as "
            f"tcp://host:8786; got {scheduler!r}",
            param="scheduler",
        )
    if workers is None:
        return scheduler, default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise PssimError(f"`workers` must be an integer >= 1; got {workers!r}", param="workers")
    if scheduler == SERIAL:
        raise PssimError(
            "`workers` applies to the LocalCluster pssim starts; 'serial' runs in this process",
            param="workers",
        )
    if scheduler is not None:
        raise PssimError(
            "`workers` applies to the LocalCluster pssim starts; an existing cluster "
            f"({scheduler}) has its own workers",
            param="workers",
        )
    cores = default_workers()
    if workers > MAX_WORKERS_PER_CORE * cores:
        raise PssimError(
            f"`workers` must be <= {MAX_WORKERS_PER_CORE * cores} ({MAX_WORKERS_PER_CORE} "
            f"per core of the {cores} this process may use: more workers share the same "
            f"cores, each with its own memory); got {workers}",
            param="workers",
        )
    return scheduler, workers


@contextlib.contextmanager
def executor(scheduler: str | None, workers: int) -> Iterator[Callable[..., None]]:
    """Start the place tasks run (nothing for ``serial``, a LocalCluster, or a client of a
    running scheduler) and yield ``run(tasks, on_done, on_failed, after=None)``: it starts
    the tasks in their order (task ``i`` of the mapping ``after`` once task ``after[i]``
    has ended), calls ``on_done(task, table)`` in this process as each task finishes and
    ``on_failed(failure)`` for a task that failed on every attempt. Closed on the way out.
    """
    if scheduler == SERIAL:
        yield _run_serial
        return
    with _client(scheduler, workers) as client:
        yield functools.partial(_run_on_dask, client)


def _run_serial(tasks: Sequence[Task], on_done, on_failed, after=None) -> None:
    for task in tasks:  # in order: a task listed in ``after`` comes after its leader
        outcome = _attempt(task)
        if isinstance(outcome, TaskFailure):
            on_failed(outcome)
        else:
            on_done(task, outcome)


def _run_on_dask(
    client, tasks: Sequence[Task], on_done, on_failed, after: dict[int, int] | None = None
) -> None:
    """Submit ``tasks``, started in their order as workers free up (task ``i`` of
    ``after`` only once task ``after[i]`` has ended); a task that raised is a failure, a
    task the cluster dropped (its scheduler went away: futures cancelled) ends the run in
    one :class:`SweepFault`."""
    from dask.distributed import as_completed

    held: dict[int, list[int]] = {}
    for i, leader in (after or {}).items():
        held.setdefault(leader, []).append(i)
    waiting = {i for followers in held.values() for i in followers}

    def submit(i: int):
        # explicit priorities: Dask does not keep the order of tasks submitted together
        future = client.submit(
            run_task, tasks[i], retries=RETRIES, pure=False, priority=len(tasks) - i
        )
        futures[future] = i
        return future

    futures: dict = {}
    pending = as_completed([submit(i) for i in range(len(tasks)) if i not in waiting])
    try:
        for future in pending:
            i = futures.pop(future)
            task = tasks[i]
            if future.status in ("error", "finished"):  # ended: its followers may start
                for follower in held.pop(i, ()):
                    pending.add(submit(follower))
            if future.status == "error":
                on_failed(TaskFailure(task, future.exception()))
            elif future.status != "finished":
                raise _lost(client, 1 + len(futures) + _held_count(held))
            else:
                try:
                    rows = future.result()
                except Exception as err:  # its rows could not be fetched
                    if not _connected(client):
                        raise _lost(client, 1 + len(futures) + _held_count(held)) from err
                    on_failed(TaskFailure(task, err))
                else:
                    on_done(task, rows)
            future.release()
    finally:
        for future in futures:
            future.cancel()


def _held_count(held: dict[int, list[int]]) -> int:
    return sum(len(followers) for followers in held.values())


def _connected(client) -> bool:
    return getattr(client, "status", "running") == "running"


def _lost(client, unfinished: int) -> SweepFault:
    """The one line of a sweep whose scheduler went away."""
    address = getattr(getattr(client, "scheduler", None), "address", None)
    at = f" at {address}" if isinstance(address, str) else ""
    tasks = "task" if unfinished == 1 else "tasks"
    return SweepFault(
        f"the Dask scheduler{at} was lost with {unfinished} {tasks} unfinished; rerun the "
        "same sweep to resume it (the finished configurations are stored)"
    )


def _attempt(task: Task):
    error: BaseException | None = None
    for _ in range(1 + RETRIES):
        try:
            return run_task(task)
        except Exception as err:
            error = err
    assert error is not None
    return TaskFailure(task, error)


@contextlib.contextmanager
def _client(scheduler: str | None, workers: int) -> Iterator[object]:
    """A Dask client: to ``scheduler``, or to a LocalCluster of ``workers`` single-threaded
    processes that is closed on the way out."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - dask is a dependency
        raise PssimError(
            'sweeps on Dask need dask.distributed: pip install "dask[distributed]"'
        ) from None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as err:
            raise PssimError(
                f"`scheduler` {scheduler!r} cannot be reached: {err}", param="scheduler"
            ) from None
        try:
            yield client
        finally:
            # a client whose scheduler went away logs its cancelled reconnection as an
            # error with two tracebacks when closed: the sweep has said it in one line
            with _quiet("distributed") if not _connected(client) else contextlib.nullcontext():
                client.close()
        return
    try:
        cluster = _start_cluster(LocalCluster, workers)
        with cluster, Client(cluster) as client:
            yield client
    finally:
        gc.collect()  # release the cluster's semaphores now, not at a hurried exit


def _start_cluster(local_cluster, workers: int):
    """A LocalCluster of ``workers`` processes, tried :data:`START_ATTEMPTS` times (with
    pauses) before one :class:`SweepFault`."""
    import dask

    settings = {
        # Dask's nanny sets glibc's trim threshold low (many more page faults in the
        # timing engine): not kept.
        "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
        "distributed.comm.timeouts.connect": START_CONNECT_TIMEOUT,
    }
    pause, error = START_PAUSE_S, None
    for attempt in range(START_ATTEMPTS):
        if attempt:
            time.sleep(pause)
            pause *= 2
        environ = dict(os.environ)
        try:
            with (
                _interrupts_ignored(),  # worker processes inherit it: Ctrl-C stops pssim only
                dask.config.set(settings),
            ):
                return local_cluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address="127.0.0.1:0",  # local only, any free port
                    silence_logs=logging.CRITICAL,
                    env=WORKER_ENV,
                )
        except (RuntimeError, TimeoutError, asyncio.TimeoutError, OSError) as err:
            error = err
        finally:
            # the nanny writes its worker settings into this process's environment
            os.environ.clear()
            os.environ.update(environ)
    workers_shown = "worker" if workers == 1 else "workers"
    why = " ".join(str(error).split())[:200]
    raise SweepFault(
        f"a LocalCluster of {workers} {workers_shown} did not start in {START_ATTEMPTS} "
        f"tries ({type(error).__name__}: {why}); the machine may be overloaded: retry "
        "later, with fewer `workers`, or with `scheduler` 'serial'"
    )


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Logger ``name`` and those below it (dask gives some their own level and handler)
    silenced within the block."""
    loggers = [logging.getLogger(name)] + [
        logging.getLogger(other)
        for other in list(logging.root.manager.loggerDict)
        if other.startswith(f"{name}.")
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@contextlib.contextmanager
def _interrupts_ignored() -> Iterator[None]:
    """SIGINT ignored while processes are started (in the main thread only): a terminal's
    Ctrl-C reaches the whole process group, and the workers are stopped by pssim as it
    closes the cluster, without tracebacks of their own."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _start_quiet_resource_tracker()
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _start_quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (shared by the worker processes) without
    its warning about semaphores left by a worker stopped mid-task: on an interrupt the
    workers are terminated while they compute, and the tracker cleans up after them."""
    from multiprocessing import resource_tracker

    previous = os.environ.get("PYTHONWARNINGS")
    quiet = "ignore::UserWarning:multiprocessing.resource_tracker"
    os.environ["PYTHONWARNINGS"] = quiet if not previous else f"{previous},{quiet}"
    try:
        resource_tracker.ensure_running()
    finally:
        if previous is None:
            del os.environ["PYTHONWARNINGS"]
        else:
            os.environ["PYTHONWARNINGS"] = previous
