"""One spec per variant from a template: what of a spec applies to each variant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator._checks import IMPLIED_K, VARIANT_ALIASES
from simulator._spec_policy import POLICY_DEFAULTS, POLICY_VARIANTS, THEORY_VARIANTS
from simulator.errors import SpecError
from simulator.spec import ExperimentSpec

__all__ = ["for_variant", "inapplicable", "refuse_unused"]

#: Variants whose K is implied by their name (and P): sync, async, all-reduce, ringmaster.
_IMPLIED_K = (*VARIANT_ALIASES, *IMPLIED_K)
#: Round-based variants: the ones a ``deadline`` applies to.
_ROUND_BASED = ("sync", "k-sync", "k-batch-sync", "k-avg")
#: Settings all-reduce has no use for (no server, nothing to pull), with their off values.
_SERVER = {"server_bandwidth": None, "servers": 1, "service_time": None, "pull_latency": None}


def inapplicable(variant: str, get: Callable[[str], Any]) -> dict[str, Any]:
    """The settings (read with ``get``) that do not apply to ``variant``, with the values
    that turn them off: ``k`` where the variant implies it, a ``deadline`` but for the
    round-based variants, the server's link, shards, service time and pull latency for
    ``all-reduce`` (and the bytes, if no learner link is left), a ``staleness_limit`` but
    for ``ringmaster``, a K policy (``k_policy``, ``k_schedule``, ``k_every``) but for the
    K-variants (the ``theory`` policy: but for k-sync and k-batch-sync)."""
    off: dict[str, Any] = {}
    if variant in _IMPLIED_K and get("k") is not None:
        off["k"] = None
    if variant not in _ROUND_BASED and get("deadline") is not None:
        off["deadline"] = None
    if variant == "all-reduce":
        off.update({n: v for n, v in _SERVER.items() if get(n) not in (None, v)})
        if get("bandwidth") is None and get("model_bytes") is not None:
            off["model_bytes"] = None
    if variant != "ringmaster" and get("staleness_limit") is not None:
        off["staleness_limit"] = None
    takes = THEORY_VARIANTS if get("k_policy") == "theory" else POLICY_VARIANTS
    if variant not in takes:
        off.update({n: None for n in POLICY_DEFAULTS if get(n) is not None})
    return off


def for_variant(spec: ExperimentSpec, variant: str) -> ExperimentSpec:
    """``spec`` with ``variant``, keeping only what applies to it (:func:`inapplicable`)."""
    changes = inapplicable(variant, lambda name: getattr(spec, name, None))
    return spec.replace(variant=variant, **changes)


def refuse_unused(spec: ExperimentSpec, specs: list[ExperimentSpec]) -> None:
    """A K policy or a staleness limit that none of the variants ``specs`` takes is a
    mistake, not a setting to drop silently: one line naming it."""
    if spec.k_policy not in (None, "none") and not any(s.k_policy for s in specs):
        takes = THEORY_VARIANTS if spec.k_policy == "theory" else POLICY_VARIANTS
        raise SpecError(
            f"`k_policy` {spec.k_policy!r} applies to {', '.join(takes)}; got none of them in "
            f"`variants` ({', '.join(s.variant for s in specs)})",
            param="k_policy",
        )
    if spec.staleness_limit is not None and not any(s.staleness_limit for s in specs):
        raise SpecError(
            "`staleness_limit` applies to ringmaster; got no ringmaster in `variants` "
            f"({', '.join(s.variant for s in specs)})",
            param="staleness_limit",
        )
