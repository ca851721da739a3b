"""Sweep tasks sized by estimated cost: balanced, costliest first, heavy configurations split
by replicates, the first configuration of each compiled training program ahead of the
others, handed to Dask in that order; and the stored rows are the same whatever the
grouping."""

from __future__ import annotations

import collections

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import SweepSpec, sweep
from simulator.studies.sweeps import _exec
from simulator.studies.sweeps import _sweep as sweep_module
from simulator.studies.sweeps._balance import estimated_cost, group_tasks, program_leaders
from simulator.studies.sweeps._cost import program_key
from simulator.studies.sweeps._units import config_key, plan

#: The benchmark's timing sweep: 4 variants x K in {1, 2, 4, 8} x 3 laws, P = 64.
BENCH_TIMING = SweepSpec(
    kind="timing",
    base={"learners": 64, "iterations": 30_000, "seeds": 2},
    grid={
        "variant": ["k-sync", "k-batch-sync", "k-async", "k-batch-async"],
        "K": [1, 2, 4, 8],
        "dist": ["exp:1", "shifted-exp:0.5,1", "pareto:3,1"],
    },
)


def tasks_of(spec: SweepSpec, tasks: int, finished=None):
    work = plan(spec.configurations(), finished or {})
    return group_tasks(spec.kind, work.runs, tasks)


def units(tasks) -> collections.Counter:
    return collections.Counter((key, i) for t in tasks for key in t.configs for i in t.replicates)


def test_timing_tasks_are_of_about_equal_cost_costliest_first():
    """48 configurations into 8 tasks: the K-batch-sync heap loops (four fifths of the
    work) no longer sit in two tasks of six configurations each."""
    tasks = tasks_of(BENCH_TIMING, 8)
    costs = [estimated_cost("timing", t) for t in tasks]
    share = sum(costs) / 8
    assert len(tasks) == 8 and max(costs) <= 1.15 * share
    assert costs == sorted(costs, reverse=True)
    assert units(tasks) == units(tasks_of(BENCH_TIMING, 1))  # each unit once


def test_a_configuration_costlier_than_a_share_is_split_by_replicates():
    heavy = SweepSpec(
        kind="timing",
        base={"learners": 64, "K": 4, "iterations": 30_000, "seeds": 8},
        grid={"variant": ["k-batch-sync", "k-batch-async"]},
    )
    tasks = tasks_of(heavy, 4)
    by_config = collections.Counter(key for t in tasks for key in t.configs)
    assert max(by_config.values()) >= 3  # the heap loop's 8 seeds over several tasks
    assert all(c == 1 for c in units(tasks).values())
    assert sum(len(t.replicates) * len(t.configs) for t in tasks) == 2 * 8
    for t in tasks:  # each task's specs run exactly its replicates
        assert all(s.seeds == len(t.replicates) for s in t.specs)
        first = t.replicates[0]
        assert all(s.seed == o.base_seed + first for s, o in zip(t.specs, t.owners, strict=True))


@settings(max_examples=30, deadline=None)
@given(
    tasks=st.integers(1, 20),
    seeds=st.integers(1, 6),
    stored=st.sets(st.integers(0, 5), max_size=4),
)
def test_every_missing_unit_is_in_exactly_one_task(tasks, seeds, stored):
    spec = SweepSpec(
        kind="timing",
        base={"learners": 8, "iterations": 2_000, "seeds": seeds},
        grid={"variant": ["k-batch-sync", "k-sync", "async"], "K": [1, 4]},
    )
    configs = spec.configurations()
    finished = {}
    for i, s in enumerate(configs):  # every other configuration has some seeds stored
        if i % 2:
            finished[config_key(s)] = {r for r in stored if r < seeds}
    work = plan(configs, finished)
    got = units(group_tasks("timing", work.runs, tasks))
    want = collections.Counter(
        (config_key(s), i) for run in work.runs for s in run.configs for i in run.replicates
    )
    assert got == want


def test_training_runs_the_first_of_each_program_before_the_others():
    spec = SweepSpec(
        kind="training",
        base={"variant": "k-sync", "learners": 8, "iterations": 200, "seeds": 2},
        grid={"K": [1, 4], "lr": [0.01, 0.05, 0.1]},
    )
    tasks = tasks_of(spec, 2)
    assert [len(t.specs) for t in tasks] == [1] * 6
    keys = [program_key(t.specs[0]) for t in tasks]
    assert len(set(keys[:2])) == 2 and set(keys[2:]) <= set(keys[:2])
    assert program_key(tasks[0].specs[0])[1] == 4  # the costlier program first


class _Client:
    """Records what is submitted, and when; every task finishes at once."""

    def __init__(self):
        self.submitted = []
        self.log = []

    def submit(self, fn, task, **kwargs):
        self.submitted.append((task, kwargs))
        self.log.append(("submit", task))
        return _Future(task, self.log)


