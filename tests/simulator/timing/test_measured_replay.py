"""Measured durations replayed in order (``durations_mode = "replay"``) and resampled.

Replay is checked against update times computed by hand on a three-worker file for every
variant, against the running sums of the per-step maxima of the file for fully
synchronous SGD (a small file and the shipped 64-worker cluster), and engine against
engine, array for array. Resample is checked to be exactly the per-worker empirical laws.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from memory_probe import measured_peak

from distributions import Empirical
from simulator import ExperimentSpec, replay_wraps, runtime_study, simulate, tasks_per_learner
from simulator.measured import durations_path, read_durations
from simulator.timing._memory import MERGE_REPLAY, engine_of, timing_bytes

#: Three workers (string ids, listed out of order), three sampled steps (10, 20, 40: not
#: contiguous). Sorted, learner 0 replays w1 = (1, 2.5, 0.625), learner 1 w2 = (1.5, 0.5,
#: 2), learner 2 w3 = (3, 1.25, 0.375); all values are dyadic, so sums are exact.
TINY = """worker,step,duration
w3,40,0.375
w1,10,1.0
w2,10,1.5
w3,10,3.0
w1,20,2.5
w2,20,0.5
w3,20,1.25
w1,40,0.625
w2,40,2.0
"""

#: (variant, K, J) -> (update times, computations per learner), worked out by hand:
#: - sync: each round the largest of the row: max(1, 1.5, 3) = 3, max(2.5, .5, 1.25) = 2.5,
#:   max(.625, 2, .375) = 2, then the first row again (every learner wraps): 3.
#: - k-sync K=2: the 2nd smallest of each row: 1.5, 1.25, .625, 1.5.
#: - k-batch-sync K=2: round 0 from 0: w1 pushes at 1 and starts 2.5, w2 pushes at 1.5
#:   (update; w1's 2.5 and w3's 3 cancelled); round 1 from 1.5: w1 .625 -> 2.125, w2 .5 ->
#:   2.0 then 2 -> 4, update at 2.125; round 2: w1 1 -> 3.125, w2 1.5, w3 .375 -> 2.5 then
#:   3; update at 3.125; round 3: w1 2.5, w2 .5 -> 3.625 then 2, w3 1.25 -> 4.375: update.
#: - k-async K=2: pushes w1@1 (waits), w2@1.5 (update 1.5; w2 .5 -> 2.0, w1 2.5 -> 4.0),
#:   w2@2 (waits), w3@3 (update 3; w3 1.25 -> 4.25, w2 2 -> 5), w1@4 (waits), w3@4.25
#:   (update 4.25; w3 .375 -> 4.625, w1 .625 -> 4.875), w3@4.625, w1@4.875 (update).
#: - k-batch-async K=2: merged running sums 1, 1.5 | 2, 3 | 3.5, 4 | 4.125, 4.25.
#: - async: the first six merged pushes 1, 1.5, 2, 3, 3.5, 4.
#: - k-avg K=2: each round the largest sum of two consecutive rows: 4.25, 3.5, 3.125.
HAND = {
    ("sync", None, 4): ([3.0, 5.5, 7.5, 10.5], [4, 4, 4]),
    ("k-sync", 2, 4): ([1.5, 2.75, 3.375, 4.875], [4, 4, 4]),
    ("k-batch-sync", 2, 4): ([1.5, 2.125, 3.125, 4.375], [5, 6, 5]),
    ("k-async", 2, 4): ([1.5, 3.0, 4.25, 4.875], [4, 3, 4]),
    ("k-batch-async", 2, 4): ([1.5, 3.0, 4.0, 4.25], [4, 4, 3]),
    ("async", None, 6): ([1.0, 1.5, 2.0, 3.0, 3.5, 4.0], [3, 4, 2]),
    ("k-avg", 2, 3): ([4.25, 7.75, 10.875], [6, 6, 6]),
}
VARIANTS = ["sync", "async", "k-sync", "k-batch-sync", "k-async", "k-batch-async", "k-avg"]


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.csv"
    path.write_text(TINY)
    return path


def assert_same_trace(a, b) -> None:
    """Every field equal: arrays bit for bit with the same dtype, scalars exactly."""
    for field in dataclasses.fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype, field.name
            assert np.array_equal(x, y, equal_nan=True), field.name
        else:
            assert x == y, field.name


@pytest.mark.parametrize("engine", ["simpy", "auto"])
@pytest.mark.parametrize("case", list(HAND), ids=[c[0] for c in HAND])
def test_replay_gives_the_hand_computed_update_times_of_every_variant(tiny, case, engine):
    (variant, k, j), (times, tasks) = case, HAND[case]
    spec = ExperimentSpec(variant=variant, k=k, updates=j, durations=str(tiny))
    trace = simulate(spec, engine=engine)
    assert trace.update_time.tolist() == times
    assert tasks_per_learner(trace).tolist() == tasks
    wraps = replay_wraps(spec, trace)
    assert wraps.rows.tolist() == [3, 3, 3] and wraps.tasks.tolist() == tasks
    assert wraps.wrapped.tolist() == [t > 3 for t in tasks]


def test_the_nth_task_is_the_nth_row_of_its_worker_not_step_n(tiny, tmp_path):
    """Learner 0 (worker w1) under k-sync K=1 contributes every round: its finish times
    minus the round starts are w1's rows in step order, over and over."""
    spec = ExperimentSpec(variant="k-sync", num_learners=1, k=1, updates=7, durations=str(tiny))
    trace = simulate(spec)
    assert (trace.finish - trace.start)[:, 0].tolist() == [1.0, 2.5, 0.625] * 2 + [1.0]
    # the rows of a file in another order, with other step ids, replay the same
    shuffled = tmp_path / "shuffled.csv"
    lines = TINY.splitlines()
    body = [line.replace(",10,", ",3,").replace(",40,", ",1000,") for line in lines[1:]]
    shuffled.write_text("\n".join([lines[0], *reversed(body)]) + "\n")
    for variant in VARIANTS:
        k = None if variant in ("sync", "async") else 2
        a = simulate(ExperimentSpec(variant=variant, k=k, updates=9, durations=str(tiny)))
        b = simulate(ExperimentSpec(variant=variant, k=k, updates=9, durations=str(shuffled)))
        assert_same_trace(a, b)


