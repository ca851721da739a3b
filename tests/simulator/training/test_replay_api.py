"""Replay behaviour: reproducibility, one compilation, divergence, checks, stale-copy plan."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from replay_cases import (
    ASYNC_ROWS,
    BATCH_ASYNC_ROWS,
    DEEP_ROWS,
    KAVG_ROWS,
    SYNC_ROWS,
    TinyData,
    TinyModel,
    least_squares,
    make_trace,
    regression_data,
)

from simulator.trace import Trace
from simulator.training._copies import copy_plan
from simulator.training.replayer import ReplayResult, compile_count, replay
from simulator.training.rules import DampedRate, FixedRate

MODEL, DATA = least_squares(3), regression_data()


def test_same_seed_same_curve_and_one_compilation():
    trace = make_trace("k-async", ASYNC_ROWS, num_learners=3, k=1, seed=21)
    kw = dict(batch_size=2, eval_every=2, f_star=None)
    first = replay(trace, MODEL, DATA, rule=FixedRate(0.05), **kw)
    n = compile_count()
    again = replay(trace, MODEL, DATA, rule=FixedRate(0.05), **kw)
    np.testing.assert_array_equal(first.loss, again.loss)
    other_seed = make_trace("k-async", ASYNC_ROWS, num_learners=3, k=1, seed=22)
    other = replay(other_seed, MODEL, DATA, rule=FixedRate(0.07), **kw)  # new seed and rate
    assert compile_count() == n  # same shapes: the compiled scan is reused
    assert not np.array_equal(other.loss, first.loss)
    replay(trace, MODEL, DATA, rule=FixedRate(0.05), batch_size=2, eval_every=3, f_star=None)
    assert compile_count() == n + 1  # a new evaluation period is a new configuration


def test_result_fields_and_defaults():
    trace = make_trace("k-batch-async", BATCH_ASYNC_ROWS, num_learners=3, k=2, seed=9)
    res = replay(trace, MODEL, DATA, batch_size=3, rule=DampedRate(0.05))
    assert isinstance(res, ReplayResult)
    np.testing.assert_array_equal(res.eval_update, np.arange(8))  # default: about U / 100
    np.testing.assert_array_equal(res.eval_time[0], np.r_[0.0, trace.update_time])
    assert res.loss.shape == (1, 8) and res.loss.dtype == np.float64
    assert res.accuracy is None  # least squares has none
    assert (res.variant, res.k, res.num_learners, res.batch_size, res.rule) == (
        "k-batch-async",
        2,
        3,
        3,
        "damped",
    )
    np.testing.assert_array_equal(res.diverged_at, [-1])
    assert res.f_star is not None and np.all(res.error >= -1e-6)  # F* computed: convex model
    assert res.loss[0, -1] < res.loss[0, 0]


def test_initial_model_comes_from_the_trace_seed():
    sync = make_trace("k-sync", SYNC_ROWS, num_learners=3, k=2, seed=5)
    stale = make_trace("k-async", ASYNC_ROWS, num_learners=3, k=1, seed=5)
    kw = dict(batch_size=1, rule=FixedRate(0.1), f_star=None)
    assert replay(sync, MODEL, DATA, **kw).loss[0, 0] == replay(stale, MODEL, DATA, **kw).loss[0, 0]
    a = replay(sync, MODEL, DATA, key=1, **kw).loss
    b = replay(sync, MODEL, DATA, key=jax.random.key(1), **kw).loss
    np.testing.assert_array_equal(a, b)
    assert a[0, 0] != replay(sync, MODEL, DATA, **kw).loss[0, 0]  # another key base


def _scalar_data():
    return TinyData(np.ones((4, 1)), np.zeros(4), np.ones((4, 1)), np.zeros(4))


def _scalar_model():
    def loss(params, batch):
        x, y = batch
        return 0.5 * jnp.mean((x[:, 0] * params["w"] - y) ** 2)

    return TinyModel("scalar", lambda key: {"w": jnp.asarray(1.0)}, loss, None, True, 0.0)


def test_divergence_is_detected_per_seed_and_others_go_on():
    # g(w) = w, lr = 1.9: fresh gradients contract (w <- -0.9 w); gradients one update stale
    # blow up (roots of z^2 - z + 1.9 have modulus sqrt(1.9)), so float32 overflows.
    u = 400
    fresh = make_trace("k-async", [[(0, j)] for j in range(u)], num_learners=2, k=1, seed=1)
    stale_rows = [[(0, 0)]] + [[(j % 2, j - 1)] for j in range(1, u)]
    stale = make_trace("k-async", stale_rows, num_learners=2, k=1, seed=2)
    kw = dict(batch_size=1, rule=FixedRate(1.9), eval_every=10, f_star=None)
    res = replay([fresh, stale], _scalar_model(), _scalar_data(), **kw)
    assert res.diverged_at[0] == -1 and 0 < res.diverged_at[1] <= u
    np.testing.assert_array_equal(res.diverged, [False, True])
    after = res.eval_update > res.diverged_at[1]
    before = res.eval_update < res.diverged_at[1]
    assert np.all(np.isnan(res.loss[1, after])) and np.all(np.isfinite(res.loss[1, before]))
    at = res.loss[1, res.eval_update == res.diverged_at[1]]
    assert at.size == 1 and (np.isnan(at[0]) or at[0] > 100 * res.loss[1, 0])  # the crossing
    assert after.sum() > 1  # stopped: the rest of the run stays NaN
    alone = replay(fresh, _scalar_model(), _scalar_data(), **kw)
    np.testing.assert_allclose(res.loss[0], alone.loss[0], rtol=1e-5, atol=1e-12)
    assert np.all(np.isfinite(res.loss[0]))


def test_float64_is_local_to_the_call():
    trace = make_trace("k-sync", SYNC_ROWS, num_learners=3, k=2)
    replay(trace, MODEL, DATA, batch_size=1, rule=FixedRate(0.1), dtype="float64", f_star=None)
    assert jnp.zeros(1).dtype == jnp.float32
    assert not jax.config.jax_enable_x64


def test_explicit_f_star_is_kept_and_none_skips_it():
    trace = make_trace("k-sync", SYNC_ROWS, num_learners=3, k=2)
    kw = dict(batch_size=1, rule=FixedRate(0.1))
    res = replay(trace, MODEL, DATA, f_star=0.25, **kw)
    assert res.f_star == 0.25
    np.testing.assert_allclose(res.error, res.loss - 0.25)
    res = replay(trace, MODEL, DATA, f_star=None, **kw)
    assert res.f_star is None and np.all(np.isnan(res.error))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(batch_size=0), "`batch_size` must be an integer >= 1; got 0"),
        (dict(batch_size=1.5), "`batch_size` must be an integer >= 1; got 1.5"),
        (dict(eval_every=0), "`eval_every` must be an integer >= 1; got 0"),
        (dict(dtype="float16"), "`dtype` must be one of float32, float64; got 'float16'"),
        (dict(rule="fixed"), "`rule` must be a server rule; got str"),
        (
            dict(traces=[]),
            "`traces` must be a Trace or a non-empty sequence of Traces; got an empty sequence",
        ),
        (
            dict(traces=["x"]),
            "`traces` must be a Trace or a non-empty sequence of Traces; got a str in it",
        ),
        (dict(model=object()), "`model.init` must be callable"),
        (dict(f_star="x"), "`f_star` must be a finite number, None or 'auto'; got 'x'"),
        (dict(f_star=float("nan")), "`f_star` must be a finite number, None or 'auto'; got nan"),
        (dict(divergence_factor=1.0), "`divergence_factor` must be a finite number > 1"),
    ],
)
def test_bad_arguments_raise_early(change, message):
    args = dict(
        traces=make_trace("k-sync", SYNC_ROWS, num_learners=3, k=2),
        model=MODEL,
        data=DATA,
        batch_size=1,
        rule=FixedRate(0.1),
    )
    args.update(change)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        replay(args.pop("traces"), args.pop("model"), args.pop("data"), **args)


def test_incompatible_traces_and_kavg_rule_are_rejected():
    a = make_trace("k-async", ASYNC_ROWS, num_learners=3, k=1)
    b = make_trace("k-async", ASYNC_ROWS[:-1], num_learners=3, k=1)
    with pytest.raises(ValueError, match="`traces` must share `num_updates`"):
        replay([a, b], MODEL, DATA, batch_size=1, rule=FixedRate(0.1))
    kavg = make_trace("k-avg", KAVG_ROWS, num_learners=3, k=2, local_steps=2)
    with pytest.raises(ValueError, match="`rule` must be FixedRate for k-avg"):
        replay(kavg, MODEL, DATA, batch_size=1, rule=DampedRate(0.1))
    stale_avg = make_trace("k-avg", [[(0, 0)], [(0, 0)]], num_learners=1, k=1)
    with pytest.raises(ValueError, match="`k-avg` traces must read the current model"):
        replay(stale_avg, MODEL, DATA, batch_size=1, rule=FixedRate(0.1))


# --------------------------------------------------------------------------- copy plan
@st.composite
def traces(draw):
    """Random valid traces: each learner's reads and updates move forward in time."""
    p = draw(st.integers(1, 4))
    u = draw(st.integers(1, 25))
    kmax = draw(st.integers(1, 3))
    last = [0] * p  # version each learner last read
    rows = []
    for j in range(u):
        row = []
        for _ in range(draw(st.integers(1, kmax))):
            lrn = draw(st.integers(0, p - 1))
            row.append((lrn, min(last[lrn], j)))
            last[lrn] = draw(st.integers(min(last[lrn], j), j + 1))
        rows.append(row)
    return make_trace("k-batch-async", rows, num_learners=p, k=kmax)


