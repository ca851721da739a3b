"""Problem constants of a training problem: L, c, sigma^2, M_G, F* and gradient diversity.

The error bounds of Dutta et al. 2018 (Lemma 2, Theorems 3-4) rest on the assumptions of
their section 2.4, stated for the training risk ``F(w) = (1/N) sum_i f_i(w)``, where
``f_i(w)`` is ``model.loss(w, (x[i:i+1], y[i:i+1]))`` (the one-row loss, regulariser
included, so that ``F(w) = model.loss(w, (x, y))`` on the whole training set):

1. F is L-smooth, eq. (5): ``||grad F(w1) - grad F(w2)|| <= L ||w1 - w2||``.
2. F is c-strongly convex, eq. (6): ``2c (F(w) - F*) <= ||grad F(w)||^2``.
3. A mini-batch gradient ``g`` is unbiased, eq. (7).
4. Its variance is bounded, eq. (8):
   ``E||g(w) - grad F(w)||^2 <= sigma^2/m + (M_G/m) ||grad F(w)||^2``.

Here c is the smallest eigenvalue of the Hessian of F at a point and L the largest at w0
and at w* (Lanczos on Hessian-vector products), the larger of the two: the assumptions ask
for one L over every w, and the curvature of a non-quadratic loss changes along the way
(MNIST softmax: 4.62 at w0, 2.60 at w*), so the top at w* alone can make a step-size
condition read "holds" where it does not. A diagnostic replay measures the top at every
evaluation point of its path too (``hessian_top``, Lanczos), which can be larger
still (softmax on digits, lr 0.01, m = 1: 1.85 after 200 updates, 1.22 at w0);
:func:`with_path_smoothness` raises L to it. For a quadratic loss all are the global
constant; otherwise the largest top seen is a lower estimate of the global L. The replay draws
the m rows of a mini-batch uniformly with replacement, so the mini-batch variance is
exactly ``V(w)/m`` with the one-sample variance
``V(w) = (1/N) sum_i ||grad f_i(w) - grad F(w)||^2``: eq. (8) for every m is eq. (8) for
m = 1. At the optimum ``grad F(w*) = 0``, so the smallest admissible sigma^2 is
``V(w*)``; M_G is then estimated as the smallest value for which eq. (8) holds at the
starting point w0, ``max(0, (V(w0) - sigma^2) / ||grad F(w0)||^2)``. That is an estimate
at one point, not a certificate for every w.

Everything is computed in float64 on the training set ``(dataset.x, dataset.y)``. Note
that ``optimal_loss`` (the F* of the error curves) uses the evaluation set; the two agree
whenever ``x_eval`` is the training set (the default for N <= 10000, e.g. digits and the
synthetic sets).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

import jax
import numpy as np
import scipy.sparse.linalg

from simulator._checks import check_integer
from simulator.errors import PssimError, PssimTypeError
from simulator.training import _per_example as pe
from simulator.training.optimum import float64_data, minimise
from simulator.training.replayer import check_model

__all__ = [
    "ProblemConstants",
    "gradient_diversity",
    "hessian_extremes",
    "optimal_params",
    "problem_constants",
    "with_path_smoothness",
]

POINTS = ("optimum", "init")


@dataclasses.dataclass(frozen=True)
class ProblemConstants:
    """The constants of Dutta et al. 2018, section 2.4, for one model and training set.

    Attributes:
        point: where c and sigma2 were evaluated: "optimum" (w*, convex models) or
            "init" (w0 = model.init(key)).
        L: the smoothness of Assumption 1 (eq. 5) the bounds use: ``max(L_init,
            L_optimum, L_path)``, the largest top Hessian eigenvalue seen.
        c: smallest Hessian eigenvalue of F at ``point`` (strong convexity, Assumption 2,
            eq. 6), reported as is: 0 or below where F is not strongly convex there.
        sigma2: one-sample gradient variance V(w) at ``point`` (Assumption 4, eq. 8); at w*
            it equals (1/N) sum_i ||grad f_i(w*)||^2 since grad F(w*) = 0.
        M_G: ``max(0, (V(w0) - sigma2) / ||grad F(w0)||^2)`` (eq. 8 at w0); None at "init".
        f_star: F(w*) on the training set; None at "init".
        loss_init: F(w0).
        grad_norm2_init: ||grad F(w0)||^2.
        variance_init: V(w0) = (1/N) sum_i ||grad f_i(w0) - grad F(w0)||^2.
        diversity_init: gradient diversity Delta(w0) (see ``gradient_diversity``).
        num_params: n, the number of scalar parameters.
        num_examples: N, the training rows F averages over.
        num_rows: rows the per-example averages used (N, or ``subset``).
        L_init: largest Hessian eigenvalue of F at w0.
        L_optimum: largest Hessian eigenvalue of F at w*; None at "init".
        L_path: the largest ``hessian_top`` of diagnostic replays along their paths (see
            :func:`with_path_smoothness`); None without one.
        L_at: which point gave L: "w0", "w*" or "path".
    """

    point: str
    L: float
    c: float
    sigma2: float
    M_G: float | None
    f_star: float | None
    loss_init: float
    grad_norm2_init: float
    variance_init: float
    diversity_init: float
    num_params: int
    num_examples: int
    num_rows: int
    L_init: float | None = None
    L_optimum: float | None = None
    L_path: float | None = None
    L_at: str = "w0"

    @property
    def condition_number(self) -> float:
        """L / c (inf where c <= 0)."""
        return self.L / self.c if self.c > 0 else math.inf

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of the fields."""
        return dataclasses.asdict(self)


