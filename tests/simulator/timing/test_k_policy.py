"""K that changes during a run: the schedule policy in the SimPy engine, the trace's K per
update, its theory, and the refusals of the policy fields."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from simulator import ExperimentSpec, load_trace, simulate
from simulator.errors import PssimError, SpecError
from simulator.studies._common import spec_theory
from simulator.timing.engine import simulate_spec

K_VARIANTS = ("k-sync", "k-batch-sync", "k-async", "k-batch-async")
_ARRAYS = ("update_time", "learner", "version", "start", "finish", "mask", "update_k")
_ARRAYS += ("cancelled_learner", "cancelled_start", "cancelled_stop", "cancelled_reason")


def _same(a, b) -> bool:
    return a.k == b.k and all(
        np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True) for f in _ARRAYS
    )


@pytest.mark.parametrize("variant", K_VARIANTS)
def test_a_schedule_of_one_k_is_the_run_of_that_k(variant):
    fixed = ExperimentSpec(variant=variant, num_learners=6, k=3, updates=200)
    scheduled = ExperimentSpec(
        variant=variant, num_learners=6, k_policy="schedule", k_schedule="0:3", updates=200
    )
    assert scheduled.k == 3
    for seed in (0, 7):
        assert _same(simulate_spec(fixed, seed), simulate_spec(scheduled, seed))


@pytest.mark.parametrize("variant", K_VARIANTS)
def test_each_update_waits_for_the_k_of_its_schedule(variant):
    spec = ExperimentSpec(
        variant=variant,
        num_learners=8,
        k_policy="schedule",
        k_schedule="0:1,50:4,120:8,150:2",
        updates=200,
    )
    trace = simulate_spec(spec, 3)
    want = np.repeat([1, 4, 8, 2], [50, 70, 30, 50])
    assert trace.k == 8  # rows as wide as the largest K
    np.testing.assert_array_equal(trace.k_per_update(), want)
    np.testing.assert_array_equal(trace.contributions_per_update(), want)
    assert trace.cut_updates().size == 0  # a smaller K is not a cut round


def test_a_k_sync_schedule_on_fixed_durations_by_hand():
    # learner l takes l + 1 time units; K = 1: each round ends at the fastest (1 unit);
    # K = 3: at the third fastest (3 units); the others are cancelled when it ends
    spec = ExperimentSpec(
        variant="k-sync",
        num_learners=4,
        law="deterministic:1",
        speeds=[1, 1 / 2, 1 / 3, 1 / 4],
        k_policy="schedule",
        k_schedule="0:1,2:3",
        updates=4,
    )
    trace = simulate_spec(spec, 0)
    np.testing.assert_allclose(trace.update_time, [1, 2, 5, 8])
    np.testing.assert_array_equal(trace.mask.sum(axis=1), [1, 1, 3, 3])
    np.testing.assert_array_equal(np.sort(trace.learner[2, :3]), [0, 1, 2])
    np.testing.assert_array_equal(trace.learner[:2, 0], [0, 0])
    # rounds 0-1 cancel learners 1-3, rounds 2-3 learner 3: 3 + 3 + 1 + 1 cancellations
    assert trace.cancelled_learner.size == 8


def test_the_k_async_waiting_learners_follow_the_schedule():
    # K-async, P = 2, both learners 1 unit: K = 2 updates after both pushes at t = 1, 2;
    # with K = 1 from update 2 on, each push is an update of its own
    spec = ExperimentSpec(
        variant="k-async",
        num_learners=2,
        law="deterministic:1",
        k_policy="schedule",
        k_schedule="0:2,2:1",
        updates=6,
    )
    trace = simulate_spec(spec, 0)
    np.testing.assert_allclose(trace.update_time, [1, 2, 3, 3, 4, 4])
    np.testing.assert_array_equal(trace.k_per_update(), [2, 2, 1, 1, 1, 1])


def test_the_schedule_theory_sums_its_segments_and_holds_at_99_9_percent():
    spec = ExperimentSpec(
        variant="k-sync",
        num_learners=8,
        k_policy="schedule",
        k_schedule="0:1,100:4,200:8",
        updates=300,
        law="exp:1",
    )
    prediction = spec_theory(spec)
    harmonic = {k: sum(1 / i for i in range(8 - k + 1, 9)) for k in (1, 4, 8)}
    assert prediction.relation == "exact"
    assert prediction.mean == pytest.approx(100 * (harmonic[1] + harmonic[4] + harmonic[8]))
    ends = np.array([simulate_spec(spec, s).end_time for s in range(60)])
    half = stats.t.ppf(0.9995, ends.size - 1) * ends.std(ddof=1) / np.sqrt(ends.size)
    assert abs(ends.mean() - prediction.mean) < half


def test_an_asynchronous_schedule_theory_is_not_called_exact():
    spec = ExperimentSpec(
        variant="k-async", num_learners=4, k_policy="schedule", k_schedule="0:1,50:2"
    )
    assert spec_theory(spec.replace(updates=100)).relation == "asymptotic"
    loss = ExperimentSpec(variant="k-sync", num_learners=4, k=1, k_policy="loss")
    assert spec_theory(loss).relation == "none"


def test_a_trace_with_k_per_update_saves_and_loads(tmp_path):
    trace = simulate(
        ExperimentSpec(
            variant="k-batch-sync",
            num_learners=4,
            k_policy="schedule",
            k_schedule="0:2,5:4",
            updates=12,
        ),
        seed=1,
    )
    back = load_trace(trace.save(tmp_path / "t.npz"))
    assert _same(trace, back)
    np.testing.assert_array_equal(back.k_per_update(), [2] * 5 + [4] * 7)


def test_a_loss_policy_runs_only_with_training():
    spec = ExperimentSpec(variant="k-sync", num_learners=4, k=1, k_policy="loss", updates=20)
    with pytest.raises(PssimError, match="`k_policy` 'loss' reads the training loss"):
        simulate_spec(spec, 0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"k_schedule": "0:2"}, "`k_schedule` needs a `k_policy`"),
        ({"k_every": 5}, "`k_every` needs a `k_policy`"),
        ({"k_policy": "sometimes"}, "`k_policy` must be one of none, schedule, loss, theory"),
        ({"k_policy": "schedule"}, "`k_schedule` must be given with k_policy 'schedule'"),
        ({"k_policy": "schedule", "k_schedule": "5:2"}, "starting at update 0"),
        ({"k_policy": "schedule", "k_schedule": "0:2,0:3"}, "with increasing updates"),
        ({"k_policy": "schedule", "k_schedule": "0:0"}, "with K >= 1"),
        ({"k_policy": "schedule", "k_schedule": "0:two"}, "with integers UPDATE >= 0"),
        ({"k_policy": "schedule", "k_schedule": "0:\u00b2"}, "with integers UPDATE >= 0"),
        ({"k_policy": "schedule", "k_schedule": "0:" + "9" * 19}, "at most 18 digits"),
        ({"k_policy": "loss", "k": 1, "lr": "0.01*K"}, "`lr` must not use K with a"),
        ({"k_policy": "schedule", "k_schedule": "0:9"}, "K must be <= the number of learners"),
        ({"k_policy": "schedule", "k_schedule": "0:2", "k": 3}, "`k` must equal the K"),
        ({"k_policy": "schedule", "k_schedule": "0:2", "k_every": 4}, "`k_every` applies"),
        ({"k_policy": "loss", "k": 1, "k_schedule": "0:2"}, "`k_schedule` applies to"),
        ({"k_policy": "loss", "k": 1, "k_every": 0}, "`k_every` must be an integer >= 1"),
        ({"k_policy": "loss", "k": 1, "k_every": 100}, "`k_every` must be < updates"),
        ({"k_policy": "loss", "k": 1, "time_budget": 5.0}, "needs `updates`, not a"),
    ],
)
def test_bad_policy_fields_are_refused_in_one_line(fields, message):
    base = {"variant": "k-sync", "num_learners": 8, "updates": 100}
    if "time_budget" in fields:
        base.pop("updates")
    with pytest.raises(SpecError, match=message) as err:
        ExperimentSpec(**{**base, **fields})
    assert "\n" not in str(err.value)


def test_policy_fields_ride_on_a_template_and_keep_older_digests():
    plain = ExperimentSpec(variant="k-sync", num_learners=8, k=2)
    assert "k_policy" not in plain.to_dict()
    template = ExperimentSpec(variant="async", k_policy="schedule", k_schedule="0:1,10:2")
    assert template.k_schedule == "0:1,10:2"
    spec = ExperimentSpec(variant="k-sync", num_learners=8, k_policy="loss", k=1, k_every=50)
    assert spec.to_dict()["k_policy"] == "loss" and spec.to_dict()["k_every"] == 50
    assert ExperimentSpec.from_dict(spec.to_dict()) == spec


class _HalfWidth:
    """A policy whose rows are 4 wide and that always asks for K = 2."""

    k_max = 4

    def __call__(self, b, trace_so_far):
        trace_so_far()  # a copy: the run goes on after it
        return 2


@pytest.mark.parametrize("variant", K_VARIANTS)
def test_a_policy_that_keeps_a_k_below_the_row_width_is_the_run_of_that_k(variant):
    spec = ExperimentSpec(variant=variant, num_learners=6, k=2, updates=120)
    masked = simulate_spec(spec, 5, engine="simpy", policy=_HalfWidth())
    one = simulate_spec(spec, 5)
    assert masked.k == 4 and not masked.mask[:, 2:].any()
    assert masked.update_k.size == 120 and (masked.k_per_update() == 2).all()
    for name in ("learner", "version", "start", "finish", "mask"):
        np.testing.assert_array_equal(getattr(masked, name)[:, :2], getattr(one, name))
    np.testing.assert_array_equal(masked.update_time, one.update_time)


def test_a_policy_gets_a_trace_of_its_own_and_a_bad_k_is_one_line():
    kept = []

    class Keeps:
        k_max = 3

        def __call__(self, b, trace_so_far):
            kept.append(trace_so_far())  # held while the run goes on
            return 0 if b == 5 else 2

    spec = ExperimentSpec(variant="k-async", num_learners=3, k=1, updates=10)
    message = r"must return an integer K in \[1, 3\].*got 0 for update 5"
    with pytest.raises(PssimError, match=message):
        simulate_spec(spec, 0, policy=Keeps())
    assert [t.num_updates for t in kept] == [1, 2, 3, 4, 5]


def test_a_policy_given_for_a_variant_without_k_is_refused():
    spec = ExperimentSpec(variant="k-avg", num_learners=3, k=2, updates=10)
    with pytest.raises(PssimError, match="a K policy applies to the variants k-sync"):
        simulate_spec(spec, 0, policy=_HalfWidth())


def test_a_schedule_segment_shorter_than_eval_every_has_its_theory():
    spec = ExperimentSpec(
        variant="k-sync",
        num_learners=4,
        k_policy="schedule",
        k_schedule="0:1,150:4",
        updates=200,
        eval_every=100,
    )
    assert spec_theory(spec).relation == "exact"
