"""What a sweep store holds: configurations by key, each with the replicate seeds stored.

A configuration's key (:func:`config_key`) is the digest of its spec without the seed count
``seeds`` (its base ``seed`` stays in): a sweep that asks for more seeds of a configuration,
or for fewer, asks for the same configuration. Replicate ``i`` of a configuration is the run
of seed ``seed + i``, and it depends on that seed only (common random numbers), so the
store's unit is (key, replicate) and a sweep runs only the units it does not hold.

:func:`plan` turns the units a sweep asks for and the units stored into the runs to do:
configurations that miss the same replicates are run together, a contiguous range of them
as one spec with ``seed`` the first seed and ``seeds`` the count.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Iterable, Mapping, Sequence

from simulator.spec import ExperimentSpec, digest_of

__all__ = ["Plan", "Run", "config_key", "plan", "replicate_ranges", "stored_count"]


@functools.lru_cache(maxsize=4096)
def config_key(spec: ExperimentSpec) -> str:
    """The 16-hex-digit key of a configuration: the digest of its identity (a durations
    file by its SHA-256) without ``seeds``; the ``config`` column of a sweep's rows."""
    identity = spec.identity()
    identity.pop("seeds", None)
    return digest_of(identity)


def replicate_ranges(replicates: Iterable[int]) -> list[range]:
    """The contiguous ranges of a set of replicate indices, in order.

    Example:
        >>> replicate_ranges([4, 0, 1, 5])
        [range(0, 2), range(4, 6)]
    """
    ordered = sorted(set(replicates))
    groups = itertools.groupby(enumerate(ordered), key=lambda pair: pair[1] - pair[0])
    out = []
    for _, group in groups:
        values = [value for _, value in group]
        out.append(range(values[0], values[-1] + 1))
    return out


@dataclasses.dataclass(frozen=True)
class Run:
    """Configurations that run the same replicates (``range(first, first + count)``)."""

    replicates: range
    configs: tuple[ExperimentSpec, ...]


@dataclasses.dataclass(frozen=True)
class Plan:
    """The work of a sweep against what its store holds.

    Attributes:
        runs: the runs to do, each a replicate range and its configurations.
        units: the sweep's (configuration, seed) units.
        stored: those already in the store.
        skipped: configurations whose every seed is stored.
    """

    runs: tuple[Run, ...]
    units: int
    stored: int
    skipped: int

    @property
    def missing(self) -> dict[str, int]:
        """Units to run, by configuration key."""
        out: dict[str, int] = {}
        for run in self.runs:
            for spec in run.configs:
                key = config_key(spec)
                out[key] = out.get(key, 0) + len(run.replicates)
        return out


def plan(configs: Sequence[ExperimentSpec], finished: Mapping[str, Iterable[int]]) -> Plan:
    """The runs that complete ``configs`` given the ``finished`` replicates by key:
    configurations missing the same replicates are grouped, in grid order."""
    groups: dict[tuple[range, ...], list[ExperimentSpec]] = {}
    units = stored = skipped = 0
    for spec in configs:
        have = set(finished.get(config_key(spec), ()))
        missing = [i for i in range(spec.seeds) if i not in have]
        units += spec.seeds
        stored += spec.seeds - len(missing)
        if not missing:
            skipped += 1
            continue
        groups.setdefault(tuple(replicate_ranges(missing)), []).append(spec)
    runs = [
        Run(replicates, tuple(specs)) for ranges, specs in groups.items() for replicates in ranges
    ]
    return Plan(tuple(runs), units, stored, skipped)


def stored_count(
    asked: Mapping[str, tuple[int, int]], finished: Mapping[str, Iterable[int]]
) -> tuple[int, int, int]:
    """Of the configurations ``asked`` (key -> (base seed, seed count)), those with every
    seed in ``finished`` (key -> replicates), the units stored and the units asked."""
    full = stored = units = 0
    for key, (_, count) in asked.items():
        have = sum(1 for i in set(finished.get(key, ())) if i < count)
        full += have == count
        units, stored = units + count, stored + have
    return full, stored, units
