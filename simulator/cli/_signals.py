"""Signals in the CLI: a stop request becomes an exception, and cleanups run to the end.

SIGINT already raises ``KeyboardInterrupt``; :func:`stop_raises` makes SIGTERM and SIGHUP
raise :class:`Terminated`, so the ``finally`` blocks that remove temporary files run for
them too. :func:`deferred` holds these signals while a short cleanup or rename runs, and
delivers them when it ends. Both act in the main thread only (elsewhere they do nothing)
and leave a signal that is ignored (``nohup``, a background job) ignored.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["Terminated", "deferred", "stop_raises"]

#: Signals that ask the process to stop (SIGHUP: the terminal went away).
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Terminated(BaseException):
    """The process was asked to stop by signal ``signum`` (a ``BaseException``, like
    ``KeyboardInterrupt``, so that ``except Exception`` does not swallow it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)  # args alone rebuild it (SimPy re-raises type(e)(*e.args))

    @property
    def signum(self) -> int:
        return int(self.args[0])

    def __str__(self) -> str:
        return signal.Signals(self.signum).name


def _raise_terminated(signum, frame) -> None:
    raise Terminated(signum)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def stop_raises() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Terminated` (if not ignored)."""
    old = {}
    try:
        if _in_main_thread():
            for signum in STOP_SIGNALS:
                if signal.getsignal(signum) is signal.SIG_DFL:
                    old[signum] = signal.signal(signum, _raise_terminated)
        yield
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT and the stop signals until the block ends, then deliver them."""
    pending: list[int] = []
    old = {}
    try:
        if _in_main_thread():
            for signum in (signal.SIGINT, *STOP_SIGNALS):
                if signal.getsignal(signum) not in (signal.SIG_IGN, None):
                    old[signum] = signal.signal(signum, lambda n, _f: pending.append(n))
        yield
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(pending):
            signal.raise_signal(signum)
