"""Runtime theory of the network: link bounds and the ring all-reduce.

A push and a pull carry ``B`` bytes (``transfer_bytes``). A learner's own link carries
``b_l`` bytes per simulated time unit; each of the S server shards has a link of ``C``
shared by every push and pull in flight (both directions), and each transfer puts
``B / S`` on every shard. Whatever else slows a run (latencies, a service time, failures,
slowdowns), the bytes an update needs must have crossed these links before it, which
bounds the expected runtime from below (:func:`link_bounds`). A ring all-reduce has an
exact round time (:func:`all_reduce_runtime`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from simulator._checks import check_nonnegative, check_positive
from simulator.theory._learners import Learner
from simulator.theory._prediction import Prediction
from simulator.theory.faults_network import _cuts, _integral, _order_mean, is_renewal

__all__ = [
    "all_reduce_runtime",
    "fastest_transfer",
    "link_bounds",
    "server_link_rate",
    "transfers_needed",
]

ROUND_BASED = ("k-sync", "k-batch-sync", "k-avg")


def _pushers(variant: str, p: int, k: int, deadline: bool) -> int:
    """Distinct learners that surely push in a round: K (K-sync), P (K-AVG), 1
    (K-batch-sync: one learner may push all K); 1 with a deadline (at least one)."""
    if deadline or variant == "k-batch-sync":
        return 1
    return p if variant == "k-avg" else k


def transfers_needed(
    variant: str, p: int, k: int, updates: int, *, deadline: bool = False, all_pulls: bool = False
) -> tuple[int, int]:
    """(pushes, pulls) that must have crossed the links before the J-th update.

    Pushes: K per update (P for K-AVG; at least 1 with a deadline). Pulls, round-based
    variants: every round after the first starts with the pulls of the learners that push
    in it (:func:`_pushers`), or of all P learners with ``all_pulls`` (equal learner links,
    no pull latency and no failures: the P pulls of a round start together at equal rates
    and all end before any push). Async variants: every push but a learner's first follows
    a pull, so ``J K - P`` at least.
    """
    if is_renewal(variant, k) or variant == "k-async":
        return updates * k, max(0, updates * k - p)
    per = 1 if deadline else (p if variant == "k-avg" else k)
    pulls = p if all_pulls else _pushers(variant, p, k, deadline)
    return updates * per, (updates - 1) * pulls


def server_link_rate(
    variant: str,
    p: int,
    k: int,
    transfer_bytes: float,
    server_bandwidth: float,
    servers: int = 1,
    *,
    deadline: bool = False,
    all_pulls: bool = True,
) -> float:
    """Long-run updates per unit time allowed by the server links:
    ``S C / (B (pushes + pulls per update))`` (pushes K, P for K-AVG; pulls P for the
    round-based variants with ``all_pulls``, K for the async ones; see
    :func:`transfers_needed`).

    Example:
        >>> server_link_rate("k-sync", 8, 2, 100.0, 1000.0)  # 1000 / (100 (2 + 8))
        1.0
    """
    if variant in ROUND_BASED:
        pushes = 1 if deadline else (p if variant == "k-avg" else k)
        pulls = p if all_pulls else _pushers(variant, p, k, deadline)
    else:
        pushes = pulls = k
    return servers * server_bandwidth / (transfer_bytes * (pushes + pulls))


def fastest_transfer(
    transfer_bytes: float, bandwidth=None, server_bandwidth: float | None = None, servers: int = 1
) -> float:
    """The shortest time any push or pull can take: ``B / max_l min(b_l, S C)`` (each of
    its S parts of ``B / S`` crosses at most at ``b_l / S`` and at most at C); 0 without
    links.

    Example:
        >>> fastest_transfer(100.0, (10.0, 50.0), 20.0, 2)  # 100 / min(50, 40)
        2.5
    """
    top = math.inf if bandwidth is None else float(np.max(bandwidth))
    if server_bandwidth is not None:
        top = min(top, servers * server_bandwidth)
    return transfer_bytes / top


def link_bounds(
    variant: str,
    p: int,
    k: int,
    updates: int,
    transfer_bytes: float,
    *,
    bandwidth=None,
    server_bandwidth: float | None = None,
    servers: int = 1,
    deadline: bool = False,
    all_pulls: bool = False,
) -> Prediction:
    """Lower bound on the expected time of the J-th update from the links' capacities.

    Server links: the transfers of :func:`transfers_needed` put ``(pushes + pulls) B / S``
    bytes on each shard's link of C, so ``E[T_J] >= (pushes + pulls) B / (S C)``.
    Learner links (a learner's transfers cross its link one after another):
    round-based variants spend at least ``(2J - 1) B / b`` on the links of the learners
    that must push, ``b`` the ``n``-th largest link for ``n`` = :func:`_pushers`;
    async ones, where learner l's ``n_l`` pushes need ``(2 n_l - 1) B / b_l``, at least
    ``(2 J K - P) B / sum_l b_l``. The larger bound is returned (``lower-bound``).
    """
    transfer_bytes, parts = check_positive("transfer_bytes", transfer_bytes), []
    if server_bandwidth is not None:
        server_bandwidth = check_positive("server_bandwidth", server_bandwidth)
        pushes, pulls = transfers_needed(
            variant, p, k, updates, deadline=deadline, all_pulls=all_pulls
        )
        value = (pushes + pulls) * transfer_bytes / (servers * server_bandwidth)
        parts.append((value, "server links: (pushes + pulls) B / (S C)"))
    if bandwidth is not None:
        links = np.broadcast_to(np.asarray(bandwidth, dtype=np.float64), (p,))
        if variant in ROUND_BASED:
            nth = np.sort(links)[::-1][_pushers(variant, p, k, deadline) - 1]
            value = (2 * updates - 1) * transfer_bytes / nth
        else:
            value = max(0, 2 * updates * k - p) * transfer_bytes / math.fsum(links)
        parts.append((value, "learner links: transfers in turn on each link"))
    value, source = max(parts)
    return Prediction(value, "lower-bound", source)


def _max_step(shifts: np.ndarray, latency) -> float:
    """``E[max_l (c_l + L_l)]`` for i.i.d. latencies ``L_l`` and constants ``c_l >= 0``:
    ``∫_0^∞ 1 - prod_l F_L(t - c_l) dt``."""
    values, counts = np.unique(shifts, return_counts=True)
    one = Learner(latency)
    if values.size == 1:
        return float(values[0]) + float(latency.order_statistic_mean(counts[0], counts[0]))

    def below(t):
        t = np.asarray(t, dtype=np.float64)
        out = np.ones_like(t)
        for c, n in zip(values, counts, strict=True):
            out = out * one.cdf(t - c) ** n
        return 1.0 - out

    cuts = [c for v in values for c in _cuts([one], float(v))] + [float(v) for v in values]
    if one.atoms is not None:
        return _integral(below, 0.0, max(cuts), cuts, discrete=True)
    return _integral(below, 0.0, math.inf, cuts)


def all_reduce_runtime(
    learners: Sequence[Learner],
    updates: int,
    transfer_bytes: float,
    bandwidth=None,
    latency=None,
) -> Prediction:
    """Expected time of the J-th update of synchronous SGD by a ring all-reduce.

    Every learner computes one mini-batch, then a ring of ``2 (P - 1)`` steps runs, each
    lasting the largest over the learners of ``B / (P b_l) + L_l`` (``L_l`` a fresh
    ``latency`` draw, or 0), and the next round starts at its end:
    ``E[T_J] = J (E[X_{P:P}] + 2 (P - 1) E[max_l (B / (P b_l) + L_l)])``, ``exact``: the
    step is ``B / (P min_l b_l) + lat`` for a deterministic latency, ``c + E[L_{P:P}]``
    for equal links, the integral of :func:`_max_step` otherwise.

    Example:
        >>> from distributions import Deterministic
        >>> xs = [Learner(Deterministic(1.0))] * 4
        >>> all_reduce_runtime(xs, 10, 400.0, 100.0, Deterministic(0.5)).mean  # 10 (1 + 6 1.5)
        100.0
    """
    p, transfer_bytes = len(learners), check_nonnegative("transfer_bytes", transfer_bytes)
    compute = _order_mean(learners, p)
    shifts = np.zeros(p)
    if bandwidth is not None:
        shifts = transfer_bytes / p / np.broadcast_to(np.asarray(bandwidth, np.float64), (p,))
    if p == 1:
        step = 0.0
    elif latency is None:
        step = float(shifts.max())
    elif Learner(latency).constant is not None:
        step = float(shifts.max()) + Learner(latency).constant
    else:
        step = _max_step(shifts, latency)
    value = updates * (compute + 2 * (p - 1) * step)
    source = "ring all-reduce: J (E[X_{P:P}] + 2 (P-1) E[max_l (B / (P b_l) + lat_l)])"
    return Prediction(value, "exact", source)
