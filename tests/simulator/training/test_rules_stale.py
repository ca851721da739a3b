"""The dc-asgd (Zheng et al. 2017) and staleness-weight (FedBuff) server rules: hand-computed
updates, the replay against a plain float64 loop, their reductions to the fixed rate,
refusals, the spec's dc_lambda reaching the rule, and the CLI."""

from __future__ import annotations

import csv
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cli_process import pssim
from replay_cases import (
    ASYNC_ROWS,
    BATCH_ASYNC_ROWS,
    DEEP_ROWS,
    SYNC_ROWS,
    class_data,
    least_squares,
    make_trace,
    np_tree,
    regression_data,
    softmax,
)

from simulator.spec import ExperimentSpec
from simulator.training import FixedRate, make_rule
from simulator.training._rules_stale import DelayCompensatedRate, StalenessWeightedRate
from simulator.training.replayer import minibatch_indices, replay, replay_keys

TOL = 1e-12


def _build(name, lr, dc_lambda=0.5):
    return {
        "fixed": lambda: FixedRate(lr),
        "dc-asgd": lambda: DelayCompensatedRate(lr, dc_lambda),
        "staleness-weight": lambda: StalenessWeightedRate(lr),
    }[name]()


def reference_stale_replay(trace, model, data, *, batch_size, rule, lr, dc_lambda=0.0):
    """Plain float64 loop, every past model kept; returns the loss after every update.

    ``dc-asgd``: ``w_{j+1} = w_j - lr/K sum_l (g_l + lambda g_l^2 (w_j - w_tau))``;
    ``staleness-weight``: ``w_{j+1} = w_j - lr/K sum_l g_l / sqrt(1 + j - tau)``.
    """
    with jax.enable_x64(True):
        init_key, data_key = replay_keys(trace.seed)
        grad = jax.jit(jax.grad(model.loss))
        loss = jax.jit(model.loss)
        x, y = jnp.asarray(data.x, jnp.float64), jnp.asarray(data.y)
        versions = [np_tree(model.init(init_key))]
        for j in range(trace.num_updates):
            w = versions[j]
            slots = np.flatnonzero(trace.mask[j])
            new = {n: v.copy() for n, v in w.items()}
            for s in slots:
                tau = int(trace.version[j, s])
                read = versions[tau]
                idx = minibatch_indices(
                    data_key, j, s, num_examples=x.shape[0], batch_size=batch_size
                )
                g = np_tree(grad({n: jnp.asarray(v) for n, v in read.items()}, (x[idx], y[idx])))
                for n in w:
                    if rule == "dc-asgd":
                        step = g[n] + dc_lambda * g[n] * g[n] * (w[n] - read[n])
                    elif rule == "staleness-weight":
                        step = g[n] / math.sqrt(1 + j - tau)
                    else:
                        step = g[n]
                    new[n] -= lr / len(slots) * step
            versions.append(new)
        ev = (jnp.asarray(data.x_eval, jnp.float64), jnp.asarray(data.y_eval))
        return np.array(
            [float(loss({n: jnp.asarray(v) for n, v in w.items()}, ev)) for w in versions]
        )


def _replay(trace, model, data, rule, batch_size=4):
    out = replay(
        trace, model, data, batch_size=batch_size, rule=rule, eval_every=1, dtype="float64",
        f_star=None,
    )  # fmt: skip
    return out.loss[0]


# --------------------------------------------------------------------------- hand-computed
def _one_update(rule, grads, reads, mask, stale, w=(1.0, -2.0)):
    with jax.enable_x64(True):
        params = {"w": jnp.asarray(w, jnp.float64)}
        new, _ = rule.apply(
            rule.init(params),
            params,
            {"w": jnp.asarray(grads, jnp.float64)},
            {"w": jnp.asarray(reads, jnp.float64)},
            jnp.asarray(mask),
            jnp.asarray(stale),
        )
        return np.asarray(new["w"])


def test_dc_asgd_corrects_each_stale_gradient_elementwise():
    # slot 0 read w_j (fresh), slot 1 read (0, 0): w_j - w_tau = (1, -2); slot 2 is padding
    grads = [[0.5, 1.0], [2.0, -1.0], [np.nan, np.inf]]
    reads = [[1.0, -2.0], [0.0, 0.0], [np.nan, np.nan]]
    got = _one_update(DelayCompensatedRate(0.1, 0.25), grads, reads, [True, True, False], [0, 3, 0])
    # slot 1: (2, -1) + 0.25 (4, 1) (1, -2) = (3, -1.5); mean with (0.5, 1) = (1.75, -0.25)
    np.testing.assert_allclose(got, [1.0 - 0.1 * 1.75, -2.0 + 0.1 * 0.25], rtol=TOL, atol=TOL)


