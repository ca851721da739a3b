"""Validation helpers shared by the spec, the engine, the theory and the studies.

Every check raises one line naming the parameter, the rule and the value, e.g.
"`k` must be <= the number of learners P (8); got 9", as a
:class:`~simulator.errors.PssimError` whose ``param`` lets the CLI show its own option
name instead.
"""

from __future__ import annotations

import math
import numbers
import os

from simulator.errors import PssimError, PssimTypeError, shown

__all__ = [
    "IMPLIED_K",
    "MAX_SEED",
    "MAX_SEEDS",
    "MEMORY_BUDGET",
    "PHYSICAL_MEMORY",
    "SIMPY_ONLY_VARIANTS",
    "VARIANTS",
    "VARIANT_ALIASES",
    "check_batch_rows",
    "check_count",
    "check_integer",
    "check_nonnegative",
    "check_positive",
    "check_seed",
    "resolve_variant",
]

#: Canonical variant names (Dutta et al. 2018, section 2.3; K-AVG: Zhou & Cong, Algorithm 1;
#: ``all-reduce``: synchronous SGD by a ring all-reduce among the learners, no server;
#: ``rennala``: Tyurin & Richtarik 2023, Method 4; ``ringmaster``: Maranjyan et al. 2025).
VARIANTS = (
    "k-sync",
    "k-batch-sync",
    "k-async",
    "k-batch-async",
    "k-avg",
    "all-reduce",
    "rennala",
    "ringmaster",
)
#: Variants whose K is implied and never given: K = P for all-reduce, 1 for ringmaster.
IMPLIED_K = ("all-reduce", "ringmaster")
#: Variants only the SimPy reference engine runs (no fast path reproduces them).
SIMPY_ONLY_VARIANTS = ("all-reduce", "rennala", "ringmaster")
#: Variants whose K may exceed P: K-AVG's local steps, Rennala's batch size.
_ANY_K = ("k-avg", "rennala")
#: Aliases: fully synchronous SGD is K-sync with K = P; fully asynchronous is K-async with K = 1.
VARIANT_ALIASES = ("sync", "async")
#: Bytes of physical memory (None where the system does not say).
try:
    PHYSICAL_MEMORY: int | None = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
    PHYSICAL_MEMORY = None
#: Bytes a run may plan to use: half the physical memory (the rest is for the data, the
#: replay and everything else on the machine); 8 GiB where the system does not say.
MEMORY_BUDGET = (PHYSICAL_MEMORY or 16 << 30) // 2
#: Seeds live in [0, 2**63): numpy's SeedSequence and the JAX key both take them exactly.
MAX_SEED = 2**63 - 1
#: Replicate seeds of one run: a million replications (their list is 36 MB; each seed's
#: results are kept until the run ends).
MAX_SEEDS = 10**6


def check_count(name: str, value: object, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``value`` as an int after checking it is an integer in [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise PssimTypeError(f"`{name}` must be an integer; got {shown(value)}", param=name)
    if value < minimum:
        raise PssimError(f"`{name}` must be >= {minimum}; got {shown(value)}", param=name)
    if maximum is not None and value > maximum:
        raise PssimError(f"`{name}` must be <= {maximum}; got {shown(value)}", param=name)
    return int(value)


def check_integer(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as an int after checking it is an integer >= ``minimum``, in one message:
    "`name` must be an integer >= minimum; got value"."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise PssimError(
            f"`{name}` must be an integer >= {minimum}; got {shown(value)}", param=name
        )
    return int(value)


def check_seed(name: str, value: object) -> int:
    """Return a seed, an integer in [0, 2**63)."""
    return check_count(name, value, minimum=0, maximum=MAX_SEED)


def check_positive(name: str, value: object) -> float:
    """Return ``value`` as a float after checking it is finite and > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise PssimTypeError(f"`{name}` must be a number; got {shown(value)}", param=name)
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer beyond the floats
        finite = False
    if not finite or value <= 0:
        raise PssimError(f"`{name}` must be a finite number > 0; got {shown(value)}", param=name)
    return float(value)


def check_batch_rows(dataset: object, batch_size: int) -> int:
    """``batch_size`` after checking it is at most the number of training rows of
    ``dataset`` (the length of its ``x``): the rule of ``train``, ``compare``, ``replay``
    and training sweeps alike. A dataset without an ``x`` array is left to its user.

    Example:
        >>> import numpy as np, types
        >>> check_batch_rows(types.SimpleNamespace(x=np.zeros((4, 2))), 4)
        4
    """
    shape = getattr(getattr(dataset, "x", None), "shape", None)
    rows = shape[0] if shape else None
    if isinstance(rows, numbers.Integral) and batch_size > rows:
        raise PssimError(
            f"`batch_size` must be <= the number of training examples ({rows}); "
            f"got {shown(batch_size)}",
            param="batch_size",
        )
    return batch_size


def check_nonnegative(name: str, value: object) -> float:
    """Return ``value`` as a float after checking it is finite and >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise PssimTypeError(f"`{name}` must be a number; got {shown(value)}", param=name)
    if not math.isfinite(value) or value < 0:
        raise PssimError(f"`{name}` must be a finite number >= 0; got {shown(value)}", param=name)
    return float(value)


def resolve_variant(variant: str, num_learners: int, k: int | None) -> tuple[str, int]:
    """Map a variant name and K to the canonical (variant, K), checking the rules.

    ``sync`` is K-sync with K = P and ``async`` is K-async with K = 1; for them K may be
    omitted (or must equal that value). ``all-reduce`` (every learner's gradient, averaged
    by a ring all-reduce) has K = P likewise, ``ringmaster`` (asynchronous) K = 1. For the
    K-variants 1 <= K <= P; for ``k-avg`` K is the number of local steps and for
    ``rennala`` the batch size (any K >= 1).

    Example:
        >>> resolve_variant("sync", 8, None)
        ('k-sync', 8)
    """
    if not isinstance(variant, str):
        raise PssimTypeError(f"`variant` must be a string; got {shown(variant)}", param="variant")
    p = check_count("num_learners", num_learners)
    if variant in VARIANT_ALIASES + IMPLIED_K:
        implied = 1 if variant in ("async", "ringmaster") else p
        if k is not None and check_count("k", k) != implied:
            raise PssimError(
                f"`k` must be {implied} (or not given) for variant {variant!r}; got {shown(k)}",
                param="k",
            )
        return {"sync": "k-sync", "async": "k-async"}.get(variant, variant), implied
    if variant not in VARIANTS:
        names = ", ".join(VARIANT_ALIASES + VARIANTS)
        raise PssimError(f"`variant` must be one of {names}; got {shown(variant)}", param="variant")
    if k is None:
        raise PssimError(f"`k` must be given for variant {variant!r}; got None", param="k")
    k = check_count("k", k)
    if variant not in _ANY_K and k > p:
        raise PssimError(
            f"`k` must be <= the number of learners P ({p}); got {shown(k)}", param="k"
        )
    return variant, k