def _check_xy(x: Any, y: Any, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) as arrays; ``names`` are how the message calls them (and the param)."""
    xa, ya = np.asarray(x), np.asarray(y)
    xname, yname = names
    if xa.dtype == object or xa.ndim < 2 or xa.shape[0] < 1:
        raise PssimError(
            f"`{xname}` must be an (N, d) array with N >= 1; got shape {xa.shape}",
            param=xname.split(".")[0],
        )
    if ya.shape != (xa.shape[0],):
        raise PssimError(
            f"`{yname}` must have shape ({xa.shape[0]},) to match `{xname}`; got {ya.shape}",
            param=yname.split(".")[0],
        )
    return xa, ya


def _training_set(dataset: Any) -> tuple[np.ndarray, np.ndarray]:
    if getattr(dataset, "x", None) is None or getattr(dataset, "y", None) is None:
        raise PssimError(
            f"`dataset` must have arrays x and y; got {type(dataset).__name__}", param="dataset"
        )
    return _check_xy(dataset.x, dataset.y, ("dataset.x", "dataset.y"))


def _check_tol(tol: object) -> float:
    ok = isinstance(tol, numbers.Real) and not isinstance(tol, bool)
    if not (ok and math.isfinite(tol) and 0 <= tol < 1):
        raise PssimError(f"`tol` must be a number in [0, 1); got {tol!r}", param="tol")
    return float(tol)


def optimal_params(
    model: Any, dataset: Any, *, key: jax.Array | None = None, max_iter: int = 20_000
) -> tuple[Any, float]:
    """The minimiser w* of the training loss F and F* = F(w*), for a convex model.

    Full-batch L-BFGS-B in float64 from ``model.init(key)`` (as ``optimal_loss``, but on
    ``(dataset.x, dataset.y)``, the set whose risk Dutta et al. 2018 bound, eq. 6). For a
    convex model that is not strictly convex (softmax regression: its unregularised bias
    can shift all classes alike) the minimiser is not unique; one of them is returned.

    Args:
        model: convex model with ``init(key)`` and ``loss(params, (x, y))``.
        dataset: has ``x`` (N, d) and ``y`` (N,).
        key: JAX key of the starting point; default ``jax.random.key(0)``.
        max_iter: L-BFGS-B iteration limit, >= 1.

    Returns:
        ``(params, f_star)``: a pytree shaped like ``model.init(key)`` with float64 numpy
        leaves, and F* as a float.

    Raises:
        PssimError: a non-convex model, or bad arguments.

    Example:
        >>> params, f_star = optimal_params(least_squares(5), ds)  # doctest: +SKIP
    """
    check_model(model)
    if not getattr(model, "convex", False):
        name = getattr(model, "name", type(model).__name__)
        raise PssimError(f"`model` must be convex to have a minimiser; got {name!r}", param="model")
    x, y = _training_set(dataset)
    max_iter = check_integer("max_iter", max_iter)
    key = _check_key(key)
    return minimise(model, x, y, key=key, max_iter=max_iter, ftol=0.0)


def hessian_extremes(
    model: Any,
    dataset: Any,
    params: Any,
    *,
    tol: float = 1e-5,
    max_iter: int | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[float, float]:
    """(L, c): the largest and smallest eigenvalue of the Hessian of F at ``params``.

    F is the training loss ``model.loss(params, (dataset.x, dataset.y))`` in float64.
    Lanczos (``scipy.sparse.linalg.eigsh``, which="LA" and "SA") on Hessian-vector products
    ``jax.jvp(jax.grad(F), (w,), (v,))`` over the flattened parameters, jitted once; the
    (n, n) Hessian is never formed (dense only when n < 3). These are the smoothness L of
    Dutta et al. 2018, Assumption 1 (eq. 5) and the strong convexity c of Assumption 2
    (eq. 6) where F is quadratic (least squares); for other losses, their values at
    ``params``. c is returned as is, even if <= 0.

    Args:
        model: has ``init(key)`` and ``loss(params, (x, y))``.
        dataset: has ``x`` (N, d) and ``y`` (N,).
        params: a pytree shaped like ``model.init(key)``.
        tol: ARPACK's accuracy, in [0, 1) (0: machine precision): relative for L, and
            c to within tol * (L - c) (it is found as the top of L I - H).
        max_iter: Lanczos restarts allowed, >= 1; default ARPACK's 10 n.
        rng: numpy Generator of the starting vector; default a fixed seed (reproducible).

    Returns:
        ``(L, c)`` as floats, in the units of the loss per squared parameter unit.

    Raises:
        PssimError: bad arguments, or Lanczos not converged within ``max_iter``.

    Example:
        >>> L, c = hessian_extremes(model, ds, params)  # doctest: +SKIP
    """
    check_model(model)
    x, y = _training_set(dataset)
    tol = _check_tol(tol)
    if max_iter is not None:
        max_iter = check_integer("max_iter", max_iter)
    rng = _check_rng(rng, required=False)
    with jax.enable_x64(True):
        flat, spec = pe.flatten_like(model, params)
        xd, yd = float64_data(x, y)
        return _extremes(model.loss, spec, flat, xd, yd, tol, max_iter, rng)


def _extremes(loss, spec, flat, xd, yd, tol, max_iter, rng) -> tuple[float, float]:
    op = pe.hessian_operator(loss, spec, flat, xd, yd)
    rng = np.random.default_rng(0) if rng is None else rng
    v0 = rng.standard_normal(flat.shape[0])
    try:
        return pe.extreme_eigenvalues(op, tol=tol, max_iter=max_iter, v0=v0)
    except scipy.sparse.linalg.ArpackNoConvergence:
        raise PssimError(
            f"`max_iter` must be larger for Lanczos to reach tol {tol:g}; got {max_iter!r}",
            param="max_iter",
        ) from None


def _largest(loss, spec, flat, xd, yd, tol, rng) -> float:
    """The largest Hessian eigenvalue of F at ``flat`` (Lanczos, the top end only)."""
    op = pe.hessian_operator(loss, spec, flat, xd, yd)
    v0 = (np.random.default_rng(0) if rng is None else rng).standard_normal(flat.shape[0])
    if flat.shape[0] < pe.DENSE_BELOW:
        return pe.extreme_eigenvalues(op, tol=tol, max_iter=None, v0=v0)[0]
    try:
        top = scipy.sparse.linalg.eigsh(op, k=1, which="LA", tol=tol, v0=v0)
    except scipy.sparse.linalg.ArpackNoConvergence:
        raise PssimError(
            f"`tol` must be larger for Lanczos to converge at w0; got {tol:g}", param="tol"
        ) from None
    return float(top[0][0])


def _check_key(key: Any) -> jax.Array:
    if key is None:
        return jax.random.key(0)
    if not isinstance(key, jax.Array):
        raise PssimError(
            f"`key` must be a JAX key (jax.random.key(seed)); got {key!r}", param="key"
        )
    return key


def _check_rng(rng: Any, required: bool) -> np.random.Generator | None:
    if (rng is None and not required) or isinstance(rng, np.random.Generator):
        return rng
    raise PssimError(
        f"`rng` must be a numpy Generator (numpy.random.default_rng(seed)); got {rng!r}",
        param="rng",
    )


def gradient_diversity(model: Any, params: Any, x: Any, y: Any) -> float:
    """Gradient diversity Delta(w) = sum_i ||grad f_i(w)||^2 / ||sum_i grad f_i(w)||^2.

    The measure of Yin et al. (lecture slides "Scaling-up SGD with mini-batches", seed 001):
    1/N when all N per-example gradients are equal, 1 when they are orthogonal; mini-batch
    SGD keeps its per-sample progress for batch sizes up to about N Delta(w). ``f_i`` is the
    one-row loss ``model.loss(w, (x[i:i+1], y[i:i+1]))``, regulariser included. The
    per-example gradients come from ``jax.vmap(jax.grad(.))`` in chunks, in float64.

    Args:
        model: has ``init(key)`` and ``loss(params, (x, y))``.
        params: a pytree shaped like ``model.init(key)``.
        x: (N, d) features.
        y: (N,) labels or targets.

    Returns:
        Delta(w) >= 1/N as a float; inf where the summed gradient is exactly 0.

    Raises:
        PssimError: bad arguments.

    Example:
        >>> gradient_diversity(model, params, ds.x, ds.y)  # doctest: +SKIP
        0.0213...
    """
    check_model(model)
    xa, ya = _check_xy(x, y, ("x", "y"))
    with jax.enable_x64(True):
        flat, spec = pe.flatten_like(model, params)
        xd, yd = float64_data(xa, ya)
        rows = np.arange(xa.shape[0])
        sum_g, _, squares = pe.per_example_sums(model.loss, spec, flat, xd, yd, rows)
    total = float(sum_g @ sum_g)
    return squares / total if total > 0 else math.inf


def _moments(loss, spec, flat, xd, yd, rows) -> tuple[float, float, float, float]:
    """(F(w), ||grad F(w)||^2, V(w), mean_i ||g_i||^2); V and the mean over ``rows``."""
    value, grad = pe.value_and_grad(loss, spec, flat, xd, yd)
    _, centred, squares = pe.per_example_sums(loss, spec, flat, xd, yd, rows, center=grad)
    grad = np.asarray(grad)
    return float(value), float(grad @ grad), centred / len(rows), squares / len(rows)


def problem_constants(
    model: Any,
    dataset: Any,
    *,
    at: str | None = None,
    key: jax.Array | None = None,
    subset: int | None = None,
    rng: np.random.Generator | None = None,
    tol: float = 1e-5,
    max_iter: int = 20_000,
) -> ProblemConstants:
    """L, c, sigma^2, M_G and F* of Dutta et al. 2018, section 2.4, for a training problem.

    At ``at="optimum"`` (convex models): w* and F* by ``optimal_params``; c is the smallest
    Hessian eigenvalue at w* (Assumption 2, eq. 6) and L the larger of the largest ones at
    w0 and at w* (``L_init``, ``L_optimum``: Assumption 1, eq. 5, asks for one L
    everywhere); ``sigma2 = V(w*)``, the smallest sigma^2 of Assumption 4 (eq. 8), since
    grad F(w*) = 0; ``M_G = max(0, (V(w0) -
    sigma2) / ||grad F(w0)||^2)`` makes eq. (8) hold at w0 = ``model.init(key)``. At
    ``at="init"`` (the default for non-convex models, which have no computable w*): L, c
    (possibly negative) and ``sigma2 = V(w0)`` at w0; ``M_G`` and ``f_star`` are None.
    ``V(w) = (1/N) sum_i ||grad f_i(w) - grad F(w)||^2`` is the one-sample gradient
    variance; the replay's mini-batches of m rows drawn with replacement have variance
    ``V(w)/m``.

    Args:
        model: has ``init(key)``, ``loss(params, (x, y))`` and ``convex``.
        dataset: has ``x`` (N, d) and ``y`` (N,); F is the loss on these rows.
        at: "optimum" or "init"; default "optimum" for convex models, else "init".
        key: JAX key of w0 (and of the L-BFGS-B start); default ``jax.random.key(0)``.
        subset: average V and the diversity over this many rows drawn without replacement
            (unbiased estimates; grad F stays exact); default all N rows.
        rng: numpy Generator drawing the subset (required with ``subset``) and the Lanczos
            starting vector (default a fixed seed).
        tol: Lanczos relative accuracy, in [0, 1).
        max_iter: L-BFGS-B iteration limit (Lanczos keeps ARPACK's default).

    Returns:
        A frozen ``ProblemConstants``.

    Raises:
        PssimError: bad arguments, or ``at="optimum"`` for a non-convex model.

    Example:
        >>> ds = synthetic_least_squares(500, 5)  # doctest: +SKIP
        >>> problem_constants(least_squares(5), ds).L  # doctest: +SKIP
        1.02...
    """
    check_model(model)
    x, y = _training_set(dataset)
    convex = bool(getattr(model, "convex", False))
    point = ("optimum" if convex else "init") if at is None else at
    if point not in POINTS:
        raise PssimError(f"`at` must be one of {', '.join(POINTS)}; got {at!r}", param="at")
    if point == "optimum" and not convex:
        name = getattr(model, "name", type(model).__name__)
        raise PssimError(
            f"`at` must be 'init' for the non-convex model {name!r}; got {at!r}", param="at"
        )
    n_rows = x.shape[0]
    if subset is not None:
        n_rows = check_integer("subset", subset)
        if n_rows > x.shape[0]:
            raise PssimError(
                f"`subset` must be <= the number of training rows ({x.shape[0]}); got {subset}",
                param="subset",
            )
    rng = _check_rng(rng, required=subset is not None)
    tol = _check_tol(tol)
    max_iter = check_integer("max_iter", max_iter)
    key = _check_key(key)
    rows = np.arange(x.shape[0])
    if subset is not None:
        rows = np.sort(rng.choice(x.shape[0], size=n_rows, replace=False))
    f_star = None
    if point == "optimum":
        w_star, f_star = minimise(model, x, y, key=key, max_iter=max_iter, ftol=0.0)
    w0 = model.init(key)  # outside enable_x64: the w0 the replay starts from
    with jax.enable_x64(True):
        flat0, spec = pe.flatten_like(model, w0, key)
        xd, yd = float64_data(x, y)
        loss0, grad2_0, var0, sq0 = _moments(model.loss, spec, flat0, xd, yd, rows)
        where = flat0
        sigma2, m_g = var0, None
        if point == "optimum":
            where = pe.flatten_like(model, w_star, key)[0]
            sigma2 = _moments(model.loss, spec, where, xd, yd, rows)[2]
            m_g = max(0.0, (var0 - sigma2) / grad2_0) if grad2_0 > 0 else 0.0
        top, c = _extremes(model.loss, spec, where, xd, yd, tol, None, rng)
        top_init, top_optimum = top, None
        if point == "optimum":
            top_init, top_optimum = _largest(model.loss, spec, flat0, xd, yd, tol, rng), top
    return ProblemConstants(
        point=point,
        L=max(top_init, top),
        L_at="w*" if top > top_init else "w0",
        c=c,
        sigma2=sigma2,
        M_G=m_g,
        f_star=f_star,
        loss_init=loss0,
        grad_norm2_init=grad2_0,
        variance_init=var0,
        diversity_init=sq0 / (x.shape[0] * grad2_0) if grad2_0 > 0 else math.inf,
        num_params=int(flat0.shape[0]),
        num_examples=int(x.shape[0]),
        num_rows=len(rows),
        L_init=top_init,
        L_optimum=top_optimum,
    )


def with_path_smoothness(constants: ProblemConstants, results: Any) -> ProblemConstants:
    """``constants`` with L raised to the largest Hessian top along diagnostic replays.

    ``L_path`` is the largest finite ``hessian_top`` (see ``replay(diagnostics=True)``) over
    the replays' seeds and evaluation points, a diverging seed's included; L becomes
    ``max(L, L_path)``, with ``L_at`` "path" where the path's is larger. The replay's F is
    its loss on the diagnostic rows: the constants' training set where the evaluation set
    is it (N <= 10000 by default) and ``Diagnostics.rows`` keeps every row.

    Args:
        constants: the problem's ``ProblemConstants``.
        results: a ``ReplayResult``, a list or tuple of them, or None; results without
            diagnostics add nothing.

    Raises:
        PssimTypeError: ``results``, or one of its elements, is not a ``ReplayResult``.

    Example:
        >>> with_path_smoothness(constants, replay(..., diagnostics=True)).L_at  # doctest: +SKIP
        'path'
    """
    several = isinstance(results, (list, tuple))
    items = list(results) if several else [] if results is None else [results]
    tops = [] if getattr(constants, "L_path", None) is None else [constants.L_path]
    for result in items:
        if not hasattr(result, "diagnostics"):
            raise PssimTypeError(
                f"`results` must be ReplayResults; got {type(result).__name__}", param="results"
            )
        curve = np.asarray((result.diagnostics or {}).get("hessian_top", []), np.float64)
        tops.extend(curve[np.isfinite(curve)].tolist())
    if not tops or max(tops) <= constants.L:
        return dataclasses.replace(constants, L_path=max(tops)) if tops else constants
    return dataclasses.replace(constants, L=max(tops), L_path=max(tops), L_at="path")
