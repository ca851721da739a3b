"""Laws whose parameters follow the mini-batch size m and the number of learners P.

``dist = "shifted-exp:0.5*m,1"`` is Dutta et al.'s ``X ~ 0.5 m + exp(1)``; the spec keeps
the string as typed (dict, TOML, digest) and its fields hold the law resolved with its own
``batch_size`` and ``num_learners``, which every consumer (engines, theory, sweeps) uses.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re

import numpy as np
import pytest
from cli_process import one_line, pssim

from distributions import Deterministic, ShiftedExponential, parse_law
from simulator import ExperimentSpec, SpecError, SweepSpec, runtime_study, sweep
from simulator.timing.engine import simulate_spec
from simulator.timing.fast import simulate_fast

M_LAW = "shifted-exp:0.5*m,1"


def harmonic(n: int) -> float:
    return sum(1.0 / i for i in range(1, n + 1))


def same_trace(a, b) -> bool:
    return all(
        np.array_equal(getattr(a, f.name), getattr(b, f.name))
        for f in dataclasses.fields(a)
        if isinstance(getattr(a, f.name), np.ndarray)
    ) and (a.variant, a.k, a.seed) == (b.variant, b.k, b.seed)


def test_specs_without_symbols_keep_their_digests():
    # computed before laws could depend on m and P: these digests key existing stores
    assert ExperimentSpec().digest() == "736e9ac16478f673"
    spec = ExperimentSpec(
        variant="k-sync",
        num_learners=4,
        k=2,
        law="shifted-exp:1,2",
        push_latency="exp:10",
        service_time="pareto:3,0.1",
        batch_size=4,
    )
    assert spec.digest() == "8b53379f38323503" and spec.law_expressions == {}
    assert ExperimentSpec(laws=["exp:1", "exp:2"], num_learners=2).digest() == "b6deefabc7bfce6c"
    assert ExperimentSpec(law="exp:1/1").digest() == ExperimentSpec().digest()


def test_the_spec_keeps_the_expression_and_holds_the_resolved_law():
    spec = ExperimentSpec(
        law=M_LAW, batch_size=4, num_learners=4, service_time="deterministic:0.002*P"
    )
    assert spec.law == ShiftedExponential(2.0, 1.0)
    assert spec.service_time == Deterministic(0.008)
    assert spec.law_expressions == {"law": M_LAW, "service_time": "deterministic:0.002*P"}
    d = spec.to_dict()
    assert d["law"] == M_LAW and d["service_time"] == "deterministic:0.002*P"
    for again in (
        ExperimentSpec.from_dict(d),
        ExperimentSpec.from_json(spec.to_json()),
        ExperimentSpec.from_toml(spec.to_toml()),
    ):
        assert again == spec and again.digest() == spec.digest()
        assert again.law == spec.law and again.law_expressions == spec.law_expressions
    assert 'dist = "shifted-exp:0.5*m,1"' in spec.to_toml()
    # the same law typed with numbers is another spec (what was typed differs)
    assert ExperimentSpec(law="shifted-exp:2,1", batch_size=4, num_learners=4).law == spec.law
    bigger = spec.replace(batch_size=16, num_learners=8)  # the laws follow m and P
    assert bigger.law == ShiftedExponential(8.0, 1.0)
    assert bigger.service_time == Deterministic(0.016)
    assert bigger.law_expressions == spec.law_expressions
    assert spec.replace(law="exp:2").law_expressions == {"service_time": "deterministic:0.002*P"}


def test_per_learner_laws_take_expressions():
    spec = ExperimentSpec(laws=["exp:1/m", "exp:2"], num_learners=2, batch_size=4)
    assert [law.spec for law in spec.laws] == ["exp:0.25", "exp:2.0"]
    assert spec.to_dict()["laws"] == ["exp:1/m", "exp:2.0"]
    assert ExperimentSpec.from_toml(spec.to_toml()).laws == spec.laws
    assert spec.replace(batch_size=1).laws[0].spec == "exp:1.0"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"law": "exp:m.real"},
            r"^`law` value 'm.real' in 'exp:m.real' must be a number or an expression in m and P; "
            r"got attribute access 'm.real' is not allowed",
        ),
        (
            {"law": "exp:__import__('os')"},
            r"^`law` value .* got '__import__' is not callable here",
        ),
        (
            {"law": "shifted-exp:m-2,1"},
            r"^`law` 'shifted-exp:m-2,1' with m=1: `ShiftedExponential.shift` must be >= 0; "
            r"got -1.0$",
        ),
        (
            {"service_time": "deterministic:P-4", "num_learners": 4},
            r"^`service_time` 'deterministic:P-4' with P=4: `Deterministic.value` must be > 0",
        ),
        ({"push_latency": "exp:q"}, r"^`push_latency` value 'q' in 'exp:q' must be a number"),
        ({"laws": ["exp:1", "exp:y"], "num_learners": 2}, r"^`laws` value 'y' in 'exp:y'"),
    ],
)
def test_bad_expressions_fail_at_construction_in_one_line(fields, message):
    with pytest.raises(SpecError, match=message) as info:
        ExperimentSpec(**fields)
    assert "\n" not in str(info.value)
    assert info.value.param == next(iter(fields))


@pytest.mark.parametrize("variant", ["k-sync", "k-batch-sync", "k-async", "k-batch-async"])
def test_an_m_law_simulates_as_its_resolved_law(variant):
    base = {"variant": variant, "num_learners": 4, "k": 2, "updates": 50, "batch_size": 4}
    typed = ExperimentSpec(law="shifted-exp:2*m,1", **base)
    plain = ExperimentSpec(law="shifted-exp:8,1", **base)
    assert typed.digest() != plain.digest()
    for engine in ("simpy", "auto"):
        assert same_trace(simulate_spec(typed, 3, engine=engine), simulate_spec(plain, 3))


def test_runtime_theory_beside_the_simulation_uses_the_resolved_law():
    # Lemma 3: K-sync runtime J E[X_{K:P}], X = 2 + exp(1) at m = 4
    spec = ExperimentSpec(
        variant="k-sync", num_learners=4, k=2, law=M_LAW, batch_size=4, updates=40, seeds=3
    )
    summary = runtime_study(spec)
    expected = 40 * (2.0 + harmonic(4) - harmonic(2))
    assert summary.theory.relation == "exact"
    assert math.isclose(summary.theory.mean, expected, rel_tol=1e-12)
    assert summary.mean > 40 * 2.0  # every round takes at least the shift 0.5 m


def test_a_deterministic_law_gives_exact_times_on_both_engines():
    for variant, k, end in [
        ("k-sync", 2, 24.0),  # Lemma 3: J value
        ("sync", None, 24.0),
        ("k-batch-sync", 3, 24.0),
        ("k-batch-async", 3, 18.0),  # Lemma 4: J K value / P
        ("k-async", 2, 12.0),
        ("async", None, 6.0),  # P pushes tie at every multiple of the value
        ("k-avg", 2, 48.0),  # K local steps per round
    ]:
        spec = ExperimentSpec(
            variant=variant, k=k, num_learners=4, law="deterministic:0.5*m", batch_size=4,
            updates=12,
        )  # fmt: skip
        reference = simulate_spec(spec, 0, engine="simpy")
        assert same_trace(simulate_fast(spec, 0), reference), variant  # ties agree
        assert reference.end_time == end, variant
        assert np.all(np.diff(reference.update_time) >= 0)


def test_a_sweep_over_batch_follows_m_row_by_row(tmp_path):
    config = SweepSpec.from_toml(
        f"""
        [timing]
        variant = "k-sync"
        K = 2
        learners = 4
        iterations = 20
        seeds = 2
        dist = "{M_LAW}"
        [sweep]
        kind = "timing"
        [grid]
        batch = [1, 4, 16]
        """
    )
    assert [c.law.spec for c in config.configurations()] == [
        "shifted-exp:0.5,1.0",
        "shifted-exp:2.0,1.0",
        "shifted-exp:8.0,1.0",
    ]
    frame = sweep(config, tmp_path, scheduler="serial").frame()
    assert len(frame) == 6 and set(frame["law"]) == {M_LAW}  # the law as typed
    for _, row in frame.iterrows():
        m = int(row["batch_size"])
        resolved = parse_law(row["law"], m=m, P=int(row["num_learners"]))  # as the run used
        assert resolved == ShiftedExponential(0.5 * m, 1.0)
        theory = 20 * resolved.order_statistic_mean(2, 4)
        assert math.isclose(row["theory"], theory, rel_tol=1e-12)
        assert row["time"] >= 20 * 0.5 * m
    means = frame.groupby("batch_size")["time"].mean()
    assert means.is_monotonic_increasing


def test_a_figure_selects_an_m_law_as_typed():
    config = SweepSpec.from_toml(
        f"""
        [timing]
        variant = "k-sync"
        learners = 4
        iterations = 10
        seeds = 1
        [sweep]
        kind = "timing"
        [grid]
        K = [1, 2]
        batch = [1, 4]
        dist = ["{M_LAW}", "exp:1"]
        [[figure]]
        kind = "runtime-vs-k"
        where = {{ dist = "{M_LAW}", batch = 4 }}
        """
    )
    assert config.figures[0]["where"]["law"] == M_LAW


def test_cli_runtime_with_an_m_law(tmp_path):
    (tmp_path / "m4.toml").write_text("[training]\nbatch = 4\n")
    code, out, err = pssim(
        [
            "runtime",
            "--dist",
            M_LAW,
            "--config",
            "m4.toml",
            "--variant",
            "k-sync",
            "-P",
            "4",
            "-K",
            "2",
            "-J",
            "20",
            "--seeds",
            "2",
            "--json",
        ],
        cwd=tmp_path,
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["spec"]["law"] == M_LAW and summary["spec"]["batch_size"] == 4
    assert math.isclose(
        summary["theory"]["mean"], 20 * (2.0 + harmonic(4) - harmonic(2)), rel_tol=1e-12
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dist", "exp:m.real"], r"^--dist value 'm.real' in 'exp:m.real' must be a number"),
        (["--dist", "exp:__import__('os')"], r"^--dist value .* is not callable here"),
        (["--service-time", "deterministic:P-8"], r"^--service-time 'deterministic:P-8' with P=8"),
    ],
)
def test_cli_refuses_bad_expressions_with_one_line(tmp_path, args, message):
    code, _, err = pssim(["runtime", *args, "-J", "5", "--seeds", "1"], cwd=tmp_path)
    assert code == 2
    assert re.match("pssim: error: " + message.lstrip("^"), one_line(err)), err


def test_runtime_and_theory_take_the_batch_size_an_m_law_uses(tmp_path):
    args = ["-P", "8", "-K", "4", "--dist", "shifted-exp:0.5*m,1", "--batch", "4"]
    code, out, err = pssim(["theory", *args, "--iterations", "10", "--json"], cwd=tmp_path)
    assert code == 0, err
    data = json.loads(out)
    assert data["distribution"] == "shifted-exp:2.0,1.0"
    # Lemma 3: J E[X_{4:8}] = 10 (2 + H_8 - H_4)
    e_x48 = 2 + sum(1 / i for i in range(5, 9))
    assert data["runtime"]["k-sync"]["mean"] == pytest.approx(10 * e_x48)
    code, out, err = pssim(
        ["runtime", "--variant", "k-sync", *args, "--iterations", "20", "--seeds", "2"],
        cwd=tmp_path,
    )
    assert code == 0, err
    assert "shifted-exp:0.5*m,1 (= shifted-exp:2.0,1.0 at m=4, P=8)" in out
