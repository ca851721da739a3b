"""Replay diagnostics: the quantities of Dutta et al. 2018's error analysis, measured.

Computed inside the jitted scan when a replay asks for them (nothing is traced otherwise):

- every update, from the contributions already in hand: ``||w_j - w_tau(l,j)||^2`` and the
  learning rate the rule applied to each contribution (eq. 13's inputs and output), averaged
  over the real contributions of the evaluation window;
- at the last update of each window (a *probe*): the full gradients ``grad F(w_j)`` and
  ``grad F(w_tau(l,j))`` on the diagnostic rows, hence the staleness gap
  ``max_l ||grad F(w_j) - grad F(w_tau(l,j))||^2`` and its ratio to ``||grad F(w_j)||^2``
  (summed over the windows, the gamma of Theorem 3), and
  ``mean_l ||grad F(w_tau(l,j))||^2 / ||grad F(w_j)||^2`` (Lemma 1 bounds its expectation
  below by p0);
- at every evaluation point: ``||grad F(w)||^2`` on the diagnostic rows, the gradient
  diversity ``Delta(w) = sum_i ||grad f_i(w)||^2 / ||sum_i grad f_i(w)||^2`` on a fixed
  subset (per-example gradients by ``vmap``), and the top eigenvalue of the Hessian of F
  on the diagnostic rows (:func:`hessian_top`), whose running maximum is the smoothness L
  seen along the training path (Assumption 1 asks for one L at every w).

The fresh-read shares behind p0 (Lemma 8) depend on the schedule only and are computed on
the host from the scan's inputs (:func:`fresh_shares`). Lemma 8's infimum itself is
estimated from the traces (:func:`p0_estimate`): the fresh-read probability conditioned on
bins of the other learners' elapsed time, with simultaneous confidence intervals.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from scipy import stats

from simulator.errors import PssimError, shown
from simulator.results.history import DIAGNOSTIC_COLUMNS
from simulator.training import _chunks
from simulator.training._per_example import FlatSpec

__all__ = [
    "DIAGNOSTIC_NAMES",
    "Diagnostics",
    "P0Estimate",
    "fresh_shares",
    "hessian_top",
    "p0_estimate",
    "running_ratio",
]

#: Per-evaluation diagnostic curves of a replay, in the order of the results table.
DIAGNOSTIC_NAMES = DIAGNOSTIC_COLUMNS[:-1]
#: ||grad F(w_j)||^2 at each window's probe: an internal curve, the denominator of ``gamma``.
PROBE_NORM = "_probe_grad_norm2"
#: The curves computed inside the scan (the rest are derived on the host).
SCAN_NAMES = (
    "grad_norm2",
    "diversity",
    "staleness_gap",
    "gap_ratio",
    "read_grad_ratio",
    "stale_dist2",
    "lr_applied",
)
#: Hessian-vector products of :func:`hessian_top` at a replay's first evaluation point,
#: from a fixed random vector (a cold start), and at each later point, from the previous
#: point's Ritz vector (a warm start).
HESSIAN_ITERATIONS = 20
HESSIAN_WARM_ITERATIONS = 4


@dataclasses.dataclass(frozen=True)
class Diagnostics:
    """Which rows the replay's diagnostics use (``replay(..., diagnostics=Diagnostics())``).

    Attributes:
        rows: the first ``rows`` rows of the evaluation set give the full gradients
            ``grad F`` (norms and the staleness gap) and the Hessian's top; None: every
            evaluation row. Fewer rows cost less and add ``tr(Cov) / rows`` of sampling
            noise to ``||grad F||^2``.
        diversity_rows: the first ``diversity_rows`` evaluation rows give the per-example
            gradients of the gradient diversity (memory: ``diversity_rows * |w|`` floats).

    Example:
        >>> Diagnostics(rows=2000).diversity_rows
        256
    """

    rows: int | None = None
    diversity_rows: int = 256

    def __post_init__(self) -> None:
        for name in ("rows", "diversity_rows"):
            value = getattr(self, name)
            if name == "rows" and value is None:
                continue
            ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
            if not (ok and value >= 1):
                raise PssimError(
                    f"`Diagnostics.{name}` must be an integer >= 1; got {shown(value)}", param=name
                )


def as_diagnostics(value: Any) -> Diagnostics | None:
    """``False``/None -> None, ``True`` -> ``Diagnostics()``, a Diagnostics as is."""
    if value is None or value is False:
        return None
    if value is True:
        return Diagnostics()
    if isinstance(value, Diagnostics):
        return value
    raise PssimError(
        f"`diagnostics` must be True, False or a Diagnostics; got {shown(value)}",
        param="diagnostics",
    )


def diagnostic_data(options: Diagnostics, x_eval: jax.Array, y_eval: jax.Array) -> tuple:
    """``(x_grad, y_grad, x_div, y_div)``: the leading evaluation rows the diagnostics use."""
    n = x_eval.shape[0]
    rows = n if options.rows is None else min(options.rows, n)
    div = min(options.diversity_rows, n)
    return x_eval[:rows], y_eval[:rows], x_eval[:div], y_eval[:div]


def _sq_norm(tree: Any) -> jax.Array:
    return sum(jnp.sum(jnp.square(x)) for x in jax.tree_util.tree_leaves(tree))


def _sq_norm_rows(tree: Any) -> jax.Array:
    """(n,) squared norm of each leading-axis slice of a pytree."""
    leaves = jax.tree_util.tree_leaves(tree)
    return sum(jnp.sum(jnp.square(x).reshape(x.shape[0], -1), axis=1) for x in leaves)


def evaluation_diagnostics(loss, w: Any, ddata: tuple, dtype, vector=None) -> tuple:
    """``grad_norm2``, ``diversity`` and ``hessian_top`` of the model ``w`` (scalars, ``dtype``).

    ``vector`` is the previous evaluation point's Ritz vector (:func:`hessian_top` warm
    starts from it with :data:`HESSIAN_WARM_ITERATIONS` products); None: a cold start with
    :data:`HESSIAN_ITERATIONS` (the first point). Returns ``(values, vector)``, the vector
    for the next point.
    """
    x_grad, y_grad, x_div, y_div = ddata
    iterations = HESSIAN_ITERATIONS if vector is None else HESSIAN_WARM_ITERATIONS
    top, vector, full = hessian_top(loss, w, (x_grad, y_grad), vector, iterations)
    per_example = jax.vmap(jax.grad(loss), in_axes=(None, 0))(w, (x_div[:, None], y_div[:, None]))
    total = jax.tree_util.tree_map(lambda g: jnp.sum(g, axis=0), per_example)
    diversity = jnp.sum(_sq_norm_rows(per_example)) / _sq_norm(total)
    values = {
        "grad_norm2": jnp.asarray(full @ full, dtype),
        "diversity": jnp.asarray(diversity, dtype),
        "hessian_top": top.astype(dtype),
    }
    return values, vector


def _flat(w: Any) -> tuple[jax.Array, FlatSpec]:
    leaves, treedef = jax.tree_util.tree_flatten(w)
    spec = FlatSpec(treedef, tuple(leaf.shape for leaf in leaves))
    return jnp.concatenate([jnp.ravel(leaf) for leaf in leaves]), spec


def hessian_start(flat: jax.Array) -> jax.Array:
    """The cold start: a fixed random unit vector shaped like ``flat`` (n,), in its dtype."""
    start = jax.random.normal(jax.random.key(0), flat.shape, flat.dtype)
    return start / jnp.sqrt(start @ start)


def hessian_top(loss, w: Any, batch: tuple, vector=None, iterations=HESSIAN_ITERATIONS) -> tuple:
    """The top eigenvalue of the Hessian of ``loss(., batch)`` at ``w``, by Lanczos.

    ``k = min(iterations, n)`` Hessian-vector products (forward over reverse on the n
    flattened parameters, the kernel of the problem constants, ``_chunks``) build an
    orthonormal basis of the Krylov space of the unit ``vector`` (n,) (None: a fixed random
    one, :func:`hessian_start`), each new vector orthogonalised twice against the others;
    the value is the top eigenvalue of the Hessian projected on it (Rayleigh-Ritz): never
    above the top eigenvalue, and at least the Rayleigh quotient of any vector of the
    space, k power iterations' included. Memory: 2 k n floats, in the dtype of ``w``.

    A replay starts cold at w0 (20 products: within 2e-6 of float64 Lanczos at tol 1e-10,
    in float32, on softmax on digits and on 300 MNIST rows, two seeds each, where 20 power
    iterations were 1% to 3% low) and warm at each later point, from the previous point's
    top Ritz vector (4 products). Where the eigenvector moves little between points
    (straight paths from w0 to w*) the warm tops are within 1e-5 (median) and 1% (worst
    point); where it turns fast (SGD, m = 1, 100 updates of lr 0.01 or 0.1 between points)
    the median point is 1e-5 to 1.3% low but a point after a turn can be 10% to 50% low,
    and the largest top of the path was up to 5% low (20 cold power iterations at every
    point: 2e-5 where that largest top was past w0; 4 cold products: points 40% low).

    Returns:
        ``(top, ritz_vector, grad)``: the top Ritz value (loss units per squared parameter
        unit), its unit Ritz vector (n,) (the cold start where it is not finite) and the
        flattened gradient (n,), the primal of the first product, in the dtype of ``w``.
    """
    flat, spec = _flat(w)
    x, y = batch
    vector = hessian_start(flat) if vector is None else vector
    k = min(iterations, flat.shape[0])

    def grad(u):
        return jax.grad(_chunks.flat_loss, argnums=2)(loss, spec, u, batch)

    floor = float(jnp.finfo(flat.dtype).eps) ** 0.5  # relative: orthogonal to ~sqrt(eps)

    def extend(i, carry):  # q_i: H q_(i-1) orthogonalised; 0 once the space is invariant
        basis, images = carry
        u = images[i - 1]
        for _ in range(2):
            u = u - basis.T @ (basis @ u)
        norm, size = jnp.sqrt(u @ u), jnp.sqrt(images[i - 1] @ images[i - 1])
        q = jnp.where(norm > floor * size, u / jnp.where(norm > 0, norm, 1), 0)
        hq = _chunks._hvp(loss, spec, x.shape[0], flat, q, x, y, 0)
        return basis.at[i].set(q), images.at[i].set(hq)

    full, hv = jax.jvp(grad, (flat,), (vector,))
    zeros = jnp.zeros((k, flat.shape[0]), flat.dtype)
    start = (zeros.at[0].set(vector), zeros.at[0].set(hv))
    basis, images = lax.fori_loop(1, k, extend, start)
    t = basis @ images.T
    finite = jnp.all(jnp.isfinite(t))
    t = jnp.where(finite, (t + t.T) / 2, 0)
    # zero basis vectors: decoupled eigenvalues below v^T H v (so below the top)
    valid = jnp.sum(basis * basis, axis=1) > 0.5
    low = t[0, 0] - 1 - jnp.abs(t[0, 0])
    t = jnp.where(valid[:, None] & valid[None, :], t, 0) + jnp.diag(jnp.where(valid, 0, low))
    values, vectors = jnp.linalg.eigh(t)
    ritz = vectors[:, -1] @ basis
    ritz = jnp.where(finite, ritz / jnp.sqrt(ritz @ ritz), hessian_start(flat))
    return jnp.where(finite, values[-1], jnp.nan), ritz, full


def probe(loss, w: Any, reads: Any | None, mask: jax.Array, live: jax.Array, ddata, dtype):
    """Staleness gap of one update: ``max_l ||grad F(w_j) - grad F(w_tau(l,j))||^2``.

    ``reads`` has a leading (Kmax,) axis (None: every slot read ``w_j``, the gap is 0). An
    update that is padding, or a seed that diverged, gives NaN.

    Returns:
        dict with ``staleness_gap``, ``gap_ratio`` (the gap over ``||grad F(w_j)||^2``) and
        ``read_grad_ratio`` (the mean over real slots of ``||grad F(w_tau(l,j))||^2``, over
        ``||grad F(w_j)||^2``).
    """
    batch = ddata[:2]
    g_now = jax.grad(loss)(w, batch)
    norm = _sq_norm(g_now)
    if reads is None:
        gap = jnp.zeros((), norm.dtype)
        read_norm = norm
    else:
        g_read = jax.vmap(jax.grad(loss), in_axes=(0, None))(reads, batch)
        diff = jax.tree_util.tree_map(lambda a, b: a - b[None], g_read, g_now)
        gap = jnp.max(jnp.where(mask, _sq_norm_rows(diff), 0))
        count = jnp.maximum(jnp.sum(mask), 1)
        read_norm = jnp.sum(jnp.where(mask, _sq_norm_rows(g_read), 0)) / count
    ok = live & jnp.any(mask)
    return {
        PROBE_NORM: jnp.where(ok, norm, jnp.nan).astype(dtype),
        "staleness_gap": jnp.where(ok, gap, jnp.nan).astype(dtype),
        "gap_ratio": jnp.where(ok, gap / norm, jnp.nan).astype(dtype),
        "read_grad_ratio": jnp.where(ok, read_norm / norm, jnp.nan).astype(dtype),
    }


def update_sums(sq_dist: jax.Array, rates: jax.Array, mask: jax.Array) -> jax.Array:
    """(3,) ``[sum ||w_j - w_tau||^2, sum eta_l, count]`` over one update's real slots."""
    m = mask.astype(sq_dist.dtype)
    return jnp.stack([jnp.sum(sq_dist * m), jnp.sum(rates.astype(m.dtype) * m), jnp.sum(m)])


