"""What else used the machine while a benchmark ran, and what its worker processes used
(for ``benchmarks/sweep.py``: wall-clock ratios on a shared machine measure its load as much
as the code, so each ratio is reported beside the cores that were free)."""

from __future__ import annotations

import os
import resource
import threading
import time

import psutil  # a dependency of dask.distributed

from simulator.studies.sweeps._exec import default_workers

#: Seconds between two readings of the worker processes' CPU time, and the CPU seconds
#: below which a child process is not counted as a worker that did work.
POLL_S, MIN_WORKER_CPU_S = 0.1, 0.05


def cpu_s() -> float:
    """CPU seconds of this process and of its ended child processes (the workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Monitor:
    """What else used the machine while a run ran, and what each worker process used.

    ``free_cores``: the cores this process may use minus the CPU seconds the rest of the
    machine used meanwhile (all cores' busy and stolen time, less this process's and its
    children's) over the wall time; ``load_start`` and ``load_end``: the 1-minute load
    averages; ``worker_cpu_s``: CPU seconds of each child process that did work (the
    LocalCluster's workers, polled every :data:`POLL_S` until they end), busiest first.
    """

    def __enter__(self) -> Monitor:
        self.load_start = os.getloadavg()[0]
        self._busy0, self._own0 = _machine_busy_s(), cpu_s()
        self._t0 = time.perf_counter()
        self._children: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(POLL_S):
            for child in me.children(recursive=True):
                try:
                    t = child.cpu_times()
                except psutil.Error:  # ended meanwhile
                    continue
                self._children[child.pid] = t.user + t.system
        return

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        wall = time.perf_counter() - self._t0
        others = max(0.0, (_machine_busy_s() - self._busy0) - (cpu_s() - self._own0))
        self.load_end = os.getloadavg()[0]
        self.others_cpu_s = others
        cores = default_workers()
        self.free_cores = max(0.0, cores - others / wall) if wall > 0 else float(cores)
        busy = sorted((c for c in self._children.values() if c >= MIN_WORKER_CPU_S), reverse=True)
        self.worker_cpu_s = busy

    def figures(self, prefix: str) -> dict:
        return {
            f"free_cores_{prefix}": self.free_cores,
            f"others_cpu_s_{prefix}": self.others_cpu_s,
            f"load_start_{prefix}": self.load_start,
            f"load_end_{prefix}": self.load_end,
        }


def _machine_busy_s() -> float:
    """CPU seconds all cores spent busy (or stolen by the host) since boot."""
    t = psutil.cpu_times()
    return (
        sum(t)
        - t.idle
        - getattr(t, "iowait", 0.0)
        - getattr(t, "guest", 0.0)
        - getattr(t, "guest_nice", 0.0)
    )