def _step_maxima(path: Path) -> np.ndarray:
    """The largest duration of each step of a file, in step order (read with pandas)."""
    table = pd.read_csv(path)
    return table.groupby("step")["duration"].max().sort_index().to_numpy()


@pytest.mark.parametrize("engine", ["simpy", "auto"])
def test_sync_update_times_are_the_running_sums_of_the_per_step_maxima(tiny, engine):
    small = ExperimentSpec(variant="sync", updates=6, durations=str(tiny))
    maxima = _step_maxima(tiny)  # 3, 2.5, 2
    expected = np.cumsum(np.tile(maxima, 2))
    np.testing.assert_array_equal(simulate(small, engine=engine).update_time, expected)
    shipped = durations_path("llm-se")
    maxima = _step_maxima(shipped)
    assert maxima.shape == (43,)
    for j in (43, 2 * 43 + 5):  # within the file, and wrapping around it twice
        spec = ExperimentSpec(variant="sync", updates=j, durations="llm-se")
        assert spec.num_learners == 64
        expected = np.cumsum(np.resize(maxima, j))
        np.testing.assert_array_equal(simulate(spec, engine=engine).update_time, expected)


@pytest.mark.parametrize("variant", VARIANTS)
def test_engines_agree_exactly_on_the_shipped_cluster(variant):
    k = {"sync": None, "async": None, "k-avg": 3}.get(variant, 16)
    spec = ExperimentSpec(variant=variant, k=k, updates=150, durations="llm-se")
    assert_same_trace(simulate(spec, engine="simpy"), simulate(spec, engine="auto"))


def test_engines_agree_exactly_with_ties_speeds_and_reused_workers(tmp_path):
    """Durations of 1 and 2 make simultaneous pushes common; 7 learners reuse 3 workers."""
    rng = np.random.default_rng(5)
    rows = [(w, 10 * s, float(rng.choice([1.0, 2.0]))) for w in range(3) for s in range(5)]
    path = tmp_path / "ties.csv"
    pd.DataFrame(rows, columns=["worker", "step", "duration"]).to_csv(path, index=False)
    for variant in VARIANTS:
        k = None if variant in ("sync", "async") else 3
        for speeds in (None, [1.0, 2.0, 1.0, 0.5, 1.0, 1.0, 2.0]):
            spec = ExperimentSpec(
                variant=variant,
                k=k,
                num_learners=7,
                reuse_workers=True,
                speeds=speeds,
                updates=40,
                durations=str(path),
            )
            assert_same_trace(simulate(spec, engine="simpy"), simulate(spec, engine="auto"))


def test_speeds_divide_the_replayed_durations_and_reused_workers_repeat(tiny):
    base = ExperimentSpec(variant="sync", updates=5, durations=str(tiny))
    fast = simulate(base.replace(speeds=[2.0, 2.0, 2.0])).update_time
    np.testing.assert_array_equal(fast, simulate(base).update_time / 2)
    # 5 learners on 3 workers: learners 3 and 4 replay workers 0 and 1 (l mod W)
    spec = ExperimentSpec(
        variant="k-sync", k=1, num_learners=5, reuse_workers=True, updates=3, durations=str(tiny)
    )
    wraps = replay_wraps(spec, simulate(spec))
    assert wraps.worker.tolist() == [0, 1, 2, 0, 1]
    trace = simulate(spec.replace(variant="k-avg", k=1))
    took = (trace.finish - trace.start)[0]  # round 0: every learner's first row
    assert dict(zip(trace.learner[0].tolist(), took.tolist(), strict=True)) == {
        0: 1.0,
        1: 1.5,
        2: 3.0,
        3: 1.0,
        4: 1.5,
    }


