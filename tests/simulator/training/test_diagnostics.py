"""Replay diagnostics: equal to a plain recomputation from every past model, free when off."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from replay_cases import (
    ASYNC_ROWS,
    BATCH_ASYNC_ROWS,
    class_data,
    least_squares,
    make_trace,
    reference_replay,
    regression_data,
    softmax,
)

from simulator import CompensatedRate, FixedRate, History, OptaxRule, replay, simulate
from simulator.errors import PssimError
from simulator.training import _diagnostics, _scan
from simulator.training._diagnostics import p0_estimate
from simulator.training._stack import stack_traces
from simulator.training.replayer import DIAGNOSTIC_NAMES, Diagnostics

TOL = 1e-9


def _flat_grad(model, w, x, y):
    g = jax.grad(model.loss)({k: jnp.asarray(v) for k, v in w.items()}, (x, y))
    return np.concatenate([np.ravel(np.asarray(g[k], np.float64)) for k in sorted(g)])


def _expected(trace, model, data, versions, *, eval_every, rule, lr, c=0.0):
    """Every diagnostic recomputed in plain numpy from the reference loop's models."""
    u = trace.num_updates
    points = sorted(set(range(0, u + 1, eval_every)) | {u})
    out = {name: np.full(len(points), np.nan) for name in DIAGNOSTIC_NAMES}
    stale = trace.staleness()
    with jax.enable_x64(True):
        x = jnp.asarray(data.x_eval, jnp.float64)
        y = jnp.asarray(data.y_eval)
        for e, point in enumerate(points):
            out["grad_norm2"][e] = np.sum(_flat_grad(model, versions[point], x, y) ** 2)
            per = [_flat_grad(model, versions[point], x[i : i + 1], y[i : i + 1]) for i in range(4)]
            out["diversity"][e] = sum(np.sum(g**2) for g in per) / np.sum(sum(per) ** 2)
            if e == 0:
                continue
            window = range(points[e - 1], point)
            last = point - 1
            g_now = _flat_grad(model, versions[last], x, y)
            gaps = [
                np.sum((_flat_grad(model, versions[trace.version[last, s]], x, y) - g_now) ** 2)
                for s in np.flatnonzero(trace.mask[last])
            ]
            out["staleness_gap"][e] = max(gaps)
            out["gap_ratio"][e] = max(gaps) / np.sum(g_now**2)
            reads = [
                np.sum(_flat_grad(model, versions[trace.version[last, s]], x, y) ** 2)
                for s in np.flatnonzero(trace.mask[last])
            ]
            out["read_grad_ratio"][e] = np.mean(reads) / np.sum(g_now**2)
            dists, rates, fresh = [], [], []
            for j in window:
                for s in np.flatnonzero(trace.mask[j]):
                    read, now = versions[trace.version[j, s]], versions[j]
                    sq = sum(np.sum((read[k] - now[k]) ** 2) for k in now)
                    dists.append(sq)
                    rates.append(lr if rule == "fixed" or sq == 0 else min(c / sq, lr))
                    fresh.append(stale[j, s] == 0)
            out["stale_dist2"][e] = np.mean(dists)
            out["lr_applied"][e] = np.mean(rates)
            out["fresh_share"][e] = np.mean(fresh)
            out["fresh_updates"][e] = np.mean(
                [np.all(stale[j][trace.mask[j]] == 0) for j in window]
            )
    # gamma: the gaps summed over the probes so far, over their ||grad F(w_j)||^2 summed
    norms = out["staleness_gap"][1:] / out["gap_ratio"][1:]
    out["gamma"][1:] = np.cumsum(out["staleness_gap"][1:]) / np.cumsum(norms)
    # least squares: the Hessian is (1/n) [x 1]^T [x 1] at every w, and d + 1 products of
    # Lanczos span the whole space: its top eigenvalue at every point
    a = np.column_stack([np.asarray(data.x_eval, np.float64), np.ones(len(data.x_eval))])
    out["hessian_top"][:] = out["hessian_top_max"][:] = np.linalg.eigvalsh(a.T @ a / len(a))[-1]
    return out


