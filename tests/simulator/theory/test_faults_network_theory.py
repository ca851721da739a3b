"""Runtime theory of failures, slowdowns and deadlines (links and all-reduce: see
test_links_theory.py).

Closed forms are checked against hand computations and exact enumeration, and against
numpy Monte Carlo of the random variables they describe (explicit up/down periods and
tasks, order statistics, Poisson arrivals), each with a two-sided 99.9% normal interval
(Z = 3.29 standard errors) and a fixed seed, so a run is reproducible.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from distributions import Deterministic, Empirical, Exponential, law_from, parse_law
from simulator import ExperimentSpec, PssimError, expected_runtime, predictions
from simulator.studies._common import spec_theory
from simulator.theory._learners import Learner
from simulator.theory.faults_network import (
    availability,
    deadline_round,
    empirical_availability,
    failure_task_rate,
    slowdown_speed,
)
from simulator.theory.runtime import Cluster
from tests.simulator.theory.closed_form_checks import Z, learners, within


# ---------------------------------------------------------------------------- failures
def test_exponential_tasks_complete_at_their_rate_while_up():
    assert failure_task_rate(Learner(Exponential(2.0)), 0.3) == pytest.approx(2.0, rel=1e-12)
    assert failure_task_rate(Learner(Exponential(1.0), 2.0), 0.3) == pytest.approx(2.0)


def test_deterministic_tasks_by_hand():
    # r = f e^{-fc} / (1 - e^{-fc}) = f / (e^{fc} - 1)
    assert failure_task_rate(Learner(Deterministic(2.0)), 0.5) == pytest.approx(0.5 / math.expm1(1))


@pytest.mark.parametrize(
    ("law", "frozen"),
    [
        ("gamma:2.5,2", stats.gamma(2.5, scale=0.5)),
        ("shifted-exp:0.5,2", stats.expon(loc=0.5, scale=0.5)),
        ("exp:3", stats.expon(scale=1 / 3)),
        ("weibull:1,2", stats.expon(scale=2.0)),
    ],
)
def test_closed_form_transforms_match_the_numerical_one(law, frozen):
    # the scipy law goes through the integral s ∫ exp(-s t) P(X > t) dt
    closed = failure_task_rate(Learner(parse_law(law)), 0.4)
    numeric = failure_task_rate(Learner(law_from(frozen)), 0.4)
    assert closed == pytest.approx(numeric, rel=1e-8)


def test_empirical_and_hyperexponential_transforms_by_hand():
    values = np.array([0.5, 1.0, 4.0])
    lap = np.mean(np.exp(-0.3 * values))
    assert failure_task_rate(Learner(Empirical(values)), 0.3) == pytest.approx(
        0.3 * lap / (1 - lap)
    )
    lap = 0.4 * 1 / 1.3 + 0.6 * 3 / 3.3
    assert failure_task_rate(Learner(parse_law("hyperexp:0.4,1,0.6,3")), 0.3) == pytest.approx(
        0.3 * lap / (1 - lap)
    )


def cycle_rate(rng, up: np.ndarray, down: np.ndarray, tasks: np.ndarray) -> tuple[float, float]:
    """Tasks completed per unit time over up/down cycles (a learner restarts a task at each
    up period and loses the one in flight): the ratio estimate and its standard error."""
    ends = np.cumsum(tasks, axis=1)
    assert np.all(ends[:, -1] > up)  # enough tasks drawn for every up period
    done = np.sum(ends < up[:, None], axis=1)
    length = up + down
    rate = done.sum() / length.sum()
    se = np.std(done - rate * length, ddof=1) / (length.mean() * math.sqrt(up.size))
    return rate, se


def test_failure_rate_matches_an_explicit_simulation_of_weibull_tasks():
    rng = np.random.default_rng(2024)
    n, f, law = 50_000, 0.2, parse_law("weibull:2,1")
    repair = parse_law("lognormal:0,0.5")
    up = rng.exponential(1 / f, n)
    rate, se = cycle_rate(rng, up, repair.sample(n, rng=rng), law.sample((n, 150), rng=rng))
    a = availability(Exponential(f), repair)
    assert a == pytest.approx(5.0 / (5.0 + math.exp(0.125)))
    value = a * failure_task_rate(Learner(law), f)
    assert abs(rate - value) <= Z * se, (rate, value, se)
    theory = expected_runtime(
        "async", num_learners=3, k=None, law=law, updates=900,
        cluster=Cluster(failure=Exponential(f), repair=repair),
    )  # fmt: skip
    assert theory.relation == "asymptotic"
    assert theory.mean == pytest.approx(900 / (3 * value))


def test_exponential_tasks_give_availability_over_mean_for_any_up_law():
    rng = np.random.default_rng(7)
    n, failure, repair = 50_000, parse_law("weibull:1.5,4"), Deterministic(1.0)
    up = failure.sample(n, rng=rng)
    rate, se = cycle_rate(rng, up, np.ones(n), rng.exponential(0.5, (n, 100)))
    a = availability(failure, repair)
    assert abs(rate - 2 * a) <= Z * se, (rate, 2 * a, se)
    cluster = Cluster(failure=failure, repair=repair)
    theory = expected_runtime(
        "k-batch-async", num_learners=4, k=2, law="exp:2", updates=100, cluster=cluster
    )
    assert (theory.mean, theory.relation) == (pytest.approx(100 * 2 / (4 * 2 * a)), "asymptotic")
    other = expected_runtime(
        "async", num_learners=4, k=None, law="gamma:2,4", updates=100, cluster=cluster
    )
    assert other.relation == "none" and "non-exponential up times" in other.source


@pytest.mark.parametrize(("variant", "k"), [("sync", None), ("k-sync", 2), ("k-async", 2)])
def test_failures_with_waiting_variants_have_no_form(variant, k):
    cluster = Cluster(failure=Exponential(0.1), repair=Exponential(1.0))
    theory = expected_runtime(
        variant, num_learners=4, k=k, law="exp:1", updates=10, cluster=cluster
    )
    assert theory.mean is None and "failures with" in theory.source


# ------------------------------------------------------------------------ availability
PERIODS = [np.array([[0.5, 2.0], [3.0, 6.0]]), np.zeros((0, 2)), np.array([[0.0, 4.0]])]
RATES = (1.0, 2.0, 0.5)


def simulate_file(rng, n: int, reps: int) -> np.ndarray:
    """Time of the n-th push of exponential learners that restart at each up period."""
    times = []
    for rate, down in zip(RATES, PERIODS, strict=True):
        starts = np.concatenate([[0.0], down[:, 1]])
        stops = np.concatenate([down[:, 0], [np.inf]])
        for a, b in zip(starts, stops, strict=True):
            if b <= a:
                continue
            ends = a + np.cumsum(rng.exponential(1 / rate, (reps, n)), axis=1)
            times.append(np.where(ends < b, ends, np.inf))
    return np.sort(np.concatenate(times, axis=1), axis=1)[:, n - 1]


def test_availability_file_form_matches_a_simulation():
    laws = [f"exp:{r}" for r in RATES]
    cluster = Cluster(availability=PERIODS)
    theory = expected_runtime(
        "k-batch-async", num_learners=3, k=2, laws=laws, updates=6, cluster=cluster
    )
    assert theory.relation == "exact"
    within(simulate_file(np.random.default_rng(5), 12, 40_000), theory.mean)


def test_availability_file_by_hand_when_every_period_is_long_past():
    # intensity 3, 2, 3, 2, 2.5 on [0, .5), [.5, 2), [2, 3), [3, 4), [4, 6); then 3.5
    laws = [f"exp:{r}" for r in RATES]
    theory = expected_runtime(
        "async", num_learners=3, k=None, laws=laws, updates=5000,
        cluster=Cluster(availability=PERIODS),
    )  # fmt: skip
    before = 3 * 0.5 + 2 * 1.5 + 3 * 1 + 2 * 1 + 2.5 * 2  # Λ(6)
    assert theory.mean == pytest.approx(6 + (5000 - before) / 3.5, rel=1e-12)


def test_availability_needs_exponential_times_and_async():
    cluster = Cluster(availability=PERIODS)
    weibull = expected_runtime("async", num_learners=3, k=None, law="weibull:2,1", updates=5,
                               cluster=cluster)  # fmt: skip
    assert weibull.mean is None and "exponential compute times only" in weibull.source
    ksync = expected_runtime("k-sync", num_learners=3, k=2, law="exp:1", updates=5,
                             cluster=cluster)  # fmt: skip
    assert ksync.mean is None


def test_empirical_availability_by_hand():
    got = empirical_availability(PERIODS, 10.0)
    assert got == pytest.approx([1 - 4.5 / 10, 1.0, 1 - 4 / 10])


# ------------------------------------------------------------------------------ slowdown
def test_slowdown_speed_is_the_mean_work_rate_of_the_chain():
    rate_in, rate_out, factor = 0.5, 1.5, 4.0
    speed = slowdown_speed(rate_in, rate_out, factor)
    assert speed == pytest.approx(0.75 + 0.25 / 4)
    # work done in [0, H] by chains started stationary: E = speed H exactly
    rng = np.random.default_rng(3)
    reps, horizon = 4000, 50.0
    slow = rng.random(reps) < rate_in / (rate_in + rate_out)
    work = np.zeros(reps)
    t = np.zeros(reps)
    while np.any(t < horizon):
        stay = rng.exponential(1.0, reps) / np.where(slow, rate_out, rate_in)
        span = np.clip(np.minimum(t + stay, horizon) - t, 0.0, None)
        work += span * np.where(slow, 1 / factor, 1.0)
        t, slow = t + stay, ~slow
    within(work / horizon, speed)


def test_slowdown_runtimes():
    cluster = Cluster(slowdown=(0.5, 1.5, 4.0))
    speed = slowdown_speed(0.5, 1.5, 4.0)
    out = predictions(None, 3, 2, 100, laws=["exp:1", "exp:2", "gamma:2,2"], cluster=cluster)
    assert out["async"].relation == out["k-batch-async"].relation == "asymptotic"
    assert out["k-batch-async"].mean == pytest.approx(100 * 2 / (speed * 4.0))
    plain = predictions(None, 3, 2, 100, laws=["exp:1", "exp:2", "gamma:2,2"])
    assert out["k-sync"].relation == "lower-bound"
    assert out["k-sync"].mean == plain["k-sync"].mean
    assert out["k-async"].mean is None
    assert out["all-reduce"].mean is None and "slowdown" in out["all-reduce"].source
    faulty = Cluster(slowdown=(0.5, 1.5, 4.0), failure=Exponential(0.1), repair=Exponential(1.0))
    got = expected_runtime("async", num_learners=2, k=None, law="exp:2", updates=100,
                           cluster=faulty)  # fmt: skip
    assert got.mean == pytest.approx(100 / (2 * 2 * speed * 10 / 11))
    got = expected_runtime("async", num_learners=2, k=None, law="gamma:2,2", updates=100,
                           cluster=faulty)  # fmt: skip
    assert got.mean is None and "slowdown" in got.source
    shared = predictions(
        "exp:1", 3, 2, 100, cluster=Cluster(slowdown=(0.5, 1.5, 4.0), slowdown_shared=True)
    )
    assert shared["async"].mean == pytest.approx(100 / (speed * 3))


# ------------------------------------------------------------------------------ deadline
def test_deadline_round_of_two_exponentials_by_hand():
    d = 0.7
    value, _, _ = deadline_round("k-sync", learners("exp:1", "exp:1"), 2, d)
    assert value == pytest.approx(0.5 + 2 * (1 - math.exp(-d)) - (1 - math.exp(-2 * d)))


def test_deadline_limits_are_the_order_statistics():
    xs = learners(*["weibull:1.5,1"] * 5)
    law = parse_law("weibull:1.5,1")
    assert deadline_round("k-sync", xs, 3, 1e-9)[0] == pytest.approx(
        law.order_statistic_mean(1, 5), rel=1e-7
    )
    assert deadline_round("k-sync", xs, 3, 50.0)[0] == pytest.approx(
        law.order_statistic_mean(3, 5), rel=1e-7
    )


def simulated_round(draws: np.ndarray, k: int, d: float) -> tuple[np.ndarray, np.ndarray]:
    """(T, contributions) of rounds from (reps, P) arrival times."""
    ordered = np.sort(draws, axis=1)
    t = np.minimum(ordered[:, k - 1], np.maximum(d, ordered[:, 0]))
    arrived = np.sum(draws <= d, axis=1)
    return t, np.where(arrived == 0, 1, np.minimum(k, arrived))


@pytest.mark.parametrize(
    ("laws", "speeds", "k", "d"),
    [
        (["weibull:1.5,1"] * 6, None, 4, 0.9),
        (["lognormal:0,0.5", "gamma:2,3", "deterministic:0.7", "pareto:3,0.5"], None, 3, 0.8),
        (["exp:1", "exp:2", "shifted-exp:0.2,1"], [1.0, 0.5, 2.0], 2, 0.6),
    ],
)
def test_deadline_round_matches_simulated_order_statistics(laws, speeds, k, d):
    xs = learners(*laws, speeds=speeds)
    rng = np.random.default_rng(17)
    draws = np.stack([x.law.sample(200_000, rng=rng) / x.speed for x in xs], axis=1)
    t, c = simulated_round(draws, k, d)
    value, contributions, _ = deadline_round("k-sync", xs, k, d)
    within(t, value)
    within(c.astype(float), contributions)
    theory = expected_runtime(
        "k-sync", num_learners=len(laws), k=k, laws=laws, speeds=speeds, updates=10,
        cluster=Cluster(deadline=d),
    )  # fmt: skip
    assert (theory.mean, theory.relation) == (pytest.approx(10 * value), "exact")


@pytest.mark.parametrize("d", [0.3, 1.5, 2.0, 3.5])
def test_deadline_with_discrete_laws_is_summed_exactly(d):
    values = ([1.0, 2.0, 4.0], [1.5, 2.0], [0.5, 3.0, 3.0, 5.0])
    combos = list(itertools.product(*values))
    t, c = simulated_round(np.array(combos), 2, d)
    value, contributions, _ = deadline_round(
        "k-sync", [Learner(Empirical(v)) for v in values], 2, d
    )
    assert value == pytest.approx(t.mean(), rel=1e-12)
    assert contributions == pytest.approx(c.mean(), rel=1e-12)


def test_deadline_k_batch_sync_exponential_matches_poisson_arrivals():
    rates, k, d = (1.0, 2.0, 3.0), 3, 0.4
    rng = np.random.default_rng(23)
    arrivals = np.cumsum(rng.exponential(1 / sum(rates), (200_000, k)), axis=1)
    t = np.minimum(arrivals[:, -1], np.maximum(d, arrivals[:, 0]))
    n = np.sum(arrivals <= d, axis=1)
    value, contributions, _ = deadline_round(
        "k-batch-sync", learners(*[f"exp:{r}" for r in rates]), k, d
    )
    within(t, value)
    within(np.where(n == 0, 1, n).astype(float), contributions)


def test_deadline_k_batch_sync_deterministic_by_hand():
    xs = learners("deterministic:1", "deterministic:1.5")
    # completions at 1, 1.5, 2: the third at 2
    assert deadline_round("k-batch-sync", xs, 3, 1.2)[:2] == (1.2, 1.0)
    assert deadline_round("k-batch-sync", xs, 3, 0.5)[:2] == (1.0, 1.0)
    assert deadline_round("k-batch-sync", xs, 3, 5.0)[:2] == (2.0, 3.0)
    assert deadline_round("k-batch-sync", learners("gamma:2,1", "exp:1"), 2, 1.0) is None


def test_deadline_k_avg_is_the_deadline_of_the_sums():
    rng = np.random.default_rng(29)
    sums = rng.gamma(6.0, 1 / 3, (200_000, 4))  # 3 local steps of gamma:2,3
    t, c = simulated_round(sums, 4, 1.8)
    value, contributions, _ = deadline_round("k-avg", learners(*["gamma:2,3"] * 4), 3, 1.8)
    within(t, value)
    within(c.astype(float), contributions)
    lognormal = expected_runtime("k-avg", num_learners=4, k=2, law="lognormal:0,0.5",
                                 updates=5, cluster=Cluster(deadline=1.0))  # fmt: skip
    assert lognormal.mean is None and "K-AVG" in lognormal.source


def test_deadline_with_another_feature_or_an_async_variant_has_no_form():
    both = Cluster(deadline=1.0, slowdown=(1.0, 1.0, 2.0))
    got = expected_runtime("k-sync", num_learners=3, k=2, law="exp:1", updates=5, cluster=both)
    assert got.mean is None and "slowdown" in got.source
    async_alone = expected_runtime(
        "k-async", num_learners=3, k=2, law="exp:1", updates=5, cluster=Cluster(deadline=1.0)
    )
    assert async_alone.mean is None  # asked of one variant: a deadline it cannot have
    # over every variant, each takes what applies to it: no deadline for the async ones
    out = predictions("exp:1", 3, 2, 5, cluster=Cluster(deadline=1.0))
    plain = predictions("exp:1", 3, 2, 5)
    assert out["k-async"] == plain["k-async"] and out["k-sync"].relation == "exact"
    assert out["k-sync"].mean != plain["k-sync"].mean


# ---------------------------------------------------------------------------------- specs
def test_spec_theory_uses_the_new_fields(tmp_path):
    base = {"num_learners": 4, "law": "exp:1", "updates": 100}
    spec = ExperimentSpec(variant="async", failure="exp:0.01", repair="exp:1", **base)
    assert spec_theory(spec).mean == pytest.approx(100 / (4 * 100 / 101))
    spec = ExperimentSpec(variant="k-sync", k=2, deadline=0.5, **base)
    assert spec_theory(spec).relation == "exact"
    spec = ExperimentSpec(variant="k-sync", k=2, server_bandwidth=1.0, model_bytes=10, **base)
    assert spec_theory(spec).mean == pytest.approx((200 + 99 * 4) * 10.0)
    spec = ExperimentSpec(variant="all-reduce", bandwidth=100.0, model_bytes=400,
                          push_latency="deterministic:0.5", **base)  # fmt: skip
    x_max = parse_law("exp:1").order_statistic_mean(4, 4)
    assert spec_theory(spec).mean == pytest.approx(100 * (x_max + 6 * 1.5))
    path = tmp_path / "availability.csv"
    path.write_text("worker,down,up\n0,0,50\n2,10,20\n")
    spec = ExperimentSpec(variant="async", availability=str(path), **base)
    assert Cluster.from_spec(spec).availability[0].tolist() == [[0.0, 50.0]]
    assert spec_theory(spec).relation == "exact"


def test_bad_inputs_are_refused_in_one_line():
    with pytest.raises(PssimError, match="`failure_rate` must be a finite number > 0; got 0"):
        failure_task_rate(Learner(Exponential(1.0)), 0)
    with pytest.raises(PssimError, match="`deadline` must be a finite number > 0"):
        deadline_round("k-sync", learners("exp:1"), 1, -1.0)
    with pytest.raises(PssimError, match="`transfer_bytes` must be given with a bandwidth"):
        Cluster(bandwidth=1.0)


def test_a_budget_with_an_availability_file_has_no_count_theory(tmp_path):
    from simulator.studies.runtime import budget_count_theory

    path = tmp_path / "availability.csv"
    path.write_text("worker,down,up\n0,0,50\n")
    spec = ExperimentSpec(variant="async", num_learners=2, law="exp:1", time_budget=100.0)
    assert budget_count_theory(spec).mean == pytest.approx(200.0)
    got = budget_count_theory(spec.replace(availability=str(path)))
    assert got.mean is None and "availability" in got.source


def test_too_many_non_identical_learners_for_a_deadline_have_no_form():
    laws = ["exp:1", "exp:2"] * 1500
    got = expected_runtime("k-sync", num_learners=3000, k=1500, laws=laws, updates=5,
                           cluster=Cluster(deadline=1.0))  # fmt: skip
    assert got.mean is None and "too many" in got.source
