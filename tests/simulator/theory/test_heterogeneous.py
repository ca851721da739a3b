"""Runtime theory of independent, non-identical learners against closed forms and simulation.

Exact predictions are compared with the mean of R seeded replications by a two-sided z-test,
bounds by a one-sided one. The family-wise level is ALPHA = 0.01 over the statistical checks
of this module (Bonferroni: each check's interval is wider than a plain 99% one), so a
correct theory fails a run with probability below 1%; the seeds are fixed, so the outcome
is reproducible. The order-statistic integral is checked to 1e-9 against closed forms
(Rényi's representation, the subset identity for independent exponentials, Pareto's Gamma
ratios) and exactly against enumeration for discrete laws.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from distributions import Empirical, parse_law
from simulator import (
    ExperimentSpec,
    PssimError,
    async_staleness,
    expected_runtime,
    independent_order_statistic_mean,
    predictions,
    runtime_study,
    simulate,
    sync_async_speedup,
)
from simulator.measured import durations_path, read_durations

ALPHA = 0.01
#: statistical checks in this module: Monte Carlo 3, exact 11, bounds 2, renewal 1, staleness 2
CHECKS = 19
Z_TWO = stats.norm.ppf(1 - ALPHA / CHECKS / 2)
Z_ONE = stats.norm.ppf(1 - ALPHA / CHECKS)

#: Eight exponential learners of rates 0.25 to 8: async gives E[T_5000] = 5000 / 20.75.
RATES = (0.25, 0.5, 1.0, 1.0, 2.0, 4.0, 4.0, 8.0)
EXP_LAWS = [f"exp:{r}" for r in RATES]
SPEEDS = [0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.3, 1.6]


def times(spec: ExperimentSpec) -> tuple[float, float]:
    """(mean, standard error) of the J-th update's time over the spec's seeds."""
    summary = runtime_study(spec)
    return summary.mean, summary.std / math.sqrt(spec.seeds)


def subset_order_mean(rates, k: int) -> float:
    """E[X_{K:P}] of independent exponentials from the subset identity
    X_{K:P} = sum_{m=P-K+1}^{P} (-1)^{m-P+K-1} C(m-1, P-K) sum_{|A|=m} min_{i in A} X_i
    (David & Nagaraja, Order Statistics, 3rd ed., eq. 5.3.7), E[min_A] = 1 / sum_A rates."""
    p = len(rates)
    return math.fsum(
        (-1) ** (m - p + k - 1) * math.comb(m - 1, p - k) / sum(subset)
        for m in range(p - k + 1, p + 1)
        for subset in itertools.combinations(rates, m)
    )


# ------------------------------------------------------------ order statistics, no simulation
@pytest.mark.parametrize("k", range(1, 9))
def test_kth_order_mean_of_exponentials_matches_the_subset_identity(k):
    value = independent_order_statistic_mean(EXP_LAWS, k)
    assert value == pytest.approx(subset_order_mean(RATES, k), rel=1e-9)


@pytest.mark.parametrize(
    "law",
    ["exp:1", "shifted-exp:1,2", "pareto:2,1", "pareto:1.5,1", "lognormal:0,0.5", "gamma:2,1"],
)
@pytest.mark.parametrize("k", [1, 3, 6])
def test_identical_learners_give_the_identical_closed_form(law, k):
    expected = parse_law(law).order_statistic_mean(k, 6)
    assert independent_order_statistic_mean([law] * 6, k) == pytest.approx(expected, rel=1e-8)


def test_speeds_divide_the_times():
    # exp:1 run at speed 2 is exp:2; pareto scale 1 at speed 4 is pareto scale 1/4
    assert independent_order_statistic_mean(["exp:1"] * 3, 2, speeds=[2, 2, 2]) == pytest.approx(
        parse_law("exp:2").order_statistic_mean(2, 3), rel=1e-10
    )
    mixed = independent_order_statistic_mean(["exp:1", "pareto:3,1"], 2, speeds=[2, 4])
    assert mixed == pytest.approx(
        independent_order_statistic_mean(["exp:2", "pareto:3,0.25"], 2), rel=1e-10
    )


@pytest.mark.parametrize("k", [1, 2, 3])
def test_discrete_laws_are_summed_exactly(k):
    values = ([1.0, 2.0, 4.0], [1.5, 2.0], [0.5, 3.0, 3.0, 5.0])
    draws = itertools.product(*values)
    weights = 1.0 / np.prod([len(v) for v in values])
    expected = math.fsum(sorted(d)[k - 1] * weights for d in draws)
    laws = [Empirical(v) for v in values]
    assert independent_order_statistic_mean(laws, k) == pytest.approx(expected, rel=1e-13)
    # a deterministic learner among them (an atom at 2.5) is summed exactly too
    laws[1] = parse_law("deterministic:2.5")
    draws = itertools.product(values[0], [2.5], values[2])
    weights = 1.0 / (len(values[0]) * len(values[2]))
    expected = math.fsum(sorted(d)[k - 1] * weights for d in draws)
    assert independent_order_statistic_mean(laws, k) == pytest.approx(expected, rel=1e-13)


def test_mixed_laws_match_brute_force_monte_carlo():
    laws = ["lognormal:0,0.5", "gamma:2,3", "weibull:1.5,1", "pareto:3,0.5", "exp:2"]
    speeds = [1.0, 0.5, 2.0, 1.0, 1.5]
    rng = np.random.default_rng(11)
    n = 200_000
    draws = np.stack(
        [parse_law(x).sample(n, rng=rng) / s for x, s in zip(laws, speeds, strict=True)]
    )
    ordered = np.sort(draws, axis=0)
    for k in (1, 3, 5):
        sample = ordered[k - 1]
        se = sample.std(ddof=1) / math.sqrt(n)
        value = independent_order_statistic_mean(laws, k, speeds=speeds)
        assert abs(sample.mean() - value) <= Z_TWO * se, (k, sample.mean(), value, se)


def test_heavy_tails_diverge_where_they_should():
    # E[X_{K:P}] of P Pareto(a) learners is finite iff (P - K + 1) a > 1
    assert independent_order_statistic_mean(["pareto:0.8,1"] * 4, 4) == math.inf
    finite = independent_order_statistic_mean(["pareto:0.8,1"] * 4, 3)
    assert finite == pytest.approx(parse_law("pareto:0.8,1").order_statistic_mean(3, 4), rel=1e-7)
    # one infinite-mean learner makes the maximum infinite, not the minimum
    mixed = ["pareto:0.8,1", "exp:1", "exp:2"]
    assert independent_order_statistic_mean(mixed, 3) == math.inf
    assert math.isfinite(independent_order_statistic_mean(mixed, 1))
    theory = expected_runtime("sync", num_learners=3, k=None, laws=mixed, updates=10)
    assert theory.mean is None and theory.relation == "none"


# ----------------------------------------------------------- reductions and relations
def test_identical_laws_reduce_to_the_papers_forms():
    mine = predictions(None, 4, 2, 50, laws=["pareto:2,1"] * 4)
    papers = predictions("pareto:2,1", 4, 2, 50)
    assert mine == papers
    scaled = predictions("exp:1", 4, 2, 50, speeds=[2.0] * 4)
    for name, prediction in predictions("exp:2", 4, 2, 50).items():
        assert scaled[name].relation == prediction.relation, name
        assert scaled[name].mean == pytest.approx(prediction.mean, rel=1e-9), name


def test_relations_follow_the_learners_laws():
    exp = predictions(None, 8, 3, 10, laws=EXP_LAWS)
    bounded = ("rennala", "ringmaster")  # discarded gradients: bounds by construction
    assert {p.relation for name, p in exp.items() if name not in bounded} == {"exact"}
    assert exp["async"].mean == pytest.approx(10 / sum(RATES))
    assert exp["k-batch-sync"].mean == pytest.approx(10 * 3 / sum(RATES))
    nltu = predictions(None, 3, 2, 10, laws=["shifted-exp:1,1", "weibull:2,1", "exp:1"])
    assert nltu["k-async"].relation == "upper-bound"
    assert nltu["async"].relation == "asymptotic"
    assert nltu["k-batch-sync"].relation == "none"
    nstu = predictions(None, 3, 2, 10, laws=["weibull:0.7,1", "hyperexp:0.5,0.5,0.5,4", "exp:3"])
    assert nstu["k-async"].relation == "lower-bound"
    mixed = predictions(None, 2, 2, 10, laws=["weibull:2,1", "weibull:0.7,1"])
    assert mixed["k-async"].relation == "none" and "mix" in mixed["k-async"].source
    unknown = predictions(None, 2, 2, 10, laws=["lognormal:0,1", "exp:1"])
    assert unknown["k-async"].relation == "none" and "unknown" in unknown["k-async"].source
    avg = predictions(None, 2, 2, 10, laws=["lognormal:0,1", "exp:1"])["k-avg"]
    assert avg.relation == "upper-bound"


def test_deterministic_batch_sync_is_the_smallest_t_with_k_completions():
    taus = [1.0, 1.5, 2.5, 4.0]
    laws = [f"deterministic:{t}" for t in taus]
    for k, t_k in [(1, 1.0), (2, 1.5), (3, 2.0), (4, 2.5)]:
        assert min(t for t in np.arange(0.5, 10, 0.5) if sum(t // x for x in taus) >= k) == t_k
        theory = expected_runtime("k-batch-sync", num_learners=4, k=k, laws=laws, updates=30)
        trace = simulate("k-batch-sync", num_learners=4, k=k, laws=laws, updates=30, seed=0)
        assert theory.relation == "exact"
        assert theory.mean == pytest.approx(30 * t_k, rel=1e-12)
        assert trace.end_time == pytest.approx(theory.mean, rel=1e-12)


@pytest.mark.parametrize(
    "kwargs,param,needle",
    [
        (
            dict(laws=["exp:1"] * 3),
            "laws",
            "`laws` must have P (4) entries, one per learner; got 3",
        ),
        (dict(laws=["exp:1"] * 3 + ["exp:-1"]), "laws", "`laws` entry 3: `Exponential.rate`"),
        (dict(laws=["exp:1"] * 3 + [None]), "laws", "`laws` entry 3 must be a ComputeTimeLaw"),
        (dict(law="exp:1", laws=["exp:1"] * 4), "laws", "must not both be given"),
        (dict(law="exp:1", speeds=[1, 1, 0, 1]), "speeds", "`speeds` must be a finite number > 0"),
        (dict(law="exp:1", speeds="1,1,1,1"), "speeds", "`speeds` must be a list of P (4)"),
        (dict(speeds=[1, 1, 1, 1]), "law", "`law` or `laws` must be given"),
    ],
)
def test_bad_learners_are_refused_in_one_line(kwargs, param, needle):
    with pytest.raises(PssimError) as err:
        expected_runtime("sync", num_learners=4, k=None, updates=5, **kwargs)
    assert needle in str(err.value) and "\n" not in str(err.value)
    assert err.value.param == param


def test_order_statistic_mean_refuses_bad_arguments():
    with pytest.raises(PssimError, match=r"^`laws` must be a list of laws"):
        independent_order_statistic_mean("exp:1", 1)
    with pytest.raises(PssimError, match=r"^`laws` must have at least 1 entry"):
        independent_order_statistic_mean([], 1)
    with pytest.raises(PssimError, match=r"^`k` must be <= 2; got 3"):
        independent_order_statistic_mean(["exp:1", "exp:2"], 3)


def test_too_many_learners_to_integrate_say_so():
    speeds = list(np.linspace(0.5, 2.0, 2500))
    theory = expected_runtime(
        "k-sync", num_learners=2500, k=1250, law="lognormal:0,1", speeds=speeds, updates=1
    )
    assert theory.relation == "none" and "not integrated" in theory.source
    # sync needs only two states per point: the same learners are integrated
    sync = expected_runtime(
        "sync", num_learners=2500, k=None, law="exp:1", speeds=speeds, updates=1
    )
    assert sync.relation == "exact" and sync.mean > 0


# --------------------------------------------------------------- against the simulator
EXACT = [
    ("async", None, dict(laws=EXP_LAWS), 5000, 200),
    ("sync", None, dict(laws=EXP_LAWS), 100, 300),
    ("k-sync", 3, dict(laws=EXP_LAWS), 200, 300),
    ("k-batch-sync", 3, dict(laws=EXP_LAWS), 200, 300),
    ("k-async", 3, dict(laws=EXP_LAWS), 200, 300),
    ("k-batch-async", 3, dict(laws=EXP_LAWS), 500, 300),
    ("k-avg", 2, dict(laws=EXP_LAWS), 100, 300),
    ("sync", None, dict(law="lognormal:0,0.5", speeds=SPEEDS), 100, 300),
    ("k-sync", 4, dict(law="pareto:3,1", speeds=SPEEDS), 100, 300),
    ("k-avg", 3, dict(law="gamma:2,1", speeds=SPEEDS), 100, 300),
]


@pytest.mark.parametrize("variant,k,learners,updates,seeds", EXACT)
def test_exact_predictions_agree_with_simulation(variant, k, learners, updates, seeds):
    spec = ExperimentSpec(
        variant=variant, num_learners=8, k=k, updates=updates, seeds=seeds, seed=500, **learners
    )
    summary = runtime_study(spec)
    theory = summary.theory
    assert theory.relation == "exact", theory
    mean, se = summary.mean, summary.std / math.sqrt(seeds)
    assert abs(mean - theory.mean) <= Z_TWO * se, (mean, theory.mean, se)


def test_the_shipped_cluster_resampled_per_worker_agrees_with_its_order_statistics():
    """K-sync over the 64 workers' own empirical laws (the resample model of the trace)."""
    measured = read_durations(durations_path("llm-se"))
    laws = [Empirical(d) for d in measured.durations]
    spec = ExperimentSpec(variant="k-sync", num_learners=64, k=48, laws=laws, updates=43, seeds=80)
    mean, se = times(spec)
    theory = runtime_study(spec.replace(seeds=1)).theory
    assert theory.relation == "exact"
    assert abs(mean - theory.mean) <= Z_TWO * se, (mean, theory.mean, se)
    # the spec's resample mode gives the same learners, so the same theory
    resampled = ExperimentSpec(
        variant="k-sync", k=48, durations="llm-se", durations_mode="resample", updates=43
    )
    assert expected_runtime(
        "k-sync", num_learners=64, k=48, laws=resampled.laws, updates=43
    ).mean == pytest.approx(theory.mean, rel=1e-12)


