"""Ringmaster's staleness limit R chosen as its paper does: ``staleness_limit = "auto"``.

Maranjyan, Tyurin & Richtarik (ICML 2025, "Ringmaster ASGD: The First Asynchronous SGD with
Optimal Time Complexity", section 4) run Ringmaster ASGD with the delay threshold and step
size

    R = max{1, ceil(sigma^2 / eps)},    gamma = min{1 / (2 R L), eps / (4 L sigma^2)},

to reach ``E||grad F||^2 <= eps``, where sigma^2 bounds the variance of the stochastic
gradient one worker sends (their Assumption 1.3). Only R is taken here; the learning rate
stays the spec's ``lr``.

A spec's ``staleness_limit`` is an integer R >= 1, ``"auto"`` or ``"auto:EPS"`` (EPS > 0, the
target of ``E||grad F||^2``). The spec keeps the string as typed (its dict, TOML and digest);
the commands that train resolve it to an int R where the problem is known, before the timing
run (:func:`simulator.studies._staleness_limits.resolve_staleness_limits`), from the constants of
:func:`simulator.training.constants.problem_constants`:

- sigma^2 is the variance of what one learner pushes, the mini-batch gradient of m rows
  drawn with replacement: ``V(w) / m`` with V the one-example variance, taken at the larger
  of V(w0) and V(w*) where w* is known (convex models), else at w0;
- ``"auto"`` alone takes the level of the optimal-time row of ``pssim bounds`` for
  ringmaster (which has no error bound of its own, so the row's default):
  1% of ``||grad F(w0)||^2``, or for a strongly convex loss the error level
  ``e = 1% of F(w0) - F*`` read as the gradient level ``eps = 2 L e``.

The timing-only paths (``pssim runtime``, timing sweeps) have no model and refuse
``"auto"`` (:func:`refuse_auto`).
"""

from __future__ import annotations

import math
import re
from typing import Any

from simulator._checks import check_count
from simulator.errors import PssimError, SpecError, shown

__all__ = [
    "AUTO",
    "check_staleness_limit",
    "default_gradient_level",
    "is_auto",
    "minibatch_variance",
    "paper_staleness_limit",
    "parse_auto",
    "refuse_auto",
    "resolved_limit",
]

#: The typed value asking for the paper's R.
AUTO = "auto"
#: What ``staleness_limit`` may be, for messages.
FORMS = "an integer R >= 1, 'auto' or 'auto:EPS' (EPS > 0, the target of E||grad F||^2)"
#: The default level as a fraction of ``||grad F(w0)||^2`` (or of ``F(w0) - F*``): the
#: fallback level of the optimal-time rows of ``pssim bounds``.
DEFAULT_FRACTION = 0.01
#: A number as EPS may be written (``inf`` and ``nan`` included, so that they are refused
#: as not finite rather than as not numbers).
_NUMBER = re.compile(
    r"[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)", re.ASCII | re.I
)


def is_auto(value: Any) -> bool:
    """Whether a checked ``staleness_limit`` asks for the paper's R (a string)."""
    return isinstance(value, str)


def parse_auto(text: str) -> float | None:
    """EPS of ``"auto:EPS"``, None for ``"auto"``.

    Example:
        >>> parse_auto("auto:1e-3"), parse_auto("auto")
        (0.001, None)

    Raises:
        SpecError: another string, EPS that is not a number, or not finite and > 0.
    """
    if text == AUTO:
        return None
    head, colon, body = text.partition(":")
    if head != AUTO or not colon:
        raise SpecError(
            f"`staleness_limit` must be {FORMS}; got {shown(text)}", param="staleness_limit"
        )
    if not _NUMBER.fullmatch(body):
        raise SpecError(
            f"`staleness_limit` 'auto:EPS' must give EPS as a number; got {shown(text)}",
            param="staleness_limit",
        )
    eps = float(body)
    if not (math.isfinite(eps) and eps > 0):
        raise SpecError(
            f"`staleness_limit` 'auto:EPS' must give a finite EPS > 0; got {shown(text)}",
            param="staleness_limit",
        )
    return eps