@settings(max_examples=60, deadline=None)
@given(trace=traces())
def test_copy_plan_gives_every_stale_read_its_version(trace: Trace):
    """Play the plan with version numbers in place of models (copies start as w_0)."""
    plan = copy_plan(trace)
    assert 0 not in plan.snap_version
    copies = np.zeros(trace.num_learners * plan.depth, dtype=np.int64)
    for j in range(trace.num_updates):
        stale = plan.copy_index[j] >= 0
        np.testing.assert_array_equal(copies[plan.copy_index[j][stale]], trace.version[j][stale])
        copies[plan.snap_copy[plan.snap_version == j]] = j


def test_deep_trace_needs_two_copies_per_learner():
    plan = copy_plan(make_trace("k-async", DEEP_ROWS, num_learners=2, k=1))
    assert plan.depth == 2


def test_large_seeds_give_the_same_keys_with_and_without_x64():
    from simulator.training.replayer import replay_keys

    plain = [jax.random.key_data(k) for k in replay_keys(2**40 + 3)]
    with jax.enable_x64(True):
        wide = [jax.random.key_data(k) for k in replay_keys(2**40 + 3)]
    for a, b in zip(plain, wide, strict=True):
        np.testing.assert_array_equal(a, b)
    low = jax.random.key_data(replay_keys(3)[0])
    assert not np.array_equal(plain[0], low)  # the high word matters
