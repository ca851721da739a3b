"""Learning-rate schedules of a replay, built with optax.

A spec's ``lr_schedule`` (see :mod:`simulator._spec_rates`) gives update j's rate as
``lr * f(j)``. The replay applies it exactly, for every rule, by scaling the rule's rate
field for update j (:func:`at_rate`): ``lr`` of the fixed, damped, dc-asgd and
staleness-weight rules, ``lr_max`` (eta_max) of the compensated rule, whose
``min(C / ||w_j - w_tau||^2, eta_max * f(j))`` then clips at the scheduled ceiling while C
stays as it is; for ``k-avg`` every local step of round j uses ``lr * f(j)``. A rule's other
constants (C, lambda) are not scheduled. (Stepping ``w_j + f(j) (rule(w_j) - w_j)`` instead
would agree for the rules linear in their rate but scale the compensated rule's C as well.)
An optax rule has no rate field: a schedule is refused for it (give its transformation an
optax schedule instead).

f is an optax schedule of initial value 1 evaluated at j = 0, ..., J - 1, where J is the
number of updates of the replayed traces (under a time budget, the updates the run
completes by T, so a cosine ends with the run it has):

- ``step:FACTOR,EVERY``: ``optax.exponential_decay(1, EVERY, FACTOR, staircase=True)``;
- ``cosine:ALPHA``: ``optax.cosine_decay_schedule(1, J, ALPHA)``;
- ``warmup:N``: ``optax.linear_schedule(0, 1, N)`` (f(0) = 0: the first update is a no-op;
  a warm-up of N >= J updates rises over the whole run);
- ``warmup:N+S``: ``optax.join_schedules`` of the warm-up and S from update N (a cosine
  then over the J - N updates left, at least one).
"""

from __future__ import annotations

import copy
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from simulator._spec_rates import Schedule, parse_schedule
from simulator.errors import PssimError

__all__ = ["RATE_FIELDS", "at_rate", "check_scheduled_rule", "lr_factors", "schedule_of"]

#: The field holding a rule's learning rate (the first one it has), scaled by f(j).
RATE_FIELDS = ("lr", "lr_max")


def schedule_of(schedule: str | Schedule, updates: int) -> optax.Schedule:
    """The optax schedule f(j) of ``schedule`` for a run of ``updates`` J updates.

    Example:
        >>> round(float(schedule_of("cosine", 100)(50)), 6)
        0.5
    """
    s = parse_schedule(schedule) if isinstance(schedule, str) else schedule
    after_warmup = max(updates - s.warmup, 1)
    if s.kind == "step":
        main = optax.exponential_decay(1.0, s.every, s.factor, staircase=True)
    elif s.kind == "cosine":
        main = optax.cosine_decay_schedule(1.0, after_warmup, alpha=s.alpha)
    else:
        main = optax.constant_schedule(1.0)
    if not s.warmup:
        return main
    warmup = optax.linear_schedule(0.0, 1.0, s.warmup)
    if s.kind == "constant":
        return warmup
    return optax.join_schedules([warmup, main], [s.warmup])


def lr_factors(schedule: str, j: np.ndarray, updates: int, dtype: str) -> np.ndarray:
    """f(j) of every entry of ``j`` (update indices, any shape) as a ``dtype`` array,
    computed in float64 whatever ``dtype`` (then rounded once)."""
    with jax.enable_x64(True):
        values = schedule_of(schedule, updates)(jnp.asarray(j, dtype=jnp.int64))
        return np.asarray(values, dtype=np.dtype(dtype))


def _rate_field(rule: Any) -> str | None:
    return next((f for f in RATE_FIELDS if hasattr(rule, f)), None)


def check_scheduled_rule(rule: Any) -> None:
    """Refuse a schedule for a rule without a learning-rate field (an optax rule: give the
    optax transformation its own schedule)."""
    if _rate_field(rule) is None:
        name = getattr(rule, "name", type(rule).__name__)
        raise PssimError(
            f"`lr_schedule` needs a rule with a learning rate (a field {' or '.join(RATE_FIELDS)}"
            f"); got rule {name!r} (for an optax rule, schedule its transformation instead)",
            param="lr_schedule",
        )


def at_rate(rule: Any, factor: Any) -> Any:
    """``rule`` with its rate field multiplied by ``factor`` (traceable: no validation)."""
    field = _rate_field(rule)
    scaled = copy.copy(rule)
    object.__setattr__(scaled, field, getattr(rule, field) * factor)
    return scaled
