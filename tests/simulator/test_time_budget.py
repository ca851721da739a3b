"""Simulated-time budgets: the spec field, runs to a budget, compare and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_process import one_line, pssim
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import ExperimentSpec, SpecError, simulate
from simulator.cli import main
from simulator.spec import COMMAND_DEFAULTS, TIMING_FIELDS, TRAINING_FIELDS
from simulator.studies._common import as_spec, spec_theory
from simulator.studies.comparison import compare
from simulator.studies.runtime import budget_count_theory, runtime_study
from simulator.timing import budget_updates
from simulator.timing._budget import simulate_to_budget, updates_within
from simulator.timing.engine import simulate_spec

#: (variant, K) of every synchronisation variant.
VARIANTS = [
    ("sync", None),
    ("async", None),
    ("k-sync", 2),
    ("k-batch-sync", 2),
    ("k-async", 2),
    ("k-batch-async", 2),
    ("k-avg", 2),
]
#: Communication costs: only the SimPy engine runs them.
COMM = dict(push_latency="exp:20", pull_latency="exp:30", service_time="exp:50")

# -- the spec ----------------------------------------------------------------------------

#: Digests and canonical JSON of specs without a budget, computed before the field existed:
#: results files carry them, so they must never change.
DIGESTS_BEFORE = [
    ({}, "736e9ac16478f673"),
    (dict(variant="k-async", num_learners=8, k=2, law="pareto:2,1"), "a27c9441436a095b"),
    (COMMAND_DEFAULTS["compare"], "c254a26405d25624"),
    (COMMAND_DEFAULTS["train"], "3d04c38271aef213"),
    (
        dict(variant="sync", num_learners=4, updates=500, seeds=2, eval_every=10),
        "33fc735b53057901",
    ),
    (
        dict(variant="k-avg", num_learners=4, k=3, service_time="exp:5", speeds=[1, 2, 1, 1]),
        "b95029ec155062e7",
    ),
    (
        dict(variant="k-batch-async", num_learners=2, k=1, laws=["exp:1", "exp:2"]),
        "a33033ed5bef38b5",
    ),
]
DEFAULT_JSON = (
    '{"batch_size":1,"data":"digits","divergence_factor":100.0,"dtype":"float32",'
    '"eval_every":null,"k":null,"l2":0.01,"law":"exp:1.0","laws":null,"lr":0.01,'
    '"lr_c":null,"model":"softmax","num_learners":8,"pull_latency":null,"push_latency":null,'
    '"rule":"fixed","seed":0,"seeds":10,"service_time":null,"speeds":null,"updates":1000,'
    '"variant":"async"}'
)


@pytest.mark.parametrize("fields,digest", DIGESTS_BEFORE)
def test_specs_without_a_budget_keep_their_digests(fields, digest):
    spec = ExperimentSpec(**fields)
    assert spec.digest() == digest
    assert "time_budget" not in spec.to_dict() and "time-budget" not in spec.to_toml()
    assert ExperimentSpec.from_toml(spec.to_toml()).digest() == digest


def test_default_spec_is_unchanged():
    spec = ExperimentSpec()
    assert spec.updates == 1000 and spec.time_budget is None
    assert spec.to_json() == DEFAULT_JSON
    assert repr(spec) == "ExperimentSpec(variant='async', num_learners=8)"
    assert ExperimentSpec(updates=None) == spec


def test_a_budget_spec_has_no_updates_and_round_trips():
    spec = ExperimentSpec(variant="k-async", num_learners=4, k=2, time_budget=50)
    assert spec.updates is None and spec.time_budget == 50.0
    assert repr(spec) == (
        "ExperimentSpec(variant='k-async', num_learners=4, k=2, time_budget=50.0)"
    )
    d = spec.to_dict()
    assert d["time_budget"] == 50.0 and d["updates"] is None
    unset = ("diagnostics", "durations", "durations_mode", "reuse_workers")
    unset += ("failure", "repair", "availability", "deadline", "slowdown", "slowdown_shared")
    unset += ("model_bytes", "bandwidth", "server_bandwidth", "servers")  # cluster: opt-in
    unset += ("staleness_limit", "dc_lambda", "lr_schedule")  # methods: opt-in
    unset += ("k_policy", "k_schedule", "k_every")  # adaptive K: opt-in
    assert list(d) == [f for f in TIMING_FIELDS + TRAINING_FIELDS if f not in unset]
    toml = spec.to_toml()
    assert "time-budget = 50.0" in toml and "iterations" not in toml
    for back in (
        ExperimentSpec.from_dict(d),
        ExperimentSpec.from_json(spec.to_json()),
        ExperimentSpec.from_toml(toml),
        ExperimentSpec.from_dict({"timing": {"time-budget": 50.0, "K": 2}, "P": 4,
                                  "variant": "k-async"}),
    ):  # fmt: skip
        assert back == spec and back.digest() == spec.digest()
    assert spec.digest() != spec.replace(time_budget=51.0).digest()
    assert spec.digest() != ExperimentSpec(variant="k-async", num_learners=4, k=2).digest()


def test_updates_and_a_budget_are_alternatives():
    with pytest.raises(SpecError) as info:
        ExperimentSpec(updates=500, time_budget=50.0)
    text = str(info.value)
    assert text.startswith("give `updates` or `time_budget`, not both")
    assert "500" in text and "50.0" in text and "\n" not in text
    assert info.value.param == "time_budget"
    spec = ExperimentSpec(updates=500)
    budget = spec.replace(time_budget=50.0)
    assert budget.updates is None and budget.time_budget == 50.0
    back = budget.replace(updates=300)
    assert back.updates == 300 and back.time_budget is None
    assert budget.replace(time_budget=None).updates == 1000  # neither: the default J
    assert budget.replace(seeds=3).time_budget == 50.0  # other changes keep it
    with pytest.raises(SpecError, match="not both"):
        spec.replace(updates=10, time_budget=5.0)
    # a budget spec's eval_every is not checked against a J it does not have
    assert ExperimentSpec(time_budget=5.0, eval_every=10**6).eval_every == 10**6


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "10", True])
def test_bad_budgets_name_the_field(bad):
    with pytest.raises(SpecError) as info:
        ExperimentSpec(time_budget=bad)
    assert info.value.param == "time_budget" and "`time_budget` must be" in str(info.value)


def test_a_users_budget_replaces_a_default_j():
    spec = as_spec(None, {"time_budget": 9.0}, COMMAND_DEFAULTS["compare"])
    assert spec.updates is None and spec.time_budget == 9.0 and spec.k == 4
    spec = as_spec(None, {"updates": 30}, {"time_budget": 9.0})
    assert spec.updates == 30 and spec.time_budget is None
    spec = as_spec(ExperimentSpec(updates=40), {"time_budget": 9.0})
    assert spec.updates is None and spec.time_budget == 9.0


# -- timing ------------------------------------------------------------------------------


def _rows(trace, n):
    w = trace.max_k
    return [trace.update_time[:n]] + [
        getattr(trace, a)[:n, :w] for a in ("learner", "version", "start", "finish", "mask")
    ]


@pytest.mark.parametrize("comm", [False, True], ids=["no-comm", "comm"])
@pytest.mark.parametrize("variant,k", VARIANTS)
def test_a_shorter_run_is_the_prefix_of_a_longer_one(variant, k, comm):
    base = ExperimentSpec(
        variant=variant, num_learners=4, k=k, law="pareto:2.5,1", **(COMM if comm else {})
    )
    engines = ["simpy"] if comm else ["simpy", "fast"]
    for engine in engines:
        for seed in (0, 3):
            long = simulate_spec(base.replace(updates=300), seed, engine=engine)
            for n in (1, 37, 299):
                short = simulate_spec(base.replace(updates=n), seed, engine=engine)
                assert short.num_updates == n
                for a, b in zip(_rows(short, n), _rows(long, n), strict=True):
                    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("comm", [False, True], ids=["no-comm", "comm"])
@pytest.mark.parametrize("variant,k", VARIANTS)
def test_a_budget_run_ends_by_the_budget_and_the_next_update_after_it(variant, k, comm):
    spec = ExperimentSpec(
        variant=variant, num_learners=4, k=k, time_budget=60.0, **(COMM if comm else {})
    )
    for seed in (0, 1):
        trace = simulate_spec(spec, seed)
        n = trace.num_updates
        assert n == updates_within(spec, seed) >= 1
        assert trace.update_time.max() <= 60.0
        longer = simulate_spec(spec.replace(updates=n + 1), seed)
        assert longer.update_time[n] > 60.0
        np.testing.assert_array_equal(longer.update_time[:n], trace.update_time)
        if not comm:  # both engines give the same budget run
            fast = simulate_to_budget(spec, seed, engine="fast")
            slow = simulate_to_budget(spec, seed, engine="simpy")
            np.testing.assert_array_equal(fast.update_time, slow.update_time)
            np.testing.assert_array_equal(fast.learner, slow.learner)
    assert simulate(spec, seed=1).num_updates == simulate_spec(spec, 1).num_updates


@settings(max_examples=25, deadline=None)
@given(
    budget=st.floats(0.5, 400.0),
    vk=st.sampled_from(VARIANTS),
    seed=st.integers(0, 2**40),
)
def test_budget_runs_hold_every_update_by_the_budget(budget, vk, seed):
    variant, k = vk
    spec = ExperimentSpec(variant=variant, num_learners=3, k=k, time_budget=budget)
    try:
        trace = simulate_spec(spec, seed)
    except SpecError as err:  # the first update comes after a short budget
        first = simulate_spec(spec.replace(updates=1), seed).update_time[0]
        assert first > budget and "shorter than the first update" in str(err)
        return
    assert trace.update_time[-1] <= budget
    nxt = simulate_spec(spec.replace(updates=trace.num_updates + 1), seed).update_time[-1]
    assert nxt > budget


def test_a_budget_before_the_first_update_is_refused():
    spec = ExperimentSpec(variant="sync", num_learners=4, time_budget=1e-6)
    with pytest.raises(SpecError) as info:
        simulate_spec(spec, 5)
    text = str(info.value)
    assert "`time_budget` 1e-06 is shorter than the first update (at t=" in text
    assert text.endswith("for seed 5") and info.value.param == "time_budget"


def test_budget_updates_is_the_fewest_over_seeds():
    spec = ExperimentSpec(variant="k-async", num_learners=4, k=2, time_budget=40.0, seeds=5)
    per_seed = [simulate_spec(spec, s).num_updates for s in spec.seed_list]
    assert len(set(per_seed)) > 1  # the seeds differ, so the minimum matters
    j_v = budget_updates(spec)
    assert j_v == min(per_seed)
    for s in spec.seed_list:  # every seed completes J_v updates within the budget
        assert simulate_spec(spec.replace(updates=j_v), s).end_time <= 40.0
    with pytest.raises(ValueError, match="time_budget"):
        budget_updates(spec.replace(updates=10))


# -- studies -----------------------------------------------------------------------------


def test_runtime_study_counts_updates_by_the_budget():
    spec = ExperimentSpec(variant="async", num_learners=4, time_budget=200.0, seeds=8)
    s = runtime_study(spec)
    assert s.counts.tolist() == [simulate_spec(spec, x).num_updates for x in spec.seed_list]
    assert (s.times <= 200.0).all()
    assert s.count_theory.mean == pytest.approx(800.0)  # T P / E[X]
    assert s.count_theory.relation == "asymptotic"
    lo, hi = s.count_ci95()
    assert lo < s.counts.mean() < hi
    obj = s.to_json()
    assert obj["time_budget"] == 200.0 and obj["iterations"] is None
    assert obj["updates_within_budget"]["per_seed"] == s.counts.tolist()
    assert obj["updates_within_budget"]["theory"]["relation"] == "asymptotic"
    plain = runtime_study(spec.replace(updates=100))
    assert plain.counts is None and "updates_within_budget" not in plain.to_json()
    # a runtime bound gives the opposite bound on the count
    nltu = ExperimentSpec(variant="k-async", num_learners=4, k=2, law="shifted-exp:1,1")
    assert budget_count_theory(nltu.replace(time_budget=10.0)).relation == "lower-bound"


def test_compare_runs_every_variant_to_the_same_budget():
    spec = ExperimentSpec(
        variant="k-async", num_learners=4, k=2, time_budget=15.0, seeds=2, eval_every=8
    )
    cmp = compare(spec, variants=["sync", "async", "k-async"])
    for run in cmp.runs:
        j_v = budget_updates(run.spec)
        assert run.spec.time_budget == 15.0 and run.spec.updates is None
        assert run.num_updates == j_v and run.result.eval_update[-1] == j_v
        assert (run.simulated_time <= 15.0).all() and (run.result.eval_time[:, -1] <= 15.0).all()
        fixed_j = spec_theory(run.spec.replace(updates=j_v, eval_every=None))
        assert run.theory.mean == fixed_j.mean  # the J the budget chose: no longer exact
        assert run.theory.relation == ("none" if fixed_j.mean is None else "asymptotic")
    js = [run.num_updates for run in cmp.runs]
    assert js[0] < js[2] < js[1]  # sync is slowest, async fastest
    obj = cmp.to_json()
    assert obj["experiment"]["time_budget"] == 15.0 and obj["experiment"]["updates"] is None
    assert [r["updates"] for r in obj["runs"]] == js
    assert {r["time_budget"] for r in obj["runs"]} == {15.0}
    frame = cmp.results_frame()
    assert (frame["time_budget"] == 15.0).all()
    assert frame.groupby("variant")["updates"].first().to_dict() == dict(
        zip(cmp.variants, js, strict=True)
    )
    table = cmp.table()
    assert table.splitlines()[0].split()[:3] == ["variant", "K", "J"]
    assert "time budget T = 15" in table


def test_compare_without_a_spec_drops_the_default_j_for_a_budget():
    cmp = compare(variants=["async"], num_learners=4, time_budget=5.0, seeds=1)
    run = cmp.runs[0]
    assert run.spec.updates is None and run.spec.k is None
    assert run.num_updates == budget_updates(run.spec) and run.simulated_time[0] <= 5.0


# -- the command line --------------------------------------------------------------------


def test_cli_compare_with_a_budget(tmp_path):
    argv = ["compare", "--time-budget", "12", "--variants", "sync,async", "-P", "2"]
    code, out, err = pssim([*argv, "--seeds", "2", "--json", "--out", "res"], cwd=tmp_path)
    assert code == 0, err
    obj = json.loads(out)
    assert obj["experiment"]["time_budget"] == 12.0 and obj["experiment"]["updates"] is None
    for r in obj["runs"]:
        spec = ExperimentSpec.from_dict(r["spec"])
        assert r["updates"] == budget_updates(spec) and r["time_budget"] == 12.0
        assert max(r["curve"]["time"]) <= 12.0 and r["curve"]["update"][-1] == r["updates"]
    toml = (tmp_path / "res" / "spec.toml").read_text()
    assert "time-budget = 12.0" in toml and "iterations" not in toml


def test_cli_refuses_iterations_with_a_budget(tmp_path):
    code, out, err = pssim(
        ["compare", "--iterations", "50", "--time-budget", "5", "--out", "res"], cwd=tmp_path
    )
    assert code == 2 and out == ""
    line = one_line(err)
    assert line.startswith("pssim: error: give --iterations or --time-budget, not both")
    assert not (tmp_path / "res").exists()


def _run(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_runtime_budget_from_flags_and_config(capsys, tmp_path):
    flags = ["-P", "4", "--seeds", "3"]
    code, out, err = _run(capsys, "runtime", "--time-budget", "30", *flags, "--json")
    assert code == 0, err
    obj = json.loads(out)
    assert obj["time_budget"] == 30.0 and obj["iterations"] is None
    assert len(obj["updates_within_budget"]["per_seed"]) == 3
    cfg = tmp_path / "b.toml"
    cfg.write_text("[timing]\ntime-budget = 30.0\nlearners = 4\nseeds = 3\n")
    code, by_file, _ = _run(capsys, "runtime", "--config", str(cfg), "--json")
    assert code == 0 and json.loads(by_file) == obj
    # a typed J replaces the file's budget, and the other way round
    code, out, _ = _run(capsys, "runtime", "--config", str(cfg), "-J", "20", "--json")
    assert code == 0 and json.loads(out)["iterations"] == 20
    cfg_j = tmp_path / "j.toml"
    cfg_j.write_text("iterations = 20\n")
    code, out, _ = _run(capsys, "runtime", "--config", str(cfg_j), "--time-budget", "30",
                        *flags, "--json")  # fmt: skip
    assert code == 0 and json.loads(out) == obj
    code, text, _ = _run(capsys, "runtime", "--time-budget", "30", *flags)
    assert code == 0 and "T=30" in text and "updates by T" in text and "asymptotic" in text
    both = tmp_path / "both.toml"
    both.write_text("iterations = 20\ntime-budget = 3.0\n")
    code, _, err = _run(capsys, "runtime", "--config", str(both))
    assert code == 2 and "not both" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(capsys, "runtime", "--time-budget", "1e-9")
    assert code == 2 and "--time-budget 1e-09 is shorter than the first update" in err
