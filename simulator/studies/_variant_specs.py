"""One spec per variant from a template: what of a spec applies to each variant."""

from __future__ import annotations

from simulator._checks import IMPLIED_K, VARIANT_ALIASES
from simulator.spec import ExperimentSpec

__all__ = ["for_variant"]

#: Variants whose K is implied by their name (and P): sync, async, all-reduce, ringmaster.
_IMPLIED_K = (*VARIANT_ALIASES, *IMPLIED_K)
#: Round-based variants: the ones a ``deadline`` applies to.
_ROUND_BASED = ("sync", "k-sync", "k-batch-sync", "k-avg")


def for_variant(spec: ExperimentSpec, variant: str) -> ExperimentSpec:
    """``spec`` with ``variant``, keeping only what applies to it: its ``k`` for the
    K-variants (``sync``, ``async`` and ``all-reduce`` imply theirs), the ``deadline`` for
    the round-based ones, the server's link, shards, service time and pull latency for
    every variant but ``all-reduce`` (which has no server and nothing to pull), and the
    staleness limit for ``ringmaster``."""
    changes = {"variant": variant, "k": None if variant in _IMPLIED_K else spec.k}
    if variant not in _ROUND_BASED and getattr(spec, "deadline", None) is not None:
        changes["deadline"] = None
    if variant == "all-reduce":
        changes.update(server_bandwidth=None, servers=1, service_time=None, pull_latency=None)
        if getattr(spec, "bandwidth", None) is None:  # no link left for the bytes to cross
            changes["model_bytes"] = None
    if variant != "ringmaster" and getattr(spec, "staleness_limit", None) is not None:
        changes["staleness_limit"] = None
    return spec.replace(**changes)
