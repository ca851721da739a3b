"""The replay equals plain reference training loops (Dutta et al. 2018 eqs. 2-4, 13; K-AVG)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from replay_cases import (
    ASYNC_ROWS,
    BATCH_ASYNC_ROWS,
    BATCH_SYNC_ROWS,
    DEEP_ROWS,
    KAVG_ROWS,
    SYNC_ROWS,
    TinyData,
    TinyModel,
    class_data,
    least_squares,
    make_trace,
    reference_replay,
    regression_data,
    softmax,
)

from simulator.training.replayer import minibatch_indices, replay, replay_keys
from simulator.training.rules import CompensatedRate, DampedRate, FixedRate, OptaxRule

TOL = 1e-12
RULES = {
    "fixed": lambda lr, c: FixedRate(lr),
    "damped": lambda lr, c: DampedRate(lr),
    "compensated": lambda lr, c: CompensatedRate(c=c, lr_max=lr),
}
CASES = [
    # (variant, rows, P, K, rules checked)
    ("k-async", ASYNC_ROWS, 3, 1, ("fixed", "damped", "compensated")),
    ("k-batch-async", BATCH_ASYNC_ROWS, 3, 2, ("fixed", "compensated")),
    ("k-async", DEEP_ROWS, 2, 1, ("fixed", "compensated")),
    ("k-sync", SYNC_ROWS, 3, 2, ("fixed",)),
    ("k-batch-sync", BATCH_SYNC_ROWS, 3, 2, ("fixed",)),
]


@pytest.mark.parametrize(("variant", "rows", "p", "k", "rules"), CASES)
def test_replay_equals_reference_loop_in_float64(variant, rows, p, k, rules):
    trace = make_trace(variant, rows, num_learners=p, k=k, seed=3)
    model, data = least_squares(3), regression_data()
    for name in rules:
        rule = RULES[name](0.1, 0.002)
        got = replay(
            trace, model, data, batch_size=4, rule=rule, eval_every=1, dtype="float64", f_star=None
        )
        want, _ = reference_replay(trace, model, data, batch_size=4, rule=name, lr=0.1, c=0.002)
        np.testing.assert_allclose(got.loss[0], want, rtol=TOL, atol=TOL, err_msg=name)


def test_replay_equals_reference_on_softmax_with_accuracy_and_sparse_evals():
    trace = make_trace("k-batch-async", BATCH_ASYNC_ROWS, num_learners=3, k=2, seed=5)
    model, data = softmax(4, 3), class_data()
    got = replay(
        trace,
        model,
        data,
        batch_size=3,
        rule=CompensatedRate(c=0.05, lr_max=0.5),
        eval_every=3,
        dtype="float64",
        f_star=None,
    )
    want, _ = reference_replay(
        trace, model, data, batch_size=3, rule="compensated", lr=0.5, c=0.05, eval_every=3
    )
    np.testing.assert_allclose(got.loss[0], want, rtol=TOL, atol=TOL)
    np.testing.assert_array_equal(got.eval_update, [0, 3, 6, 7])
    np.testing.assert_array_equal(got.eval_time[0], [0.0, 3.0, 6.0, 7.0])
    assert got.accuracy.shape == (1, 4) and np.all((got.accuracy >= 0) & (got.accuracy <= 1))


def test_kavg_equals_local_sgd_reference():
    trace = make_trace("k-avg", KAVG_ROWS, num_learners=3, k=3, local_steps=3, seed=1)
    model, data = least_squares(3), regression_data()
    got = replay(
        trace,
        model,
        data,
        batch_size=2,
        rule=FixedRate(0.1),
        eval_every=1,
        dtype="float64",
        f_star=None,
    )
    want, _ = reference_replay(trace, model, data, batch_size=2, rule="fixed", lr=0.1)
    np.testing.assert_allclose(got.loss[0], want, rtol=TOL, atol=TOL)


# --------------------------------------------------------------------------- hand-computed
def _scalar_model() -> TinyModel:
    """F(w) = 0.5 w^2 on data x = 1, y = 0: the gradient is w whatever the mini-batch."""

    def loss(params, batch):
        x, y = batch
        return 0.5 * jnp.mean((x[:, 0] * params["w"] - y) ** 2)

    return TinyModel("scalar", lambda key: {"w": jnp.asarray(1.0)}, loss, None, True, 0.0)


SCALAR_DATA = TinyData(np.ones((4, 1)), np.zeros(4), np.ones((4, 1)), np.zeros(4))
# P = 2 async: learner 1's push at update 1 was computed at w_0 (stale), learner 0 at update
# 2 read w_1, learner 1 at update 3 read w_2.
STALE_ROWS = [[(0, 0)], [(1, 0)], [(0, 1)], [(1, 2)]]


def test_stale_gradient_is_taken_at_exactly_w_tau():
    trace = make_trace("k-async", STALE_ROWS, num_learners=2, k=1)
    got = replay(
        trace,
        _scalar_model(),
        SCALAR_DATA,
        batch_size=1,
        rule=FixedRate(0.5),
        eval_every=1,
        dtype="float64",
        f_star=None,
    )
    # w1 = 1 - .5*1 = .5; w2 = w1 - .5*w0 = 0; w3 = w2 - .5*w1 = -.25; w4 = w3 - .5*w2 = -.25
    w = np.array([1.0, 0.5, 0.0, -0.25, -0.25])
    np.testing.assert_allclose(got.loss[0], 0.5 * w**2, rtol=0, atol=1e-15)


def test_compensated_rate_uses_the_stale_copy_distance():
    trace = make_trace("k-async", STALE_ROWS, num_learners=2, k=1)
    got = replay(
        trace,
        _scalar_model(),
        SCALAR_DATA,
        batch_size=1,
        rule=CompensatedRate(c=0.05, lr_max=0.5),
        eval_every=1,
        dtype="float64",
        f_star=None,
    )
    # update 1: ||w1 - w0||^2 = .25 -> eta = min(.05/.25, .5) = .2 -> w2 = .5 - .2 = .3
    # update 2: ||w2 - w1||^2 = .04 -> eta = min(1.25, .5) = .5 -> w3 = .3 - .5*.5 = .05
    # update 3: ||w3 - w2||^2 = .0625 -> eta = .5 -> w4 = .05 - .5*.3 = -.1
    w = np.array([1.0, 0.5, 0.3, 0.05, -0.1])
    np.testing.assert_allclose(got.loss[0], 0.5 * w**2, rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------- equivalences
def test_k_sync_with_k_equal_p_is_minibatch_sgd_with_batch_k_m():
    p, m, lr = 3, 2, 0.2
    rows = [[(2, j), (0, j), (1, j)] for j in range(5)]
    trace = make_trace("k-sync", rows, num_learners=p, k=p, seed=11)
    model, data = least_squares(3), regression_data()
    got = replay(
        trace,
        model,
        data,
        batch_size=m,
        rule=FixedRate(lr),
        eval_every=1,
        dtype="float64",
        f_star=None,
    )
    with jax.enable_x64(True):
        init_key, data_key = replay_keys(11)
        w = model.init(init_key)
        x, y = jnp.asarray(data.x), jnp.asarray(data.y)
        losses = [model.loss(w, (x, y))]
        for j in range(5):
            idx = jnp.concatenate(
                [minibatch_indices(data_key, j, s, num_examples=64, batch_size=m) for s in range(p)]
            )
            g = jax.grad(model.loss)(w, (x[idx], y[idx]))  # one batch of K * m samples
            w = jax.tree_util.tree_map(lambda a, b: a - lr * b, w, g)
            losses.append(model.loss(w, (x, y)))
        want = np.asarray(losses)
    np.testing.assert_allclose(got.loss[0], want, rtol=TOL, atol=TOL)


def test_kavg_with_one_local_step_equals_synchronous_sgd():
    p = 3
    avg = make_trace("k-avg", KAVG_ROWS, num_learners=p, k=1, local_steps=1, seed=2)
    sync = make_trace("k-sync", KAVG_ROWS, num_learners=p, k=p, seed=2)
    model, data = least_squares(3), regression_data()
    kw = dict(batch_size=2, rule=FixedRate(0.3), eval_every=1, dtype="float64", f_star=None)
    np.testing.assert_allclose(
        replay(avg, model, data, **kw).loss,
        replay(sync, model, data, **kw).loss,
        rtol=TOL,
        atol=TOL,
    )


def test_optax_sgd_equals_fixed_rate_in_replay():
    trace = make_trace("k-batch-async", BATCH_ASYNC_ROWS, num_learners=3, k=2, seed=4)
    model, data = least_squares(3), regression_data()
    kw = dict(batch_size=2, eval_every=1, dtype="float64", f_star=None)
    fixed = replay(trace, model, data, rule=FixedRate(0.1), **kw)
    sgd = replay(trace, model, data, rule=OptaxRule(optax.sgd(0.1)), **kw)
    assert sgd.rule == "optax" and fixed.rule == "fixed"
    np.testing.assert_allclose(sgd.loss, fixed.loss, rtol=TOL, atol=TOL)
    adam = replay(trace, model, data, rule=OptaxRule(optax.adam(0.05)), **kw)
    assert np.all(np.isfinite(adam.loss)) and not np.allclose(adam.loss, fixed.loss)


def test_seeds_replayed_together_equal_seeds_replayed_alone():
    traces = [make_trace("k-async", ASYNC_ROWS, num_learners=3, k=1, seed=s) for s in (7, 8)]
    model, data = least_squares(3), regression_data()
    kw = dict(batch_size=4, rule=FixedRate(0.1), eval_every=2, dtype="float64", f_star=None)
    both = replay(traces, model, data, **kw)
    np.testing.assert_array_equal(both.seeds, [7, 8])
    for i, t in enumerate(traces):
        np.testing.assert_allclose(
            both.loss[i], replay(t, model, data, **kw).loss[0], rtol=TOL, atol=TOL
        )
    assert not np.allclose(both.loss[0], both.loss[1])  # different seeds, different batches


@pytest.mark.slow
@pytest.mark.parametrize(
    ("variant", "service"),
    [
        ("k-sync", None),
        ("k-batch-sync", None),
        ("k-async", None),
        ("k-batch-async", None),
        ("k-batch-async", "exp:0.5"),  # a slow server: many stale copies per learner
        ("k-avg", None),
    ],
)
def test_engine_traces_replay_like_the_reference(variant, service):
    engine = pytest.importorskip("simulator.timing.engine")
    trace = engine.simulate(
        variant, num_learners=3, k=2, law="exp:1", updates=20, seed=4, service_time=service
    )
    model, data = least_squares(3), regression_data()
    rule = "fixed" if variant == "k-avg" else "compensated"
    got = replay(
        trace,
        model,
        data,
        batch_size=2,
        rule=RULES[rule](0.1, 0.002),
        eval_every=4,
        dtype="float64",
        f_star=None,
    )
    want, _ = reference_replay(
        trace, model, data, batch_size=2, rule=rule, lr=0.1, c=0.002, eval_every=4
    )
    np.testing.assert_allclose(got.loss[0], want, rtol=TOL, atol=TOL)
