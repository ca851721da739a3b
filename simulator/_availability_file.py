"""Availability files in the experiment spec: each learner's down periods, as measured.

A spec's ``availability`` names a plain-text CSV file whose header line holds the columns
``worker``, ``down`` and ``up`` (in any order; other columns are ignored), one row per down
period: learner ``worker`` (an index 0..P-1) is down in the simulated-time interval
``[down, up)``. Blank lines and lines starting with ``#`` are skipped; values may carry
spaces. A learner absent from the file is always up. Example::

    # worker, down, up (simulated time)
    worker,down,up
    0, 10.5, 12
    0, 40, 41.25
    3, 7, 30

Each rule is one line naming the file, its line and the rule: numbers that are finite,
times >= 0, ``down < up``, a worker's rows sorted by ``down`` and not overlapping (one
ending where the next starts is fine), at least one row. Workers beyond P are refused where
P is known (:meth:`AvailabilityFile.check_learners`, called by the spec).

The value is a :class:`AvailabilityFile`, a ``str`` kept as typed (the spec's dict, JSON
and TOML write it back so) that carries the folder a relative path is read from and, once
read, the periods and the SHA-256 of the file's bytes: the spec's identity (digest,
equality), so moving the file changes nothing.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import numpy as np

from simulator._files import read_bytes_file
from simulator.errors import SpecError, shown

__all__ = ["COLUMNS", "MAX_AVAILABILITY_BYTES", "AvailabilityFile", "load_availability"]

#: The columns an availability file must have.
COLUMNS = ("worker", "down", "up")
#: Largest availability file read (bytes): 64 MiB, about two million rows.
MAX_AVAILABILITY_BYTES = 64 << 20
_PARAM = "availability"


class AvailabilityFile(str):
    """An ``availability`` value as typed, with the folder a relative path is read from.

    Attributes:
        base: the folder of the configuration or sweep file that gave the path (None: the
            working directory).
        sha256: hex SHA-256 of the file's bytes once read (None before).
        periods: worker -> (n, 2) float64 array of its down periods ``[down, up)``, rows
            sorted by ``down``, once read (None before).
        first_line: worker -> the file line of its first row (for messages).
    """

    base: Path | None
    sha256: str | None
    periods: dict[int, np.ndarray] | None
    first_line: dict[int, int]

    def __new__(cls, value: str, base: str | os.PathLike | None = None) -> AvailabilityFile:
        self = super().__new__(cls, value)
        self.base = None if base is None else Path(base)
        self.sha256 = None
        self.periods = None
        self.first_line = {}
        return self

    @property
    def path(self) -> Path:
        """The file read: the path resolved against :attr:`base`."""
        path = Path(str(self)).expanduser()
        return path if self.base is None or path.is_absolute() else self.base / path

    @property
    def source(self) -> str:
        """The file's name, as messages show it."""
        return Path(str(self)).name

    def intervals(self, num_learners: int) -> list[np.ndarray]:
        """Each learner's down periods: ``num_learners`` float64 arrays of shape (n_l, 2),
        rows ``[down, up)`` sorted by ``down`` (shape (0, 2) for a learner absent from the
        file: always up). The arrays are read-only and shared; copy one to change it."""
        if self.periods is None:
            raise SpecError(f"`{_PARAM}` file {self.source!r} has not been read", param=_PARAM)
        self.check_learners(num_learners)
        none = np.zeros((0, 2), dtype=np.float64)
        none.flags.writeable = False
        return [self.periods.get(lrn, none) for lrn in range(num_learners)]

    def check_learners(self, num_learners: int) -> None:
        """Refuse a worker that is not a learner index in [0, ``num_learners``)."""
        if self.periods:
            worker = max(self.periods)
            if worker >= num_learners:
                raise SpecError(
                    f"`{_PARAM}` file {self.source!r} line {self.first_line[worker]}: worker "
                    f"must be a learner index in [0, P) with P = {num_learners}; got {worker}",
                    param=_PARAM,
                )

    def __reduce__(self):  # str's own pickling would drop the attributes
        return (_rebuild, (str(self), self.base, self.sha256, self.periods, self.first_line))


def _rebuild(value, base, sha256, periods, first_line) -> AvailabilityFile:
    out = AvailabilityFile(value, base)
    out.sha256, out.periods, out.first_line = sha256, periods, first_line
    return out