class _Future:
    status = "finished"

    def __init__(self, task, log):
        self.task, self.log = task, log

    def result(self):
        return self.task

    def release(self):
        pass


class _AsCompleted:
    """dask's as_completed over futures that end in the order submitted (logged then)."""

    def __init__(self, futures):
        self.futures = list(futures)

    def add(self, future):
        self.futures.append(future)

    def __iter__(self):
        i = 0
        while i < len(self.futures):
            future = self.futures[i]
            future.log.append(("end", future.task))
            yield future
            i += 1


def run_fake(monkeypatch, tasks, after=None):
    import dask.distributed

    monkeypatch.setattr(dask.distributed, "as_completed", _AsCompleted)
    client, done = _Client(), []
    _exec._run_on_dask(client, tasks, lambda task, rows: done.append(task), done.append, after)
    return client, done


def test_dask_starts_the_tasks_in_the_order_given(monkeypatch):
    tasks = ["a", "b", "c"]
    client, done = run_fake(monkeypatch, tasks)
    priorities = [kwargs["priority"] for _, kwargs in client.submitted]
    assert [t for t, _ in client.submitted] == tasks and done == tasks
    assert priorities == sorted(priorities, reverse=True) and len(set(priorities)) == 3


def test_a_task_of_a_compiled_program_starts_after_its_first_task(monkeypatch):
    """On one machine's workers, the others of a program wait for the task compiling it."""
    tasks = ["lead-1", "lead-2", "of-1", "of-2", "of-1-too"]
    client, done = run_fake(monkeypatch, tasks, after={2: 0, 3: 1, 4: 0})
    log = client.log
    for follower, leader in (("of-1", "lead-1"), ("of-2", "lead-2"), ("of-1-too", "lead-1")):
        assert log.index(("submit", follower)) > log.index(("end", leader))
    assert sorted(done) == sorted(tasks)
    assert log[:2] == [("submit", "lead-1"), ("submit", "lead-2")]


def test_program_leaders_name_the_first_task_of_each_program():
    spec = SweepSpec(
        kind="training",
        base={"variant": "k-sync", "learners": 8, "iterations": 200, "seeds": 2},
        grid={"K": [1, 4], "lr": [0.01, 0.05, 0.1]},
    )
    tasks = tasks_of(spec, 2)
    leaders = program_leaders(tasks)
    assert sorted(leaders) == [2, 3, 4, 5] and set(leaders.values()) == {0, 1}
    for i, lead in leaders.items():
        assert program_key(tasks[i].specs[0]) == program_key(tasks[lead].specs[0])


@pytest.mark.parametrize("per_worker", [1, 64])
def test_rows_are_the_same_whatever_the_grouping(tmp_path, monkeypatch, per_worker):
    """One task for everything, or many (the heap loop's seeds split): the same rows."""
    spec = SweepSpec(
        kind="timing",
        base={"learners": 8, "iterations": 300, "seeds": 4},
        grid={"variant": ["k-batch-sync", "k-sync", "async"], "K": [1, 2]},
    )
    reference = sweep(spec, tmp_path / "ref", scheduler="serial").frame()
    monkeypatch.setattr(sweep_module, "TASKS_PER_WORKER", per_worker)
    grouped = sweep(spec, tmp_path / "grouped", scheduler="serial")
    assert grouped.complete and not grouped.failures
    pd.testing.assert_frame_equal(grouped.frame(), reference, check_exact=True)


@pytest.mark.parametrize(
    ("cache", "waits"), [("folder", True), ("0", False)], ids=["shared-cache", "no-cache"]
)
def test_a_local_training_sweep_waits_for_each_program_when_the_cache_is_shared(
    tmp_path, monkeypatch, cache, waits
):
    """On a LocalCluster (here: its executor replaced by one that runs in this process),
    the others of a program wait for the first only if a compilation cache is shared."""
    import contextlib

    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    monkeypatch.setenv("PSSIM_COMPILE_CACHE", str(tmp_path / "cache") if cache != "0" else "0")
    seen = []

    @contextlib.contextmanager
    def local(scheduler, workers):
        def run(tasks, on_done, on_failed, after=None):
            seen.append(after)
            _exec._run_serial(tasks, on_done, on_failed)

        yield run

    monkeypatch.setattr(sweep_module, "executor", local)
    spec = SweepSpec(
        kind="training",
        base={"variant": "k-sync", "learners": 4, "K": 2, "iterations": 40, "seeds": 1},
        grid={"lr": [0.01, 0.05, 0.1]},
    )
    result = sweep(spec, tmp_path / "out", workers=2)
    assert result.complete
    assert seen == [{1: 0, 2: 0} if waits else None]
