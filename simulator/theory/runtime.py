"""Runtime theory shown beside every simulation (Dutta et al. 2018, sections 3.1 and 4).

Each prediction carries its relation to the true expected runtime: ``exact``,
``upper-bound``, ``lower-bound``, ``asymptotic`` (renewal theory, exact as J -> inf) or
``none`` (no closed form; ``mean`` is then None, never NaN). Compute times are i.i.d.
across learners and mini-batches and communication is free, as in the paper; with
per-learner ``laws`` or ``speeds`` every function here gives the theory of independent,
non-identical learners instead (:mod:`simulator.theory.heterogeneous`).

A law that is exponential in another form (``gamma:1,r``, ``weibull:1,s``,
``shifted-exp:0,r``, a hyper-exponential with equal rates: aging ``"both"``) is treated as
the exponential it is, with the exponential's exact results.
"""

from __future__ import annotations

from distributions import ComputeTimeLaw, Exponential
from simulator._checks import VARIANTS, resolve_variant
from simulator.theory._bound import check_size
from simulator.theory._prediction import RELATIONS, Prediction
from simulator.theory.heterogeneous import (
    check_law,
    check_learners,
    heterogeneous_batch_speedup,
    heterogeneous_runtime,
    heterogeneous_speedup,
    heterogeneous_staleness,
)

__all__ = [
    "RELATIONS",
    "Prediction",
    "async_staleness",
    "batch_speedup",
    "expected_runtime",
    "predictions",
    "sync_async_speedup",
]


def _none(source: str) -> Prediction:
    return Prediction(None, "none", source)


def _is_exponential(law) -> bool:
    return isinstance(law, Exponential)


def _identical(law):
    """``law`` as a law; the :class:`Exponential` it equals where it is exponential in
    another form (memoryless: aging ``"both"``)."""
    law = law if isinstance(law, ComputeTimeLaw) else check_law("law", law)
    if not isinstance(law, Exponential) and law.aging == "both":
        return Exponential(1.0 / law.mean())
    return law


def _resolve(num_learners: int, law, laws, speeds):
    """(the law, None) for identical learners; (None, the learners) for non-identical
    ones (per-learner ``laws`` or ``speeds`` that are not all the same law at speed 1)."""
    check_size("num_learners", num_learners)
    if laws is None and speeds is None:
        return _identical(law), None
    learners = check_learners(num_learners, law, laws, speeds)
    first = learners[0]
    if first.speed == 1.0 and all(x == first for x in learners):
        return _identical(first.law), None
    return None, learners