def window_means(sums: jax.Array, dtype) -> dict:
    """``stale_dist2`` and ``lr_applied``: a window's :func:`update_sums` totals as means."""
    count = jnp.where(sums[2] > 0, sums[2], jnp.nan)
    return {
        "stale_dist2": (sums[0] / count).astype(dtype),
        "lr_applied": (sums[1] / count).astype(dtype),
    }


def fresh_shares(rows: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per evaluation window, the share of fresh reads and of all-fresh updates.

    Args:
        rows: the scan inputs (``_stack.Stacked.rows``), each (S, C, nb, b, ...).

    Returns:
        ``(fresh_share, fresh_updates)``: (S, C + 1) float each (NaN at the initial point
        and in windows without updates), the share of the window's contributions with
        staleness 0 and the share of its updates whose contributions are all fresh (Lemma
        8's p0 is :func:`p0_estimate`'s).
    """
    real = rows["mask"] & rows["active"][..., None]
    fresh = (real & (rows["stale"] == 0)).sum(axis=(2, 3, 4))
    slots = real.sum(axis=(2, 3, 4))
    updates = rows["active"].sum(axis=(2, 3))
    all_fresh = (rows["active"] & ~np.any(real & (rows["stale"] > 0), axis=-1)).sum(axis=(2, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(slots > 0, fresh / slots, np.nan)
        whole = np.where(updates > 0, all_fresh / updates, np.nan)
    pad = np.full((share.shape[0], 1), np.nan)
    return np.concatenate([pad, share], axis=1), np.concatenate([pad, whole], axis=1)


def running_ratio(gaps: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """(S, E) ``sum gap / sum ||grad F(w_j)||^2`` over the probes so far, NaN-skipping.

    Theorem 3 assumes ``E||grad F(w_j) - grad F(w_tau)||^2 <= gamma E||grad F(w_j)||^2``: a
    ratio of expectations, estimated by the ratio of running sums (a running maximum of the
    per-window ratios grows without bound once ||grad F|| reaches its noise floor).
    """
    valid = ~(np.isnan(gaps) | np.isnan(norms))
    top = np.cumsum(np.where(valid, gaps, 0.0), axis=-1)
    bottom = np.cumsum(np.where(valid, norms, 0.0), axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(bottom > 0, top / bottom, np.nan)


#: Updates a bin of :func:`p0_estimate` holds at least (fewer bins where there are fewer).
P0_BIN_UPDATES = 100


@dataclasses.dataclass(frozen=True)
class P0Estimate:
    """Lemma 8's ``p0 = inf_j P(tau(l,j) = j | past)``, estimated from schedules.

    Updates are binned by the age of the oldest computation in flight when their model
    version came to be (the past a fresh read competes with); in each bin the fresh-read
    probability is the share of the bin's contributions that read the current model.

    Attributes:
        value: the smallest bin's share: the estimate of the infimum over the bins.
        lower, upper: ``min_b`` of the bins' lower and upper confidence limits: an interval
            for the smallest bin probability, holding with ``confidence`` (the bins'
            intervals are simultaneous, Bonferroni).
        share: the fresh share of all contributions (the mean p, above ``value``).
        ages: (B, 2) the smallest and largest oldest age in each bin, simulated time
            units, bins in increasing age.
        shares, errors: (B,) each bin's fresh share and its standard error.
        updates, reads: (B,) int, updates and contributions in each bin.
        confidence: the simultaneous coverage of the bins' intervals.
    """

    value: float
    lower: float
    upper: float
    share: float
    ages: np.ndarray
    shares: np.ndarray
    errors: np.ndarray
    updates: np.ndarray
    reads: np.ndarray
    confidence: float

    def intervals(self) -> np.ndarray:
        """(B, 2) each bin's simultaneous interval, clipped to [0, 1]."""
        half = self._z() * self.errors
        return np.clip(np.stack([self.shares - half, self.shares + half], axis=1), 0.0, 1.0)

    def _z(self) -> float:
        return float(stats.norm.ppf(1 - (1 - self.confidence) / (2 * len(self.shares))))


def _oldest_ages(trace: Any) -> np.ndarray:
    """(U - 1,) for updates 1..U-1: the oldest age among the computations in flight at the
    previous update (started before it, stopping after it), 0 where none is."""
    mask = trace.mask
    learners = np.concatenate(
        [trace.learner[mask], trace.cancelled_learner, trace.inflight_learner]
    ).astype(np.int64)
    starts = np.concatenate([trace.start[mask], trace.cancelled_start, trace.inflight_start])
    stops = np.concatenate(
        [trace.finish[mask], trace.cancelled_stop, np.full(len(trace.inflight_start), np.inf)]
    )
    at = np.asarray(trace.update_time[:-1], dtype=np.float64)
    oldest = np.zeros(at.shape)
    for learner in np.unique(learners):
        own = learners == learner
        order = np.argsort(starts[own], kind="stable")
        start, stop = starts[own][order], stops[own][order]
        last = np.searchsorted(start, at, side="left") - 1  # the latest start before `at`
        busy = (last >= 0) & (stop[np.maximum(last, 0)] > at)
        oldest = np.maximum(oldest, np.where(busy, at - start[np.maximum(last, 0)], 0.0))
    return oldest


def _bin_shares(fresh: np.ndarray, reads: np.ndarray) -> tuple[float, float]:
    """The ratio ``sum fresh / sum reads`` and its standard error (updates as clusters)."""
    total = reads.sum()
    share = fresh.sum() / total
    n = len(reads)
    spread = np.sum((fresh - share * reads) ** 2) * (n / (n - 1) if n > 1 else 0.0)
    return float(share), float(np.sqrt(spread) / total)


def p0_estimate(traces: Any, *, bins: int = 5, confidence: float = 0.999) -> P0Estimate:
    """Lemma 8's p0, the infimum over the past of the fresh-read probability, estimated.

    The smallest share over short windows of reads is biased low by its
    noise (exponential laws, P = 40: about 0.005 for the exact 1/P = 0.025). Here the past
    is summarised by the age of the oldest computation in flight when update j's model
    version came to be (the moment update j - 1 was applied); updates 1..U-1 of every
    trace are pooled, split into ``bins`` bins of equal counts of that age, and each bin's
    fresh-read probability is its share of fresh contributions: consistent for each bin's
    conditional probability as the traces grow. The smallest of them estimates the
    infimum (it goes down to it as bins narrow); laws whose hazard rises with age (new
    longer than used) have their infimum at old ages, falling hazards at young ones, the
    two end bins. For exponential laws every bin's probability is 1/P (memoryless).

    Args:
        traces: a Trace or a sequence of Traces of one variant, P and K.
        bins: the most bins, >= 1 (fewer where fewer than ``P0_BIN_UPDATES`` updates would
            fall in each, or where ages tie).
        confidence: the simultaneous coverage of the bins' intervals, in (0, 1).

    Returns:
        A :class:`P0Estimate`.

    Raises:
        PssimError: bad arguments, or no update after the first.

    Example:
        >>> from simulator import simulate
        >>> t = simulate("async", num_learners=4, law="exp:1", updates=2000, seed=0)
        >>> est = p0_estimate(t)
        >>> est.lower <= 0.25 <= est.upper
        True
    """
    from simulator.training._stack import as_trace_list

    items = as_trace_list(traces)
    ok = isinstance(bins, numbers.Integral) and not isinstance(bins, bool) and bins >= 1
    if not ok:
        raise PssimError(f"`bins` must be an integer >= 1; got {shown(bins)}", param="bins")
    is_number = isinstance(confidence, numbers.Real) and not isinstance(confidence, bool)
    if not (is_number and 0 < confidence < 1):
        raise PssimError(
            f"`confidence` must be a number in (0, 1); got {shown(confidence)}",
            param="confidence",
        )
    ages, fresh, reads = [], [], []
    for trace in items:
        real = trace.mask[1:]
        current = np.arange(1, trace.num_updates)[:, None]
        ages.append(_oldest_ages(trace))
        fresh.append(np.sum(real & (trace.version[1:] == current), axis=1))
        reads.append(np.sum(real, axis=1))
    age, fresh, reads = (np.concatenate(a) for a in (ages, fresh, reads))
    keep = reads > 0
    age, fresh, reads = age[keep], fresh[keep].astype(float), reads[keep].astype(float)
    if age.size == 0:
        raise PssimError(
            "`traces` must hold updates after the first to estimate p0; got none",
            param="traces",
        )
    count = int(max(1, min(bins, age.size // P0_BIN_UPDATES)))
    edges = np.unique(np.quantile(age, np.linspace(0, 1, count + 1))[1:-1])
    which = np.searchsorted(edges, age, side="right")  # bin b: edges[b-1] <= age < edges[b]
    used = np.unique(which)
    parts = [_bin_shares(fresh[which == b], reads[which == b]) for b in used]
    shares, errors = (np.array(x, dtype=np.float64) for x in zip(*parts, strict=True))
    est = P0Estimate(
        value=float(shares.min()),
        lower=math.nan,
        upper=math.nan,
        share=float(fresh.sum() / reads.sum()),
        ages=np.array([[age[which == b].min(), age[which == b].max()] for b in used]),
        shares=shares,
        errors=errors,
        updates=np.array([np.sum(which == b) for b in used], dtype=np.int64),
        reads=np.array([reads[which == b].sum() for b in used], dtype=np.int64),
        confidence=float(confidence),
    )
    limits = est.intervals()
    lower, upper = float(limits[:, 0].min()), float(limits[:, 1].min())
    return dataclasses.replace(est, lower=lower, upper=upper)
