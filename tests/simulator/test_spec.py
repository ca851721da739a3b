"""The experiment spec: validated once, round-trips through dict/JSON/TOML, stable digest."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import ExperimentSpec, SpecError, load_spec
from simulator.spec import COMMAND_DEFAULTS, TIMING_FIELDS, TRAINING_FIELDS

HETERO = dict(
    variant="k-batch-async",
    num_learners=4,
    k=2,
    laws=["exp:1", "exp:2", "pareto:3,1", "shifted-exp:0.5,1"],
    speeds=[1.0, 2.0, 0.5, 1.5],
    push_latency="exp:20",
    pull_latency="shifted-exp:0.01,100",
    service_time="exp:50",
    updates=300,
    seeds=3,
    seed=7,
    model="least-squares",
    data="synthetic:least-squares,200,5",
    rule="compensated",
    lr=0.05,
    lr_c=1e-4,
    batch_size=4,
    l2=0.0,
    eval_every=10,
    dtype="float64",
    divergence_factor=1e3,
)


def _spec_or_none(**kw):
    if kw.get("variant") in ("sync", "async"):
        kw["k"] = None
    return ExperimentSpec(**kw)


@settings(max_examples=60, deadline=None)
@given(
    variant=st.sampled_from(["sync", "async", "k-sync", "k-batch-sync", "k-async", "k-avg"]),
    p=st.integers(4, 64),
    k=st.integers(1, 4),
    law=st.sampled_from(["exp:1", "pareto:2.5,1", "shifted-exp:1,2", "gamma:2,3"]),
    updates=st.integers(1, 10**6),
    seed=st.integers(0, 2**62),
    lr=st.floats(1e-6, 10),
)
def test_round_trips_through_dict_json_and_toml(variant, p, k, law, updates, seed, lr):
    spec = _spec_or_none(
        variant=variant, num_learners=p, k=k, law=law, updates=updates, seed=seed, lr=lr
    )
    assert ExperimentSpec.from_dict(spec.to_dict()) == spec
    assert ExperimentSpec.from_json(spec.to_json()) == spec
    assert ExperimentSpec.from_toml(spec.to_toml()) == spec
    assert ExperimentSpec.from_toml(spec.to_toml()).digest() == spec.digest()


def test_heterogeneous_spec_round_trips_and_every_field_counts():
    spec = ExperimentSpec(**HETERO)
    for back in (
        ExperimentSpec.from_dict(spec.to_dict()),
        ExperimentSpec.from_toml(spec.to_toml()),
    ):
        assert back == spec and back.to_dict() == spec.to_dict()
    # every field but an unset time budget, diagnostics off and no durations file (left
    # out: digests of older specs stay)
    unset = {"time_budget", "diagnostics", "durations", "durations_mode", "reuse_workers"}
    unset |= {"failure", "repair", "availability", "deadline", "slowdown", "slowdown_shared"}
    unset |= {"model_bytes", "bandwidth", "server_bandwidth", "servers"}  # cluster: opt-in
    unset |= {"staleness_limit", "dc_lambda", "lr_schedule"}  # methods: opt-in
    unset |= {"k_policy", "k_schedule", "k_every"}  # adaptive K: opt-in
    assert set(spec.to_dict()) == set(TIMING_FIELDS + TRAINING_FIELDS) - unset
    # every field is part of the canonical form: changing any one changes the digest
    changes = dict(
        variant="k-async", k=1, speeds=[1, 1, 1, 1], push_latency="exp:21",
        pull_latency=None, service_time=None, updates=301, seeds=4, seed=8, model="mlp",
        data="digits", rule="fixed", lr=0.06, lr_c=2e-4, batch_size=5, l2=0.1,
        eval_every=11, dtype="float32", divergence_factor=10.0,
        laws=["exp:1", "exp:2", "pareto:3,1", "exp:3"], time_budget=50.0,
    )  # fmt: skip
    digests = {spec.digest()}
    for name, value in changes.items():
        extra = {"lr_c": None} if name == "rule" else {}  # lr_c needs the compensated rule
        changed = spec.replace(**{name: value}, **extra)
        assert changed != spec, name
        digests.add(changed.digest())
    assert len(digests) == len(changes) + 1
    assert spec.replace(law="exp:2", laws=None).law.spec == "exp:2.0"


def test_digest_is_stable_across_processes():
    code = f"from simulator import ExperimentSpec; print(ExperimentSpec(**{HETERO!r}).digest())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ExperimentSpec(**HETERO).digest()
    assert len(out.stdout.strip()) == 16


def test_spellings_and_tables_give_the_same_spec():
    flags = {"variant": "async", "learners": 8, "dist": "exp:1", "iterations": 1000, "seeds": 5}
    python = {"variant": "async", "num_learners": 8, "law": "exp:1", "updates": 1000, "seeds": 5}
    tables = {"timing": flags, "training": {"lr-rule": "fixed", "batch": 1, "eval-every": 10}}
    underscores = {"timing": flags, "training": {"lr_rule": "fixed", "batch": 1, "eval_every": 10}}
    assert ExperimentSpec.from_dict(flags) == ExperimentSpec.from_dict(python)
    assert ExperimentSpec.from_dict(tables) == ExperimentSpec.from_dict(underscores)
    assert ExperimentSpec.from_dict(tables).eval_every == 10


@pytest.mark.parametrize(
    "data,message",
    [
        ({"learnres": 8}, "key 'learnres' in spec is not a pssim setting"),
        ({"timing": {"batch-szie": 2}}, "[timing] key 'batch-szie' in spec is not a pssim"),
        ({"learners": 8, "num_learners": 8}, "key 'num_learners' in spec repeats 'learners'"),
        ({"P": 0}, "`num_learners` must be >= 1; got 0"),
    ],
)
def test_unknown_or_repeated_keys_are_refused_naming_them(data, message):
    with pytest.raises(SpecError) as info:
        ExperimentSpec.from_dict(data)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "kwargs,param,message",
    [
        (dict(updates=0), "updates", "`updates` must be >= 1; got 0"),
        (dict(num_learners=True), "num_learners", "`num_learners` must be an integer"),
        (dict(variant="sync", k=3), "k", "`k` must be 8 (or not given) for variant 'sync'"),
        (dict(variant="k-sync", k=9), "k", "`k` must be <= the number of learners P (8)"),
        (dict(variant="k-sync"), "k", "`k` must be given for variant 'k-sync'"),
        (dict(variant="fast"), "variant", "`variant` must be one of"),
        (dict(law="exp:-1"), "law", "`law`: `Exponential.rate` must be > 0"),
        (dict(law="lognormal:800,1"), "law", "`LogNormal.mu`"),
        (dict(laws=["exp:1"] * 3), "laws", "`laws` must have P (8) entries"),
        (dict(law="pareto:2,1", laws=["exp:1"] * 8), "laws", "must not both be given"),
        (dict(speeds=[1.0] * 7 + [0.0]), "speeds", "`speeds` must be a finite number > 0"),
        (dict(speeds="1,2"), "speeds", "`speeds` must be a list of P (8) entries"),
        (dict(push_latency="exp:0"), "push_latency", "`push_latency`: `Exponential.rate`"),
        (dict(seed=-1), "seed", "`seed` must be >= 0; got -1"),
        (dict(seed=2**63), "seed", "`seed` must be <= 9223372036854775807"),
        (dict(seed=2**63 - 3, seeds=5), "seeds", "`seeds` must keep every seed below 2**63"),
        (dict(model="resnet"), "model", "`model` must be one of softmax"),
        (dict(data="imagenet"), "data", "`data` must be one of digits"),
        (dict(rule="adam"), "rule", "`rule` must be one of fixed, compensated, damped"),
        (dict(variant="k-avg", k=2, rule="damped"), "rule", "`rule` must be fixed for k-avg"),
        (dict(lr=float("nan")), "lr", "`lr` must be a finite number > 0; got nan"),
        (dict(lr_c=0), "lr_c", "`lr_c` must be a finite number > 0; got 0"),
        (dict(l2=-1), "l2", "`l2` must be a finite number >= 0; got -1"),
        (dict(eval_every=0), "eval_every", "`eval_every` must be >= 1; got 0"),
        (dict(dtype="float16"), "dtype", "`dtype` must be one of float32, float64"),
        (dict(divergence_factor=1), "divergence_factor", "`divergence_factor` must be a finite"),
        (dict(seeds=10**6 + 1), "seeds", "`seeds` must be <= 1000000; got 1000001"),
        (dict(batch_size=2**24 + 1), "batch_size", "`batch_size` must be <= 16777216"),
    ],
)
def test_bad_values_name_the_python_argument(kwargs, param, message):
    with pytest.raises(SpecError) as info:
        ExperimentSpec(**kwargs)
    assert message in str(info.value) and info.value.param == param
    assert "\n" not in str(info.value)


def test_frozen_and_replace_validates():
    spec = ExperimentSpec()
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.updates = 5  # type: ignore[misc]
    with pytest.raises(SpecError, match="`updates` must be >= 1"):
        spec.replace(updates=0)
    with pytest.raises(SpecError, match="`iterations` is not a spec field"):
        spec.replace(iterations=5)
    assert spec.replace(updates=5).updates == 5 and spec.updates == 1000


def test_aliases_keep_their_names_and_resolve():
    sync = ExperimentSpec(variant="sync", num_learners=6)
    assert sync.variant == "sync" and sync.k is None and sync.canonical == ("k-sync", 6)
    assert ExperimentSpec(variant="async", k=1).k is None  # K = 1 is implied, stored as None


def test_load_spec_reads_a_file_with_overrides(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text(
        'variant = "async"\nlearners = 8\ndist = "exp:1"\niterations = 1000\nseeds = 5\n'
    )
    spec = load_spec(path, seeds=2)
    assert spec == ExperimentSpec(variant="async", num_learners=8, updates=1000, seeds=2)
    path.write_text("learners = [")
    with pytest.raises(SpecError, match=r"`exp\.toml` is not valid TOML"):
        load_spec(path)
    with pytest.raises(SpecError, match="must be a readable TOML file"):
        load_spec(tmp_path / "missing.toml")


def test_command_defaults_are_valid_specs():
    for command, defaults in COMMAND_DEFAULTS.items():
        assert isinstance(ExperimentSpec(**defaults), ExperimentSpec), command
