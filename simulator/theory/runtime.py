"""Runtime theory shown beside every simulation (Dutta et al. 2018, sections 3.1 and 4).

Each prediction carries its relation to the true expected runtime: ``exact``,
``upper-bound``, ``lower-bound``, ``asymptotic`` (renewal theory, exact as J -> inf) or
``none`` (no closed form; ``mean`` is then None, never NaN). Compute times are i.i.d.
across learners and mini-batches and communication is free, as in the paper.
"""

from __future__ import annotations

import dataclasses
import math

from distributions import Exponential, law_from
from simulator._checks import VARIANTS, resolve_variant
from simulator.errors import PssimError
from simulator.theory._bound import check_size

__all__ = [
    "Prediction",
    "async_staleness",
    "batch_speedup",
    "expected_runtime",
    "predictions",
    "sync_async_speedup",
]

RELATIONS = ("exact", "upper-bound", "lower-bound", "asymptotic", "none")


@dataclasses.dataclass(frozen=True)
class Prediction:
    """A theoretical value and how it relates to the truth.

    Attributes:
        mean: the predicted value (simulated time units for runtimes), None if no theory.
        relation: one of ``exact, upper-bound, lower-bound, asymptotic, none``.
        source: where it comes from, e.g. ``"Lemma 3: J E[X_{K:P}]"``.
    """

    mean: float | None
    relation: str
    source: str

    def __post_init__(self) -> None:
        if self.relation not in RELATIONS:
            raise PssimError(f"`relation` must be one of {', '.join(RELATIONS)}")
        if self.mean is not None and not math.isfinite(self.mean):
            object.__setattr__(self, "mean", None)
            object.__setattr__(self, "relation", "none")
            object.__setattr__(self, "source", self.source + " (infinite)")

    def holds_for(self, value: float, rtol: float = 0.0) -> bool:
        """Whether ``value`` is consistent with a bound (always True for other relations)."""
        if self.mean is None:
            return True
        if self.relation == "upper-bound":
            return value <= self.mean * (1 + rtol)
        if self.relation == "lower-bound":
            return value >= self.mean * (1 - rtol)
        return True


def _none(source: str) -> Prediction:
    return Prediction(None, "none", source)


def _is_exponential(law) -> bool:
    return isinstance(law, Exponential)


def expected_runtime(variant: str, *, num_learners: int, k: int | None, law, updates: int):
    """Expected time of the J-th update of a variant (simulated time units).

    - k-sync: J E[X_{K:P}], exact for any law (Lemma 3).
    - k-batch-sync: J K / (P mu), exact for exp(mu) (Erlang(K, P mu) per iteration); none
      otherwise.
    - k-async: J E[X_{K:P}]: exact for exponential; an upper bound for new-longer-than-used
      laws (Lemma 5); a lower bound for new-shorter-than-used laws (Lemma 5's argument with
      the stochastic order reversed). K = 1 (async) is K-batch-async with K = 1.
    - k-batch-async: J K E[X] / P (Lemma 4, renewal): exact for exponential (Poisson
      superposition), asymptotic otherwise.
    - k-avg: J E[max of P sums of K draws]: exact where the sum has a closed-form law
      (exponential, shifted exponential, gamma) or K = 1; otherwise the upper bound
      J K E[X_{P:P}] (a maximum of sums is at most the sum of maxima).

    Example:
        >>> expected_runtime("sync", num_learners=2, k=None, law="exp:1", updates=10).mean
        15.0
    """
    check_size("num_learners", num_learners)
    variant, k = resolve_variant(variant, num_learners, k)
    j, p = check_size("updates", updates), num_learners
    law = law_from(law)
    mean_x = law.mean()
    if variant == "k-sync":
        return Prediction(j * law.order_statistic_mean(k, p), "exact", "Lemma 3: J E[X_{K:P}]")
    if variant == "k-batch-sync":
        if _is_exponential(law):
            return Prediction(j * k / (p * law.rate), "exact", "Erlang(K, P mu): J K / (P mu)")
        return _none("no closed form for K-batch-sync beyond exponential laws")
    if variant == "k-batch-async" or (variant == "k-async" and k == 1):
        relation = "exact" if _is_exponential(law) else "asymptotic"
        return Prediction(j * k * mean_x / p, relation, "Lemma 4: J K E[X] / P (renewal)")
    if variant == "k-async":
        value = j * law.order_statistic_mean(k, p)
        if _is_exponential(law):
            return Prediction(value, "exact", "Lemma 5 (equality, exponential): J E[X_{K:P}]")
        if law.aging in ("nltu", "both"):
            return Prediction(value, "upper-bound", "Lemma 5 (new-longer-than-used)")
        if law.aging == "nstu":
            return Prediction(value, "lower-bound", "Lemma 5 reversed (new-shorter-than-used)")
        return _none("K-async: no bound for a law that is neither NLTU nor NSTU")
    # k-avg
    if k == 1:
        return Prediction(j * law.order_statistic_mean(p, p), "exact", "K=1: J E[X_{P:P}]")
    total = law.sum_law(k)
    if total is not None:
        return Prediction(
            j * total.order_statistic_mean(p, p), "exact", "J E[max of P sums of K draws]"
        )
    return Prediction(
        j * k * law.order_statistic_mean(p, p), "upper-bound", "J K E[X_{P:P}] (max of sums)"
    )


