"""Time to target and the comparison's outputs: never 0 for all, names and spec kept."""

from __future__ import annotations

import numpy as np
import pytest

from simulator import ExperimentSpec, compare, runtime_study
from simulator.results._passage import stay_time
from simulator.studies._targets import default_level, first_time_at

U = np.array([0, 10, 20, 30])


def test_default_level_is_reached_and_stayed_under_by_every_variant():
    bounce = (U, np.array([1.0, 0.3, 0.4, 0.35]))  # its best, 0.3, is not where it stays
    slow = (U, np.array([1.0, 0.8, 0.5, 0.45]))
    level = default_level([[bounce], [slow]])
    assert level == 0.5  # the largest of the last quarter (at least 2 points): 0.5, 0.45
    times = [stay_time(u, u * 2.0, v, level) for u, v in (bounce, slow)]
    assert times == [20.0, 40.0]  # reached after the start, never at time 0
    assert first_time_at(*bounce[:1], U * 2.0, bounce[1], 0.3) == 20.0  # a touch, not a stay
    assert stay_time(U, U * 2.0, bounce[1], 0.3) is None


def test_a_variant_that_never_improves_leaves_no_default_level():
    flat = (U, np.array([1.0, 1.2, 1.5, 3.0]))
    improving = (U, np.array([1.0, 0.6, 0.4, 0.3]))
    assert default_level([[flat], [improving]]) is None
    assert default_level([[flat]]) is None
    assert default_level([[improving]]) == 0.4  # one run: its last 2 points (a quarter)
    assert default_level([[improving], []]) == 0.4  # a variant whose seeds all diverged


def test_compare_keeps_names_spec_and_a_positive_time_to_target():
    spec = ExperimentSpec(variant="k-async", num_learners=4, k=2, updates=300, seeds=2)
    cmp = compare(spec, variants=["sync", "async", "k-async"])
    assert cmp.variants == ["sync", "async", "k-async"]
    assert cmp.target is not None and cmp.target_on == "error" and cmp.f_star is not None
    times = [run.time_to(cmp.target) for run in cmp.runs]
    assert all(t is None or t > 0 for t in times) and sum(t is not None for t in times) >= 2
    frame = cmp.results_frame()
    assert set(frame["variant"]) == {"sync", "async", "k-async"}
    assert set(frame["seed"]) == {0, 1} and (frame["base_seed"] == 0).all()
    assert (frame["law"] == "exp:1.0").all() and (frame["target"] == cmp.target).all()
    by_variant = frame.groupby("variant")["time_to_target"].first()
    assert by_variant["async"] == pytest.approx(cmp.runs[1].time_to(cmp.target))
    obj = cmp.to_json()
    expected = {k: v for k, v in spec.to_dict().items() if k != "variant"}
    assert obj["experiment"] == {"variants": ["sync", "async", "k-async"], **expected}
    assert obj["target"]["level"] == cmp.target
    other = compare(spec, variants=["sync", "async"])
    assert other.experiment_digest() != cmp.experiment_digest()
    assert (frame["experiment_digest"] == cmp.experiment_digest()).all()
    assert [r["spec"]["variant"] for r in obj["runs"]] == ["sync", "async", "k-async"]
    assert [r["k"] for r in obj["runs"]] == [4, 1, 2]
    assert "target: error F - F* <=" in cmp.table()


def test_diverged_seeds_leave_the_means():
    spec = ExperimentSpec(variant="async", num_learners=4, updates=200, seeds=3, lr=5.0)
    cmp = compare(spec, variants=["async"], divergence_factor=2.0)
    run = cmp.runs[0]
    assert run.diverged_seeds == 3 and run.final_loss is None
    assert np.isnan(run.mean_curve()["loss"]).all()


def test_runtime_study_takes_a_spec_or_fields():
    spec = ExperimentSpec(variant="k-sync", num_learners=4, k=2, updates=100, seeds=3)
    a, b = runtime_study(spec), runtime_study(**spec.to_dict())
    assert np.array_equal(a.times, b.times) and a.spec == b.spec
    with pytest.raises(ValueError, match="`updates` must be >= 1"):
        runtime_study(spec, updates=0)
