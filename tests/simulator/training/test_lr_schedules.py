"""Learning-rate schedules in the replay: update j's rate is the rule's times f(j), f an optax
schedule; no schedule replays exactly what it did before schedules existed."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from replay_cases import (
    ASYNC_ROWS,
    BATCH_ASYNC_ROWS,
    DEEP_ROWS,
    KAVG_ROWS,
    SYNC_ROWS,
    least_squares,
    make_trace,
    reference_replay,
    regression_data,
)

from simulator.errors import PssimError, SpecError
from simulator.training import _scan
from simulator.training._schedules import lr_factors, schedule_of
from simulator.training.replayer import (
    compile_count,
    compile_replay,
    replay,
)
from simulator.training.rules import CompensatedRate, DampedRate, FixedRate, OptaxRule

TOL = 1e-12
J = 12


# ----------------------------------------------------------------------------- factors
@pytest.mark.parametrize(
    ("text", "optax_schedule"),
    [
        ("step:0.5,3", lambda lr: optax.exponential_decay(lr, 3, 0.5, staircase=True)),
        ("cosine", lambda lr: optax.cosine_decay_schedule(lr, J)),
        ("cosine:0.2", lambda lr: optax.cosine_decay_schedule(lr, J, alpha=0.2)),
        ("warmup:4", lambda lr: optax.linear_schedule(0.0, lr, 4)),
        ("warmup:4+cosine", lambda lr: optax.warmup_cosine_decay_schedule(0.0, lr, 4, J)),
        (
            "warmup:4+cosine:0.5",
            lambda lr: optax.warmup_cosine_decay_schedule(0.0, lr, 4, J, end_value=0.5 * lr),
        ),
        (
            "warmup:4+step:0.5,2",
            lambda lr: optax.join_schedules(
                [
                    optax.linear_schedule(0.0, lr, 4),
                    optax.exponential_decay(lr, 2, 0.5, staircase=True),
                ],
                [4],
            ),
        ),
    ],
)
def test_factor_times_lr_is_optax_schedule_of_lr(text, optax_schedule):
    lr, j = 0.3, np.arange(J)
    with jax.enable_x64(True):
        want = np.asarray(optax_schedule(lr)(jnp.asarray(j)), np.float64)
        got = lr * lr_factors(text, j, J, "float64")
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert got.shape == (J,) and np.all(got >= 0)


def test_factors_by_hand():
    j = np.arange(8)
    with jax.enable_x64(True):
        np.testing.assert_allclose(
            lr_factors("step:0.1,3", j, 8, "float64"), [1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01]
        )
        np.testing.assert_allclose(
            lr_factors("warmup:4", j, 8, "float64"), [0, 0.25, 0.5, 0.75, 1, 1, 1, 1]
        )
        cosine = (1 + np.cos(np.pi * j / 8)) / 2
        np.testing.assert_allclose(lr_factors("cosine", j, 8, "float64"), cosine)
        np.testing.assert_allclose(lr_factors("cosine:0.5", j, 8, "float64"), 0.5 + 0.5 * cosine)
        # the cosine after a warm-up runs over the updates left, J - N
        after = (1 + np.cos(np.pi * np.arange(4) / 4)) / 2
        np.testing.assert_allclose(
            lr_factors("warmup:4+cosine", j, 8, "float64"), [0, 0.25, 0.5, 0.75, *after]
        )
        # a warm-up as long as the run or longer rises over all of it
        for text in ("warmup:20", "warmup:20+cosine", "warmup:20+step:0.5,1"):
            np.testing.assert_allclose(lr_factors(text, j, 8, "float64"), j / 20)
    assert float(schedule_of("cosine", 100)(50)) == pytest.approx(0.5)
    assert lr_factors("cosine", j, 8, "float32").dtype == np.float32


# ------------------------------------------------------------------- reference loop
def scheduled_reference(trace, model, data, *, batch_size, rule, lr_at, c=0.0, eval_every=1):
    """The plain float64 loop of ``replay_cases.reference_replay`` with update j's rate
    ``lr_at(j)`` (the compensated rule's ceiling eta_max too, C as given)."""
    losses, _ = reference_replay(
        trace, model, data, batch_size=batch_size, rule=rule, c=c, eval_every=eval_every,
        lr_at=lr_at,
    )  # fmt: skip
    return losses


RULES = {
    "fixed": lambda lr, c: FixedRate(lr),
    "damped": lambda lr, c: DampedRate(lr),
    "compensated": lambda lr, c: CompensatedRate(c=c, lr_max=lr),
}
CASES = [
    # (variant, rows, P, K, rule, schedule)
    ("k-async", ASYNC_ROWS, 3, 1, "fixed", "cosine"),
    ("k-async", ASYNC_ROWS, 3, 1, "damped", "warmup:3+cosine:0.1"),
    ("k-async", DEEP_ROWS, 2, 1, "compensated", "step:0.5,2"),
    ("k-batch-async", BATCH_ASYNC_ROWS, 3, 2, "compensated", "warmup:2"),
    ("k-sync", SYNC_ROWS, 3, 2, "fixed", "warmup:2+step:0.5,1"),
]


@pytest.mark.parametrize(("variant", "rows", "p", "k", "rule", "schedule"), CASES)
def test_scheduled_replay_equals_reference_loop(variant, rows, p, k, rule, schedule):
    trace = make_trace(variant, rows, num_learners=p, k=k, seed=3)
    model, data = least_squares(3), regression_data()
    lr, c = 0.4, 0.02
    got = replay(
        trace,
        model,
        data,
        batch_size=4,
        rule=RULES[rule](lr, c),
        eval_every=1,
        dtype="float64",
        f_star=None,
        lr_schedule=schedule,
    )
    with jax.enable_x64(True):
        f = lr_factors(schedule, np.arange(trace.num_updates), trace.num_updates, "float64")
    want = scheduled_reference(
        trace, model, data, batch_size=4, rule=rule, lr_at=lambda j: lr * f[j], c=c
    )
    np.testing.assert_allclose(got.loss[0], want, rtol=TOL, atol=TOL)
    constant = replay(
        trace, model, data, batch_size=4, rule=RULES[rule](lr, c), eval_every=1,
        dtype="float64", f_star=None,
    )  # fmt: skip
    assert not np.allclose(constant.loss[0], got.loss[0])  # the schedule changed something


def test_compensated_ceiling_follows_schedule_and_c_does_not():
    """eta_j = min(C / ||w_j - w_tau||^2, eta_max f(j)): with a huge C every stale
    contribution takes the scheduled ceiling; with a tiny C the C-bound wins unscaled."""
    trace = make_trace("k-async", DEEP_ROWS, num_learners=2, k=1, seed=1)
    model, data = least_squares(3), regression_data()
    f = lr_factors("cosine", np.arange(7), 7, "float64")
    for c in (1e6, 1e-4):
        got = replay(
            trace, model, data, batch_size=2, rule=CompensatedRate(c=c, lr_max=0.3),
            eval_every=1, dtype="float64", f_star=None, lr_schedule="cosine",
        )  # fmt: skip
        want = scheduled_reference(
            trace, model, data, batch_size=2, rule="compensated", lr_at=lambda j: 0.3 * f[j], c=c
        )
        np.testing.assert_allclose(got.loss[0], want, rtol=TOL, atol=TOL)


def test_kavg_local_steps_of_round_j_use_the_scheduled_rate():
    trace = make_trace("k-avg", KAVG_ROWS, num_learners=3, k=2, seed=2, local_steps=2)
    model, data = least_squares(3), regression_data()
    got = replay(
        trace, model, data, batch_size=3, rule=FixedRate(0.2), eval_every=1,
        dtype="float64", f_star=None, lr_schedule="step:0.5,1",
    )  # fmt: skip
    want = scheduled_reference(
        trace, model, data, batch_size=3, rule="fixed", lr_at=lambda j: 0.2 * 0.5**j
    )
    np.testing.assert_allclose(got.loss[0], want, rtol=TOL, atol=TOL)


def test_warmup_first_update_is_a_no_op_and_diagnostics_report_the_scheduled_rate():
    trace = make_trace("k-async", ASYNC_ROWS, num_learners=3, k=1, seed=3)
    model, data = least_squares(3), regression_data()
    got = replay(
        trace, model, data, batch_size=4, rule=FixedRate(0.4), eval_every=1,
        dtype="float64", f_star=None, lr_schedule="warmup:4", diagnostics=True,
    )  # fmt: skip
    assert got.loss[0, 1] == got.loss[0, 0]  # f(0) = 0
    applied = got.diagnostics["lr_applied"][0, 1:]
    np.testing.assert_allclose(applied, 0.4 * np.minimum(np.arange(10) / 4, 1), rtol=1e-12)


# ------------------------------------------------------------------ no schedule, as before
#: float32 losses of these replays, computed before schedules existed (CPU).
BEFORE = {
    "async_fixed": [
        "0x1.0d8ca6p+0", "0x1.58d42ap-1", "0x1.787588p-2",
        "0x1.e9500ep-3", "0x1.715032p-3", "0x1.21b34cp-3",
    ],
    "batch_async_comp": [
        "0x1.0d8ca6p+0", "0x1.5de458p-1", "0x1.e15fc8p-2", "0x1.639c1ap-2", "0x1.5106f0p-2",
    ],
    "kavg": ["0x1.0d8ca6p+0", "0x1.58dc6cp-1", "0x1.d6d188p-2"],
}  # fmt: skip
BEFORE_CASES = {
    "async_fixed": ("k-async", ASYNC_ROWS, 3, 1, FixedRate(0.1), 1),
    "batch_async_comp": (
        "k-batch-async", BATCH_ASYNC_ROWS, 3, 2, CompensatedRate(c=0.002, lr_max=0.1), 1,
    ),
    "kavg": ("k-avg", KAVG_ROWS, 3, 3, FixedRate(0.05), 2),
}  # fmt: skip


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the values were computed on CPU")
@pytest.mark.parametrize("name", sorted(BEFORE))
def test_no_schedule_is_bit_identical_to_before_schedules(name):
    variant, rows, p, k, rule, steps = BEFORE_CASES[name]
    trace = make_trace(variant, rows, num_learners=p, k=k, seed=3, local_steps=steps)
    model, data = least_squares(3), regression_data()
    for schedule in ({}, {"lr_schedule": None}):
        got = replay(
            trace, model, data, batch_size=4, rule=rule, eval_every=2, f_star=None, **schedule
        )
        np.testing.assert_array_equal(got.loss[0], [float.fromhex(v) for v in BEFORE[name]])


def test_schedules_share_one_compiled_program_and_none_compiles_as_before():
    trace = make_trace("k-async", ASYNC_ROWS, num_learners=3, k=1, seed=4)
    model, data = least_squares(3), regression_data()
    run = lambda s: replay(  # noqa: E731
        trace, model, data, batch_size=2, rule=FixedRate(0.1), eval_every=5, f_star=None,
        lr_schedule=s,
    )  # fmt: skip
    run("cosine")
    n = compile_count()
    run("warmup:3+step:0.5,2")  # factors are inputs: no new program
    assert compile_count() == n
    assert _scan.Spec.__dataclass_fields__["scheduled"].default is False


def test_vmapped_seeds_and_ahead_compilation_take_the_schedule():
    """The accelerators' path (seeds vmapped) and ``compile_replay`` see the factor rows."""
    traces = [make_trace("k-async", ASYNC_ROWS, num_learners=3, k=1, seed=s) for s in (0, 1)]
    model, data = least_squares(3), regression_data()
    options = dict(
        batch_size=2, rule=DampedRate(0.3), eval_every=2, dtype="float64",
        lr_schedule="warmup:2+cosine",
    )  # fmt: skip
    compile_replay(traces, model, data, seeds_mode="vmap", **options)
    vmapped = replay(traces, model, data, seeds_mode="vmap", f_star=None, **options)
    sequential = replay(traces, model, data, seeds_mode="sequential", f_star=None, **options)
    np.testing.assert_allclose(vmapped.loss, sequential.loss, rtol=1e-12)
    f = lr_factors("warmup:2+cosine", np.arange(10), 10, "float64")
    for i, trace in enumerate(traces):
        want = scheduled_reference(
            trace, model, data, batch_size=2, rule="damped", lr_at=lambda j: 0.3 * f[j],
            eval_every=2,
        )  # fmt: skip
        np.testing.assert_allclose(sequential.loss[i], want, rtol=TOL, atol=TOL)


# ------------------------------------------------------------------------- refusals
def test_schedule_refusals():
    trace = make_trace("k-async", ASYNC_ROWS, num_learners=3, k=1)
    model, data = least_squares(3), regression_data()
    with pytest.raises(PssimError, match=r"^`lr_schedule` needs a rule with a learning rate"):
        replay(
            trace, model, data, batch_size=1, rule=OptaxRule(optax.sgd(0.1)), f_star=None,
            lr_schedule="cosine",
        )  # fmt: skip
    with pytest.raises(SpecError, match=r"^`lr_schedule` must be one of .*got 'linear'"):
        replay(
            trace, model, data, batch_size=1, rule=FixedRate(0.1), f_star=None,
            lr_schedule="linear",
        )  # fmt: skip
