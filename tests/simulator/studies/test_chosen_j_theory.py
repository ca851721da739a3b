"""The theory of a J a time budget chose: exact values become asymptotic, bounds stay."""

from __future__ import annotations

import pytest

from simulator.studies._common import chosen_j_theory
from simulator.theory.runtime import Prediction


@pytest.mark.parametrize(
    ("relation", "after"),
    [
        ("exact", "asymptotic"),
        ("asymptotic", "asymptotic"),
        ("lower-bound", "lower-bound"),
        ("upper-bound", "upper-bound"),
    ],
)
def test_a_budget_chosen_j_keeps_bounds_and_makes_exact_values_asymptotic(relation, after):
    out = chosen_j_theory(Prediction(4.5, relation, "server links"))
    assert out.relation == after and out.mean == 4.5
    assert out.source == "server links, J set by the budget"


def test_no_theory_stays_none():
    none = Prediction(None, "none", "no closed form")
    assert chosen_j_theory(none) is none
