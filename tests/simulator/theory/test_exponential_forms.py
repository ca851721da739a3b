"""A law that is exponential in another form gets the exponential's exact theory.

``gamma:1,r``, ``weibull:1,s``, ``shifted-exp:0,r`` and a hyper-exponential with equal rates
are Exp(r) (memoryless: aging ``both``): K-async is exact (Lemma 5 holds with equality),
K-batch-sync is Erlang, p0 = 1/P (Lemma 8), Theorem 2 applies; for identical learners and
among non-identical ones alike. The simulations draw each form with its own sampler, so the
agreement below is the engine's, not a relabelling: two-sided z-tests at a family-wise level
of 1% (Bonferroni over the forms and variants), fixed seeds.
"""

from __future__ import annotations

import math

import pytest
from scipy import stats

from simulator import (
    async_staleness,
    batch_speedup,
    expected_runtime,
    predictions,
    runtime_study,
    sync_async_speedup,
)

#: Exp(2) in each of its other forms.
FORMS = ["gamma:1,2", "weibull:1,0.5", "shifted-exp:0,2", "hyperexp:0.3,2,0.7,2"]
SIMULATED = ("k-async", "k-batch-sync")
Z_TWO = stats.norm.ppf(1 - 0.01 / (len(FORMS) * len(SIMULATED)) / 2)
P, K, J = 6, 3, 50
#: Variants whose exponential theory is a bound by construction (discarded gradients).
BOUNDED = ("rennala", "ringmaster")


@pytest.mark.parametrize("form", FORMS)
def test_every_prediction_is_the_exponentials(form):
    mine, exp = predictions(form, P, K, J), predictions("exp:2", P, K, J)
    for name, prediction in exp.items():
        relation = "lower-bound" if name in BOUNDED else "exact"
        assert mine[name].relation == prediction.relation == relation, (name, mine[name])
        assert mine[name].mean == pytest.approx(prediction.mean, rel=1e-9), name
    assert mine["k-batch-sync"].source.startswith("Erlang")
    assert mine["k-async"].source.startswith("Lemma 5 (equality")
    staleness = async_staleness(form, P)
    assert staleness["p0"].relation == "exact" and staleness["p0"].mean == pytest.approx(1 / P)
    assert staleness["mean"].relation == "exact"
    assert sync_async_speedup(form, P).relation == "exact"
    theorem2 = batch_speedup(form, P, K)
    assert theorem2.relation == "exact"
    assert theorem2.mean == pytest.approx(batch_speedup("exp:2", P, K).mean, rel=1e-9)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("variant", SIMULATED)
def test_the_exact_values_agree_with_simulation(form, variant):
    summary = runtime_study(
        variant=variant, num_learners=P, k=K, law=form, updates=J, seeds=200, seed=77
    )
    assert summary.theory.relation == "exact"
    se = summary.std / math.sqrt(200)
    assert abs(summary.mean - summary.theory.mean) <= Z_TWO * se


def test_non_identical_learners_in_exponential_forms_are_poisson():
    laws = ["gamma:1,1", "weibull:1,0.5", "shifted-exp:0,4", "hyperexp:0.5,3,0.5,3"]
    rates = [1.0, 2.0, 4.0, 3.0]
    out = predictions(None, 4, 2, 100, laws=laws)
    assert {p.relation for name, p in out.items() if name not in BOUNDED} == {"exact"}
    assert {out[name].relation for name in BOUNDED} == {"lower-bound"}
    assert out["k-batch-sync"].mean == pytest.approx(100 * 2 / sum(rates))
    assert out["async"].mean == pytest.approx(100 / sum(rates))
    p0 = async_staleness(None, 4, laws=laws)["p0"]
    assert p0.relation == "exact"
    assert p0.mean == pytest.approx(sum(r * r for r in rates) / sum(rates) ** 2)
    same = expected_runtime(
        "k-async", num_learners=4, k=2, laws=[f"exp:{r}" for r in rates], updates=100
    )
    assert out["k-async"].mean == pytest.approx(same.mean, rel=1e-9)


def test_forms_that_are_not_exponential_keep_their_labels():
    assert expected_runtime(
        "k-async", num_learners=4, k=2, law="gamma:2,2", updates=5
    ).relation == ("upper-bound")
    assert expected_runtime(
        "k-async", num_learners=4, k=2, law="weibull:0.7,1", updates=5
    ).relation == ("lower-bound")
    assert expected_runtime(
        "k-batch-sync", num_learners=4, k=2, law="shifted-exp:0.1,2", updates=5
    ).relation == ("none")
    assert async_staleness("hyperexp:0.5,1,0.5,2", 4)["p0"].relation == "lower-bound"
