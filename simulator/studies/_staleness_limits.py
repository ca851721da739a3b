"""Ringmaster's ``"auto"`` staleness limit resolved where a model is trained: the R of
the paper from the problem constants (see :mod:`simulator._staleness_auto`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from simulator._staleness_auto import is_auto, resolved_limit

__all__ = ["resolve_staleness_limits"]


def resolve_staleness_limits(
    specs: Sequence[Any], model: Any, dataset: Any, *, constants: Any = None
) -> list[Any]:
    """Each spec whose ``staleness_limit`` is ``"auto"``/``"auto:EPS"`` with the R of the
    paper for ``model`` on ``dataset``; the others as they are.

    Args:
        specs: validated ExperimentSpecs (their ``batch_size`` is m).
        model, dataset: the training problem (see
            :func:`~simulator.training.constants.problem_constants`).
        constants: its ProblemConstants when known; otherwise computed once, at the w0 of
            the first auto spec's base seed, and only if some spec asks.

    Returns:
        A list of specs, the resolved ones with an int ``staleness_limit``.

    Example:
        >>> resolve_staleness_limits([spec], model, dataset)[0].staleness_limit  # doctest: +SKIP
        7
    """
    out = []
    for spec in specs:
        if is_auto(spec.staleness_limit):
            if constants is None:
                from simulator.training.constants import problem_constants
                from simulator.training.replayer import replay_keys

                constants = problem_constants(model, dataset, key=replay_keys(spec.seed)[0])
            spec = spec.replace(staleness_limit=resolved_limit(spec, constants))
        out.append(spec)
    return out
