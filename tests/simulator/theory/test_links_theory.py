"""Runtime theory of the links (server-link bounds) and the ring all-reduce.

Closed forms are checked against hand computations and exact enumeration, and against
numpy Monte Carlo of the random variables they describe (explicit up/down periods and
tasks, order statistics, Poisson arrivals), each with a two-sided 99.9% normal interval
(Z = 3.29 standard errors) and a fixed seed, so a run is reproducible.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from distributions import Deterministic, Empirical, Exponential, parse_law
from simulator import expected_runtime, predictions
from simulator.theory.links import (
    all_reduce_runtime,
    fastest_transfer,
    link_bounds,
    server_link_rate,
    transfers_needed,
)
from simulator.theory.runtime import Cluster
from tests.simulator.theory.closed_form_checks import learners, within


# ---------------------------------------------------------------------------------- links
def test_transfers_needed_by_hand():
    assert transfers_needed("k-sync", 8, 2, 10) == (20, 18)
    assert transfers_needed("k-sync", 8, 2, 10, all_pulls=True) == (20, 72)
    assert transfers_needed("k-sync", 8, 2, 10, deadline=True) == (10, 9)
    assert transfers_needed("k-avg", 8, 3, 10) == (80, 72)
    assert transfers_needed("k-batch-sync", 8, 2, 10) == (20, 9)
    assert transfers_needed("k-async", 8, 2, 10) == (20, 12)
    assert transfers_needed("k-batch-async", 8, 2, 3) == (6, 0)


def test_server_link_rate_is_the_interface_formula():
    # S C / (B (pushes + pulls per update))
    assert server_link_rate("k-sync", 8, 2, 100.0, 1000.0, 2) == pytest.approx(2000 / 1000)
    assert server_link_rate("k-async", 8, 2, 100.0, 1000.0) == pytest.approx(1000 / 400)
    assert server_link_rate("k-avg", 8, 5, 100.0, 1000.0) == pytest.approx(1000 / 1600)


def test_link_bounds_by_hand():
    server = link_bounds("k-sync", 4, 2, 10, 100.0, server_bandwidth=50.0, servers=2)
    assert (server.mean, server.relation) == (pytest.approx((20 + 18) * 100 / 100), "lower-bound")
    links = link_bounds("k-sync", 4, 2, 10, 100.0, bandwidth=(10.0, 20.0, 40.0, 80.0))
    assert links.mean == pytest.approx(19 * 100 / 40)  # the second largest link
    both = link_bounds("async", 4, 1, 10, 100.0, bandwidth=10.0, server_bandwidth=1e6)
    assert both.mean == pytest.approx((20 - 4) * 100 / 40) and "learner" in both.source


def test_network_prediction_is_the_larger_lower_bound():
    slow = Cluster(server_bandwidth=10.0, transfer_bytes=100.0)
    got = expected_runtime("k-sync", num_learners=4, k=2, law="exp:1", updates=10, cluster=slow)
    assert (got.mean, got.relation) == (pytest.approx((20 + 9 * 4) * 10.0), "lower-bound")
    fast = Cluster(server_bandwidth=1e9, transfer_bytes=100.0, push_latency=Exponential(1.0))
    got = expected_runtime("k-sync", num_learners=4, k=2, law="exp:1", updates=10, cluster=fast)
    assert got.relation == "lower-bound" and got.source.startswith("without the network")
    assert got.mean == pytest.approx(10 * parse_law("exp:1").order_statistic_mean(2, 4))
    # K-async (K > 1) and failures: only the links' bound
    kasync = expected_runtime("k-async", num_learners=4, k=2, law="exp:1", updates=10,
                              cluster=fast)  # fmt: skip
    assert kasync.source.startswith("server links")
    faulty = Cluster(server_bandwidth=1e9, transfer_bytes=100.0, failure=Exponential(1.0),
                     repair=Exponential(1.0))  # fmt: skip
    got = expected_runtime("async", num_learners=4, k=None, law="exp:1", updates=10,
                           cluster=faulty)  # fmt: skip
    assert got.source.startswith("server links")


def test_rounds_add_their_shortest_transfers_to_the_computation():
    # each round after the first: a pull and a push of at least B / min(b, S C) = 1 each
    cluster = Cluster(bandwidth=100.0, server_bandwidth=500.0, servers=2, transfer_bytes=100.0)
    got = expected_runtime("sync", num_learners=4, k=None, law="exp:1", updates=50,
                           cluster=cluster)  # fmt: skip
    x_max = parse_law("exp:1").order_statistic_mean(4, 4)
    assert (got.mean, got.relation) == (pytest.approx(50 * x_max + 99), "lower-bound")
    assert fastest_transfer(100.0, (10.0, 50.0), 20.0, 2) == 2.5
    # with a deadline the round may end before the pushers' transfers: no addition
    cut = dataclasses.replace(cluster, deadline=0.5)
    got = expected_runtime("sync", num_learners=4, k=None, law="exp:1", updates=50, cluster=cut)
    assert got.mean < 50 * x_max


def test_latency_alone_still_has_no_form():
    got = expected_runtime("async", num_learners=4, k=None, law="exp:1", updates=10,
                           cluster=Cluster(pull_latency=Exponential(1.0)))  # fmt: skip
    assert got.mean is None and "communication costs" in got.source


# ----------------------------------------------------------------------------- all-reduce
def test_all_reduce_with_deterministic_latency_by_hand():
    xs = learners(*["exp:1"] * 4)
    got = all_reduce_runtime(xs, 10, 400.0, (100.0, 200.0, 50.0, 400.0), Deterministic(0.1))
    x_max = parse_law("exp:1").order_statistic_mean(4, 4)
    # 2 (P-1) steps of B / (P min b) + lat = 400 / (4 50) + 0.1
    assert (got.mean, got.relation) == (pytest.approx(10 * (x_max + 6 * 2.1)), "exact")


def test_all_reduce_without_links_is_synchronous_sgd():
    mine = predictions(None, 3, None, 20, laws=["exp:1", "gamma:2,1", "pareto:3,1"])
    assert mine["all-reduce"].mean == pytest.approx(mine["sync"].mean)
    assert mine["all-reduce"].relation == "exact"


def test_all_reduce_step_with_random_latency_matches_simulation():
    shifts, law = np.array([0.25, 0.5, 0.5, 1.0]), parse_law("exp:2")
    got = all_reduce_runtime(learners(*["deterministic:1"] * 4), 1, 1.0, 0.25 / shifts, law)
    step = (got.mean - 1.0) / 6
    rng = np.random.default_rng(31)
    within(np.max(shifts + law.sample((200_000, 4), rng=rng), axis=1), step)
    equal = all_reduce_runtime(learners(*["deterministic:1"] * 4), 1, 4.0, 2.0, law)
    assert equal.mean == pytest.approx(1 + 6 * (0.5 + law.order_statistic_mean(4, 4)))


def test_all_reduce_step_with_discrete_latency_is_exact():
    shifts, values = np.array([0.1, 0.3, 0.3]), np.array([0.5, 1.0, 2.5])
    got = all_reduce_runtime(learners(*["deterministic:1"] * 3), 1, 1.0, 1 / 3 / shifts,
                             Empirical(values))  # fmt: skip
    maxima = [max(c + v for c, v in zip(shifts, combo, strict=True))
              for combo in itertools.product(values, repeat=3)]  # fmt: skip
    assert (got.mean - 1.0) / 4 == pytest.approx(np.mean(maxima), rel=1e-12)
