"""Theory shown beside every simulation.

- runtime: order statistics, Lemmas 3-5, Theorems 1-2 of Dutta et al. 2018, each saying
  whether it is exact, a bound or asymptotic (:class:`Prediction`); with per-learner laws
  or speeds, the theory of independent non-identical learners (``heterogeneous``: renewal
  rates, K-th order statistics of non-identical laws,
  :func:`independent_order_statistic_mean`);
- error: Lemma 2, Theorems 3-5, eq. (13)'s guarantee, p0 and figure 7's error-vs-time
  curves (``error_bounds``, ``error_runtime``);
- mini-batch size and scaling: Perrone et al.'s inverse law and time model
  (``minibatch_size``), Zhou & Cong's K-step averaging (``kstep_averaging``), Bhardwaj &
  Cong's inefficiency bounds (``inefficiency``).

Every error or scaling evaluator returns a :class:`Bound` whose conditions say whether the
paper's assumptions hold for the given numbers.
"""

from simulator.theory._bound import Bound, Condition
from simulator.theory.error_bounds import (
    compensated_rate_bound,
    kasync_error_bound,
    ksync_error_bound,
    nonconvex_bound,
    step_size_limit,
)
from simulator.theory.error_runtime import (
    ErrorRuntimeCurve,
    error_runtime_curve,
    error_vs_time,
    p0_exponential,
    p0_lemma8,
    stale_can_win,
)
from simulator.theory.heterogeneous import independent_order_statistic_mean
from simulator.theory.inefficiency import (
    asgd_bound,
    asgd_optimal_step,
    batch_size_penalty,
    learner_penalty,
    sgd_bound,
    sgd_optimal_step,
)
from simulator.theory.kstep_averaging import (
    k_opt_condition,
    kavg_bound,
    kavg_k_objective,
    kavg_rate,
    kavg_vs_asgd,
    optimal_k,
)
from simulator.theory.methods import rennala_batch_bounds, ringmaster_upper_bound
from simulator.theory.minibatch_size import (
    InverseLawFit,
    batch_size_bound,
    diversity_from_gradients,
    fit_inverse_law,
    optimal_batch_size,
    optimal_time_to_converge,
    scaling_curve,
    time_to_converge,
    update_time,
)
from simulator.theory.optimal_time import (
    OptimalTimeCurve,
    harmonic_means,
    optimal_time_curve,
    optimal_time_strongly_convex,
    optimal_time_to_error,
)
from simulator.theory.runtime import (
    RELATIONS,
    Prediction,
    async_staleness,
    batch_speedup,
    expected_runtime,
    predictions,
    sync_async_speedup,
)

__all__ = [
    "RELATIONS",
    "Bound",
    "Condition",
    "ErrorRuntimeCurve",
    "InverseLawFit",
    "OptimalTimeCurve",
    "Prediction",
    "asgd_bound",
    "asgd_optimal_step",
    "async_staleness",
    "batch_size_bound",
    "batch_size_penalty",
    "batch_speedup",
    "compensated_rate_bound",
    "diversity_from_gradients",
    "error_runtime_curve",
    "error_vs_time",
    "expected_runtime",
    "fit_inverse_law",
    "harmonic_means",
    "independent_order_statistic_mean",
    "k_opt_condition",
    "kasync_error_bound",
    "kavg_bound",
    "kavg_k_objective",
    "kavg_rate",
    "kavg_vs_asgd",
    "ksync_error_bound",
    "learner_penalty",
    "nonconvex_bound",
    "optimal_batch_size",
    "optimal_k",
    "optimal_time_curve",
    "optimal_time_strongly_convex",
    "optimal_time_to_converge",
    "optimal_time_to_error",
    "p0_exponential",
    "p0_lemma8",
    "predictions",
    "rennala_batch_bounds",
    "ringmaster_upper_bound",
    "scaling_curve",
    "sgd_bound",
    "sgd_optimal_step",
    "stale_can_win",
    "step_size_limit",
    "sync_async_speedup",
    "time_to_converge",
    "update_time",
]