@pytest.mark.parametrize(
    "laws,relation",
    [
        (["shifted-exp:1,1", "shifted-exp:0.5,2", "shifted-exp:2,1", "weibull:2,1"], "upper-bound"),
        (
            ["weibull:0.7,1", "hyperexp:0.5,0.5,0.5,4", "weibull:0.5,2", "gamma:0.5,1"],
            "lower-bound",
        ),
    ],
)
def test_k_async_bounds_hold(laws, relation):
    spec = ExperimentSpec(variant="k-async", k=3, num_learners=4, laws=laws, updates=200, seeds=100)
    summary = runtime_study(spec)
    assert summary.theory.relation == relation
    mean, se, bound = summary.mean, summary.std / 10, summary.theory.mean
    if relation == "upper-bound":
        assert mean <= bound + Z_ONE * se, (mean, bound)
    else:
        assert mean >= bound - Z_ONE * se, (mean, bound)


def test_renewal_value_is_approached_as_j_grows():
    """Async on the shipped cluster's per-worker laws: E[T_J] = J / sum_l 1/E[X_l] + c + o(1),
    so the offset c is the same at J = 1000 and 4000 (paired seeds: the same runs) while the
    relative gap falls like 1/J."""
    measured = read_durations(durations_path("llm-se"))
    laws = [Empirical(d) for d in measured.durations]
    gaps, offsets = {}, {}
    for j in (250, 1000, 4000):
        summary = runtime_study(variant="async", num_learners=64, laws=laws, updates=j, seeds=30)
        assert summary.theory.relation == "asymptotic"
        offsets[j] = summary.times - summary.theory.mean
        gaps[j] = summary.relative_gap()
    assert gaps[250] > gaps[1000] > gaps[4000] > 0
    diff = offsets[4000] - offsets[1000]
    assert abs(diff.mean()) <= Z_TWO * diff.std(ddof=1) / math.sqrt(diff.size)
    assert gaps[4000] < gaps[250] / 8  # 1/J would give 1/16