def test_staleness_weight_divides_the_weighted_sum_by_k():
    grads = [[1.0, 2.0], [4.0, -4.0], [np.nan, np.nan]]
    got = _one_update(
        StalenessWeightedRate(0.2), grads, [[0.0, 0.0]] * 3, [True, True, False], [0, 3, 0]
    )
    # s(0) = 1, s(3) = 1/2; divided by K = 2, not by s(0) + s(3) = 1.5
    np.testing.assert_allclose(got, [1.0 - 0.1 * 3.0, -2.0 - 0.1 * 0.0], rtol=TOL, atol=TOL)


@pytest.mark.parametrize("rule", [DelayCompensatedRate(0.1, 2.0), StalenessWeightedRate(0.1)])
def test_every_slot_masked_leaves_the_model_bit_for_bit(rule):
    assert rule.masked_noop
    w = (0.1 + 0.2, -1e-300)
    got = _one_update(rule, [[np.nan, 1.0]] * 2, [[np.inf, 0.0]] * 2, [False, False], [0, 0], w)
    np.testing.assert_array_equal(got, np.asarray(w))


# --------------------------------------------------------------------------- replay
STALE_CASES = [
    ("k-async", ASYNC_ROWS, 3, 1),
    ("k-batch-async", BATCH_ASYNC_ROWS, 3, 2),
    ("k-async", DEEP_ROWS, 2, 1),
]


@pytest.mark.parametrize(("variant", "rows", "p", "k"), STALE_CASES)
@pytest.mark.parametrize("name", ["dc-asgd", "staleness-weight"])
def test_replay_equals_the_reference_loop_in_float64(variant, rows, p, k, name):
    trace = make_trace(variant, rows, num_learners=p, k=k, seed=3)
    model, data = least_squares(3), regression_data()
    got = _replay(trace, model, data, _build(name, 0.1, dc_lambda=0.5))
    want = reference_stale_replay(
        trace, model, data, batch_size=4, rule=name, lr=0.1, dc_lambda=0.5
    )
    np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)
    # the stale contributions make the rule differ from the fixed rate
    fixed = reference_stale_replay(trace, model, data, batch_size=4, rule="fixed", lr=0.1)
    assert np.max(np.abs(want - fixed)) > 1e-6


def test_dc_asgd_replay_equals_the_reference_on_softmax():
    trace = make_trace("k-batch-async", BATCH_ASYNC_ROWS, num_learners=3, k=2, seed=5)
    model, data = softmax(4, 3), class_data()
    got = _replay(trace, model, data, DelayCompensatedRate(0.5, 3.0), batch_size=3)
    want = reference_stale_replay(
        trace, model, data, batch_size=3, rule="dc-asgd", lr=0.5, dc_lambda=3.0
    )
    np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)


def test_dc_asgd_with_lambda_zero_is_the_fixed_rate():
    trace = make_trace("k-batch-async", BATCH_ASYNC_ROWS, num_learners=3, k=2, seed=2)
    model, data = least_squares(3), regression_data()
    got = _replay(trace, model, data, DelayCompensatedRate(0.1, 0.0))
    want = _replay(trace, model, data, FixedRate(0.1))
    np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)


#: Every contribution read the current model: async with one learner, and K-sync.
FRESH_CASES = [
    ("k-async", [[(0, j)] for j in range(6)], 1, 1),
    ("k-batch-async", [[(0, j), (1, j)] for j in range(6)], 2, 2),
    ("k-sync", SYNC_ROWS, 3, 2),
]


@pytest.mark.parametrize(("variant", "rows", "p", "k"), FRESH_CASES)
def test_fresh_contributions_make_both_rules_the_fixed_rate(variant, rows, p, k):
    trace = make_trace(variant, rows, num_learners=p, k=k, seed=4)
    model, data = least_squares(3), regression_data()
    want = _replay(trace, model, data, FixedRate(0.1))
    for rule in (DelayCompensatedRate(0.1, 5.0), StalenessWeightedRate(0.1)):
        got = _replay(trace, model, data, rule)
        np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL, err_msg=rule.name)


def test_diagnostics_report_the_rate_each_rule_applied():
    trace = make_trace("k-batch-async", BATCH_ASYNC_ROWS, num_learners=3, k=2, seed=1)
    stale, mask = trace.staleness(), trace.mask
    windows = [range(0, 3), range(3, 6), range(6, 7)]  # evaluations at 0, 3, 6 and 7
    weight = [np.mean(1 / np.sqrt(1 + stale[list(w)][mask[list(w)]])) for w in windows]
    for rule, want in ((StalenessWeightedRate(0.2), 0.2 * np.array(weight)),
                       (DelayCompensatedRate(0.2, 1.0), np.full(3, 0.2))):  # fmt: skip
        got = replay(
            trace, least_squares(3), regression_data(), batch_size=2, rule=rule,
            eval_every=3, dtype="float64", f_star=None, diagnostics=True,
        )  # fmt: skip
        np.testing.assert_allclose(got.diagnostics["lr_applied"][0, 1:], want, rtol=TOL)
    assert weight[0] < 1  # the trace has stale contributions