@pytest.mark.parametrize(
    ("variant", "rows", "p", "k", "rule", "lr", "c"),
    [
        ("k-async", ASYNC_ROWS, 3, 1, "fixed", 0.1, 0.0),
        ("k-batch-async", BATCH_ASYNC_ROWS, 3, 2, "compensated", 0.1, 0.002),
    ],
)
def test_diagnostics_equal_a_plain_recomputation(variant, rows, p, k, rule, lr, c):
    trace = make_trace(variant, rows, num_learners=p, k=k, seed=3)
    model, data = least_squares(3), regression_data()
    server = FixedRate(lr) if rule == "fixed" else CompensatedRate(c=c, lr_max=lr)
    got = replay(
        trace,
        model,
        data,
        batch_size=4,
        rule=server,
        eval_every=3,
        dtype="float64",
        f_star=None,
        diagnostics=Diagnostics(diversity_rows=4),
    )
    _, versions = reference_replay(
        trace, model, data, batch_size=4, rule=rule, lr=lr, c=c, eval_every=3
    )
    want = _expected(trace, model, data, versions, eval_every=3, rule=rule, lr=lr, c=c)
    for name in DIAGNOSTIC_NAMES:
        np.testing.assert_allclose(
            got.diagnostics[name][0], want[name], rtol=TOL, atol=1e-14, err_msg=name
        )
    # p0 is the schedule's estimate of Lemma 8's infimum
    assert got.p0[0] == p0_estimate(trace).value
    assert np.nanmax(want["staleness_gap"]) > 0  # the traces do have stale gradients


def test_diagnostics_leave_the_training_bit_identical():
    traces = [
        simulate("k-async", num_learners=4, k=2, law="exp:1", updates=300, seed=s) for s in (0, 1)
    ]
    model, data = softmax(4, 3), class_data()
    kwargs = dict(batch_size=2, rule=FixedRate(0.05), eval_every=25, f_star=None)
    off = replay(traces, model, data, **kwargs)
    on = replay(traces, model, data, diagnostics=True, **kwargs)
    assert off.diagnostics is None and off.p0 is None
    np.testing.assert_array_equal(on.loss, off.loss)
    np.testing.assert_array_equal(on.accuracy, off.accuracy)
    frame = History(on).to_frame()
    assert set(DIAGNOSTIC_NAMES) | {"p0"} <= set(frame.columns)
    assert np.isfinite(frame.loc[frame["update"] > 0, "grad_norm2"]).all()
    assert "grad_norm2" not in History(off).to_frame().columns


def test_diagnostics_off_trace_no_diagnostic_code(monkeypatch):
    """Off, the scan is traced without touching the diagnostics module (same program)."""
    trace = simulate("k-async", num_learners=3, k=1, law="exp:1", updates=40, seed=0)
    model, data = least_squares(3), regression_data()
    stacked = stack_traces([trace], 10, 2)
    rows = {k: jnp.asarray(v[0]) for k, v in stacked.rows.items()}
    arrays = tuple(jnp.asarray(a) for a in (data.x, data.y, data.x_eval, data.y_eval))

    def jaxpr(diagnostics):
        spec = _scan.Spec(
            _scan.Static(model), 2, stacked.num_copies, 1, False, "float32", diagnostics
        )
        extra = arrays[2:] * 2 if diagnostics else ()
        fn = lambda key, r: _scan._run_seed(  # noqa: E731
            spec, FixedRate(0.1), key, r, arrays + extra, jnp.asarray(10.0)
        )
        return str(jax.make_jaxpr(fn)(jax.random.key(0), rows))

    before = jaxpr(False)
    assert len(jaxpr(True)) > len(before)

    def boom(*args, **kwargs):
        raise AssertionError("diagnostic code traced with diagnostics off")

    for name in ("evaluation_diagnostics", "probe", "update_sums", "window_means"):
        monkeypatch.setattr(_diagnostics, name, boom)
    assert jaxpr(False) == before


