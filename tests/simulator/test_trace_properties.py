"""Properties of traces: invariants, determinism, common random numbers, persistence."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import Trace, load_trace, simulate
from simulator.timing._draws import learner_streams

LAWS = ["exp:1", "shifted-exp:0.5,2", "pareto:2.5,1", "hyperexp:0.3,0.5,0.7,3", "weibull:0.7,1"]
ROUND = ["k-sync", "k-batch-sync", "k-avg"]
ASYNC = ["k-async", "k-batch-async"]


@st.composite
def configs(draw, variants=tuple(ROUND + ASYNC)):
    variant = draw(st.sampled_from(variants))
    p = draw(st.integers(1, 6))
    k = draw(st.integers(1, p if variant != "k-avg" else 4))
    return dict(
        variant=variant,
        num_learners=p,
        k=k,
        law=draw(st.sampled_from(LAWS)),
        updates=draw(st.integers(1, 25)),
        seed=draw(st.integers(0, 2**31)),
    )


fast = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fast
@given(configs())
def test_invariants_hold(cfg):
    trace = simulate(cfg.pop("variant"), **cfg)
    assert trace.num_updates == cfg["updates"]
    assert np.all(np.diff(trace.update_time) >= 0)
    s = trace.staleness()[trace.mask]
    assert s.min() >= 0
    assert np.all(trace.finish[trace.mask] >= trace.start[trace.mask])
    copy_index, snap_version, snap_copy, depth = trace.copy_schedule()
    assert depth >= 1 and snap_version.shape == snap_copy.shape
    assert np.all(np.diff(snap_version) >= 0) and np.all(snap_version >= 1)
    assert np.all((copy_index >= 0) == (trace.mask & (trace.staleness() > 0)))


@fast
@given(configs(variants=tuple(ROUND)))
def test_sync_variants_have_zero_staleness(cfg):
    trace = simulate(cfg.pop("variant"), **cfg)
    assert np.all(trace.staleness()[trace.mask] == 0)


@fast
@given(configs())
def test_same_seed_same_trace(cfg):
    variant = cfg.pop("variant")
    a, b = simulate(variant, **cfg), simulate(variant, **cfg)
    for name in ("update_time", "learner", "version", "start", "finish", "cancelled_start"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


@fast
@given(st.integers(2, 6), st.sampled_from(LAWS), st.integers(0, 10**6))
def test_common_random_numbers_across_variants(p, law, seed):
    """Learner l's n-th task takes X[l, n] whatever the variant."""
    from distributions import parse_law

    streams = learner_streams([parse_law(law)] * p, [1.0] * p, seed)
    x = np.array([[draw() for _ in range(60)] for draw in streams])
    for variant, k in (("k-async", 1), ("k-async", p), ("k-batch-async", 2), ("k-sync", p)):
        trace = simulate(variant, num_learners=p, k=min(k, p), law=law, updates=20, seed=seed)
        for lrn in range(p):
            iv = trace.busy_intervals(lrn)
            np.testing.assert_allclose(
                iv[:, 1] - iv[:, 0], x[lrn, : len(iv)], rtol=1e-12, atol=1e-12
            )


@fast
@given(configs())
def test_copy_schedule_gives_every_stale_read_its_version(cfg):
    """Play the replay's copy bookkeeping with version numbers instead of parameters."""
    trace = simulate(cfg.pop("variant"), **cfg, service_time="exp:3")
    copy_index, snap_version, snap_copy, depth = trace.copy_schedule()
    copies = np.zeros(trace.num_learners * depth, dtype=np.int64)  # all start as w_0
    for j in range(trace.num_updates):
        stale = copy_index[j] >= 0
        np.testing.assert_array_equal(copies[copy_index[j][stale]], trace.version[j][stale])
        copies[snap_copy[snap_version == j]] = j  # model version j is current at step j


def test_save_and_load_round_trip(tmp_path):
    trace = simulate("k-sync", num_learners=4, k=2, law="exp:1", updates=30, seed=1)
    path = trace.save(tmp_path / "t")
    assert path.suffix == ".npz" and not list(tmp_path.glob("*.tmp*"))
    back = load_trace(path)
    assert (back.variant, back.k, back.seed, back.num_learners) == ("k-sync", 2, 1, 4)
    np.testing.assert_array_equal(back.cancelled_stop, trace.cancelled_stop)
    np.testing.assert_array_equal(back.finish, trace.finish)


def test_load_rejects_other_files(tmp_path):
    bad = tmp_path / "x.npz"
    np.savez(bad, a=np.zeros(3))
    with pytest.raises(ValueError, match="trace path"):
        load_trace(bad)
    with pytest.raises(ValueError, match="must be an existing"):
        load_trace(tmp_path / "missing.npz")


def _row_trace(**over):
    base = dict(
        variant="k-async",
        num_learners=2,
        k=1,
        seed=0,
        update_time=np.array([1.0, 2.0]),
        learner=np.array([[0], [1]]),
        version=np.array([[0], [0]]),
        start=np.array([[0.0], [0.0]]),
        finish=np.array([[1.0], [2.0]]),
        mask=np.ones((2, 1), bool),
        cancelled_learner=np.zeros(0),
        cancelled_start=np.zeros(0),
        cancelled_stop=np.zeros(0),
    )
    base.update(over)
    return Trace(**base)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("update_time", np.array([2.0, 1.0]), "never decrease"),
        ("version", np.array([[0], [2]]), "staleness >= 0"),
        ("learner", np.array([[0], [5]]), "must lie in"),
        ("finish", np.array([[1.0], [3.0]]), "must not be after"),
    ],
)
def test_invariants_are_checked_on_construction(field, value, message):
    _row_trace()  # the base is valid
    with pytest.raises(ValueError, match=message):
        _row_trace(**{field: value})


def test_derived_views():
    trace = _row_trace()
    np.testing.assert_array_equal(trace.staleness(), [[0], [1]])
    assert trace.staleness_summary() == {"mean": 0.5, "max": 1, "p0": 0.5}
    assert trace.throughput()["updates_per_time"] == pytest.approx(1.0)
    np.testing.assert_allclose(trace.idle_intervals(0), [[1.0, 2.0]])
