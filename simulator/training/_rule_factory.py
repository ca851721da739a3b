"""Server rules by name: :func:`make_rule` builds any rule the spec and the CLI name
(``fixed``, ``compensated``, ``damped`` from :mod:`simulator.training.rules`, ``dc-asgd``
and ``staleness-weight`` from :mod:`simulator.training._rules_stale`)."""

from __future__ import annotations

from simulator._spec_methods import DEFAULT_DC_LAMBDA
from simulator.errors import PssimError
from simulator.training._rules_stale import DelayCompensatedRate, StalenessWeightedRate
from simulator.training.rules import (
    RULE_NAMES,
    CompensatedRate,
    DampedRate,
    FixedRate,
    ServerRule,
    _check_rate,
)

__all__ = ["make_rule"]


def make_rule(
    name: str, lr: float, c: float | None = None, dc_lambda: float | None = None
) -> ServerRule:
    """Builds a rule from its CLI name.

    Args:
        name: ``fixed``, ``compensated``, ``damped``, ``dc-asgd`` or ``staleness-weight``.
        lr: the learning rate (for ``compensated``: eta_max).
        c: C of eq. (13) for ``compensated``; default ``0.005 * lr`` (Dutta et al. 2018,
            figure 9). Ignored by the other rules.
        dc_lambda: lambda >= 0 of ``dc-asgd``; default 0.04 (Zheng et al. 2017's constant
            variant). Ignored by the other rules.

    Returns:
        The rule.

    Raises:
        ValueError: unknown name or a bad number.

    Example:
        >>> make_rule("compensated", 0.01)
        CompensatedRate(c=5e-05, lr_max=0.01)
        >>> make_rule("dc-asgd", 0.01)
        DelayCompensatedRate(lr=0.01, dc_lambda=0.04)
    """
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in RULE_NAMES:
        shown = repr(name)[:40] if isinstance(name, str) else type(name).__name__
        raise PssimError(
            f"`name` must be one of {', '.join(RULE_NAMES)}; got {shown}", param="name"
        )
    if key == "fixed":
        return FixedRate(lr)
    if key == "damped":
        return DampedRate(lr)
    if key == "staleness-weight":
        return StalenessWeightedRate(lr)
    if key == "dc-asgd":
        return DelayCompensatedRate(lr, DEFAULT_DC_LAMBDA if dc_lambda is None else dc_lambda)
    lr = _check_rate("lr", lr)
    return CompensatedRate(c=0.005 * lr if c is None else c, lr_max=lr)
