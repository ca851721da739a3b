"""Server update rules: how the parameter server turns one update's gradients into w_{j+1}.

Every rule sees, for update ``j``, the current model ``w_j``, the gradients of its ``Kmax``
contribution slots (masked slots are ignored and do not count in K), the model each slot read
(``w_tau(l, j)``, from the learner's stale copy) and each slot's staleness ``j - tau(l, j)``.

- :class:`FixedRate`: ``w_{j+1} = w_j - (eta / K) sum_l g_l`` (Dutta et al. 2018, eqs. 2-4).
- :class:`CompensatedRate`: per contribution ``eta_l = min(C / ||w_j - w_tau(l,j)||^2,
  eta_max)``, then ``w_{j+1} = w_j - (1/K) sum_l eta_l g_l`` (eq. 13).
- :class:`DampedRate`: ``eta_l = eta / (1 + staleness_l)``.
- :class:`OptaxRule`: any optax transformation applied to the mean gradient (momentum, Adam).
- ``DelayCompensatedRate`` (``dc-asgd``, Zheng et al. 2017) and ``StalenessWeightedRate``
  (``staleness-weight``, FedBuff), in :mod:`simulator.training._rules_stale`.

Rules are JAX pytrees whose numbers (learning rates, C) are leaves, so a learning-rate sweep
reuses one compiled replay; the optax transformation is static. Parameters are validated on
construction, outside jit.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, ClassVar, Protocol

import jax
import jax.numpy as jnp
import optax

from simulator._spec_checks import RULES
from simulator.errors import PssimError, PssimTypeError

__all__ = [
    "RULE_NAMES",
    "CompensatedRate",
    "DampedRate",
    "FixedRate",
    "OptaxRule",
    "ServerRule",
]

#: Rule names accepted by :func:`make_rule` (and the CLI's ``--lr-rule``).
RULE_NAMES = RULES

Params = Any


class ServerRule(Protocol):
    """What the replay needs from a server rule.

    Attributes:
        name: short label stored in results (``fixed``, ``compensated``, ...).
        masked_noop: optional; True when ``apply`` with every slot masked returns
            ``params`` unchanged bit for bit and the state unchanged (then the replay skips
            an update by masking it, which is cheaper than selecting the old model).
    """

    name: ClassVar[str]

    def init(self, params: Params) -> Any:
        """Returns the rule's state for initial parameters ``params`` (any pytree)."""

    def apply(
        self,
        state: Any,
        params: Params,
        grads: Params,
        reads: Params,
        mask: jax.Array,
        staleness: jax.Array,
    ) -> tuple[Params, Any]:
        """Returns ``(w_{j+1}, new_state)``; see :meth:`_RateRule.apply` for the arguments."""


