"""Validation of the spec fields of adaptive synchrony: a K that changes during training.

- ``k_policy``: None or ``"none"`` (K fixed; ``"none"`` also drops ``k_schedule`` and
  ``k_every``, so a sweep can put fixed K beside policies that set them), ``"schedule"``
  (K by update, ``k_schedule``), ``"loss"`` (AdaSync: K grows as the error falls) or
  ``"theory"`` (the K with the smallest predicted time to the next error level). The last
  two read the training loss, so they run by co-simulation
  (:mod:`simulator.studies.adaptive`); the rules are stated there.
- ``k_schedule``: ``"UPDATE:K,UPDATE:K,..."``, the K of every update from the given one on;
  the first entry is update 0 and gives K_0 (``"0:4"`` is the run of ``k = 4``). Kept in
  its canonical text (no spaces).
- ``k_every``: updates between two decisions of ``loss`` and ``theory`` (default
  :func:`default_k_every`: J / 10).

A policy applies to the four K-variants (``k-sync``, ``k-batch-sync``, ``k-async``,
``k-batch-async``; ``theory`` to the first two, which the commands that run it check);
``k`` is K_0 (given, or the schedule's
first K), and every K lies in [1, P]. Other variants ignore the fields, so a spec that is
the template of several variants (compare, sweeps) can carry them; the commands that run
one variant refuse them there, and :func:`simulator.studies._variant_specs.for_variant`
drops them from the others. Each field is written in a spec's dict only when set, so
older specs keep their digest.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

from simulator.errors import SpecError, shown

__all__ = [
    "K_POLICIES",
    "POLICY_DEFAULTS",
    "POLICY_VARIANTS",
    "READS_LOSS",
    "THEORY_VARIANTS",
    "check_policy",
    "check_policy_run",
    "default_k_every",
    "k_least",
    "k_row_width",
    "policy_applies",
    "refuse_loss_policy",
    "refuse_rates_in_k",
    "schedule_pairs",
]

#: The policies, and the variants they apply to.
K_POLICIES = ("schedule", "loss", "theory")
POLICY_VARIANTS = ("k-sync", "k-batch-sync", "k-async", "k-batch-async")
#: Variants whose updates average K gradients of the current model (Lemma 2 applies).
THEORY_VARIANTS = ("k-sync", "k-batch-sync")
#: Fields of this module with the value that leaves them out of a spec's dict.
POLICY_DEFAULTS: dict[str, Any] = {"k_policy": None, "k_schedule": None, "k_every": None}
#: One ``UPDATE:K`` entry of a schedule (ASCII digits only).
_PAIR = re.compile(r"([0-9]{1,18})\s*:\s*([0-9]{1,18})")
#: K as a name in a rate's expression.
_K_SYMBOL = re.compile(r"\bK\b")
#: The policies that read the training loss (co-simulated; the schedule needs no training).
READS_LOSS = ("loss", "theory")
#: Decisions of the ``loss`` and ``theory`` policies in a run, by default.
DEFAULT_DECISIONS = 10


def schedule_pairs(text: str) -> tuple[tuple[int, int], ...]:
    """``"0:1,200:4"`` -> ((0, 1), (200, 4)); raises SpecError naming ``k_schedule``."""

    def refuse(rule: str) -> SpecError:
        return SpecError(
            f"`k_schedule` must be 'UPDATE:K,UPDATE:K,...' {rule}; got {shown(text)}",
            param="k_schedule",
        )

    if not isinstance(text, str) or not text.strip():
        raise refuse("(a non-empty string)")
    pairs = []
    for item in text.split(","):
        match = _PAIR.fullmatch(item.strip())
        if match is None:
            raise refuse("with integers UPDATE >= 0 and K >= 1 (at most 18 digits)")
        pairs.append((int(match[1]), int(match[2])))
    if pairs[0][0] != 0:
        raise refuse("starting at update 0")
    if any(b[0] <= a[0] for a, b in itertools.pairwise(pairs)):
        raise refuse("with increasing updates")
    if any(k < 1 for _, k in pairs):
        raise refuse("with K >= 1")
    return tuple(pairs)


def policy_applies(spec: Any) -> bool:
    """True when ``spec`` (an ExperimentSpec) runs with a K policy: it has one and its
    variant, as named, is a K-variant."""
    return spec.k_policy is not None and spec.variant in POLICY_VARIANTS


def default_k_every(updates: int) -> int:
    """Updates between two decisions when ``k_every`` is not given: J / 10 (at least 1)."""
    return max(1, updates // DEFAULT_DECISIONS)


def k_row_width(policy: str | None, k: int, num_learners: int, schedule: str | None) -> int:
    """Contribution slots per update of a run under ``policy``: the largest K it may use
    (the schedule's largest, P for ``loss`` and ``theory``, ``k`` without a policy)."""
    if policy is None:
        return k
    if policy == "schedule":
        return max(k for _, k in schedule_pairs(schedule))
    return num_learners


def k_least(policy: str, k: int, schedule: str | None) -> int:
    """The smallest K a run under ``policy`` may use: the schedule's smallest, K_0 for
    ``loss`` (it never lowers K), 1 for ``theory``."""
    if policy == "schedule":
        return min(k for _, k in schedule_pairs(schedule))
    return k if policy == "loss" else 1


def check_policy(get: Callable[[str], Any], variant: str, num_learners: int) -> dict[str, Any]:
    """The policy fields, checked against the variant (as typed) and P; ``k`` is filled
    from the schedule's first K when not given (and must equal it when given)."""
    policy = get("k_policy")
    schedule, every = get("k_schedule"), get("k_every")
    if policy == "none":  # a sweep can put fixed K beside policies that set these
        return {"k_policy": None, "k_schedule": None, "k_every": None}
    if policy is None:
        for name, value in (("k_schedule", schedule), ("k_every", every)):
            if value is not None:
                raise SpecError(
                    f"`{name}` needs a `k_policy` (one of {', '.join(K_POLICIES)}); "
                    f"got {name} {shown(value)} and no policy",
                    param=name,
                )
        return {"k_policy": None, "k_schedule": None, "k_every": None}
    if policy not in K_POLICIES:
        raise SpecError(
            f"`k_policy` must be one of none, {', '.join(K_POLICIES)}; got {shown(policy)}",
            param="k_policy",
        )
    applies = variant in POLICY_VARIANTS
    out: dict[str, Any] = {"k_policy": policy, "k_schedule": None, "k_every": None}
    k = get("k")
    if policy == "schedule":
        if schedule is None:
            raise SpecError(
                "`k_schedule` must be given with k_policy 'schedule' ('UPDATE:K,...'); got none",
                param="k_schedule",
            )
        pairs = schedule_pairs(schedule)
        too_big = [k for _, k in pairs if k > num_learners]
        if too_big:
            raise SpecError(
                f"`k_schedule` K must be <= the number of learners P ({num_learners}); "
                f"got {too_big[0]}",
                param="k_schedule",
            )
        out["k_schedule"] = ",".join(f"{u}:{k}" for u, k in pairs)
        if applies and k is not None and k != pairs[0][1]:
            raise SpecError(
                f"`k` must equal the K of `k_schedule` at update 0 ({pairs[0][1]}) or not "
                f"be given; got {shown(k)}",
                param="k",
            )
        if applies:
            out["k"] = pairs[0][1]
    elif schedule is not None:
        raise SpecError(
            f"`k_schedule` applies to k_policy 'schedule' only; got k_policy {policy!r}",
            param="k_schedule",
        )
    if every is not None:
        if policy == "schedule":
            raise SpecError(
                "`k_every` applies to k_policy 'loss' and 'theory' (a schedule says when K "
                f"changes); got k_every {shown(every)}",
                param="k_every",
            )
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise SpecError(
                f"`k_every` must be an integer >= 1 (updates); got {shown(every)}",
                param="k_every",
            )
        out["k_every"] = every
    return out


def check_policy_run(
    policy: dict[str, Any], updates: int | None, budget: float | None
) -> dict[str, Any]:
    """A policy that reads the loss needs J updates (not a time budget) and k_every < J."""
    if policy["k_policy"] in READS_LOSS:
        if budget is not None:
            raise SpecError(
                f"`k_policy` {policy['k_policy']!r} reads the training loss as the run goes, "
                "so it needs `updates`, not a `time_budget`; got a budget of "
                f"{budget!r}",
                param="k_policy",
            )
        every = policy["k_every"]
        if every is not None and every >= updates:
            raise SpecError(
                f"`k_every` must be < updates ({updates}) for K to change; got {every}",
                param="k_every",
            )
    return policy


def refuse_rates_in_k(typed: dict[str, str], policy: str | None, variant: str) -> None:
    """A rate typed in K is resolved once, at K_0: with a policy that changes K it would
    silently keep K_0's value, so it is refused (``typed``: field -> expression)."""
    if policy is None or variant not in POLICY_VARIANTS:
        return
    for name, text in typed.items():
        if _K_SYMBOL.search(text):
            raise SpecError(
                f"`{name}` must not use K with a `k_policy` (it is resolved once, at K_0, "
                f"and would not follow K); got {shown(text)}: give a number or an "
                "expression in m and P",
                param=name,
            )


def refuse_loss_policy(spec: Any, why: str) -> None:
    """Refuse a policy that reads the training loss (``loss``, ``theory``) where a run is
    timed alone; ``why`` ends the one line, after "`k_policy` 'loss' reads the training
    loss"."""
    if spec.k_policy in READS_LOSS and policy_applies(spec):
        raise SpecError(
            f"`k_policy` {spec.k_policy!r} reads the training loss{why}", param="k_policy"
        )
