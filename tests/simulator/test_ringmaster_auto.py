"""Ringmaster's staleness limit chosen as its paper does: ``staleness_limit = "auto"`` or
``"auto:EPS"`` is kept as typed by the spec, refused where no model runs, and resolved to
R = max(1, ceil(sigma^2 / EPS)) (sigma^2 of a learner's mini-batch gradient) by the commands
that train, which then run exactly that R."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from simulator import SweepSpec
from simulator._staleness_auto import (
    default_gradient_level,
    minibatch_variance,
    paper_staleness_limit,
)
from simulator.errors import SpecError
from simulator.spec import ExperimentSpec
from simulator.studies._staleness_limits import resolve_staleness_limits
from tests.simulator.cli_process import one_line, pssim

#: A least-squares problem small enough to train in seconds (N = 200 rows, d = 5).
PROBLEM = dict(model="least-squares", data="synthetic:least-squares,200,5", batch_size=2)


@pytest.fixture(scope="module")
def problem():
    """(model, dataset, constants) of :data:`PROBLEM`, the constants at the w0 of seed 0."""
    from models import build_model, load_dataset
    from simulator.training.constants import problem_constants
    from simulator.training.replayer import replay_keys

    dataset = load_dataset(PROBLEM["data"])
    model = build_model(PROBLEM["model"], dataset, 0.01)
    return model, dataset, problem_constants(model, dataset, key=replay_keys(0)[0])


def _hand_limit(constants, m: int, eps: float) -> int:
    """max(1, ceil(sigma^2 / eps)), sigma^2 the larger one-example variance over m."""
    return max(1, math.ceil(max(constants.variance_init, constants.sigma2) / m / eps))


# -- parsing and refusals -----------------------------------------------------------------
@pytest.mark.parametrize("typed", ["auto", "auto:0.5", "auto:1e-3"])
def test_auto_is_kept_as_typed_in_the_dict_toml_and_digest(typed):
    spec = ExperimentSpec(variant="ringmaster", staleness_limit=typed)
    assert spec.staleness_limit == typed and spec.to_dict()["staleness_limit"] == typed
    assert ExperimentSpec.from_toml(spec.to_toml()) == spec
    assert 'staleness-limit = "' + typed + '"' in spec.to_toml()
    others = [ExperimentSpec(variant="ringmaster", staleness_limit=v) for v in (3, "auto:0.25")]
    assert spec.digest() not in {other.digest() for other in others}
    assert spec.replace(batch_size=4).staleness_limit == typed  # resolved later, with m = 4


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("auto:x", "'auto:EPS' must give EPS as a number; got 'auto:x'"),
        ("auto:", "'auto:EPS' must give EPS as a number; got 'auto:'"),
        ("auto:0.1x", "'auto:EPS' must give EPS as a number; got 'auto:0.1x'"),
        ("auto:0", "'auto:EPS' must give a finite EPS > 0; got 'auto:0'"),
        ("auto:-1", "'auto:EPS' must give a finite EPS > 0; got 'auto:-1'"),
        ("auto:inf", "'auto:EPS' must give a finite EPS > 0; got 'auto:inf'"),
        ("auto:nan", "'auto:EPS' must give a finite EPS > 0; got 'auto:nan'"),
        ("auto:1e999", "'auto:EPS' must give a finite EPS > 0; got 'auto:1e999'"),
        ("fast", "must be an integer R >= 1, 'auto' or 'auto:EPS' (EPS > 0"),
        ("AUTO", "must be an integer R >= 1, 'auto' or 'auto:EPS' (EPS > 0"),
        ("autox:1", "must be an integer R >= 1, 'auto' or 'auto:EPS' (EPS > 0"),
    ],
)
def test_bad_auto_forms_are_refused_in_one_line(typed, says):
    with pytest.raises(SpecError) as info:
        ExperimentSpec(variant="ringmaster", staleness_limit=typed)
    text = str(info.value)
    assert text.startswith("`staleness_limit` ") and says in text and "\n" not in text
    assert info.value.param == "staleness_limit"


def test_an_integer_limit_is_still_checked_as_before():
    assert ExperimentSpec(variant="ringmaster", staleness_limit=3).staleness_limit == 3
    with pytest.raises(SpecError, match=r"`staleness_limit` must be >= 1; got 0"):
        ExperimentSpec(variant="ringmaster", staleness_limit=0)


# -- the paper's R --------------------------------------------------------------------------
def test_paper_limit_is_max_one_ceil_sigma2_over_eps():
    assert paper_staleness_limit(2.5, 1.0) == 3
    assert paper_staleness_limit(3.0, 1.0) == 3  # an exact ratio is not rounded up
    assert paper_staleness_limit(0.2, 1.0) == 1 and paper_staleness_limit(0.0, 1.0) == 1
    with pytest.raises(SpecError, match=r"sigma\^2 / EPS is finite"):
        paper_staleness_limit(1.0, 1e-320)


def test_sigma2_is_the_larger_of_w0_and_w_star_over_m(problem):
    constants = problem[2]
    at_w0 = dataclasses.replace(constants, sigma2=0.5 * constants.variance_init)
    at_star = dataclasses.replace(constants, sigma2=3.0 * constants.variance_init)
    assert minibatch_variance(at_w0, 4) == pytest.approx(constants.variance_init / 4, rel=1e-15)
    assert minibatch_variance(at_star, 4) == pytest.approx(at_star.sigma2 / 4, rel=1e-15)


def test_auto_eps_resolves_to_the_hand_computation(problem):
    model, dataset, constants = problem
    specs = [
        ExperimentSpec(variant="ringmaster", staleness_limit=f"auto:{eps}", **PROBLEM)
        for eps in (0.5, 0.05, 0.004)
    ] + [ExperimentSpec(variant="ringmaster", staleness_limit=7, **PROBLEM)]
    got = resolve_staleness_limits(specs, model, dataset, constants=constants)
    want = [_hand_limit(constants, 2, eps) for eps in (0.5, 0.05, 0.004)] + [7]
    assert [s.staleness_limit for s in got] == want
    assert len(set(want)) == 4  # the three levels give three different R
    # computed from the problem when no constants are given: the same R
    assert resolve_staleness_limits(specs[:1], model, dataset)[0].staleness_limit == want[0]


def test_bare_auto_takes_the_level_of_the_optimal_time_row_of_bounds(problem):
    from simulator.studies.bounds import error_bounds

    model, dataset, constants = problem
    assert constants.c > 0 and constants.f_star is not None  # strongly convex: e -> 2 L e
    spec = ExperimentSpec(variant="ringmaster", staleness_limit="auto", updates=100, **PROBLEM)
    row = error_bounds(spec, model=model, dataset=dataset, constants=constants).bounds
    level = row["optimal_time"].extra["level"]  # an error level e of F - F*
    assert default_gradient_level(constants) == pytest.approx(2 * constants.L * level, 1e-12)
    got = resolve_staleness_limits([spec], model, dataset, constants=constants)[0]
    assert got.staleness_limit == _hand_limit(constants, 2, 2 * constants.L * level)
    flat = dataclasses.replace(constants, c=0.0)  # not strongly convex: 1% of ||grad F||^2
    assert default_gradient_level(flat) == pytest.approx(0.01 * constants.grad_norm2_init)


# -- where no model runs ------------------------------------------------------------------
def test_the_timing_alone_refuses_auto():
    from simulator.studies.runtime import runtime_study

    with pytest.raises(SpecError, match=r"integer R >= 1 for a timing run .*got 'auto:0.1'"):
        runtime_study(variant="ringmaster", staleness_limit="auto:0.1", updates=5, seeds=1)
    base = dict(variant="ringmaster", staleness_limit="auto", updates=5, seeds=1)
    with pytest.raises(SpecError, match=r"integer R >= 1 for a timing sweep.*got 'auto'"):
        SweepSpec(base=base, grid={"num_learners": [2, 4]}, kind="timing").configurations()


def test_pssim_runtime_refuses_auto_with_exit_status_2(tmp_path):
    argv = ["runtime", "--variant", "ringmaster", "--staleness-limit", "auto", "-P", "2"]
    code, _, err = pssim(argv, cwd=tmp_path)
    line = one_line(err)
    assert code == 2 and "--staleness-limit must be an integer R >= 1" in line
    assert "got 'auto'" in line


# -- the commands that train ----------------------------------------------------------------
def test_compare_runs_the_resolved_limit(problem):
    """ringmaster with "auto:EPS" keeps no contribution of staleness >= R (async, on the
    same seeds, has some), reports R beside the typed value, and is the run of R typed."""
    from simulator.studies.comparison import compare

    model, dataset, constants = problem
    eps = minibatch_variance(constants, 2) / 2.5  # R = ceil(2.5) = 3
    r = _hand_limit(constants, 2, eps)
    assert r == 3
    spec = ExperimentSpec(
        variant="async", num_learners=6, updates=60, seeds=2, lr=0.05,
        staleness_limit=f"auto:{eps!r}", **PROBLEM,
    )  # fmt: skip
    cmp = compare(spec, variants=["async", "ringmaster"], model=model, dataset=dataset)
    plain, ring = cmp.runs
    assert ring.staleness_limit == r and ring.spec.staleness_limit == f"auto:{eps!r}"
    assert ring.staleness.max() < r <= plain.staleness.max()
    assert ring.to_json()["staleness_limit"] == r and "staleness_limit" not in plain.to_json()
    frame = cmp.results_frame().drop_duplicates("variant").set_index("variant")
    assert frame.loc["ringmaster", "staleness_limit"] == r
    assert frame.loc["ringmaster", "staleness_limit_typed"] == f"auto:{eps!r}"
    assert pd.isna(frame.loc["async", "staleness_limit_typed"])
    assert f"staleness limit auto:{eps!r} -> R = 3" in cmp.table()
    typed = compare(spec.replace(staleness_limit=r), variants=["ringmaster"], dataset=dataset)
    np.testing.assert_array_equal(typed.runs[0].staleness, ring.staleness)
    np.testing.assert_array_equal(typed.runs[0].result.loss, ring.result.loss)


def test_a_training_sweep_row_carries_the_resolved_limit(problem):
    """Under a time budget too (the budget's J comes from a timing run with R)."""
    from simulator.studies.sweeps._rows import Task, run_task

    constants = problem[2]
    eps = minibatch_variance(constants, 2) / 1.5  # R = 2
    spec = ExperimentSpec(
        variant="ringmaster", num_learners=4, time_budget=8.0, seeds=1, lr=0.05,
        staleness_limit=f"auto:{eps!r}", **PROBLEM,
    )  # fmt: skip
    rows = run_task(Task("training", (spec,))).to_pandas()
    assert set(rows["staleness_limit"]) == {2.0}