def test_sync_variants_have_no_gap_and_p0_one():
    traces = [simulate("k-sync", num_learners=4, k=2, law="exp:1", updates=100, seed=0)]
    got = replay(
        traces,
        least_squares(3),
        regression_data(),
        batch_size=2,
        rule=FixedRate(0.1),
        eval_every=20,
        diagnostics=True,
    )
    d = got.diagnostics
    np.testing.assert_array_equal(d["staleness_gap"][0, 1:], 0.0)
    np.testing.assert_array_equal(d["read_grad_ratio"][0, 1:], 1.0)
    np.testing.assert_array_equal(d["fresh_share"][0, 1:], 1.0)
    np.testing.assert_array_equal(d["stale_dist2"][0, 1:], 0.0)
    assert got.p0[0] == 1.0


def test_optax_rules_report_no_applied_rate():
    import optax

    trace = make_trace("k-async", ASYNC_ROWS, num_learners=3, k=1)
    got = replay(
        trace,
        least_squares(3),
        regression_data(),
        batch_size=2,
        rule=OptaxRule(optax.sgd(0.1)),
        eval_every=5,
        diagnostics=True,
    )
    assert np.isnan(got.diagnostics["lr_applied"]).all()
    assert np.isfinite(got.diagnostics["stale_dist2"][0, 1:]).all()


def test_diagnostics_after_divergence_are_nan():
    trace = make_trace("k-async", ASYNC_ROWS, num_learners=3, k=1)
    got = replay(
        trace,
        least_squares(3),
        regression_data(),
        batch_size=2,
        rule=FixedRate(50.0),
        eval_every=2,
        diagnostics=True,
        f_star=None,
    )
    assert got.diverged[0]
    after = got.eval_update > got.diverged_at[0]
    for name in DIAGNOSTIC_NAMES:
        assert np.isnan(got.diagnostics[name][0, after]).all(), name


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("yes", "`diagnostics` must be True, False or a Diagnostics"),
        (1, "`diagnostics` must be True, False or a Diagnostics"),
    ],
)
def test_bad_diagnostics_argument(value, match):
    trace = make_trace("k-async", ASYNC_ROWS, num_learners=3, k=1)
    with pytest.raises(PssimError, match=match):
        replay(
            trace,
            least_squares(3),
            regression_data(),
            batch_size=2,
            rule=FixedRate(0.1),
            diagnostics=value,
        )


@pytest.mark.parametrize("field", ["rows", "diversity_rows"])
@pytest.mark.parametrize("value", [0, -3, 2.5, True])
def test_bad_diagnostic_rows(field, value):
    with pytest.raises(PssimError, match=f"`Diagnostics.{field}` must be an integer >= 1"):
        Diagnostics(**{field: value})


def test_p0_of_async_exponential_is_one_over_p():
    """Lemma 8: p0 = 1/P for exponential compute times (here P = 8)."""
    trace = simulate("async", num_learners=8, law="exp:1", updates=20_000, seed=4)
    got = replay(
        trace,
        least_squares(3),
        regression_data(),
        batch_size=1,
        rule=FixedRate(0.01),
        eval_every=100,
        diagnostics=True,
        f_star=None,
    )
    share = got.diagnostics["fresh_share"][0, 1:]
    mean, se = share.mean(), share.std(ddof=1) / np.sqrt(share.size)
    assert abs(mean - 1 / 8) <= 3.3 * se  # two-sided 99.9%
    # the consistent estimate (the smallest share over bins of the past) covers 1/8
    estimate = p0_estimate(trace)
    assert got.p0[0] == estimate.value
    assert estimate.lower <= 1 / 8 <= estimate.upper