def test_replay_ignores_the_seed_and_fewer_learners_take_the_first_workers(tiny):
    spec = ExperimentSpec(variant="k-async", k=2, updates=30, durations="llm-se")
    assert_same_trace(simulate(spec, seed=0), dataclasses.replace(simulate(spec, seed=9), seed=0))
    two = ExperimentSpec(variant="sync", num_learners=2, updates=3, durations=str(tiny))
    assert simulate(two).update_time.tolist() == [1.5, 4.0, 6.0]  # max(1, 1.5), ...


@pytest.mark.parametrize("variant", ["sync", "async", "k-batch-sync", "k-avg"])
def test_resample_is_exactly_the_per_worker_empirical_laws(variant):
    measured = read_durations("llm-se")
    k = None if variant in ("sync", "async") else 4
    spec = ExperimentSpec(variant=variant, k=k, updates=60, durations="llm-se")
    resample = spec.replace(durations_mode="resample")
    laws = ExperimentSpec(
        variant=variant,
        k=k,
        num_learners=64,
        updates=60,
        laws=[Empirical(d) for d in measured.durations],
    )
    assert resample.laws == laws.laws and resample.law is None
    for seed in (0, 1):
        assert_same_trace(simulate(resample, seed=seed), simulate(laws, seed=seed))
    a, b = simulate(resample, seed=0), simulate(resample, seed=1)
    assert not np.array_equal(a.update_time, b.update_time)  # the seed matters here


def test_a_runtime_study_reports_the_file_the_wraps_and_the_censored_rows(tmp_path):
    path = tmp_path / "cut.csv"
    path.write_text(
        TINY.replace("w2,40,2.0", "w2,40,2.0,true").replace("duration", "duration,censored")
    )
    spec = ExperimentSpec(variant="sync", updates=4, seeds=3, durations=str(path))
    summary = runtime_study(spec)
    assert summary.times.tolist() == [10.5] * 3  # replay: every seed the same
    d = summary.to_json()["durations"]
    assert d["durations"] == str(path) and d["file"] == "cut.csv" and d["mode"] == "replay"
    assert d["sha256"] == read_durations(path).sha256 and d["censored_rows"] == 1
    assert d["wrapped_learners"] == 3 and d["wrapped_after_steps"] == [3, 3]
    assert d["max_passes"] == 2 and d["workers"] == 3 and d["learners"] == 3
    notes = summary.durations.notes()
    assert (
        "3 of 3 learners ran past their worker's last measured step (after 3 steps)" in (notes[1])
    )
    assert notes[2].startswith("1 censored rows replayed at their recorded value")
    short = runtime_study(spec.replace(updates=2))
    assert short.durations.num_wrapped == 0
    assert short.durations.notes()[1] == "no learner ran past its worker's last measured step"
    assert runtime_study(ExperimentSpec(updates=5, seeds=2)).durations is None


def test_a_time_budget_runs_replayed_durations(tiny):
    spec = ExperimentSpec(variant="sync", time_budget=8.0, seeds=1, durations=str(tiny))
    assert simulate(spec).update_time.tolist() == [3.0, 5.5, 7.5]


def test_the_memory_estimate_of_replay_changes_the_per_learner_cost_only():
    """The merge holds no Generator for a learner drawing one block, so replaying costs a
    learner its replay's state instead (MERGE_REPLAY); resampling costs what laws do."""
    laws = ExperimentSpec(
        variant="async",
        num_learners=1000,
        updates=5000,
        laws=[Empirical(d) for d in read_durations("llm-se").durations] * 15
        + [Empirical([1.0])] * 40,
    )
    replay = ExperimentSpec(
        variant="async", num_learners=1000, updates=5000, durations="llm-se", reuse_workers=True
    )
    assert engine_of(replay) == engine_of(laws) == "merge"
    assert timing_bytes(replay) - timing_bytes(laws) == pytest.approx(1000 * MERGE_REPLAY, abs=2)
    resample = replay.replace(durations_mode="resample")
    assert timing_bytes(resample) == timing_bytes(laws)


@pytest.mark.slow
@pytest.mark.parametrize(
    "fields, engine",
    [
        (dict(variant="async", num_learners=50_000, updates=50_000), "auto"),
        (dict(variant="k-sync", k=32, updates=31_250), "auto"),
        (dict(variant="async", num_learners=40_000, updates=40_000), "simpy"),
    ],
    ids=["merge-learners", "rounds-updates", "simpy-learners"],
)
def test_the_replay_estimate_is_within_30_percent_of_the_measured_peak(fields, engine):
    fields = {**fields, "durations": "llm-se", "reuse_workers": True}
    peak = measured_peak(fields, engine)
    estimate = timing_bytes(ExperimentSpec(**fields), engine)
    assert 0.7 * peak <= estimate <= 1.3 * peak, (estimate, peak)