def _check_rate(name: str, value: object) -> float:
    """Returns ``value`` as a float after checking it is a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        shown = repr(value)[:40] if isinstance(value, (str, type(None))) else type(value).__name__
        raise PssimTypeError(f"`{name}` must be a number > 0; got {shown}", param=name)
    try:
        value = float(value)
    except OverflowError:  # an int beyond the float range
        value = math.inf
    if not math.isfinite(value):
        raise PssimError(f"`{name}` must be finite; got {value}", param=name)
    if value <= 0:
        raise PssimError(f"`{name}` must be > 0; got {value}", param=name)
    return value


def _pytree_rule(data_fields: tuple[str, ...], meta_fields: tuple[str, ...] = ()):
    """Registers a frozen dataclass as a pytree; unflattening skips ``__post_init__``.

    JAX rebuilds pytrees with tracers (or placeholders) as leaves, which must not be
    validated again.
    """

    def register(cls):
        def flatten(rule):
            data = tuple(getattr(rule, f) for f in data_fields)
            return data, tuple(getattr(rule, f) for f in meta_fields)

        def unflatten(meta, data):
            rule = object.__new__(cls)
            for field, value in zip(data_fields + meta_fields, (*data, *meta), strict=True):
                object.__setattr__(rule, field, value)
            return rule

        jax.tree_util.register_pytree_node(cls, flatten, unflatten)
        return cls

    return register


def _count(mask: jax.Array) -> jax.Array:
    """K, the number of real contributions (at least 1 to keep padded rows finite)."""
    return jnp.maximum(jnp.sum(mask), 1)


def _masked(g: jax.Array, mask: jax.Array) -> jax.Array:
    """Zeros the masked slots of ``g`` (Kmax, ...), so NaN in a padded slot cannot leak."""
    return jnp.where(mask.reshape(mask.shape + (1,) * (g.ndim - 1)), g, 0)


def rate_step(params: Params, grads: Params, rates: jax.Array, mask: jax.Array) -> Params:
    """``w - (1/K) sum_l rates_l g_l`` over the real slots.

    Args:
        params: current model w_j (pytree).
        grads: gradients, the same pytree with a leading (Kmax,) axis.
        rates: (Kmax,) learning rate of each slot.
        mask: (Kmax,) bool, True for real contributions.

    Returns:
        The updated model, same pytree and dtypes as ``params``.
    """
    weights = jnp.where(mask, rates, 0) / _count(mask)

    def leaf(p, g):
        # An elementwise product summed over slots (not a dot) fuses with the update.
        wts = weights.astype(g.dtype).reshape(weights.shape + (1,) * (g.ndim - 1))
        return (p - jnp.sum(wts * _masked(g, mask), axis=0)).astype(p.dtype)

    return jax.tree_util.tree_map(leaf, params, grads)


def mean_gradient(grads: Params, mask: jax.Array) -> Params:
    """``(1/K) sum_l g_l`` over the real slots; ``grads`` has a leading (Kmax,) axis."""
    k = _count(mask)
    return jax.tree_util.tree_map(lambda g: jnp.sum(_masked(g, mask), axis=0) / k, grads)


def squared_distance(reads: Params, params: Params) -> jax.Array:
    """(Kmax,) ``||w_tau(l) - w_j||_2^2`` summed over all leaves."""
    per_leaf = jax.tree_util.tree_map(
        lambda r, p: jnp.sum(jnp.square(r - p[None]).reshape(r.shape[0], -1), axis=1),
        reads,
        params,
    )
    return sum(jax.tree_util.tree_leaves(per_leaf))


class _RateRule:
    """Shared ``init``/``apply`` of the rules defined by a per-slot rate (see ``rates``)."""

    #: ``apply`` with every slot masked returns ``params`` unchanged (bit for bit), so the
    #: replay can skip an update by masking it instead of selecting the old model.
    masked_noop: ClassVar[bool] = True

    def init(self, params: Params) -> tuple:
        """No state."""
        return ()

    def rates(
        self, params: Params, reads: Params, mask: jax.Array, staleness: jax.Array
    ) -> jax.Array:
        """(Kmax,) learning rate of each slot."""
        raise NotImplementedError

    def apply(
        self,
        state: Any,
        params: Params,
        grads: Params,
        reads: Params,
        mask: jax.Array,
        staleness: jax.Array,
    ) -> tuple[Params, Any]:
        """One server update: ``w_{j+1} = w_j - (1/K) sum_l rates_l g_l``.

        Args:
            state: the rule's state (from :meth:`init` or the previous update).
            params: w_j, the server's model (pytree).
            grads: (Kmax, ...) per-slot gradients, ``g(w_tau(l,j), xi_l)``.
            reads: (Kmax, ...) the model each slot read, ``w_tau(l,j)``.
            mask: (Kmax,) bool, True for real contributions.
            staleness: (Kmax,) int, ``j - tau(l,j)`` (0 for masked slots).

        Returns:
            ``(w_{j+1}, new_state)``.
        """
        return rate_step(params, grads, self.rates(params, reads, mask, staleness), mask), state


@_pytree_rule(("lr",))
@dataclasses.dataclass(frozen=True)
class FixedRate(_RateRule):
    """Fixed learning rate: ``w_{j+1} = w_j - (lr / K) sum_l g(w_tau(l,j), xi_l)``.

    Dutta et al. 2018 eq. (2) (sync, all tau = j), (3) (K-async) and (4) (K = 1). For
    ``k-avg`` it is the local SGD step size of Zhou & Cong, Algorithm 1.

    Attributes:
        lr: eta > 0.

    Example:
        >>> rule = FixedRate(0.01)
        >>> rule.name
        'fixed'
    """

    name: ClassVar[str] = "fixed"
    lr: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", _check_rate("lr", self.lr))

    def rates(
        self, params: Params, reads: Params, mask: jax.Array, staleness: jax.Array
    ) -> jax.Array:
        """(Kmax,) learning rate of each slot: ``lr`` everywhere."""
        return jnp.full(mask.shape, self.lr)


@_pytree_rule(("c", "lr_max"))
@dataclasses.dataclass(frozen=True)
class CompensatedRate(_RateRule):
    """Staleness-compensated rate, Dutta et al. 2018 eq. (13), applied per contribution.

    ``eta_l = min(C / ||w_j - w_tau(l,j)||_2^2, lr_max)`` (``lr_max`` when the two models
    are equal, e.g. a fresh gradient), ``w_{j+1} = w_j - (1/K) sum_l eta_l g_l``. The
    paper's figure 9 uses ``lr_max = 0.01`` and ``C = 0.005 lr_max``.

    Attributes:
        c: C > 0, of the order of the desired error floor.
        lr_max: eta_max > 0, the ceiling.

    Example:
        >>> CompensatedRate(c=5e-5, lr_max=0.01).name
        'compensated'
    """

    name: ClassVar[str] = "compensated"
    c: float
    lr_max: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "c", _check_rate("c", self.c))
        object.__setattr__(self, "lr_max", _check_rate("lr_max", self.lr_max))

    def rates(
        self, params: Params, reads: Params, mask: jax.Array, staleness: jax.Array
    ) -> jax.Array:
        """(Kmax,) ``min(C / ||w_j - w_tau(l,j)||^2, lr_max)``; ``lr_max`` at distance 0."""
        sq = squared_distance(reads, params)
        safe = jnp.where(sq > 0, sq, 1)
        return jnp.where(sq > 0, jnp.minimum(self.c / safe, self.lr_max), self.lr_max)


@_pytree_rule(("lr",))
@dataclasses.dataclass(frozen=True)
class DampedRate(_RateRule):
    """Staleness-damped rate: ``eta_l = lr / (1 + staleness_l)``, fresh gradients get ``lr``.

    Attributes:
        lr: eta > 0, the rate of a fresh gradient.

    Example:
        >>> DampedRate(0.1).name
        'damped'
    """

    name: ClassVar[str] = "damped"
    lr: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", _check_rate("lr", self.lr))

    def rates(
        self, params: Params, reads: Params, mask: jax.Array, staleness: jax.Array
    ) -> jax.Array:
        """(Kmax,) ``lr / (1 + staleness)``."""
        return self.lr / (1 + jnp.maximum(staleness, 0))


@_pytree_rule((), ("transform",))
@dataclasses.dataclass(frozen=True)
class OptaxRule:
    """Any optax transformation applied to the update's mean gradient.

    ``updates, state = transform.update((1/K) sum_l g_l, state, w_j)``;
    ``w_{j+1} = optax.apply_updates(w_j, updates)``. The optax state is carried through the
    replay's scan. ``OptaxRule(optax.sgd(lr))`` equals ``FixedRate(lr)``.

    Attributes:
        transform: an ``optax.GradientTransformation`` (e.g. ``optax.adam(1e-3)``).

    Example:
        >>> rule = OptaxRule(optax.sgd(0.01, momentum=0.9))
        >>> rule.name
        'optax'
    """

    name: ClassVar[str] = "optax"
    transform: optax.GradientTransformation

    def __post_init__(self) -> None:
        t = self.transform
        if not (callable(getattr(t, "init", None)) and callable(getattr(t, "update", None))):
            raise PssimError(
                f"`transform` must be an optax.GradientTransformation; got {type(t).__name__}"
            )

    def init(self, params: Params) -> Any:
        """The optax state for ``params``."""
        return self.transform.init(params)

    def apply(
        self,
        state: Any,
        params: Params,
        grads: Params,
        reads: Params,
        mask: jax.Array,
        staleness: jax.Array,
    ) -> tuple[Params, Any]:
        """One server update; arguments as :meth:`_RateRule.apply`."""
        updates, state = self.transform.update(mean_gradient(grads, mask), state, params)
        return optax.apply_updates(params, updates), state
