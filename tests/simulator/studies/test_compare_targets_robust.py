"""A comparison's time to target, seed by seed: hand-built runs (a seed that dips and comes
back, one that never reaches, a diverged one), the table's interval and never counts, the
JSON, the fraction and accuracy targets, the refusals, and one real run whose default target
every variant's seeds stay under."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator import ExperimentSpec, compare
from simulator.errors import PssimError, PssimTypeError
from simulator.studies._compare_targets import comparison_level
from simulator.studies._targets import check_targets
from simulator.studies.comparison import Comparison, VariantRun
from simulator.theory.runtime import Prediction
from simulator.training.replayer import ReplayResult

UPDATES = np.array([0, 10, 20, 30, 40])
F_STAR = 0.5


def hand_run(variant: str, errors, *, diverged=(), accuracy=None) -> VariantRun:
    """A run whose seed s has error ``errors[s]`` at UPDATES, at time 2 * update + s."""
    errors = np.asarray(errors, dtype=float)
    seeds = errors.shape[0]
    diverged_at = np.array([20 if s in diverged else -1 for s in range(seeds)])
    result = ReplayResult(
        eval_update=UPDATES,
        eval_time=np.array([2.0 * UPDATES + s for s in range(seeds)]),
        loss=errors + F_STAR,
        accuracy=None if accuracy is None else np.asarray(accuracy, dtype=float),
        diverged_at=diverged_at,
        seeds=np.arange(seeds),
        variant=variant,
        k=1,
        num_learners=2,
        batch_size=1,
        rule="fixed",
        f_star=F_STAR,
    )
    spec = ExperimentSpec(variant=variant, num_learners=2, updates=40, seeds=seeds)
    return VariantRun(
        spec=spec,
        k=1 if variant == "async" else 2,
        result=result,
        simulated_time=np.full(seeds, 80.0),
        theory=Prediction(80.0, "exact", "by hand"),
        staleness=np.zeros(1, dtype=int),
    )


BOUNCE = [1.0, 0.4, 0.8, 0.3, 0.2]  # touches 0.5 at update 10, stays from 30
STEADY = [1.0, 0.45, 0.4, 0.35, 0.3]  # stays from 10
NEVER = [1.0, 0.9, 0.8, 0.7, 0.6]


def hand_comparison(target=0.5, **kw) -> Comparison:
    runs = [
        hand_run("sync", [BOUNCE, STEADY, NEVER]),
        hand_run("async", [STEADY, STEADY, BOUNCE], diverged=(2,)),
    ]
    spec = ExperimentSpec(variant="sync", num_learners=2, updates=40, seeds=3)
    fields = {"f_star": F_STAR, "target_on": "error", "model_name": "m", "data_name": "d"}
    return Comparison(spec=spec, runs=runs, target=target, **{**fields, **kw})


def test_a_runs_time_to_target_is_the_mean_of_its_seeds_that_reach_and_stay():
    sync, async_ = hand_comparison().runs
    times = sync.target_times(0.5)
    assert times.status == ("reached", "reached", "never")
    assert times.times[:2].tolist() == [60.0, 21.0]  # seed 0 stays from 30 (time 60)
    assert sync.time_to(0.5) == 40.5 and not times.reached and times.never_seeds == 1
    times = async_.target_times(0.5)
    assert times.status == ("reached", "reached", "diverged") and times.reached
    assert async_.time_to(0.5) == 20.5  # 20 and 21
    assert sync.time_to(0.5, window=15.0) == 20.5  # [20, 35] holds 0.4 only: seed 0 at 20
    assert sync.time_to(0.5, window=25.0) == 40.5  # [20, 45] holds 0.8 at 40
    assert sync.time_to(0.1) is None


def test_the_table_shows_the_interval_and_the_seeds_that_never_reach():
    cmp = hand_comparison()
    text = cmp.table()
    sync = cmp.target_times()[0]
    assert sync.ci95 == (21.0, 60.0)  # two reached times: the interval is the two
    assert "40.5 [21, 60] never 1/3" in text
    assert "20.5 [20, 21]" in text and "1/3" in text.splitlines()[2]
    assert (
        "target: error F - F* <= 0.5 (the default: every variant's seeds reach it and stay); "
        "a seed reaches it when it stays at or below for the rest of the run"
    ) in text
    given = hand_comparison(target_from="target").table()
    assert "target: error F - F* <= 0.5; a seed reaches it when it stays at or below" in given


def test_the_json_gives_the_mean_interval_and_seed_counts():
    obj = hand_comparison(target_window=25.0).to_json()
    assert obj["target"] == {
        "level": 0.5,
        "on": "error",
        "rule": "stays at or below for 25 time units (or to the end of the run)",
        "window": 25.0,
        "from": "default",
    }
    sync = obj["runs"][0]
    assert sync["time_to_target"] == 40.5 and sync["time_to_target_ci95"] == [21.0, 60.0]
    assert (sync["reached_seeds"], sync["never_seeds"], sync["diverged_seeds"]) == (2, 1, 0)
    none = hand_comparison(target=None).to_json()["runs"][0]
    assert none["time_to_target"] is None and none["time_to_target_ci95"] is None


def test_no_default_target_says_so_in_the_table():
    text = hand_comparison(target=None).table()
    assert "target: none: no level is reached and stayed under by every variant" in text
    assert "never" not in text.splitlines()[1]


def test_the_default_and_fraction_levels_of_hand_built_runs():
    runs = hand_comparison().runs
    # last quarter (at least 2 points) of each kept seed: 0.3, 0.35, 0.7; 0.35, 0.35
    assert comparison_level(runs, check_targets(), "error") == pytest.approx(0.7)
    fraction = check_targets(target_fraction=0.25)
    assert comparison_level(runs, fraction, "error") == pytest.approx(0.25)  # of 1.0
    assert comparison_level(runs, fraction, "loss") == pytest.approx(0.375)  # of 1.5
    flat = hand_run("sync", [[1.0, 1.0, 1.1, 1.2, 1.3]])
    assert comparison_level([*runs, flat], check_targets(), "error") is None


def test_an_accuracy_target_is_at_or_above():
    accuracy = [[0.1, 0.95, 0.5, 0.92, 0.97], [0.1, 0.5, 0.6, 0.7, 0.8]]
    run = hand_run("sync", [STEADY, STEADY], accuracy=accuracy)
    times = run.target_times(0.9, on="accuracy")
    assert times.status == ("reached", "never") and times.times[0] == 60.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"target": 0.1, "target_accuracy": 0.9},
            PssimError,
            "^give one of `target`, `target_accuracy` or `target_fraction`; got `target` and "
            "`target_accuracy`$",
        ),
        (
            {"target_fraction": 1.5},
            PssimError,
            "^`target_fraction` must be in \\(0, 1\\); got 1.5$",
        ),
        ({"target_window": 0}, PssimError, "^`target_window` must be > 0; got 0$"),
        ({"target_window": math.nan}, PssimError, "^`target_window` must be finite; got nan$"),
        ({"target_window": "5"}, PssimTypeError, "^`target_window` must be a number; got '5'$"),
        ({"target": math.inf}, PssimError, "^`target` must be a finite number; got inf$"),
    ],
)
def test_compare_refuses_bad_targets_before_running(kwargs, error, match):
    with pytest.raises(error, match=match):
        compare(variants=["async"], updates=10**9, seeds=1, **kwargs)  # would run for hours


def test_compare_refuses_an_accuracy_target_for_a_model_without_accuracy():
    spec = ExperimentSpec(
        variant="async", model="least-squares", data="synthetic:least-squares", updates=20000
    )
    with pytest.raises(PssimError, match="`target_accuracy` needs a model with an accuracy"):
        compare(spec, variants=["async"], target_accuracy=0.9)


def test_the_default_target_of_a_real_comparison_is_stayed_under_by_every_variant():
    spec = ExperimentSpec(variant="k-async", num_learners=4, k=2, updates=200, seeds=2)
    cmp = compare(spec, variants=["sync", "async", "k-async"], eval_every=20)
    assert cmp.target is not None and cmp.target_from is None
    for run, times in zip(cmp.runs, cmp.target_times(), strict=True):
        r = run.result
        after = r.eval_update > 0
        for seed, error in enumerate(r.error):
            if r.diverged[seed]:
                continue
            tail = error[after][-math.ceil(after.sum() / 4) :]
            assert (tail <= cmp.target).all(), run.variant  # its last quarter stays under
        assert times.reached and times.never_seeds == 0, run.variant
        assert all(t > 0 for t in times.times[np.isfinite(times.times)])
    assert "never" not in "".join(cmp.table().splitlines()[1:4])
