"""Running sweep tasks: in this process, on a LocalCluster, or on a Dask scheduler.

Each finished task's rows come back to the calling process, which writes them to the store,
so workers need no shared file system: a cluster only has to have pssim installed. A task
that raises is retried (``RETRIES`` times, on any worker) and then reported; the others go
on.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence

from simulator.errors import PssimError
from simulator.studies._sweep_rows import Task, run_task

__all__ = ["RETRIES", "SERIAL", "TaskFailure", "check_scheduler", "default_workers", "executor"]

#: Extra attempts of a failing task before it is reported.
RETRIES = 2
#: The ``scheduler`` that runs tasks in the calling process, one after another.
SERIAL = "serial"
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
    number of LocalCluster workers."""
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
    return scheduler, workers


@contextlib.contextmanager
def executor(scheduler: str | None, workers: int) -> Iterator[Callable[..., None]]:
    """Start the place tasks run (nothing for ``serial``, a LocalCluster, or a client of a
    running scheduler) and yield ``run(tasks, on_done, on_failed)``: it calls
    ``on_done(task, table)`` in this process as each task finishes and
    ``on_failed(failure)`` for a task that failed on every attempt. Closed on the way out.
    """
    if scheduler == SERIAL:
        yield _run_serial
        return
    with _client(scheduler, workers) as client:
        yield functools.partial(_run_on_dask, client)


def _run_serial(tasks: Sequence[Task], on_done, on_failed) -> None:
    for task in tasks:
        outcome = _attempt(task)
        if isinstance(outcome, TaskFailure):
            on_failed(outcome)
        else:
            on_done(task, outcome)


def _run_on_dask(client, tasks: Sequence[Task], on_done, on_failed) -> None:
    from dask.distributed import as_completed

    futures = {client.submit(run_task, task, retries=RETRIES, pure=False): task for task in tasks}
    try:
        for future in as_completed(futures):
            task = futures.pop(future)
            if future.status == "finished":
                on_done(task, future.result())
            else:
                on_failed(TaskFailure(task, future.exception()))
            future.release()
    finally:
        for future in futures:
            future.cancel()


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
        with client:
            yield client
        return
    import dask

    environ = dict(os.environ)
    try:
        # Dask's nanny writes its worker settings into this process's environment, and
        # sets glibc's trim threshold low (many more page faults in the timing engine):
        # neither is kept.
        with (
            _interrupts_ignored(),  # worker processes inherit it: Ctrl-C stops pssim only
            dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}),
        ):
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address="127.0.0.1:0",  # local only, any free port
                silence_logs=logging.CRITICAL,
                env=WORKER_ENV,
            )
        os.environ.clear()
        os.environ.update(environ)
        with cluster, Client(cluster) as client:
            yield client
    finally:
        gc.collect()  # release the cluster's semaphores now, not at a hurried exit


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
