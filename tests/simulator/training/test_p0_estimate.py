"""Lemma 8's p0 estimated from schedules: the fresh-read probability conditioned on bins of
the oldest in-flight computation's age, against 1/P for exponential laws and Lemma 8's
sides for aging laws; the smallest share over short windows, biased low, for contrast."""

from __future__ import annotations

import numpy as np
import pytest

from simulator import simulate
from simulator.errors import PssimError, PssimTypeError
from simulator.spec import ExperimentSpec
from simulator.timing.engine import simulate_spec
from simulator.training._diagnostics import P0Estimate, _oldest_ages, p0_estimate

#: Reads per window of the windowed estimate this module replaced (for contrast).
P0_MIN_READS = 200


def _lowest_share(fresh: np.ndarray, slots: np.ndarray) -> float:
    """The replaced estimate: the smallest fresh share over consecutive windows merged to
    >= P0_MIN_READS reads (a short tail joins the last run)."""
    runs: list[list[int]] = []  # [fresh, reads] of each merged run
    got, total = 0, 0
    for f, n in zip(fresh.tolist(), slots.tolist(), strict=True):
        got, total = got + f, total + n
        if total >= P0_MIN_READS:
            runs.append([got, total])
            got, total = 0, 0
    if total and runs:
        runs[-1][0] += got
        runs[-1][1] += total
    elif total:
        runs.append([got, total])
    return min(f / n for f, n in runs) if runs else float("nan")


def test_the_windowed_estimate_merges_windows_to_enough_reads():
    # windows of 100 reads: merged in pairs (0.3, 0.1), the short tail joins the last pair
    fresh = np.array([30, 30, 10, 10, 5])
    slots = np.array([100, 100, 100, 100, 50])
    assert _lowest_share(fresh, slots) == pytest.approx(25 / 250)
    assert _lowest_share(np.array([3]), np.array([10])) == pytest.approx(0.3)
    assert np.isnan(_lowest_share(np.array([0]), np.array([0])))


def _async(law: str, p: int, updates: int = 5000, seeds: int = 4, variant="async", **kw):
    return [
        simulate(variant, num_learners=p, law=law, updates=updates, seed=s, **kw)
        for s in range(seeds)
    ]


def test_exponential_bins_all_hold_one_over_p_where_windows_sit_far_below():
    p = 40
    traces = _async("exp:1", p)
    est = p0_estimate(traces)  # simultaneous 99.9% intervals over the bins
    assert isinstance(est, P0Estimate) and len(est.shares) == 5
    intervals = est.intervals()
    assert np.all((intervals[:, 0] <= 1 / p) & (1 / p <= intervals[:, 1])), intervals
    assert est.lower <= 1 / p <= est.upper
    assert est.updates.sum() == 4 * 4999 and np.all(est.reads == est.updates)  # K = 1
    assert np.all(np.diff(est.ages[:, 0]) > 0)  # bins in increasing age
    # the smallest share over windows of >= 200 reads (the replay's old p0 column) sits
    # below the whole simultaneous interval: its noise, not the law
    fresh = (traces[0].staleness()[:, 0] == 0).astype(int)
    windows = np.add.reduceat(fresh, np.arange(0, fresh.size, P0_MIN_READS))
    sizes = np.add.reduceat(np.ones_like(fresh), np.arange(0, fresh.size, P0_MIN_READS))
    assert _lowest_share(windows, sizes) < est.lower


def test_k_async_contributions_are_counted_per_read():
    traces = _async("exp:1", 8, updates=3000, variant="k-async", k=2)
    est = p0_estimate(traces)
    assert np.all(est.reads == 2 * est.updates)
    # exponential clocks: the first K of P to finish are a uniform K-subset, so each of
    # the K learners that read the current model is among them w.p. K/P: a share of K/P
    assert est.lower <= 2 / 8 <= est.upper
    assert np.all((est.intervals()[:, 0] <= 2 / 8) & (2 / 8 <= est.intervals()[:, 1]))


def test_rounds_read_only_fresh_models():
    est = p0_estimate(_async("exp:1", 4, updates=500, variant="k-sync", k=2))
    assert est.value == est.lower == est.upper == est.share == 1.0


def test_aging_laws_fall_on_lemma_8s_sides():
    # new-longer-than-used (a shift): p0 <= 1/P; new-shorter-than-used: p0 >= 1/P
    nltu = p0_estimate(_async("shifted-exp:0.2,1", 8))
    assert nltu.upper < 1 / 8
    nstu = p0_estimate(_async("weibull:0.5,1", 8))
    assert nstu.lower > 1 / 8


def test_oldest_ages_match_a_direct_scan_with_discarded_work():
    spec = ExperimentSpec(variant="ringmaster", num_learners=4, staleness_limit=2, updates=60)
    trace = simulate_spec(spec, 3)
    assert trace.cancelled_start.size > 0  # discarded gradients are busy time too
    jobs = [
        (int(trace.learner[j, i]), trace.start[j, i], trace.finish[j, i])
        for j in range(trace.num_updates)
        for i in range(trace.mask.shape[1])
        if trace.mask[j, i]
    ]
    jobs += zip(trace.cancelled_learner, trace.cancelled_start, trace.cancelled_stop, strict=True)
    jobs += [
        (lr, s, np.inf) for lr, s in zip(trace.inflight_learner, trace.inflight_start, strict=True)
    ]
    want = [
        max([t - s for _, s, stop in jobs if s < t < stop], default=0.0)
        for t in trace.update_time[:-1]
    ]
    np.testing.assert_allclose(_oldest_ages(trace), want, rtol=0, atol=1e-12)


def test_few_updates_make_fewer_bins():
    est = p0_estimate(_async("exp:1", 4, updates=250, seeds=1))
    assert len(est.shares) == 2  # 249 updates: 100 at least per bin


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"bins": 0}, PssimError, r"^`bins` must be an integer >= 1; got 0$"),
        ({"bins": 2.5}, PssimError, r"^`bins` must be an integer >= 1"),
        ({"confidence": 1.0}, PssimError, r"^`confidence` must be a number in \(0, 1\)"),
        ({"traces": []}, PssimError, r"^`traces` must be a Trace or a non-empty sequence"),
        ({"traces": "trace"}, PssimTypeError, r"^`traces` must be a Trace"),
    ],
)
def test_bad_arguments_raise_one_line(kwargs, error, match):
    traces = kwargs.pop("traces", None)
    if traces is None:
        traces = _async("exp:1", 2, updates=20, seeds=1)
    with pytest.raises(error, match=match) as info:
        p0_estimate(traces, **kwargs)
    assert "\n" not in str(info.value)


def test_a_single_update_has_nothing_to_estimate():
    with pytest.raises(PssimError, match=r"^`traces` must hold updates after the first"):
        p0_estimate(simulate("async", num_learners=2, law="exp:1", updates=1, seed=0))
