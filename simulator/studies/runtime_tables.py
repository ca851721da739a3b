"""Replicated timing runs as tidy tables, one row per seed, for figures 5 and 6.

The figures of :mod:`simulator.plots.runtime` draw these tables and never simulate, so a
table saved to CSV or Parquet and loaded again redraws the same figure. Every row carries
its configuration (law, P, J, seed) and the theory beside the simulated value.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from tqdm.auto import tqdm

from distributions import law_from
from simulator._checks import check_count, resolve_variant
from simulator.errors import PssimError
from simulator.results.stats import seed_list
from simulator.spec import ExperimentSpec
from simulator.studies._common import bar_disabled
from simulator.theory.runtime import expected_runtime, sync_async_speedup
from simulator.timing.engine import simulate_spec

__all__ = [
    "FIGURE5_LAWS",
    "FIGURE6_VARIANTS",
    "RUNTIME_VS_K_COLUMNS",
    "SPEEDUP_COLUMNS",
    "runtime_vs_k_table",
    "speedup_table",
]

#: The compute-time laws of Dutta et al.'s figure 5.
FIGURE5_LAWS = ("exp:1", "shifted-exp:1,1", "pareto:2,1")
#: The variants of Dutta et al.'s figure 6.
FIGURE6_VARIANTS = ("k-sync", "k-async", "k-batch-async")

#: Columns of :func:`speedup_table`, in order.
SPEEDUP_COLUMNS = (
    "law",
    "num_learners",
    "updates",
    "seed",
    "t_sync",
    "t_async",
    "speedup",
    "theory",
    "relation",
    "source",
)
#: Columns of :func:`runtime_vs_k_table`, in order.
RUNTIME_VS_K_COLUMNS = (
    "law",
    "num_learners",
    "updates",
    "variant",
    "k",
    "seed",
    "time",
    "theory",
    "relation",
    "source",
)


def _nonempty(name: str, values) -> list:
    """``values`` as a list, refusing a bare string or an empty sequence."""
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise PssimError(f"`{name}` must be a non-empty sequence; got {values!r}", param=name)
    if len(values) == 0:
        raise PssimError(f"`{name}` must be a non-empty sequence; got {values!r}", param=name)
    return list(values)


def _frame(rows: list[dict], columns: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    frame["theory"] = frame["theory"].astype("float64")
    return frame


def speedup_table(
    laws: Sequence,
    learners: Sequence[int],
    *,
    updates: int,
    seeds: int,
    seed: int = 0,
    progress: bool = False,
) -> pd.DataFrame:
    """Sync and async runtimes on paired seeds, beside Theorem 1 (figure 5).

    For each law, each P in ``learners`` and each seed ``seed, ..., seed + seeds - 1``,
    fully synchronous (K = P) and fully asynchronous (K = 1) SGD are simulated for
    ``updates`` server updates on the same seed, so both consume the same compute times.

    Args:
        laws: compute-time laws (spec strings such as ``"exp:1"``, law objects or frozen
            scipy.stats laws).
        learners: the values of P (each >= 1).
        updates: J >= 1, server updates per run.
        seeds: number of replications (>= 1).
        seed: the first seed.
        progress: show a progress bar over the runs.

    Returns:
        A DataFrame of ``len(laws) * len(learners) * seeds`` rows with columns
        :data:`SPEEDUP_COLUMNS`: ``law`` (the law's spec string), ``num_learners`` (P),
        ``updates`` (J), ``seed``, ``t_sync`` and ``t_async`` (time of the J-th update,
        simulated time units), ``speedup`` (``t_sync / t_async``, no unit), ``theory``
        (Theorem 1's E[T_sync] / E[T_async] = P E[X_{P:P}] / E[X]; NaN where none),
        ``relation`` (``exact`` or ``asymptotic``) and ``source``.

    Example:
        >>> table = speedup_table(["exp:1"], [1, 4], updates=50, seeds=2)
        >>> table.shape
        (4, 10)
    """
    laws = [law_from(law) for law in _nonempty("laws", laws)]
    learners = [check_count("learners", p) for p in _nonempty("learners", learners)]
    updates = check_count("updates", updates)
    seeds_ = seed_list(seeds, seed)
    rows = []
    total = len(laws) * len(learners) * len(seeds_)
    with tqdm(
        total=total, disable=bar_disabled(progress), delay=1.0, desc="speedup", unit="run"
    ) as bar:
        for law in laws:
            for p in learners:
                theory = sync_async_speedup(law, p)
                specs = {
                    v: ExperimentSpec(variant=v, num_learners=p, law=law, updates=updates)
                    for v in ("sync", "async")
                }
                for s in seeds_:
                    times = {v: simulate_spec(spec, s).end_time for v, spec in specs.items()}
                    rows.append(
                        {
                            "law": law.spec,
                            "num_learners": p,
                            "updates": updates,
                            "seed": s,
                            "t_sync": times["sync"],
                            "t_async": times["async"],
                            "speedup": times["sync"] / times["async"],
                            "theory": theory.mean,
                            "relation": theory.relation,
                            "source": theory.source,
                        }
                    )
                    bar.update()
    return _frame(rows, SPEEDUP_COLUMNS)


def runtime_vs_k_table(
    law,
    *,
    num_learners: int,
    ks: Sequence[int] | None = None,
    variants: Sequence[str] = FIGURE6_VARIANTS,
    updates: int,
    seeds: int,
    seed: int = 0,
    progress: bool = False,
) -> pd.DataFrame:
    """Runtime of J updates for several variants and values of K, beside theory (figure 6).

    Every (variant, K) pair runs on the same seeds ``seed, ..., seed + seeds - 1``, so the
    comparisons are paired (common random numbers). All pairs are checked before any run.

    Args:
        law: compute-time law (spec string, law object or frozen scipy.stats law).
        num_learners: P >= 1.
        ks: values of K; ``None`` means 1, ..., P.
        variants: variant names (``k-sync``, ``k-async``, ``k-batch-async``, ...).
        updates: J >= 1, server updates per run.
        seeds: number of replications (>= 1).
        seed: the first seed.
        progress: show a progress bar over the runs.

    Returns:
        A DataFrame of ``len(variants) * len(ks) * seeds`` rows with columns
        :data:`RUNTIME_VS_K_COLUMNS`: ``law`` (spec string), ``num_learners`` (P),
        ``updates`` (J), ``variant`` (as given), ``k`` (resolved K), ``seed``, ``time``
        (time of the J-th update, simulated time units), ``theory`` (expected time from
        :func:`~simulator.theory.runtime.expected_runtime`, NaN where none exists),
        ``relation`` (``exact``, ``upper-bound``, ``lower-bound``, ``asymptotic`` or
        ``none``) and ``source``.

    Example:
        >>> table = runtime_vs_k_table("exp:1", num_learners=2, variants=["k-sync"],
        ...                            updates=20, seeds=3)
        >>> sorted(table["k"].unique())
        [1, 2]
    """
    law = law_from(law)
    p = check_count("num_learners", num_learners)
    ks = list(range(1, p + 1)) if ks is None else _nonempty("ks", ks)
    variants = _nonempty("variants", variants)
    updates = check_count("updates", updates)
    seeds_ = seed_list(seeds, seed)
    configs = [(variant, *resolve_variant(variant, p, k)) for variant in variants for k in ks]
    rows = []
    total = len(configs) * len(seeds_)
    with tqdm(
        total=total, disable=bar_disabled(progress), delay=1.0, desc="runtime vs K", unit="run"
    ) as bar:
        for variant, canonical, k in configs:
            theory = expected_runtime(canonical, num_learners=p, k=k, law=law, updates=updates)
            spec = ExperimentSpec(variant=canonical, num_learners=p, k=k, law=law, updates=updates)
            for s in seeds_:
                trace = simulate_spec(spec, s)
                rows.append(
                    {
                        "law": law.spec,
                        "num_learners": p,
                        "updates": updates,
                        "variant": variant,
                        "k": k,
                        "seed": s,
                        "time": trace.end_time,
                        "theory": theory.mean,
                        "relation": theory.relation,
                        "source": theory.source,
                    }
                )
                bar.update()
    return _frame(rows, RUNTIME_VS_K_COLUMNS)
