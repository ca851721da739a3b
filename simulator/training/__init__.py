"""Training: the JAX replay of traces, the server update rules and F*.

This is the only package of the project that imports jax and optax.
"""

from simulator.training._rule_factory import make_rule
from simulator.training._rules_stale import DelayCompensatedRate, StalenessWeightedRate
from simulator.training.optimum import clear_optimum_cache, optimal_loss
from simulator.training.replayer import (
    ReplayResult,
    compile_count,
    minibatch_indices,
    replay,
    replay_keys,
)
from simulator.training.rules import (
    RULE_NAMES,
    CompensatedRate,
    DampedRate,
    FixedRate,
    OptaxRule,
    ServerRule,
)

__all__ = [
    "RULE_NAMES",
    "CompensatedRate",
    "DampedRate",
    "DelayCompensatedRate",
    "FixedRate",
    "OptaxRule",
    "ReplayResult",
    "ServerRule",
    "StalenessWeightedRate",
    "clear_optimum_cache",
    "compile_count",
    "make_rule",
    "minibatch_indices",
    "optimal_loss",
    "replay",
    "replay_keys",
]
