"""Signals in the CLI: a stop request becomes an exception, and cleanups run to the end.

SIGINT already raises ``KeyboardInterrupt``; :func:`stop_raises` makes SIGTERM and SIGHUP
raise :class:`Terminated`, so the ``finally`` blocks that remove temporary files run for
them too. An exception raised by a signal handler can land in a finalizer or a garbage
collector callback (JAX has one), where Python can only report it and goes on; within
:func:`stop_raises` such a swallowed stop is sent again, so it reaches ordinary code.
:func:`deferred` holds these signals while a short cleanup or rename runs, and delivers
them when it ends. Both act in the main thread only (elsewhere they do nothing) and leave
a signal that is ignored (``nohup``, a background job) ignored.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator

__all__ = ["Terminated", "deferred", "stop_raises"]

#: Seconds after which a swallowed stop is sent again (the hook has long returned by then).
RESEND_DELAY_S = 0.01
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


def _stop_signal(error: BaseException) -> int | None:
    """The signal behind a stop exception (None for any other exception)."""
    if isinstance(error, KeyboardInterrupt):
        return int(signal.SIGINT)
    return error.signum if isinstance(error, Terminated) else None


@contextlib.contextmanager
def stop_raises() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Terminated` (if not ignored), and
    a stop swallowed where Python cannot raise (a finalizer, a gc callback) is sent again."""
    old = {}
    previous_hook = sys.unraisablehook

    def resend_swallowed_stop(unraisable) -> None:
        signum = _stop_signal(unraisable.exc_value)
        if signum is None:
            previous_hook(unraisable)
        else:  # sent again a moment later, from a helper thread: the main thread runs the
            # handler once this hook has returned (raising it here would be swallowed again)
            threading.Timer(RESEND_DELAY_S, os.kill, (os.getpid(), signum)).start()

    try:
        if _in_main_thread():
            for signum in STOP_SIGNALS:
                if signal.getsignal(signum) is signal.SIG_DFL:
                    old[signum] = signal.signal(signum, _raise_terminated)
            sys.unraisablehook = resend_swallowed_stop
        yield
    finally:
        sys.unraisablehook = previous_hook
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
