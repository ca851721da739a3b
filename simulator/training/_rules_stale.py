"""Server rules for stale gradients from the asynchronous-optimisation literature.

- :class:`DelayCompensatedRate` (``dc-asgd``): each gradient corrected by a first-order
  Taylor term with the Hessian approximated by ``lambda * diag(g * g)`` (Zheng et al.
  2017, DC-ASGD with a constant lambda), then averaged like :class:`FixedRate`.
- :class:`StalenessWeightedRate` (``staleness-weight``): each gradient scaled by
  ``1 / sqrt(1 + staleness)`` before the average over the K contributions (the staleness
  scaling of FedBuff, Nguyen et al. 2022).

Both see update ``j`` as the other rules do (see :mod:`simulator.training.rules`): the
current model ``w_j``, the (Kmax, ...) slot gradients ``g_l = g(w_tau(l), xi_l)``, the
model each slot read ``w_tau(l)``, the mask and the staleness ``j - tau(l)``. Both are
pytrees whose numbers are leaves, and both leave the model bit for bit unchanged when
every slot is masked.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from simulator._spec_methods import DEFAULT_DC_LAMBDA
from simulator.errors import PssimError, PssimTypeError
from simulator.training.rules import _check_rate, _pytree_rule, _RateRule, rate_step

__all__ = ["DelayCompensatedRate", "StalenessWeightedRate"]

Params = Any


def _check_lambda(name: str, value: object) -> float:
    """Returns ``value`` as a float after checking it is a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        shown = repr(value)[:40] if isinstance(value, (str, type(None))) else type(value).__name__
        raise PssimTypeError(f"`{name}` must be a number >= 0; got {shown}", param=name)
    try:
        value = float(value)
    except OverflowError:  # an int beyond the float range
        value = math.inf
    if not math.isfinite(value) or value < 0:
        raise PssimError(f"`{name}` must be a finite number >= 0; got {value}", param=name)
    return value


def compensated_gradients(
    params: Params, grads: Params, reads: Params, dc_lambda: jax.Array
) -> Params:
    """(Kmax, ...) ``g_l + lambda * g_l * g_l * (w_j - w_tau(l))``, elementwise on every leaf.

    Args:
        params: w_j (pytree).
        grads: (Kmax, ...) slot gradients, same pytree with a leading axis.
        reads: (Kmax, ...) the model each slot read.
        dc_lambda: lambda >= 0 (a scalar; cast to each leaf's dtype).
    """

    def leaf(p, g, r):
        lam = jnp.asarray(dc_lambda).astype(g.dtype)
        return g + lam * g * g * (p[None] - r).astype(g.dtype)

    return jax.tree_util.tree_map(leaf, params, grads, reads)


@_pytree_rule(("lr", "dc_lambda"))
@dataclasses.dataclass(frozen=True)
class DelayCompensatedRate(_RateRule):
    """Delay-compensated ASGD (Zheng et al. 2017, ICML, the constant-lambda DC-ASGD-c).

    The paper's server update (its Algorithm 2; the official code computes the same) is
    ``w_{t+tau+1} = w_{t+tau} - eta (g(w_t) + lambda g(w_t) * g(w_t) * (w_{t+tau} - w_t))``
    with ``*`` elementwise and ``w_t`` the backup of the model the worker read. With K
    contributions per update (K-async, K-batch-async) each is corrected against the model
    it read and the corrected gradients are averaged:
    ``w_{j+1} = w_j - (lr / K) sum_l (g_l + lambda g_l * g_l * (w_j - w_tau(l)))``.
    A fresh gradient (``w_tau(l) = w_j``) is left as it is, and ``dc_lambda = 0`` gives
    :class:`FixedRate`.

    Attributes:
        lr: eta > 0.
        dc_lambda: lambda >= 0, the paper's variance-control parameter; 0.04 by default
            (the common default of the constant variant, e.g. MXNet's ``DCASGD``).

    Example:
        >>> DelayCompensatedRate(0.1).dc_lambda
        0.04
    """

    name: ClassVar[str] = "dc-asgd"
    lr: float
    dc_lambda: float = DEFAULT_DC_LAMBDA

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", _check_rate("lr", self.lr))
        object.__setattr__(self, "dc_lambda", _check_lambda("dc_lambda", self.dc_lambda))

    def rates(
        self, params: Params, reads: Params, mask: jax.Array, staleness: jax.Array
    ) -> jax.Array:
        """(Kmax,) learning rate of each slot: ``lr`` (the correction changes the gradient)."""
        return jnp.full(mask.shape, self.lr)

    def apply(
        self,
        state: Any,
        params: Params,
        grads: Params,
        reads: Params,
        mask: jax.Array,
        staleness: jax.Array,
    ) -> tuple[Params, Any]:
        """One server update; arguments as :meth:`_RateRule.apply`.

        The masked slots' corrected gradients are zeroed before the sum, so a non-finite
        padded slot (or read) cannot leak into the model.
        """
        corrected = compensated_gradients(params, grads, reads, self.dc_lambda)
        rates = self.rates(params, reads, mask, staleness)
        return rate_step(params, corrected, rates, mask), state


@_pytree_rule(("lr",))
@dataclasses.dataclass(frozen=True)
class StalenessWeightedRate(_RateRule):
    """FedBuff's staleness scaling: ``w_{j+1} = w_j - (lr / K) sum_l s(tau_l) g_l``.

    ``s(tau) = 1 / sqrt(1 + tau)`` with ``tau`` the update's staleness (server updates
    between the read and this update), so a fresh gradient has weight 1. The weighted sum is
    divided by K, the number of real contributions, not by ``sum_l s(tau_l)``: FedBuff
    scales each client update as it enters the buffer and the server step is the buffer's
    sum times a fixed server rate (the authors' FLSim library reduces the buffer with a
    weighted *sum*), so stale updates shorten the step instead of only re-weighting it.
    On a K-batch-async trace this is FedBuff with buffer size K, one local step (Q = 1)
    and ``lr`` = the server rate times the client rate.

    Attributes:
        lr: eta > 0, the rate of a fresh gradient.

    Example:
        >>> StalenessWeightedRate(0.1).name
        'staleness-weight'
    """

    name: ClassVar[str] = "staleness-weight"
    lr: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", _check_rate("lr", self.lr))

    def rates(
        self, params: Params, reads: Params, mask: jax.Array, staleness: jax.Array
    ) -> jax.Array:
        """(Kmax,) ``lr / sqrt(1 + staleness)``."""
        return self.lr / jnp.sqrt(1.0 + jnp.maximum(staleness, 0))