# --------------------------------------------------------------------------- construction
def test_make_rule_builds_both_with_the_paper_default_lambda():
    assert make_rule("dc-asgd", 0.1) == DelayCompensatedRate(0.1, 0.04)
    assert make_rule(" DC-ASGD", 0.1, dc_lambda=0.3) == DelayCompensatedRate(0.1, 0.3)
    assert make_rule("dc-asgd", 0.1, dc_lambda=0).dc_lambda == 0.0
    assert make_rule("staleness-weight", 0.2) == StalenessWeightedRate(0.2)
    assert make_rule("staleness-weight", 0.2, dc_lambda=0.3) == StalenessWeightedRate(0.2)


def test_numbers_are_pytree_leaves_so_one_compilation_serves_every_value():
    leaves, tree = jax.tree_util.tree_flatten(DelayCompensatedRate(0.1, 0.3))
    assert leaves == [0.1, 0.3]
    assert jax.tree_util.tree_unflatten(tree, [1.0, 2.0]) == DelayCompensatedRate(1.0, 2.0)
    assert jax.tree_util.tree_leaves(StalenessWeightedRate(0.2)) == [0.2]


#: The start of the refusal of a dc_lambda that is a number.
LAMBDA = "`dc_lambda` must be a finite number >= 0; got "


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: DelayCompensatedRate(0.1, -1.0), LAMBDA + "-1.0"),
        (lambda: DelayCompensatedRate(0.1, math.inf), LAMBDA + "inf"),
        (lambda: DelayCompensatedRate(0.1, math.nan), LAMBDA + "nan"),
        (lambda: DelayCompensatedRate(0.1, 10**400), LAMBDA + "inf"),
        (lambda: make_rule("dc-asgd", 0.1, dc_lambda=-0.5), LAMBDA + "-0.5"),
        (lambda: DelayCompensatedRate(0.1, "0.1"), "`dc_lambda` must be a number >= 0; got '0.1'"),
        (lambda: DelayCompensatedRate(0.1, True), "`dc_lambda` must be a number >= 0; got bool"),
        (lambda: DelayCompensatedRate(0.0), "`lr` must be > 0; got 0.0"),
        (lambda: StalenessWeightedRate(-1.0), "`lr` must be > 0; got -1.0"),
        (lambda: StalenessWeightedRate(math.nan), "`lr` must be finite; got nan"),
        (lambda: make_rule("staleness-weight", math.inf), "`lr` must be finite; got inf"),
    ],
)
def test_bad_numbers_are_refused_in_one_line(build, message):
    with pytest.raises(ValueError) as err:
        build()
    assert str(err.value) == message


# --------------------------------------------------------------------------- wiring
def test_compare_passes_the_spec_dc_lambda_to_the_rule(monkeypatch):
    import simulator.training
    from simulator.studies.comparison import compare

    seen = []

    class Built(Exception):
        pass

    def spy(*args):
        seen.append(make_rule(*args))
        raise Built

    monkeypatch.setattr(simulator.training, "make_rule", spy)
    model, data = least_squares(3), regression_data()
    with pytest.raises(Built):
        spec = ExperimentSpec(
            variant="async", num_learners=2, updates=5, seeds=1, rule="dc-asgd",
            dc_lambda=0.7, lr=0.05,
        )  # fmt: skip
        compare(spec, variants=["async"], model=model, dataset=data)
    assert seen == [DelayCompensatedRate(0.05, 0.7)]


@pytest.mark.parametrize(
    ("options", "lam"), [(["--lr-rule", "dc-asgd", "--dc-lambda", "0.1"], 0.1),
                         (["--lr-rule", "staleness-weight"], None)]
)  # fmt: skip
def test_train_runs_the_rule_from_the_command_line(tmp_path, options, lam):
    args = ["train", *options, "--iterations", "100", "--seeds", "1", "-P", "2"]
    code, out, err = pssim([*args, "--json", "--out", str(tmp_path / "out")], cwd=tmp_path)
    assert code == 0, err
    name, spec = options[1], json.loads(out)["experiment"]
    assert spec["rule"] == name and spec.get("dc_lambda") == lam
    # the rule the replay ran (its own name, not the spec's) is in the results table
    with (tmp_path / "out" / "results.csv").open() as f:
        assert {row["rule"] for row in csv.DictReader(f)} == {name}
