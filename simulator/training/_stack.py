"""Host-side preparation of the replay: traces stacked into padded per-update arrays.

The arrays built here are the scan's inputs: one row per server update, replicate seeds
stacked on a leading axis, each evaluation chunk of updates split into blocks (whose
mini-batch indices are drawn at once) and padded with inactive rows.
Stale reads are resolved into per-learner copy indices (``_replay_copies``, the sparse form
of :meth:`Trace.copy_schedule`), so the replay never keeps more than ``P * depth`` old models.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np

from simulator._checks import VARIANTS
from simulator.errors import PssimError, PssimTypeError
from simulator.trace import Trace
from simulator.training._copies import CopyPlan, copy_plan, rebase, snapshot_table

#: Largest number of mini-batch indices drawn at once (one block of updates).
INDEX_BUDGET = 1 << 14

#: Variants a trace may have (every engine variant: an ``all-reduce`` trace, every
#: learner's fresh gradient per update, replays as K-sync with K = P; a ``rennala`` or
#: ``ringmaster`` trace holds the contributions the server kept, as any other).
_VARIANTS = VARIANTS


@dataclasses.dataclass(frozen=True)
class Stacked:
    """Scan inputs of S traces, U updates padded to C chunks of E rows.

    Attributes:
        rows: dict of int32/bool arrays, each (S, C, nb, b, ...), chunk c holding updates
            [cE, cE + E) in nb blocks of b rows, then inactive padding: ``j`` update index,
            ``active`` real update, ``mask`` (.., Kmax) real slot, ``copy`` (.., Kmax) flat
            copy index a stale slot reads (-1: current model), ``snap`` (.., W) copy indices
            set to this update's model (``num_copies``, a scratch row, where unused),
            ``stale`` (.., Kmax) staleness (0 for masked slots).
        num_copies: P * depth, the number of stale-model copies (0 when nothing is stale).
            All copies start as w_0, so version 0 needs no snapshot.
        eval_update: (C + 1,) number of applied updates at each evaluation point.
        eval_time: (S, C + 1) simulated time of each evaluation point.
        seeds: (S,) the traces' seeds.
    """

    rows: dict[str, np.ndarray]
    num_copies: int
    eval_update: np.ndarray
    eval_time: np.ndarray
    seeds: np.ndarray


def as_trace_list(traces: Trace | Sequence[Trace]) -> list[Trace]:
    """Checks that ``traces`` is one trace or a non-empty sequence of compatible traces."""
    what = "`traces` must be a Trace or a non-empty sequence of Traces"
    if isinstance(traces, Trace):
        items = [traces]
    elif isinstance(traces, (str, bytes)) or not isinstance(traces, Iterable):
        raise PssimTypeError(f"{what}; got {type(traces).__name__}", param="traces")
    else:
        items = list(traces)
    if not items:
        raise PssimError(f"{what}; got an empty sequence", param="traces")
    for t in items:
        if not isinstance(t, Trace):
            raise PssimTypeError(f"{what}; got a {type(t).__name__} in it", param="traces")
    first = items[0]
    if first.variant not in _VARIANTS:
        raise PssimError(
            f"`Trace.variant` must be one of {', '.join(_VARIANTS)}; got {first.variant!r}"
        )
    for t in items[1:]:
        for attr in ("variant", "num_learners", "k", "local_steps", "num_updates"):
            if getattr(t, attr) != getattr(first, attr):
                raise PssimError(
                    f"`traces` must share `{attr}` to be replayed together; got "
                    f"{getattr(first, attr)!r} and {getattr(t, attr)!r}"
                )
    if first.variant == "k-avg":
        for t in items:
            if np.any(t.staleness()[t.mask] != 0):
                raise PssimError("`k-avg` traces must read the current model in every slot")
    return items


def _rows_of(trace: Trace, plan: CopyPlan, kmax: int, depth: int, width: int) -> dict:
    """Per-update arrays of one trace: slots padded to ``kmax``, copies re-based on ``depth``."""
    u, k = trace.mask.shape
    num_copies = trace.num_learners * depth
    rows = {
        "mask": np.zeros((u, kmax), dtype=bool),
        "copy": np.full((u, kmax), -1, dtype=np.int32),
        "stale": np.zeros((u, kmax), dtype=np.int32),
        "active": np.ones(u, dtype=bool),
        "j": np.arange(u, dtype=np.int32),
    }
    rows["mask"][:, :k] = trace.mask
    rows["stale"][:, :k] = np.where(trace.mask, trace.staleness(), 0)
    if depth:
        rows["copy"][:, :k] = rebase(plan.copy_index, plan.depth, depth)
        rows["snap"] = snapshot_table(plan, u, depth, width, num_copies).astype(np.int32)
    else:
        rows["snap"] = np.zeros((u, 1), dtype=np.int32)
    return rows


def plan_blocks(eval_every: int, indices_per_update: int, budget: int = INDEX_BUDGET):
    """Splits an evaluation chunk of E updates into ``nb`` blocks of ``b`` rows.

    A block's mini-batch indices are drawn at once (one vectorised ``jax.random`` call), so
    ``b * indices_per_update`` stays within ``budget``; ``nb * b - E < nb`` rows are padding.

    Returns:
        ``(nb, b)``.
    """
    bmax = max(1, budget // max(1, indices_per_update))
    nb = -(-eval_every // bmax)
    return nb, -(-eval_every // nb)


def _regroup(
    rows: dict,
    u: int,
    chunks: int,
    eval_every: int,
    nb: int,
    b: int,
    scratch: int,
    pad_first: bool = False,
):
    """(U, ...) rows to (C, nb, b, ...): chunk c holds updates [cE, cE + E), then padding
    (padding first with ``pad_first``, so a chunk's last row is its last update)."""
    pos = np.arange(nb * b)[None, :]
    first = np.arange(chunks)[:, None] * eval_every
    if pad_first:
        pos = pos - (nb * b - np.minimum(eval_every, u - first))
    src = first + pos
    real = (pos >= 0) & (pos < eval_every) & (src < u)
    src = np.where(real, src, 0)
    fill = {"mask": False, "copy": -1, "stale": 0, "snap": scratch, "active": False, "j": 0}
    out = {}
    for name, arr in rows.items():
        taken = arr[src] if u else np.zeros(src.shape + arr.shape[1:], arr.dtype)
        keep = real.reshape(real.shape + (1,) * (arr.ndim - 1))
        out[name] = np.where(keep, taken, fill[name]).reshape(chunks, nb, b, *arr.shape[1:])
    return out


def stack_traces(
    traces: list[Trace], eval_every: int, batch_size: int, pad_first: bool = False
) -> Stacked:
    """Builds the scan inputs of compatible traces (see :func:`as_trace_list`).

    Args:
        traces: S traces with the same variant, P, K and number of updates U.
        eval_every: E >= 1, updates between evaluations.
        batch_size: m, to size the blocks of pre-drawn mini-batch indices.
        pad_first: put each chunk's padding before its updates (the diagnostics probe a
            chunk's last row, which must then be a real update).

    Returns:
        The padded arrays; evaluation points are after 0, E, 2E, ... updates and after U.
    """
    u = traces[0].num_updates
    kmax = max(t.max_k for t in traces)
    plans = [copy_plan(t) for t in traces]
    stale_any = any(p.any_stale for p in plans)
    depth = max(p.depth for p in plans) if stale_any else 0
    width = max(p.width for p in plans) if stale_any else 1
    num_copies = traces[0].num_learners * depth
    chunks = -(-u // eval_every)
    nb, b = plan_blocks(eval_every, kmax * batch_size * traces[0].local_steps)
    per_seed = [
        _regroup(
            _rows_of(t, plan, kmax, depth, width),
            u,
            chunks,
            eval_every,
            nb,
            b,
            num_copies,
            pad_first,
        )
        for t, plan in zip(traces, plans, strict=True)
    ]
    stacked = {}
    for name, arr in per_seed[0].items():
        dtype = np.bool_ if arr.dtype == np.bool_ else np.int32
        stacked[name] = np.stack([r[name] for r in per_seed]).astype(dtype)
    eval_update = np.minimum(np.arange(chunks + 1) * eval_every, u).astype(np.int64)
    eval_time = np.zeros((len(traces), chunks + 1))
    if chunks:
        times = np.stack([t.update_time for t in traces])
        eval_time[:, 1:] = times[:, eval_update[1:] - 1]
    seeds = np.asarray([t.seed for t in traces], dtype=np.int64)
    return Stacked(stacked, num_copies, eval_update, eval_time, seeds)
