"""Faults of the machine during a sweep (not bad input): a full disk, a lost scheduler, a
cluster that cannot start.

Each is one line that says what happened and what to do; the store keeps every finished
task, so rerunning the same sweep resumes it.
"""

from __future__ import annotations

__all__ = ["SweepFault"]


class SweepFault(OSError):
    """A sweep stopped by its environment, in one line (an ``OSError``; not a
    :class:`~simulator.errors.PssimError`: the input was fine).

    Args:
        message: one line: what failed, where, and what to do.
        errno: the operating system's error number, when one caused it.
    """

    def __init__(self, message: str, *, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno

    def __str__(self) -> str:
        return str(self.args[0])
