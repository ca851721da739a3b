"""Validation of the spec fields of the methods for heterogeneous clusters: Rennala and
Ringmaster SGD (variants) and the delay-compensated and staleness-weighted server rules.

- ``rennala`` (Tyurin & Richtarik 2023): the server applies a batch of K gradients all
  computed at its current model; a gradient computed at an older one is discarded. K is
  the batch size S of the paper, any K >= 1 (it may exceed P: a learner contributes many).
- ``ringmaster`` (Maranjyan, Tyurin & Richtarik 2025): asynchronous SGD (K = 1) that
  discards a gradient whose staleness is at least ``staleness_limit`` R; ``"auto"`` or
  ``"auto:EPS"`` asks for the paper's R, kept as typed and resolved where the training
  problem is known (see :mod:`simulator._staleness_auto`).
- Rule ``dc-asgd`` (Zheng et al. 2017): the gradient corrected by
  ``dc_lambda * g * g * (w_now - w_read)`` elementwise; ``dc_lambda`` >= 0, default
  :data:`DEFAULT_DC_LAMBDA` (the paper's constant).
- Rule ``staleness-weight`` (FedBuff, Nguyen et al. 2022): each contribution weighted by
  1 / sqrt(1 + staleness).

Each field is written in a spec's dict only when set, so older specs keep their digest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator._checks import check_nonnegative
from simulator._staleness_auto import check_staleness_limit
from simulator.errors import PssimError, SpecError

__all__ = ["DEFAULT_DC_LAMBDA", "METHOD_DEFAULTS", "check_methods", "check_rule_fields"]

#: Fields of this module with the value that leaves them out of a spec's dict.
METHOD_DEFAULTS: dict[str, Any] = {"staleness_limit": None, "dc_lambda": None}
#: lambda of DC-ASGD when the spec gives none (Zheng et al. 2017, the constant variant).
DEFAULT_DC_LAMBDA = 0.04


def check_methods(get: Callable[[str], Any], variant: str) -> dict[str, Any]:
    """``staleness_limit``: an int R >= 1, or ``"auto"``/``"auto:EPS"`` (kept as typed),
    required with ``ringmaster``. Other variants
    ignore it, so a spec that is the template of several variants (``compare``, sweeps)
    can carry it; the commands that run one variant refuse it there, and
    :func:`simulator.studies._variant_specs.for_variant` drops it from the others."""
    limit = get("staleness_limit")
    if limit is None:
        if variant == "ringmaster":
            raise SpecError(
                "`staleness_limit` R must be given with variant 'ringmaster' (a gradient "
                "whose staleness is >= R is discarded); got none",
                param="staleness_limit",
            )
        return {"staleness_limit": None}
    return {"staleness_limit": check_staleness_limit(limit)}


def check_rule_fields(get: Callable[[str], Any], rule: str) -> dict[str, Any]:
    """``dc_lambda``: a real >= 0 with rule ``dc-asgd`` (None there: the default)."""
    value = get("dc_lambda")
    if value is None:
        return {"dc_lambda": None}
    if rule != "dc-asgd":
        raise SpecError(
            f"`dc_lambda` applies to the dc-asgd rule only; got rule {rule!r}", param="dc_lambda"
        )
    try:
        return {"dc_lambda": float(check_nonnegative("dc_lambda", value))}
    except PssimError as err:
        raise SpecError(str(err), param="dc_lambda") from None