def test_async_staleness_of_exponential_rates():
    """p0 = sum r_l^2 / R^2 and mean staleness P - 1, per seed after a transient of 500
    updates, against a t-interval over 40 independent seeds."""
    theory = async_staleness(None, 8, laws=EXP_LAWS)
    assert theory["p0"].relation == theory["mean"].relation == "exact"
    assert theory["p0"].mean == pytest.approx(sum(r * r for r in RATES) / sum(RATES) ** 2)
    p0s, means = [], []
    for seed in range(40):
        trace = simulate("async", num_learners=8, laws=EXP_LAWS, updates=3000, seed=seed)
        s = trace.staleness()[trace.mask][500:]
        p0s.append(np.mean(s == 0))
        means.append(s.mean())
    for sample, value in ((np.array(p0s), theory["p0"].mean), (np.array(means), 7.0)):
        se = sample.std(ddof=1) / math.sqrt(sample.size)
        assert abs(sample.mean() - value) <= Z_TWO * se, (sample.mean(), value, se)


def test_mean_staleness_never_exceeds_p_minus_one():
    """Each update counts in the staleness of every other learner's next contribution, so a
    run's mean staleness is at most P - 1, whatever the laws (here heavy-tailed and slow)."""
    laws = ["pareto:1.5,1", "lognormal:0,1", "exp:0.1", "weibull:0.5,1"]
    bound = async_staleness(None, 4, laws=laws)["mean"]
    assert bound.relation == "upper-bound" and bound.mean == 3.0
    for seed in range(20):
        trace = simulate("async", num_learners=4, laws=laws, updates=2000, seed=seed)
        assert trace.staleness()[trace.mask].mean() <= 3.0


def test_sync_async_speedup_of_independent_exponentials():
    speed = sync_async_speedup(None, 8, laws=EXP_LAWS)
    assert speed.relation == "exact"
    assert speed.mean == pytest.approx(subset_order_mean(RATES, 8) * sum(RATES), rel=1e-9)
