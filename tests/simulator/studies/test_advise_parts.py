"""The advisor's parts: its file, the theory screen and the ranking (no training)."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest

from simulator.errors import SpecError
from simulator.studies._advise_rank import CandidateResult, rank
from simulator.studies._advise_screen import Screen, _iterations, screen_candidates
from simulator.studies._advise_spec import (
    AdviseSettings,
    candidates_of,
    read_advise_config,
    split_advise_config,
)
from simulator.theory.error_bounds import kasync_error_bound, ksync_error_bound

SWEEP = {
    "timing": {"learners": 4, "iterations": 50, "dist": "exp:1"},
    "training": {"model": "softmax", "data": "digits", "batch": 4},
    "grid": {"variant": ["sync", "k-sync", "async"], "K": [2, 3], "lr": [0.1]},
}


def config(**advise):
    return {**SWEEP, "advise": advise}


def test_candidates_follow_grid_order_and_sync_does_not_multiply_by_k():
    sweep, settings = split_advise_config(config(target=0.1), source="a.toml")
    labels = [c.label for c in candidates_of(sweep)]
    assert labels == [
        "variant=sync, lr=0.1",
        "variant=k-sync, K=2, lr=0.1",
        "variant=k-sync, K=3, lr=0.1",
        "variant=async, lr=0.1",
    ]
    assert [c.index for c in candidates_of(sweep)] == [0, 1, 2, 3]
    assert settings == AdviseSettings("target", 0.1)
    assert sweep.kind == "training"


@pytest.mark.parametrize(
    ("advise", "words"),
    [
        ({}, "must give one of target, target-accuracy, target-fraction; got none"),
        ({"target": 0.1, "target-fraction": 0.5}, "got target and target-fraction"),
        ({"target": -1}, "`target` must be > 0; got -1"),
        ({"target": "low"}, "`target` must be a number > 0"),
        ({"target": math.nan}, "`target` must be > 0; got nan"),
        ({"target-accuracy": 1.5}, "`target-accuracy` must be in (0, 1]; got 1.5"),
        ({"target-fraction": 1.0}, "`target-fraction` must be in (0, 1); got 1"),
        ({"target": 0.1, "window": 0}, "`window` must be > 0; got 0"),
        ({"target": 0.1, "max-seeds": 1}, "`max-seeds` must be an integer in [2, 1000]; got 1"),
        ({"target": 0.1, "initial-seeds": 5, "max-seeds": 4}, "must be <= max-seeds (4); got 5"),
        ({"target": 0.1, "time-budget": math.inf}, "`time-budget` must be > 0; got inf"),
        ({"target": 0.1, "speed": 2}, "[advise] key 'speed' in a.toml is not an advisor setting"),
    ],
)
def test_bad_advise_tables_are_one_line(advise, words):
    with pytest.raises(SpecError) as err:
        split_advise_config(config(**advise), source="a.toml")
    assert words in str(err.value)
    assert "\n" not in str(err.value)


def test_a_file_without_candidates_is_refused():
    for empty in ({}, {"grid": {}}, {"zip": []}):
        data = {**config(target=0.1), **empty}
        data.pop("grid") if "grid" not in empty else None
        with pytest.raises(
            SpecError, match="has no \\[grid\\] or \\[\\[zip\\]\\] table: the advisor"
        ):
            split_advise_config(data, source="a.toml")


def test_a_file_without_advise_table_or_sweeping_seeds_is_refused():
    with pytest.raises(SpecError, match="must have an \\[advise\\] table"):
        split_advise_config(SWEEP, source="a.toml")
    timing = {k: v for k, v in SWEEP["timing"].items() if k != "iterations"}
    swept = {**config(target=0.1), "timing": timing}
    swept["grid"] = {**SWEEP["grid"], "iterations": [20, 40]}
    with pytest.raises(
        SpecError, match=re.escape("`iterations` is swept in a.toml: the advisor sets")
    ):
        split_advise_config(swept, source="a.toml")
    timing = {**config(target=0.1), "sweep": {"kind": "timing"}}
    with pytest.raises(SpecError, match="must be training for the advisor"):
        split_advise_config(timing, source="a.toml")


def test_a_cluster_file_joins_the_settings_and_a_key_given_twice_is_refused(tmp_path):
    (tmp_path / "fitted.toml").write_text("[timing]\nlearners = 6\nspeeds = [1, 1, 1, 2, 2, 2]\n")
    text = (
        '[training]\nmodel = "softmax"\ndata = "digits"\n[grid]\nlr = [0.1, 0.2]\n'
        '[advise]\ntarget = 0.2\ncluster = "fitted.toml"\n'
    )
    (tmp_path / "advise.toml").write_text(text)
    sweep, _ = read_advise_config(tmp_path / "advise.toml")
    spec = candidates_of(sweep)[0].spec
    assert spec.num_learners == 6 and spec.speeds == (1.0, 1.0, 1.0, 2.0, 2.0, 2.0)
    (tmp_path / "twice.toml").write_text(
        text.replace("[training]", "[timing]\nlearners = 4\n[training]")
    )
    with pytest.raises(
        SpecError, match=re.escape("`learners` is given in twice.toml and in its cluster")
    ):
        read_advise_config(tmp_path / "twice.toml")
    with pytest.raises(SpecError, match="cluster"):
        read_advise_config(tmp_path / "advise.toml", cluster=tmp_path / "missing.toml")


@pytest.mark.parametrize("kind", ["k-sync", "k-async"])
def test_the_screen_iterations_are_the_first_j_whose_bound_reaches_the_target(kind):
    common = dict(lr=0.05, L=1.0, c=0.2, sigma2=0.5, K=2, m=4, initial_error=3.0)
    if kind == "k-sync":
        bound = ksync_error_bound(1, **common)
        curve = ksync_error_bound(np.arange(2000), **common).value
    else:
        bound = kasync_error_bound(1, gamma=0.0, p0=0.25, **common)
        curve = kasync_error_bound(np.arange(2000), gamma=0.0, p0=0.25, **common).value
    for target in (2.5, 0.5, bound.extra["floor"] * 1.01):
        j = _iterations(bound, target, 3.0)
        assert curve[j] <= target < curve[j - 1]  # brute force agrees
    assert _iterations(bound, bound.extra["floor"], 3.0) is None  # the floor is never reached
    assert _iterations(bound, 3.5, 3.0) == 0


class _Constants:
    L, c, sigma2, M_G, f_star, loss_init = 1.0, 0.1, 0.2, 0.0, 0.1, 2.1


def test_the_screen_ranks_by_iterations_times_update_time_and_says_why_it_cannot():
    base = {**SWEEP, "training": {**SWEEP["training"], "model": "softmax-nobias"}}
    sweep, settings = split_advise_config({**base, "advise": {"target": 0.5}}, source="a")
    candidates = candidates_of(sweep)
    screens = screen_candidates(candidates, settings, _Constants())
    sync = screens[0]
    assert sync.iterations is not None and sync.time_per_update is not None
    assert sync.predicted == pytest.approx(sync.iterations * sync.time_per_update)
    # K-sync with K = 2 of 4 waits for the 2nd of 4 exp(1) draws: 1/4 + 1/3
    assert screens[1].time_per_update == pytest.approx(1 / 4 + 1 / 3)
    assert "Lemma 2" in sync.reason and "Lemma 3" in sync.reason
    low = split_advise_config({**base, "advise": {"target": 1e-4}}, source="a")[1]
    floor = screen_candidates(candidates, low, _Constants())[0]
    assert floor.predicted is None and "floor" in floor.reason
    accuracy = split_advise_config({**base, "advise": {"target-accuracy": 0.9}}, source="a")[1]
    assert not any(s.ranked for s in screen_candidates(candidates, accuracy, _Constants()))
    flat = type("Flat", (_Constants,), {"c": 0.0})()
    assert "not strongly convex" in screen_candidates(candidates, settings, flat)[0].reason


def _result(index, mean, ci, status="reached", seeds=4, learners=4):
    sweep, _ = split_advise_config(config(target=0.1), source="a")
    candidate = candidates_of(sweep)[index]
    reached = seeds if status == "reached" else seeds // 2
    return CandidateResult(
        candidate=candidate,
        screen=Screen(None, None, None, "none"),
        status=status,
        seeds=seeds,
        reached_seeds=reached,
        mean=mean,
        ci95=ci,
        learner_hours=None if mean is None else learners * mean / 3600,
    )


def test_rank_separates_ties_and_puts_partial_candidates_behind():
    settings = AdviseSettings("target", 0.1)
    a, b = _result(0, 10.0, (9.0, 11.0)), _result(1, 13.0, (12.0, 14.0))
    partial = _result(2, 5.0, (4.0, 6.0), status="partly")
    order, contenders = rank([partial, b, a], settings)
    assert [r.candidate.index for r in order] == [0, 1, 2] and contenders == []
    c = _result(3, 11.5, (10.5, 12.5))  # overlaps the leader's interval
    order, contenders = rank([a, b, c], settings)
    assert [r.candidate.index for r in contenders] == [3]
    single = dataclasses.replace(c, ci95=None)  # no interval: cannot be told apart
    assert rank([a, single], settings)[1] == [single]


def test_learner_hours_cap_moves_a_candidate_behind_the_ones_within_it():
    fast = _result(0, 7200.0, (7000.0, 7400.0), learners=8)  # 16 learner-hours
    slow = _result(1, 9000.0, (8800.0, 9200.0), learners=2)  # 5 learner-hours
    order, _ = rank([fast, slow], AdviseSettings("target", 0.1, learner_hours=10.0))
    assert [r.candidate.index for r in order] == [1, 0]
    assert order[1].status == "over learner-hours"


def test_a_partly_reaching_candidate_over_the_cap_is_flagged_too():
    partly = _result(0, 7200.0, (7000.0, 7400.0), status="partly", learners=8)
    within = _result(1, 9000.0, (8800.0, 9200.0), learners=2)
    order, _ = rank([partly, within], AdviseSettings("target", 0.1, learner_hours=10.0))
    assert [r.status for r in order] == ["reached", "over learner-hours"]


def test_an_empty_cluster_key_is_named_as_the_file_writes_it():
    with pytest.raises(SpecError, match=re.escape("[advise] cluster in a.toml must be the path")):
        split_advise_config(config(target=0.1, cluster=""), source="a.toml")


def test_k_above_the_default_p_of_a_file_without_cluster_says_to_give_one():
    no_cluster = {
        "training": {"model": "softmax", "data": "digits", "batch": 4},
        "grid": {"variant": ["k-sync"], "K": [16]},
        "advise": {"target": 0.1},
    }
    with pytest.raises(SpecError, match="describes no cluster, so P is the default") as err:
        split_advise_config(no_cluster, source="a.toml")
    assert "\n" not in str(err.value) and err.value.param == "k"
    with_p = {**no_cluster, "timing": {"learners": 8}}
    with pytest.raises(SpecError, match="number of learners") as err:
        split_advise_config(with_p, source="a.toml")
    assert "describes no cluster" not in str(err.value)  # P was given: no hint


def test_a_missing_cluster_file_of_the_advise_table_is_named_as_written(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.toml").write_text(
        '[training]\nmodel = "softmax"\ndata = "digits"\n[grid]\nlr = [0.1, 0.2]\n'
        '[advise]\ntarget = 0.2\ncluster = "missing.toml"\n'
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as err:
        read_advise_config("sub/a.toml")
    assert str(err.value).startswith("`[advise] cluster` must be a readable TOML file; got ")
    assert "'sub/missing.toml'" in str(err.value) and str(tmp_path) not in str(err.value)
    with pytest.raises(SpecError, match=r"^`cluster` must be a readable TOML file; got 'x\.toml'"):
        read_advise_config("sub/a.toml", cluster="x.toml")


def test_an_empty_cluster_file_is_refused(tmp_path):
    (tmp_path / "empty.toml").write_text("# nothing yet\n")
    (tmp_path / "a.toml").write_text(
        '[training]\nmodel = "softmax"\ndata = "digits"\n[grid]\nlr = [0.1, 0.2]\n'
        '[advise]\ntarget = 0.2\ncluster = "empty.toml"\n'
    )
    with pytest.raises(SpecError, match=r"^`\[advise\] cluster` file empty\.toml sets nothing"):
        read_advise_config(tmp_path / "a.toml")
    with pytest.raises(SpecError, match=r"^`cluster` file empty\.toml sets nothing"):
        read_advise_config(tmp_path / "a.toml", cluster=tmp_path / "empty.toml")
