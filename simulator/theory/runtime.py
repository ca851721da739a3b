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

A :class:`Cluster` adds what the papers leave out (failures, an availability file, a
deadline, slowdowns, bandwidths, server shards, the ring all-reduce): :func:`expected_runtime`
then gives the forms of :mod:`simulator.theory.faults_network` and
:mod:`simulator.theory.links` where the cluster's features are ones they cover, and
``none`` naming the feature otherwise.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from distributions import ComputeTimeLaw, Exponential
from simulator._checks import IMPLIED_K, VARIANTS, resolve_variant
from simulator.theory import faults_network as fn
from simulator.theory import methods
from simulator.theory._bound import check_size
from simulator.theory._learners import IntegralTooLarge, Learner
from simulator.theory._prediction import RELATIONS, Prediction
from simulator.theory.cluster import Cluster
from simulator.theory.heterogeneous import (
    check_law,
    check_learners,
    heterogeneous_batch_speedup,
    heterogeneous_runtime,
    heterogeneous_speedup,
    heterogeneous_staleness,
)
from simulator.theory.links import all_reduce_runtime, fastest_transfer, link_bounds

__all__ = [
    "RELATIONS",
    "Cluster",
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


def _learners_of(num_learners: int, law, learners) -> list[Learner]:
    return learners if learners is not None else [Learner(law)] * num_learners


def _plain(variant: str, p: int, k: int, law, learners, j: int) -> Prediction:
    if learners is not None:
        return heterogeneous_runtime(variant, learners, k, j)
    return _identical_runtime(variant, p, k, law, j)


def _cluster_runtime(variant, p, k, law, learners, j, cluster: Cluster) -> Prediction:
    """The prediction for a cluster (see :func:`expected_runtime`)."""
    on = cluster.features
    if variant in ("rennala", "ringmaster"):
        if on:
            return _none(f"{variant} with {on[0]}: no closed form")
        return _method_runtime(variant, p, k, law, learners, j)
    if not on and variant != "all-reduce":
        return _plain(variant, p, k, law, learners, j)
    try:
        return _cluster_form(variant, p, k, law, learners, j, cluster)
    except IntegralTooLarge as err:
        return _none(str(err))


def _method_runtime(variant, p, k, law, learners, j) -> Prediction:
    """Rennala and Ringmaster (:mod:`simulator.theory.methods`): lower bounds from the
    variants they never beat (K-batch-sync, asynchronous SGD); with fixed durations,
    Rennala's per-batch lower bound."""
    xs = _learners_of(p, law, learners)
    taus = methods.constants(xs)
    if variant == "rennala":
        if taus is not None:
            low = methods.rennala_batch_bounds(taus, k)["low"]
            source = "Rennala: K fresh gradients per batch: J min{t: sum_l floor(t/tau_l) >= K}"
            return Prediction(j * low, "lower-bound", source)
        rates = [x.exponential_rate for x in xs]
        if any(r is None for r in rates):
            return _none("rennala: a bound for fixed or exponential durations only")
        erlang = "Erlang(K, sum_l rate_l): J K / sum_l rate_l"
        base = Prediction(j * k / sum(rates), "exact", erlang)
        source = f"Rennala is never faster than K-batch-sync: {base.source}"
    elif taus is not None:  # the pushes of asynchronous SGD: every n tau_l
        low = methods.kth_completion(taus, j, 0)
        source = "Ringmaster's pushes are asynchronous SGD's: the J-th smallest n tau_l"
        return Prediction(low, "lower-bound", source)
    else:
        base = _plain("k-async", p, 1, law, learners, j)
        source = f"Ringmaster is never faster than asynchronous SGD: {base.source}"
    if base.relation not in ("exact", "lower-bound"):  # an asymptotic value bounds nothing
        return _none(f"{variant}: asynchronous SGD's runtime is {base.relation} here")
    return Prediction(base.mean, "lower-bound", source)


def _cluster_form(variant, p, k, law, learners, j, cluster: Cluster) -> Prediction:
    xs = _learners_of(p, law, learners)
    on = cluster.features
    if variant == "all-reduce":
        extra = [n for n in on if n not in ("bandwidth", "push_latency")]
        if extra:
            return _none(f"all-reduce with {extra[0]}: no closed form")
        return all_reduce_runtime(
            xs, j, cluster.transfer_bytes or 0.0, cluster.bandwidth, cluster.push_latency
        )
    if cluster.network:
        return _network_bound(variant, p, k, law, learners, j, cluster)
    for name in ("push_latency", "pull_latency", "service_time"):
        if name in on:
            return _none(f"no closed form with communication costs ({name})")
    if cluster.deadline is not None:
        other = [n for n in on if n != "deadline"]
        if other:
            return _none(f"a deadline with {other[0]}: no closed form")
        return fn.deadline_runtime(variant, xs, k, j, cluster.deadline)
    speed = 1.0 if cluster.slowdown is None else fn.slowdown_speed(*cluster.slowdown)
    if cluster.availability is not None:
        if cluster.slowdown is not None:
            return _none("an availability file with a slowdown: no closed form")
        return fn.availability_runtime(variant, xs, k, j, cluster.availability)
    if cluster.failure is not None:
        return fn.failure_runtime(variant, xs, k, j, cluster.failure, cluster.repair, speed)
    base = _plain(variant, p, k, law, learners, j)
    if cluster.slowdown is not None:
        return fn.slowdown_runtime(variant, k, j, xs, cluster.slowdown, base)
    return base


def _equal(bandwidth) -> bool:
    return bandwidth is None or len(set(np.atleast_1d(bandwidth).tolist())) == 1


def _network_bound(variant, p, k, law, learners, j, cluster: Cluster) -> Prediction:
    """The larger lower bound of two: the links' (:func:`link_bounds`), and the runtime
    without the network (nor latencies or a service time) where that is exact or a lower
    bound and added delays can only delay every update (not K-async with K > 1, not with
    failures). In a round without a deadline the learners that push also pulled, so
    every round after the first takes two transfers more than its computation, the first
    one more: ``(2J - 1)`` times the shortest transfer (:func:`fastest_transfer`) is added."""
    faults = cluster.failure is not None or cluster.availability is not None
    bound = link_bounds(
        variant,
        p,
        k,
        j,
        cluster.transfer_bytes,
        bandwidth=cluster.bandwidth,
        server_bandwidth=cluster.server_bandwidth,
        servers=cluster.servers,
        deadline=cluster.deadline is not None,
        all_pulls=not faults and cluster.pull_latency is None and _equal(cluster.bandwidth),
    )
    if faults or (variant == "k-async" and k > 1):
        return bound
    free = dataclasses.replace(
        cluster,
        bandwidth=None,
        server_bandwidth=None,
        servers=1,
        push_latency=None,
        pull_latency=None,
        service_time=None,
    )
    base = _cluster_runtime(variant, p, k, law, learners, j, free)
    if base.relation not in ("exact", "lower-bound"):
        return bound
    value, source = base.mean, f"without the network: {base.source}"
    if variant in ("k-sync", "k-batch-sync", "k-avg") and cluster.deadline is None:
        # a round's pushers pull, compute and push: each transfer adds its shortest time
        value += (2 * j - 1) * fastest_transfer(
            cluster.transfer_bytes, cluster.bandwidth, cluster.server_bandwidth, cluster.servers
        )
        source += " + (2J - 1) B / max_l min(b_l, S C)"
    if value > bound.mean:
        return Prediction(value, "lower-bound", source)
    return bound


def expected_runtime(
    variant: str,
    *,
    num_learners: int,
    k: int | None,
    law=None,
    updates: int,
    laws=None,
    speeds=None,
    cluster: Cluster | None = None,
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
    - all-reduce: J (E[X_{P:P}] + the ring's time), exact
      (:func:`~simulator.theory.links.all_reduce_runtime`).

    With per-learner ``laws`` (instead of ``law``) or ``speeds`` the learners are
    independent and non-identical: see :mod:`simulator.theory.heterogeneous` (renewal
    J K / sum_l 1/E[X_l], K-th order statistics of non-identical laws, ...).

    With a ``cluster`` (one feature at a time, with per-learner laws or speeds too):

    - failures, async and K-batch-async: ``J K / sum_l A r_l``, asymptotic
      (:func:`~simulator.theory.faults_network.failure_runtime`); an availability file
      with exponential times: exact (``availability_runtime``); other variants: none.
    - slowdown: async and K-batch-async ``J K / (speed sum_l 1/E[X_l])``, asymptotic; the
      round-based variants' runtime without it as a lower bound (``slowdown_runtime``;
      with failures too for exponential times).
    - deadline: ``J E[min(X_{K:P}, max(D, X_{1:P}))]``, exact for K-sync, and for
      K-batch-sync and K-AVG where their rounds have a form (``deadline_runtime``).
    - bandwidths and server shards: a lower bound, the larger of the links' bound
      (:func:`~simulator.theory.links.link_bounds`) and the runtime without the network
      where that is exact or a lower bound and delays can only delay updates (any
      latency or service time too).
    - all-reduce with bandwidths and a push latency: exact.

    Other combinations, and latencies or a service time without links: ``none``, naming
    the feature.

    Args:
        variant: ``sync``, ``async`` or a K-variant.
        num_learners: P >= 1.
        k: K (None for ``sync``/``async``).
        law: the learners' common law (a law, spec string or frozen scipy.stats law).
        updates: J >= 1.
        laws: P per-learner laws instead of ``law``.
        speeds: P factors > 0; learner l's durations are divided by ``speeds[l]``.
        cluster: the features beyond the papers' cluster (:class:`Cluster`), or None.

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
    return _cluster_runtime(variant, num_learners, k, law, learners, j, cluster or Cluster())


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
    law,
    num_learners: int,
    k: int | None,
    updates: int,
    *,
    laws=None,
    speeds=None,
    cluster: Cluster | None = None,
) -> dict[str, Prediction]:
    """Expected runtime of J updates for every variant (``sync``, ``async``, the K ones and
    ``all-reduce``).

    Without ``k`` only ``sync``, ``async`` and ``all-reduce`` are predicted; a ``k`` that
    breaks the K-variants' rule (1 <= K <= P) is refused, not dropped. ``laws``,
    ``speeds`` and ``cluster`` as in :func:`expected_runtime`; each variant takes the part
    of ``cluster`` that applies to it (a deadline applies to the round-based variants).
    """
    cluster = cluster or Cluster()
    check_size("num_learners", num_learners)
    if k is not None:
        resolve_variant("k-sync", num_learners, k)
    j = check_size("updates", updates)
    law, learners = _resolve(num_learners, law, laws, speeds)
    out = {}
    for name in ("sync", "async", *VARIANTS):
        implied = name in ("sync", "async", *IMPLIED_K)
        if k is None and not implied:
            continue
        variant, kk = resolve_variant(name, num_learners, None if implied else k)
        own = cluster.for_variant(variant)
        out[name] = _cluster_runtime(variant, num_learners, kk, law, learners, j, own)
    return out
