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
- at every evaluation point: ``||grad F(w)||^2`` on the diagnostic rows and the gradient
  diversity ``Delta(w) = sum_i ||grad f_i(w)||^2 / ||sum_i grad f_i(w)||^2`` on a fixed
  subset (per-example gradients by ``vmap``).

The fresh-read shares behind p0 (Lemma 8) depend on the schedule only and are computed on
the host from the scan's inputs (:func:`fresh_shares`).
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from simulator.errors import PssimError, shown
from simulator.results.history import DIAGNOSTIC_COLUMNS

__all__ = ["DIAGNOSTIC_NAMES", "Diagnostics", "fresh_shares", "running_ratio"]

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


@dataclasses.dataclass(frozen=True)
class Diagnostics:
    """Which rows the replay's diagnostics use (``replay(..., diagnostics=Diagnostics())``).

    Attributes:
        rows: the first ``rows`` rows of the evaluation set give the full gradients
            ``grad F`` (norms and the staleness gap); None: every evaluation row. Fewer rows
            cost less and add ``tr(Cov) / rows`` of sampling noise to ``||grad F||^2``.
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


def evaluation_diagnostics(loss, w: Any, ddata: tuple, dtype) -> dict:
    """``grad_norm2`` and ``diversity`` of the model ``w`` (scalars, ``dtype``)."""
    x_grad, y_grad, x_div, y_div = ddata
    full = jax.grad(loss)(w, (x_grad, y_grad))
    per_example = jax.vmap(jax.grad(loss), in_axes=(None, 0))(w, (x_div[:, None], y_div[:, None]))
    total = jax.tree_util.tree_map(lambda g: jnp.sum(g, axis=0), per_example)
    diversity = jnp.sum(_sq_norm_rows(per_example)) / _sq_norm(total)
    return {
        "grad_norm2": jnp.asarray(_sq_norm(full), dtype),
        "diversity": jnp.asarray(diversity, dtype),
    }


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


#: Contributions a window needs before its fresh share counts towards the p0 estimate
#: (consecutive evaluation windows are merged up to it): the share's standard error is then
#: at most 0.5 / sqrt(200) = 0.035.
P0_MIN_READS = 200


def fresh_shares(rows: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per evaluation window, the share of fresh reads and p0 (Lemma 8), estimated.

    Args:
        rows: the scan inputs (``_stack.Stacked.rows``), each (S, C, nb, b, ...).

    Returns:
        ``(fresh_share, fresh_updates, p0)``: the first two (S, C + 1) float (NaN at the
        initial point and in windows without updates), the share of the window's
        contributions with staleness 0 and the share of its updates whose contributions are
        all fresh; ``p0`` (S,), the smallest fresh share over runs of consecutive windows
        holding at least :data:`P0_MIN_READS` contributions each (all of them when fewer).
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
    p0 = np.array([_lowest_share(f, n) for f, n in zip(fresh, slots, strict=True)])
    return np.concatenate([pad, share], axis=1), np.concatenate([pad, whole], axis=1), p0


def _lowest_share(fresh: np.ndarray, slots: np.ndarray) -> float:
    """Smallest fresh share over consecutive windows merged to >= P0_MIN_READS reads."""
    runs: list[list[int]] = []  # [fresh, reads] of each merged run
    got, total = 0, 0
    for f, n in zip(fresh.tolist(), slots.tolist(), strict=True):
        got, total = got + f, total + n
        if total >= P0_MIN_READS:
            runs.append([got, total])
            got, total = 0, 0
    if total and runs:  # a short tail joins the last run
        runs[-1][0] += got
        runs[-1][1] += total
    elif total:
        runs.append([got, total])
    return min(f / n for f, n in runs) if runs else float("nan")


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