def load_availability(value: object, base: str | os.PathLike | None = None) -> AvailabilityFile:
    """The :class:`AvailabilityFile` of an ``availability`` value, read (once: a value
    already read is returned as it is).

    Args:
        value: a path (str or os.PathLike) or an AvailabilityFile.
        base: the folder a relative path is read from (a config file's); None: the working
            directory. Ignored for an AvailabilityFile, which keeps its own.

    Raises:
        SpecError: not a path, an unreadable file, or one breaking a rule of the module
            docstring (``param`` is ``availability``).
    """
    if isinstance(value, AvailabilityFile):
        out = value
    elif isinstance(value, os.PathLike) or (isinstance(value, str) and value.strip()):
        out = AvailabilityFile(os.fspath(value), base)
    else:
        raise SpecError(
            f"`{_PARAM}` must be an availability file (CSV with columns worker, down, up); "
            f"got {shown(value)}",
            param=_PARAM,
        )
    if out.periods is None:
        data = read_bytes_file(
            out.path, param=_PARAM, kind="availability file (CSV)", max_bytes=MAX_AVAILABILITY_BYTES
        )
        out.periods, out.first_line = _parse(data, out.source)
        out.sha256 = hashlib.sha256(data).hexdigest()
    return out


def _refuse(source: str, where: str, rule: str) -> SpecError:
    return SpecError(f"`{_PARAM}` file {source!r} {where}{rule}", param=_PARAM)


def _lines(data: bytes, source: str):
    """(line number, text) of the lines that are not blank or comments."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise _refuse(source, "", f"must be UTF-8 text; byte {err.start} is not") from None
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line and not line.startswith("#"):
            yield number, line


def _number(text: str, column: str, source: str, where: str) -> float:
    try:  # ASCII only: Python reads Arabic-Indic or fullwidth digits
        x = float(text) if text.isascii() and text else None
    except ValueError:
        x = None
    if x is None:
        raise _refuse(source, where, f"`{column}` must be a number; got {shown(text)}")
    if not math.isfinite(x):
        raise _refuse(source, where, f"`{column}` must be finite; got {shown(text)}")
    if x < 0:
        raise _refuse(source, where, f"`{column}` must be a time >= 0; got {shown(text)}")
    return x


def _worker(text: str, source: str, where: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise _refuse(
            source, where, f"`worker` must be a learner index (an integer >= 0); got {shown(text)}"
        )
    return int(text)


def _parse(data: bytes, source: str) -> tuple[dict[int, np.ndarray], dict[int, int]]:
    """The file's down periods by worker and each worker's first line (see the module)."""
    lines = _lines(data, source)
    header = next(lines, None)
    if header is None:
        raise _refuse(source, "", "must hold a header line worker,down,up and rows; got none")
    number, text = header
    names = [c.strip().lower() for c in text.split(",")]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise _refuse(
            source,
            f"line {number}: ",
            f"the header must name the columns worker, down, up; missing {', '.join(missing)} "
            f"(got {shown(text)})",
        )
    at = [names.index(c) for c in COLUMNS]
    rows: dict[int, list[tuple[float, float]]] = {}
    first: dict[int, int] = {}
    for number, text in lines:
        where = f"line {number}: "
        cells = [c.strip() for c in text.split(",")]
        if len(cells) != len(names):
            raise _refuse(
                source, where, f"must have {len(names)} values like the header; got {len(cells)}"
            )
        worker = _worker(cells[at[0]], source, where)
        down = _number(cells[at[1]], "down", source, where)
        up = _number(cells[at[2]], "up", source, where)
        if down >= up:
            raise _refuse(source, where, f"`down` must be < `up`; got down={down:g}, up={up:g}")
        previous = rows.setdefault(worker, [])
        first.setdefault(worker, number)
        if previous:
            last_down, last_up = previous[-1]
            if down < last_down:
                raise _refuse(
                    source,
                    where,
                    f"rows of worker {worker} must be sorted by `down`; got down={down:g} "
                    f"after down={last_down:g}",
                )
            if down < last_up:
                raise _refuse(
                    source,
                    where,
                    f"down periods of worker {worker} must not overlap; got [{down:g}, {up:g}) "
                    f"after [{last_down:g}, {last_up:g})",
                )
        previous.append((down, up))
    if not rows:
        raise _refuse(source, "", "must hold at least one row after the header; got none")
    periods = {}
    for worker, pairs in rows.items():
        array = np.asarray(pairs, dtype=np.float64).reshape(-1, 2)
        array.flags.writeable = False
        periods[worker] = array
    return periods, first