def check_staleness_limit(value: Any) -> int | str:
    """A given ``staleness_limit``: an int R >= 1, or ``"auto"``/``"auto:EPS"`` kept as
    typed (checked with :func:`parse_auto`).

    Raises:
        SpecError: see :func:`parse_auto`; an integer < 1 or a value of another type.
    """
    if isinstance(value, str):
        parse_auto(value)
        return value
    try:
        return check_count("staleness_limit", value)
    except PssimError as err:
        raise SpecError(str(err), param="staleness_limit") from None


def paper_staleness_limit(sigma2: float, eps: float) -> int:
    """``R = max{1, ceil(sigma2 / eps)}`` (Maranjyan et al. 2025, section 4).

    Args:
        sigma2: variance of one pushed gradient, >= 0 (squared gradient units).
        eps: the target of ``E||grad F||^2``, > 0 (the same units).

    Example:
        >>> paper_staleness_limit(2.5, 1.0), paper_staleness_limit(0.0, 1.0)
        (3, 1)

    Raises:
        SpecError: a ratio beyond the floats (EPS far too small for this sigma^2).
    """
    ratio = sigma2 / eps
    if not math.isfinite(ratio):
        raise SpecError(
            f"`staleness_limit` 'auto:EPS' must give an EPS for which sigma^2 / EPS is finite "
            f"(sigma^2 = {sigma2:.6g}); got EPS = {eps!r}",
            param="staleness_limit",
        )
    return max(1, math.ceil(ratio))


def minibatch_variance(constants: Any, batch_size: int) -> float:
    """sigma^2 of one pushed mini-batch gradient: ``max(V(w0), V(w*)) / m`` (V(w0) alone
    where w* is unknown), V the one-example variance of ``constants``."""
    return max(constants.variance_init, constants.sigma2) / batch_size


def default_gradient_level(constants: Any) -> float:
    """EPS of ``"auto"``: the gradient level of the optimal-time row of ``pssim bounds``
    for ringmaster, ``0.01 ||grad F(w0)||^2``, or ``2 L e`` with ``e = 0.01 (F(w0) - F*)``
    for a strongly convex loss (c > 0 beyond rounding, F* known)."""
    c = 0.0 if abs(constants.c) <= 1e-9 * constants.L else constants.c
    if constants.f_star is not None and c > 0:
        return 2 * constants.L * DEFAULT_FRACTION * (constants.loss_init - constants.f_star)
    return DEFAULT_FRACTION * constants.grad_norm2_init


def resolved_limit(spec: Any, constants: Any) -> int:
    """R of ``spec``'s ``"auto"``/``"auto:EPS"`` from the problem ``constants`` (EPS:
    :func:`default_gradient_level` when not given)."""
    eps = parse_auto(spec.staleness_limit)
    if eps is None:
        eps = default_gradient_level(constants)
        if not (math.isfinite(eps) and eps > 0):
            raise SpecError(
                "`staleness_limit` 'auto' needs a default level > 0 (1% of ||grad F(w0)||^2 "
                f"or of F(w0) - F*); got {eps!r}: give 'auto:EPS'",
                param="staleness_limit",
            )
    return paper_staleness_limit(minibatch_variance(constants, spec.batch_size), eps)


def refuse_auto(spec: Any, where: str) -> None:
    """Refuse an ``"auto"`` staleness limit where no model is run (``where`` names it).

    Raises:
        SpecError: one line naming the parameter, the rule and the value.
    """
    if is_auto(spec.staleness_limit):
        raise SpecError(
            f"`staleness_limit` must be an integer R >= 1 for {where}, which has no model "
            f"to estimate sigma^2 of 'auto' from; got {shown(spec.staleness_limit)}",
            param="staleness_limit",
        )
