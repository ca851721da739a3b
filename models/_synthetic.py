"""Seeded synthetic data: Gaussian class clouds and least squares with known constants."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._checks import DataError, check_float, check_int, check_memory, real_array, shown
from ._dataset import Dataset


def synthetic_classes(
    num_examples: int = 2000,
    num_features: int = 20,
    num_classes: int = 4,
    separation: float = 2.0,
    seed: int = 0,
) -> Dataset:
    """Gaussian class clouds: a quick, self-contained classification problem.

    Class c has mean ``separation * u_c`` with ``u_c`` a random unit vector and identity
    covariance; labels are balanced (``i % C``) and shuffled.

    Args:
        num_examples: N >= num_classes.
        num_features: d >= 1.
        num_classes: C >= 2.
        separation: distance of each class mean from the origin, in noise standard
            deviations (larger is easier).
        seed: seed of the numpy generator; the same seed gives the same data.

    Returns:
        A classification ``Dataset`` named "synthetic-classes", x (N, d) float32.

    Raises:
        ValueError: a bad argument, or data whose estimated peak size, ``8 (4 N d + 2 N +
            C d)`` bytes (four float64 (N, d) temporaries), exceeds ``memory_budget()``
            (half the physical memory), refused before anything is allocated.

    Example:
        >>> synthetic_classes(100, 5, 3).x.shape
        (100, 5)
    """
    n = check_int("num_examples", num_examples)
    d = check_int("num_features", num_features)
    c = check_int("num_classes", num_classes, minimum=2)
    sep = check_float("separation", separation)
    s = check_int("seed", seed, minimum=0)
    if n < c:
        raise DataError(f"`num_examples` must be >= `num_classes` ({shown(c)}); got {shown(n)}")
    check_memory(
        f"`num_examples` x `num_features` = {shown(n)} x {shown(d)}",
        8 * (4 * n * d + 2 * n + c * d),
    )
    rng = np.random.default_rng(s)
    directions = rng.standard_normal((c, d))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    labels = rng.permutation(np.arange(n) % c)
    x = sep * directions[labels] + rng.standard_normal((n, d))
    return Dataset(
        "synthetic-classes",
        x.astype(np.float32),
        labels.astype(np.int32),
        num_classes=c,
        task="classification",
    )


def least_squares_optimum(x: np.ndarray, y: np.ndarray, l2: float = 0.0) -> dict[str, Any]:
    """Closed-form constants of ``F(w) = 1/(2N) ||X w - y||^2 + (l2/2) ||w||^2``.

    Computed in float64 from the given (float32) data.

    Args:
        x: (N, d) features.
        y: (N,) targets.
        l2: ridge weight, as in ``least_squares(dim, l2)``.

    Returns:
        dict with ``w_star`` (d,) float64 the minimiser (``numpy.linalg.lstsq`` when
        l2 == 0); ``f_star`` = F(w_star); ``L`` and ``c``, the largest and smallest
        eigenvalues of the Hessian X^T X / N + l2 I (smoothness and strong convexity);
        ``sigma2`` = (1/N) sum_i ||grad f_i(w_star)||^2, the variance of a one-sample
        gradient at the optimum, where f_i(w) = (x_i w - y_i)^2 / 2 + (l2/2) ||w||^2.

    Raises:
        ValueError: ``x`` is not (N, d), ``y`` is not (N,), or a bad ``l2``.

    Example:
        >>> ds = synthetic_least_squares(200, 3)
        >>> opt = least_squares_optimum(ds.x, ds.y)
        >>> bool(abs(opt["f_star"] - ds.optimum["f_star"]) < 1e-12)
        True
    """
    lam = check_float("l2", l2)
    a, b = real_array("x", x), real_array("y", y)
    if a.ndim != 2 or min(a.shape) < 1:
        raise DataError(f"`x` must have shape (N, d) with N, d >= 1; got {a.shape}")
    n, d = a.shape
    if b.shape != (n,):
        raise DataError(f"`y` must have shape ({n},) to match the {n} rows of `x`; got {b.shape}")
    hessian = a.T @ a / n + lam * np.eye(d)
    if lam == 0.0:
        w_star = np.linalg.lstsq(a, b, rcond=None)[0]
    else:
        w_star = np.linalg.solve(hessian, a.T @ b / n)
    r = a @ w_star - b
    f_star = 0.5 * np.mean(r**2) + 0.5 * lam * float(w_star @ w_star)
    eig = np.linalg.eigvalsh(hessian)
    per_sample = a * r[:, None] + lam * w_star
    sigma2 = float(np.mean(np.sum(per_sample**2, axis=1)))
    return {
        "w_star": w_star,
        "f_star": float(f_star),
        "L": float(eig[-1]),
        "c": float(eig[0]),
        "sigma2": sigma2,
        "l2": lam,
    }


def synthetic_least_squares(
    num_examples: int = 1000,
    dim: int = 10,
    noise: float = 0.1,
    seed: int = 0,
    condition: float = 10.0,
) -> Dataset:
    """Linear regression data whose risk constants are known in closed form.

    Rows are x = z diag(sqrt(lambda)) Q^T with z standard normal, Q a random rotation and
    the covariance spectrum lambda spaced geometrically from 1 down to 1 / condition;
    y = x w_true + noise * eps with w_true a random unit vector and eps standard normal.

    Args:
        num_examples: N >= dim (so that the empirical risk is strongly convex).
        dim: d >= 1.
        noise: standard deviation of the target noise, >= 0.
        seed: seed of the numpy generator.
        condition: ratio >= 1 of the largest to the smallest covariance eigenvalue.

    Returns:
        A regression ``Dataset`` named "synthetic-least-squares" whose ``optimum`` holds the
        constants of the empirical risk F(w) = 1/(2N) ||X w - y||^2 (see
        ``least_squares_optimum``; l2 = 0) plus ``w_true`` (d,).

    Raises:
        ValueError: a bad argument, or data whose estimated peak size, ``8 (5 N d + 3 d^2)``
            bytes (five float64 (N, d) and three (d, d) temporaries), exceeds
            ``memory_budget()`` (half the physical memory), refused before allocation.

    Example:
        >>> ds = synthetic_least_squares(500, 5, condition=4.0)
        >>> sorted(ds.optimum)
        ['L', 'c', 'f_star', 'l2', 'sigma2', 'w_star', 'w_true']
    """
    n = check_int("num_examples", num_examples)
    d = check_int("dim", dim)
    sd = check_float("noise", noise)
    s = check_int("seed", seed, minimum=0)
    kappa = check_float("condition", condition, minimum=1.0)
    if n < d:
        raise DataError(f"`num_examples` must be >= `dim` ({shown(d)}); got {shown(n)}")
    check_memory(f"`num_examples` x `dim` = {shown(n)} x {shown(d)}", 8 * (5 * n * d + 3 * d * d))
    rng = np.random.default_rng(s)
    spectrum = kappa ** -(np.arange(d) / max(d - 1, 1))
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    x = (rng.standard_normal((n, d)) * np.sqrt(spectrum)) @ q.T
    w_true = rng.standard_normal(d)
    w_true /= np.linalg.norm(w_true)
    y = x @ w_true + sd * rng.standard_normal(n)
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    optimum = least_squares_optimum(x32, y32)
    optimum["w_true"] = w_true
    return Dataset("synthetic-least-squares", x32, y32, task="regression", optimum=optimum)
