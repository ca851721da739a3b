"""Sweep tasks of about equal estimated cost, heaviest first.

A sweep's runs (configurations missing the same replicates, :mod:`._units`) become tasks
sized by their estimated CPU seconds (:mod:`._cost`), not by counting configurations:

- timing: a configuration costing more than a task's share (the total over ``tasks``) is
  split into contiguous ranges of its replicates (of :data:`MIN_PART_S` at least); the
  pieces of each replicate range are then packed into tasks
  longest-processing-time-first (the costliest piece into the lightest task);
- training: one configuration per task (each is a replay of its own); the first
  configuration of each compiled program (:func:`._cost.program_key`) comes before the
  others of that program, so that they load the program compiled by then from the
  persistent compilation cache instead of compiling it again in another worker.

Tasks are returned costliest first: the executor hands them out in this order (a worker
that finishes takes the next one), which is the longest-processing-time-first schedule.
Grouping never changes a row: replicate i of a configuration depends on its seed only, and
its rows carry the configuration's own key, base seed and seed count.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
from collections.abc import Callable, Sequence

from simulator.spec import ExperimentSpec
from simulator.studies.sweeps._cost import program_key, seed_seconds
from simulator.studies.sweeps._rows import Owner, Task, narrow
from simulator.studies.sweeps._units import Run

__all__ = ["MIN_PART_S", "Piece", "estimated_cost", "group_tasks", "program_leaders"]

#: Estimated CPU seconds below which a configuration's replicates are not split over
#: tasks: each task costs a round trip to a worker and a stored file.
MIN_PART_S = 0.5


@dataclasses.dataclass(frozen=True)
class Piece:
    """Replicates ``replicates`` of one configuration (grid position ``order``) and their
    estimated CPU seconds."""

    spec: ExperimentSpec
    replicates: range
    seconds: float
    order: int


def group_tasks(
    kind: str,
    runs: Sequence[Run],
    tasks: int,
    f_stars: dict | None = None,
    narrowed: Callable[[ExperimentSpec, range], ExperimentSpec] | None = None,
) -> list[Task]:
    """The tasks of ``runs``, costliest first: about ``tasks`` timing tasks of equal
    estimated cost, or one training configuration per task (see the module docstring),
    with the F* of ``f_stars`` ((data, model, l2) -> F*) that they need. ``narrowed(spec,
    replicates)`` is the spec that runs those replicates of a configuration (default:
    ``seed`` and ``seeds`` narrowed to them)."""
    narrowed = narrowed or narrow
    pieces = _pieces(kind, runs)
    if kind == "training":
        groups = [[piece] for piece in _training_order(pieces)]
    else:
        groups = _pack(_split(pieces, max(1, tasks)), max(1, tasks))
    return [_task(kind, group, f_stars or {}, narrowed) for group in groups]


def program_leaders(tasks: Sequence[Task]) -> dict[int, int]:
    """For each training task (by index) whose program an earlier task compiles first, the
    index of that task: started after it ends, the task loads the compiled program from a
    persistent compilation cache shared with it (the workers of one machine) instead of
    compiling it too."""
    first: dict[tuple, int] = {}
    out = {}
    for i, task in enumerate(tasks):
        if task.kind != "training" or not task.specs:
            continue
        key = program_key(task.specs[0])
        if key in first:
            out[i] = first[key]
        else:
            first[key] = i
    return out


def estimated_cost(kind: str, task: Task) -> float:
    """Estimated CPU seconds of a task (compilation aside)."""
    return len(task.replicates) * sum(seed_seconds(kind, spec) for spec in task.specs)


def _pieces(kind: str, runs: Sequence[Run]) -> list[Piece]:
    out = []
    for run in runs:
        for spec in run.configs:
            seconds = len(run.replicates) * seed_seconds(kind, spec)
            out.append(Piece(spec, run.replicates, seconds, len(out)))
    return out


def _split(pieces: list[Piece], tasks: int) -> list[Piece]:
    """Pieces costing more than a task's share cut into contiguous replicate ranges of
    about that share (at least one replicate and :data:`MIN_PART_S` each)."""
    share = sum(p.seconds for p in pieces) / tasks
    out = []
    for piece in pieces:
        n = len(piece.replicates)
        parts = min(n, math.ceil(piece.seconds / share), int(piece.seconds // MIN_PART_S))
        if parts <= 1:
            out.append(piece)
            continue
        bounds = [piece.replicates.start + round(i * n / parts) for i in range(parts + 1)]
        per_seed = piece.seconds / n
        for lo, hi in itertools.pairwise(bounds):
            out.append(Piece(piece.spec, range(lo, hi), per_seed * (hi - lo), piece.order))
    return out


def _pack(pieces: list[Piece], tasks: int) -> list[list[Piece]]:
    """Longest-processing-time-first packing, per replicate range (a task runs one range
    for all its configurations), into a number of tasks proportional to the range's cost;
    each task's pieces in grid order, the tasks costliest first."""
    total = sum(p.seconds for p in pieces) or 1.0
    by_range: dict[range, list[Piece]] = {}
    for piece in pieces:
        by_range.setdefault(piece.replicates, []).append(piece)
    bins: list[tuple[float, int, list[Piece]]] = []
    for members in by_range.values():
        cost = sum(p.seconds for p in members)
        n = min(len(members), max(1, round(tasks * cost / total)))
        heap = [(0.0, i, []) for i in range(n)]
        for piece in sorted(members, key=lambda p: (-p.seconds, p.order)):
            load, i, group = heapq.heappop(heap)
            group.append(piece)
            heapq.heappush(heap, (load + piece.seconds, i, group))
        bins.extend((load, min(p.order for p in group), group) for load, _, group in heap)
    bins.sort(key=lambda b: (-b[0], b[1]))
    return [sorted(group, key=lambda p: p.order) for _, _, group in bins]


def _training_order(pieces: list[Piece]) -> list[Piece]:
    """The first configuration of each compiled program (with its compilation, the
    costliest first), then the others (costliest first)."""
    firsts: dict[tuple, Piece] = {}
    for piece in sorted(pieces, key=lambda p: (-p.seconds, p.order)):
        firsts.setdefault(program_key(piece.spec), piece)
    leaders = list(firsts.values())  # costliest first, as met
    lead = {id(p) for p in leaders}
    rest = sorted((p for p in pieces if id(p) not in lead), key=lambda p: (-p.seconds, p.order))
    return leaders + rest


def _task(kind: str, group: list[Piece], f_stars: dict, narrowed) -> Task:
    replicates = group[0].replicates
    configs = [piece.spec for piece in group]
    problems = {(s.data, s.model, s.l2) for s in configs} if kind == "training" else ()
    return Task(
        kind,
        tuple(narrowed(s, replicates) for s in configs),
        tuple((p, f_stars[p]) for p in sorted(problems, key=repr) if p in f_stars),
        tuple(Owner.of(s) for s in configs),
        tuple(replicates),
    )
