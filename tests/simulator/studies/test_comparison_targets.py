"""Time to target and the comparison's outputs: never 0 for all, names and spec kept."""

from __future__ import annotations

import numpy as np
import pytest

from simulator import ExperimentSpec, compare, runtime_study
from simulator.studies._targets import default_level, first_time_at

U = np.array([0, 10, 20, 30])


def test_default_level_is_reached_by_every_variant_after_its_start():
    curves = [(U, np.array([1.0, 0.6, 0.4, 0.3])), (U, np.array([1.0, 0.8, 0.7, 0.5]))]
    assert default_level(curves) == 0.5


def test_a_variant_that_never_improves_does_not_pull_the_level_to_the_start():
    flat = (U, np.array([1.0, 1.2, 1.5, 3.0]))
    curves = [flat, (U, np.array([1.0, 0.6, 0.4, 0.3])), (U, np.array([1.0, 0.8, 0.7, 0.5]))]
    level = default_level(curves)
    assert level == 0.5 and level < 1.0
    times = [first_time_at(u, u * 2.0, v, level) for u, v in curves]
    assert times == [None, 40.0, 60.0]  # reached after the start, never at time 0


def test_no_level_when_fewer_than_two_variants_improve():
    flat = (U, np.array([1.0, 1.2, 1.5, 3.0]))
    assert default_level([flat, (U, np.array([1.0, 0.6, 0.4, 0.3]))]) is None
    assert default_level([flat, flat]) is None
    assert default_level([(U, np.array([1.0, 0.9, 0.8, 0.7]))]) == 0.7  # one run: its best


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
