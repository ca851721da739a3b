"""Error against wall-clock time: Dutta et al. 2018, section 3.2 and figure 7.

The error bounds of :mod:`simulator.theory.error_bounds` are per iteration; the runtime
theory of :mod:`simulator.theory.runtime` gives the expected time of J iterations (Lemma 3:
J E[X_{K:P}] for K-sync; Lemma 4: J K E[X] / P for K-batch-async; Lemma 5 for K-async).
Putting the two side by side is figure 7 (sync: Lemma 2 with K = P; async: Theorem 3 with
K = 1). This module also holds what the compute-time law says about p0 (Lemma 8) and the
"can stale gradients win the race?" comparison.
"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np

from simulator.errors import PssimError, shown
from simulator.theory._bound import (
    Bound,
    check_count,
    check_nonnegative,
    check_positive,
    condition,
    evaluator,
)
from simulator.theory.error_bounds import (
    _iterations,
    _probability,
    kasync_error_bound,
    ksync_error_bound,
)
from simulator.theory.runtime import Prediction, async_staleness, expected_runtime

__all__ = [
    "ErrorRuntimeCurve",
    "error_runtime_curve",
    "error_vs_time",
    "p0_exponential",
    "p0_lemma8",
    "stale_can_win",
]

_PAPER = "Dutta et al. 2018"
_SYNC = ("sync", "k-sync", "k-batch-sync")
_ASYNC = ("async", "k-async", "k-batch-async")


@evaluator
def stale_can_win(p0: float, gamma: float, *, num_learners: int) -> Bound:
    """Section 3.2, "Can stale gradients win the race?": async vs sync at the same eta.

    Per iteration async contracts the error by 1 - eta c gamma', sync (Lemma 2) by
    1 - eta c, so async's per-iteration progress is gamma' = 1 - gamma + p0/2 times sync's
    and it is faster iff p0/2 > gamma (gamma' > 1). Its price is the floor: async (K = 1)
    eta L sigma^2 / (2 c gamma' m) against sync (K = P) eta L sigma^2 / (2 c P m), a ratio
    P / gamma' that does not depend on eta, L, sigma^2, c or m.

    Args:
        p0: lower bound on the probability that a gradient is fresh, in [0, 1].
        gamma: staleness constant of Theorem 3 (>= 0).
        num_learners: P (integer >= 1).

    Returns:
        Bound with ``value`` = gamma' (async per-iteration progress relative to sync),
        relation ``exact``, one condition ``p0/2 > gamma`` (so ``valid`` says "async wins
        per iteration"), ``extra`` = {gamma_prime, floor_ratio (async floor over sync floor,
        +inf if gamma' <= 0)}.

    Example:
        >>> b = stale_can_win(0.25, 0.05, num_learners=4)
        >>> b.valid, round(b.extra["floor_ratio"], 4)
        (True, 3.7209)
    """
    p0, gamma = _probability("p0", p0), check_nonnegative("gamma", gamma)
    p = check_count("num_learners", num_learners)
    gp = 1 - gamma + p0 / 2
    ratio = p / gp if gp > 0 else np.inf
    return Bound(
        "async/sync per-iteration error reduction (gamma')",
        gp,
        f"{_PAPER}, section 3.2 (Theorem 3 vs Lemma 2)",
        (condition("p0/2 > gamma (async decays faster)", p0 / 2, ">", gamma),),
        relation="exact",
        extra={"gamma_prime": gp, "floor_ratio": ratio},
    )


@evaluator
def p0_exponential(num_learners: int) -> Bound:
    """Lemma 8: p0 = 1/P under exponential compute times (memoryless, so exact).

    For new-longer-than-used laws p0 <= 1/P, for new-shorter-than-used laws p0 >= 1/P
    (see :func:`p0_lemma8`). Lemma 8 states these for async, K-async and K-batch-async.

    Example:
        >>> p0_exponential(8).value
        0.125
    """
    p = check_count("num_learners", num_learners)
    return Bound("p0 = inf_j P(tau(j) = j | past)", 1.0 / p, f"{_PAPER}, Lemma 8", relation="exact")


@evaluator
def p0_lemma8(law, num_learners: int) -> Bound:
    """Lemma 8 for a law: 1/P, exact for exponential laws, an upper bound on p0 for
    new-longer-than-used laws, a lower bound for new-shorter-than-used ones.

    A law in neither class has no closed form and is refused.

    Args:
        law: a compute-time law or its spec string (``"exp:1"``, ``"shifted-exp:1,1"``).
        num_learners: P (integer >= 1).

    Example:
        >>> p0_lemma8("exp:2", 4).relation
        'exact'
    """
    p = check_count("num_learners", num_learners)
    pred = async_staleness(law, p)["p0"]
    if pred.mean is None:
        raise PssimError(
            f"`law` must be exponential, NLTU or NSTU for Lemma 8; got {law!r}", param="law"
        )
    return Bound(
        "p0 = inf_j P(tau(j) = j | past)", pred.mean, f"{_PAPER}, Lemma 8", relation=pred.relation
    )


@dataclasses.dataclass(frozen=True)
class ErrorRuntimeCurve:
    """An error bound drawn against expected wall-clock time (figure 7).

    Attributes:
        iterations: J, int array of shape (n,).
        times: expected time of the J-th update, simulated time units, shape (n,).
        errors: the error bound at J, shape (n,).
        bound: the per-iteration :class:`Bound` (citation, conditions, floor, rate).
        runtime: the runtime theory of one iteration; ``times = iterations * runtime.mean``.
    """

    iterations: np.ndarray
    times: np.ndarray
    errors: np.ndarray
    bound: Bound
    runtime: Prediction

    @property
    def time_relation(self) -> str:
        """How ``times`` relate to the true expected times: exact, a bound, asymptotic."""
        return self.runtime.relation

    def label(self) -> str:
        """A legend text, e.g. ``"Lemma 2 vs Lemma 3 time (exact)"``."""
        cite = self.bound.citation.split(", ", 1)[-1]
        return f"{cite} vs {self.runtime.source.split(':')[0]} time ({self.time_relation})"


@evaluator
def error_vs_time(bound: Bound, iterations, runtime: Prediction | float) -> ErrorRuntimeCurve:
    """Maps an error-vs-iteration bound to time: t_J = J * (expected time per iteration).

    Every runtime of the paper is linear in J (Lemmas 3-5), so one iteration's prediction
    fixes the whole time axis.

    Args:
        bound: a curve from :func:`~simulator.theory.error_bounds.ksync_error_bound` or
            :func:`~simulator.theory.error_bounds.kasync_error_bound` evaluated at
            ``iterations``.
        iterations: the J of ``bound.value`` (integers >= 0, 1-D or scalar).
        runtime: a :class:`Prediction` of one iteration's expected time
            (``expected_runtime(..., updates=1)``), or a number (taken as exact).

    Returns:
        :class:`ErrorRuntimeCurve` with 1-D arrays.

    Example:
        >>> from simulator.theory.error_bounds import ksync_error_bound
        >>> b = ksync_error_bound([0, 4], lr=0.1, L=1, c=0.5, sigma2=1, K=2, m=1,
        ...                       initial_error=1.0)
        >>> error_vs_time(b, [0, 4], 1.5).times.tolist()
        [0.0, 6.0]
    """
    j, _ = _iterations("iterations", iterations)
    j = j.reshape(-1)
    errors = np.asarray(bound.value, dtype=np.float64).reshape(-1)
    if errors.shape != j.shape:
        raise PssimError(
            f"`iterations` must match the bound's {errors.size} values; got {j.size}",
            param="iterations",
        )
    if not isinstance(runtime, Prediction):
        if isinstance(runtime, bool) or not isinstance(runtime, numbers.Real):
            raise PssimError(
                f"`runtime` must be a Prediction or a number; got {runtime!r}", param="runtime"
            )
        runtime = Prediction(check_positive("runtime", runtime), "exact", "given")
    if runtime.mean is None:
        raise PssimError(
            f"`runtime` must have a value; got none ({runtime.source})", param="runtime"
        )
    return ErrorRuntimeCurve(j, j * float(runtime.mean), errors, bound, runtime)


@evaluator
def error_runtime_curve(
    variant: str,
    *,
    law,
    num_learners: int,
    iterations,
    lr: float,
    L: float,
    c: float,
    sigma2: float,
    m: int,
    initial_error: float,
    k: int | None = None,
    M_G: float = 0.0,
    gamma: float | None = None,
    p0: float | None = None,
) -> ErrorRuntimeCurve:
    """Figure 7: the error bound of a variant against its expected runtime.

    Synchronous variants (``sync`` = K-sync with K = P, ``k-sync``, ``k-batch-sync``) use
    Lemma 2 with K gradients per update (K-batch-sync's K mini-batches are all computed at
    w_j, the case Lemma 2 treats as serial SGD with mini-batch K m); asynchronous variants
    (``async`` = K-async with K = 1, ``k-async``, ``k-batch-async``) use Theorem 3, which the
    paper states for both. Time per iteration comes from
    :func:`~simulator.theory.runtime.expected_runtime` and says whether it is exact, a bound
    or asymptotic. ``k-avg`` is outside this paper's error analysis and refused.

    Args:
        variant: one of sync, async, k-sync, k-batch-sync, k-async, k-batch-async.
        law: compute-time law (object or spec string), i.i.d. across learners.
        num_learners: P. k: K (implied by ``sync`` and ``async``).
        iterations: J values (integers >= 0, 1-D or scalar).
        lr, L, c, sigma2, m, initial_error, M_G: as in the error bounds.
        gamma: staleness constant, required by asynchronous variants only.
        p0: for asynchronous variants; default 1/P for exponential laws (Lemma 8, exact)
            and for new-shorter-than-used laws (where 1/P <= p0, so 1/P is a valid choice).

    Returns:
        :class:`ErrorRuntimeCurve`.

    Example:
        >>> c = error_runtime_curve("sync", law="exp:1", num_learners=2, iterations=[0, 2],
        ...                         lr=0.1, L=1, c=0.5, sigma2=1, m=1, initial_error=1.0)
        >>> c.times.tolist(), c.time_relation
        ([0.0, 3.0], 'exact')
    """
    if not isinstance(variant, str) or variant not in _SYNC + _ASYNC:
        names = ", ".join(_SYNC + _ASYNC)
        raise PssimError(f"`variant` must be one of {names}; got {shown(variant)}", param="variant")
    runtime = expected_runtime(variant, num_learners=num_learners, k=k, law=law, updates=1)
    K = {"sync": num_learners, "async": 1}.get(variant, k)
    common = dict(lr=lr, L=L, c=c, sigma2=sigma2, K=K, m=m, initial_error=initial_error, M_G=M_G)
    if variant in _SYNC:
        for name, value in (("gamma", gamma), ("p0", p0)):
            if value is not None:
                raise PssimError(
                    f"`{name}` must be None for a synchronous variant; got {shown(value)}",
                    param=name,
                )
        bound = ksync_error_bound(iterations, **common)
    else:
        if gamma is None:
            raise PssimError("`gamma` must be given for an asynchronous variant", param="gamma")
        if p0 is None:
            law_p0 = async_staleness(law, num_learners)["p0"]
            if law_p0.relation not in ("exact", "lower-bound"):
                raise PssimError(
                    f"`p0` must be given for law {law!r} (Lemma 8 gives no lower bound)",
                    param="p0",
                )
            p0 = law_p0.mean
        bound = kasync_error_bound(iterations, gamma=gamma, p0=p0, **common)
    return error_vs_time(bound, iterations, runtime)
