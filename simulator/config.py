"""Validation of run parameters shared by the engine, the theory and the CLI.

Every check raises one line naming the parameter, the rule and the value, e.g.
"`K` must be <= P (8); got 9".
"""

from __future__ import annotations

import math
import numbers

__all__ = ["VARIANTS", "VARIANT_ALIASES", "check_count", "check_positive", "resolve_variant"]

#: Canonical variant names (Dutta et al. 2018, section 2.3; K-AVG: Zhou & Cong, Algorithm 1).
VARIANTS = ("k-sync", "k-batch-sync", "k-async", "k-batch-async", "k-avg")
#: Aliases: fully synchronous SGD is K-sync with K = P; fully asynchronous is K-async with K = 1.
VARIANT_ALIASES = ("sync", "async")


def check_count(name: str, value: object, minimum: int = 1) -> int:
    """Return ``value`` as an int after checking it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an integer; got {value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}; got {value}")
    return int(value)


def check_positive(name: str, value: object) -> float:
    """Return ``value`` as a float after checking it is finite and > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a number; got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"`{name}` must be a finite number > 0; got {value}")
    return float(value)


def resolve_variant(variant: str, num_learners: int, k: int | None) -> tuple[str, int]:
    """Map a variant name and K to the canonical (variant, K), checking the rules.

    ``sync`` is K-sync with K = P and ``async`` is K-async with K = 1; for them K may be
    omitted (or must equal that value). For the K-variants 1 <= K <= P; for ``k-avg`` K is
    the number of local steps (any K >= 1).

    Example:
        >>> resolve_variant("sync", 8, None)
        ('k-sync', 8)
    """
    if not isinstance(variant, str):
        raise TypeError(f"`variant` must be a string; got {variant!r}")
    p = check_count("P", num_learners)
    if variant in VARIANT_ALIASES:
        implied = p if variant == "sync" else 1
        if k is not None and check_count("K", k) != implied:
            raise ValueError(f"`K` must be {implied} for variant {variant!r}; got {k}")
        return ("k-sync" if variant == "sync" else "k-async"), implied
    if variant not in VARIANTS:
        names = ", ".join(VARIANT_ALIASES + VARIANTS)
        raise ValueError(f"`variant` must be one of {names}; got {variant!r}")
    if k is None:
        raise ValueError(f"`K` must be given for variant {variant!r}; got None")
    k = check_count("K", k)
    if variant != "k-avg" and k > p:
        raise ValueError(f"`K` must be <= P ({p}); got {k}")
    return variant, k