def expected_runtime(
    variant: str,
    *,
    num_learners: int,
    k: int | None,
    law=None,
    updates: int,
    laws=None,
    speeds=None,
):
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

    With per-learner ``laws`` (instead of ``law``) or ``speeds`` the learners are
    independent and non-identical: see :mod:`simulator.theory.heterogeneous` (renewal
    J K / sum_l 1/E[X_l], K-th order statistics of non-identical laws, ...).

    Args:
        variant: ``sync``, ``async`` or a K-variant.
        num_learners: P >= 1.
        k: K (None for ``sync``/``async``).
        law: the learners' common law (a law, spec string or frozen scipy.stats law).
        updates: J >= 1.
        laws: P per-learner laws instead of ``law``.
        speeds: P factors > 0; learner l's durations are divided by ``speeds[l]``.

    Example:
        >>> expected_runtime("sync", num_learners=2, k=None, law="exp:1", updates=10).mean
        15.0
        >>> expected_runtime("async", num_learners=2, k=None, laws=["exp:1", "exp:3"],
        ...                  updates=100).mean
        25.0
    """
    check_size("num_learners", num_learners)
    variant, k = resolve_variant(variant, num_learners, k)
    j = check_size("updates", updates)
    law, learners = _resolve(num_learners, law, laws, speeds)
    if learners is not None:
        return heterogeneous_runtime(variant, learners, k, j)
    return _identical_runtime(variant, num_learners, k, law, j)


def _identical_runtime(variant: str, p: int, k: int, law, j: int) -> Prediction:
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


def sync_async_speedup(law, num_learners: int, *, laws=None, speeds=None) -> Prediction:
    """Theorem 1: E[T_sync] / E[T_async] = P E[X_{P:P}] / E[X] (ratio of times, no unit).

    Exact for exponential laws; asymptotic (renewal) otherwise. With per-learner ``laws``
    or ``speeds``: E[X_{P:P}] sum_l 1/E[X_l] (independent learners, same relations).
    """
    law, learners = _resolve(num_learners, law, laws, speeds)
    if learners is not None:
        return heterogeneous_speedup(learners)
    p = num_learners
    value = p * law.order_statistic_mean(p, p) / law.mean()
    relation = "exact" if _is_exponential(law) else "asymptotic"
    return Prediction(value, relation, "Theorem 1: P E[X_{P:P}] / E[X]")


def batch_speedup(law, num_learners: int, k: int, *, laws=None, speeds=None) -> Prediction:
    """Theorem 2: E[T_K-async] / E[T_K-batch-async] = P E[X_{K:P}] / (K E[X]).

    Exact for exponential laws (the theorem's setting); ``none`` otherwise. With
    per-learner ``laws`` or ``speeds``: E[X_{K:P}] sum_l rate_l / K for exponential laws.
    """
    check_size("num_learners", num_learners)
    _, k = resolve_variant("k-async", num_learners, k)
    law, learners = _resolve(num_learners, law, laws, speeds)
    if learners is not None:
        return heterogeneous_batch_speedup(learners, k)
    if not _is_exponential(law):
        return _none("Theorem 2 holds for exponential laws only")
    value = num_learners * law.order_statistic_mean(k, num_learners) / (k * law.mean())
    return Prediction(value, "exact", "Theorem 2: P E[X_{K:P}] / (K E[X])")


def async_staleness(law, num_learners: int, *, laws=None, speeds=None) -> dict[str, Prediction]:
    """Staleness of fully asynchronous SGD: p0 = 1/P and mean P - 1 for exponential laws.

    Under exponential times each update comes from a uniformly chosen learner (memoryless
    property, Lemma 8), so staleness is geometric: P(s) = (1/P)(1 - 1/P)^s. For NLTU
    (NSTU) laws Lemma 8 gives p0 <= 1/P (>= 1/P). For any law the mean staleness of a run
    is at most P - 1 (each update counts in the staleness of the P - 1 other learners'
    next contributions; see :func:`~simulator.theory.heterogeneous.heterogeneous_staleness`,
    which also gives p0 for independent exponential learners of different rates).

    Returns:
        ``{"p0": Prediction, "mean": Prediction}``.
    """
    law, learners = _resolve(num_learners, law, laws, speeds)
    if learners is not None:
        return heterogeneous_staleness(learners)
    p = num_learners
    if _is_exponential(law):
        return {
            "p0": Prediction(1.0 / p, "exact", "Lemma 8: p0 = 1/P"),
            "mean": Prediction(p - 1.0, "exact", "geometric staleness: P - 1"),
        }
    aging = {"nltu": "upper-bound", "nstu": "lower-bound"}.get(law.aging)
    p0 = Prediction(1.0 / p, aging, "Lemma 8 bound: 1/P") if aging else _none("Lemma 8")
    mean = Prediction(p - 1.0, "upper-bound", "every update counts for the P - 1 others")
    return {"p0": p0, "mean": mean}


def predictions(
    law, num_learners: int, k: int | None, updates: int, *, laws=None, speeds=None
) -> dict[str, Prediction]:
    """Expected runtime of J updates for every variant (``sync``, ``async`` and the K ones).

    Without ``k`` only ``sync`` and ``async`` are predicted; a ``k`` that breaks the
    K-variants' rule (1 <= K <= P) is refused, not dropped. ``laws`` and ``speeds`` as in
    :func:`expected_runtime`.
    """
    check_size("num_learners", num_learners)
    if k is not None:
        resolve_variant("k-sync", num_learners, k)
    j = check_size("updates", updates)
    law, learners = _resolve(num_learners, law, laws, speeds)
    out = {}
    for name in ("sync", "async", *VARIANTS):
        kk = None if name in ("sync", "async") else k
        if kk is None and name not in ("sync", "async"):
            continue
        variant, kk = resolve_variant(name, num_learners, kk)
        if learners is not None:
            out[name] = heterogeneous_runtime(variant, learners, kk, j)
        else:
            out[name] = _identical_runtime(variant, num_learners, kk, law, j)
    return out
