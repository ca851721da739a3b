"""Divergence beyond NaN, seeds independent of their group, and data that must fit."""

from __future__ import annotations

import numpy as np
import pytest
from replay_cases import class_data, least_squares, regression_data, softmax

from simulator import FixedRate, PssimError, replay, simulate
from simulator.training._scan import resolve_seeds_mode


def _traces(seeds, variant="async", p=4, updates=120, k=None):
    return [
        simulate(variant, num_learners=p, k=k, law="exp:1", updates=updates, seed=s) for s in seeds
    ]


@pytest.mark.parametrize(("variant", "k"), [("async", None), ("k-batch-async", 2)])
def test_a_seed_replays_bit_identically_alone_or_in_a_group(variant, k):
    from models import build_model, load_dataset

    data = load_dataset("digits")
    model = build_model("softmax", data, l2=0.01)
    group = _traces(range(6), variant, p=8, updates=400, k=k)
    kw = dict(batch_size=1, rule=FixedRate(0.05), eval_every=20, f_star=None)
    together = replay(group, model, data, **kw)
    alone = replay(group[3], model, data, **kw)
    pair = replay([group[5], group[3]], model, data, **kw)
    assert np.array_equal(together.loss[3], alone.loss[0])
    assert np.array_equal(together.loss[3], pair.loss[1])
    assert np.array_equal(together.accuracy[3], alone.accuracy[0])


@pytest.mark.parametrize(("variant", "k"), [("async", None), ("k-sync", 4), ("k-batch-async", 2)])
def test_vmapped_seeds_match_sequential_ones(variant, k):
    """``seeds_mode="vmap"`` replays the same seeds as ``"sequential"``: the same divergence
    and, on CPU, loss curves equal up to the last bits (batched kernels add in another
    order: the default MNIST-softmax replay differs by at most 2.4e-7), so only closeness
    is asserted; ``"auto"`` is the mode the backend favours, bit for bit."""
    from models import build_model, load_dataset

    data = load_dataset("digits")
    model = build_model("softmax", data, l2=0.01)
    group = _traces(range(3), variant, p=8, updates=300, k=k)
    kw = dict(batch_size=1, rule=FixedRate(0.05), eval_every=30, f_star=None)
    seq = replay(group, model, data, seeds_mode="sequential", **kw)
    vec = replay(group, model, data, seeds_mode="vmap", **kw)
    np.testing.assert_allclose(vec.loss, seq.loss, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(vec.accuracy, seq.accuracy, atol=2 / data.x_eval.shape[0])
    np.testing.assert_array_equal(vec.diverged_at, seq.diverged_at)
    auto = replay(group, model, data, seeds_mode="auto", **kw)
    picked = {"sequential": seq, "vmap": vec}[resolve_seeds_mode("auto")]  # CPU: sequential
    assert np.array_equal(auto.loss, picked.loss)
    with pytest.raises(PssimError, match="`seeds_mode` must be one of"):
        replay(group, model, data, seeds_mode="batched", **kw)


def test_a_finite_loss_above_the_threshold_marks_the_seed_diverged():
    model, data = least_squares(3), regression_data()
    traces = _traces(range(3), updates=200)
    kw = dict(batch_size=1, rule=FixedRate(2.5), eval_every=5, f_star=None)
    raw = replay(traces, model, data, divergence_factor=1e30, **kw)
    loss0 = raw.loss[:, 0]
    above = raw.loss > 10 * loss0[:, None]
    assert above.any(axis=1).all() and np.isfinite(raw.loss[above]).any()
    marked = replay(traces, model, data, divergence_factor=10, **kw)
    for s in range(3):
        first = int(np.argmax(above[s]))
        assert marked.diverged_at[s] == raw.eval_update[first]
        assert np.array_equal(marked.loss[s, : first + 1], raw.loss[s, : first + 1])
        assert np.isnan(marked.loss[s, first + 1 :]).all()  # the crossing value is kept


def test_a_stable_run_is_not_marked_and_the_default_threshold_is_the_spec_default():
    from simulator import ExperimentSpec

    model, data = least_squares(3), regression_data()
    res = replay(_traces([0]), model, data, batch_size=1, rule=FixedRate(0.05), f_star=None)
    assert not res.diverged.any()
    import inspect

    default = inspect.signature(replay).parameters["divergence_factor"].default
    assert default == ExperimentSpec().divergence_factor


def test_a_dataset_that_does_not_fit_the_model_is_refused_naming_both():
    model, data = softmax(4, 3), class_data(dim=7)
    with pytest.raises(PssimError, match=r"`dataset` rows of shape \(7,\) do not fit `model`"):
        replay(_traces([0]), model, data, batch_size=1, rule=FixedRate(0.1), f_star=None)