def sync_async_speedup(law, num_learners: int) -> Prediction:
    """Theorem 1: E[T_sync] / E[T_async] = P E[X_{P:P}] / E[X] (ratio of times, no unit).

    Exact for exponential laws; asymptotic (renewal) otherwise.
    """
    law, p = law_from(law), check_size("num_learners", num_learners)
    value = p * law.order_statistic_mean(p, p) / law.mean()
    relation = "exact" if _is_exponential(law) else "asymptotic"
    return Prediction(value, relation, "Theorem 1: P E[X_{P:P}] / E[X]")


def batch_speedup(law, num_learners: int, k: int) -> Prediction:
    """Theorem 2: E[T_K-async] / E[T_K-batch-async] = P E[X_{K:P}] / (K E[X]).

    Exact for exponential laws (the theorem's setting); ``none`` otherwise.
    """
    law = law_from(law)
    check_size("num_learners", num_learners)
    _, k = resolve_variant("k-async", num_learners, k)
    if not _is_exponential(law):
        return _none("Theorem 2 holds for exponential laws only")
    value = num_learners * law.order_statistic_mean(k, num_learners) / (k * law.mean())
    return Prediction(value, "exact", "Theorem 2: P E[X_{K:P}] / (K E[X])")


def async_staleness(law, num_learners: int) -> dict[str, Prediction]:
    """Staleness of fully asynchronous SGD: p0 = 1/P and mean P - 1 for exponential laws.

    Under exponential times each update comes from a uniformly chosen learner (memoryless
    property, Lemma 8), so staleness is geometric: P(s) = (1/P)(1 - 1/P)^s. For NLTU
    (NSTU) laws Lemma 8 gives p0 <= 1/P (>= 1/P).
    """
    law, p = law_from(law), check_size("num_learners", num_learners)
    if _is_exponential(law):
        return {
            "p0": Prediction(1.0 / p, "exact", "Lemma 8: p0 = 1/P"),
            "mean": Prediction(p - 1.0, "exact", "geometric staleness: P - 1"),
        }
    aging = {"nltu": "upper-bound", "nstu": "lower-bound"}.get(law.aging)
    p0 = Prediction(1.0 / p, aging, "Lemma 8 bound: 1/P") if aging else _none("Lemma 8")
    return {"p0": p0, "mean": _none("no closed form beyond exponential laws")}


def predictions(law, num_learners: int, k: int | None, updates: int) -> dict[str, Prediction]:
    """Expected runtime of J updates for every variant (``sync``, ``async`` and the K ones).

    Without ``k`` only ``sync`` and ``async`` are predicted; a ``k`` that breaks the
    K-variants' rule (1 <= K <= P) is refused, not dropped.
    """
    if k is not None:
        resolve_variant("k-sync", num_learners, k)
    out = {}
    for name in ("sync", "async", *VARIANTS):
        kk = None if name in ("sync", "async") else k
        if kk is None and name not in ("sync", "async"):
            continue
        out[name] = expected_runtime(
            name, num_learners=num_learners, k=kk, law=law, updates=updates
        )
    return out
