"""Means of order statistics: closed forms and quantile-function integration.

``E[X_{k:n}]`` is the mean of the k-th smallest of n iid draws. With ``U ~ Beta(k, n-k+1)``,
``X_{k:n} = ppf(U)`` in law, so (Dutta et al. 2018, Lemma 3 and Theorem 1 use these means)

    E[X_{k:n}] = ∫_0^1 ppf(u) u^{k-1} (1-u)^{n-k} du / B(k, n-k+1).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable

import numpy as np
import scipy.integrate
import scipy.special
import scipy.stats

__all__ = [
    "exponential_order_statistic_mean",
    "pareto_order_statistic_mean",
    "quantile_order_statistic_mean",
    "tail_makes_infinite",
]

# Probabilities of Beta(k, n-k+1) (and of its mirror) at which the integral is split, so that
# quad sees the bulk of the Beta density whatever n is, and the ends separately.
_SPLIT_PROBS = (1e-13, 1e-9, 1e-6, 1e-4, 1e-2, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 1 - 1e-4, 1 - 1e-6)
_TOL_REL = 1e-11
_T_MAX = 700.0
_T_OFFSETS = (0.01, 0.1, 1.0, 10.0, 100.0)
_WARN_REL = 1e-7


def exponential_order_statistic_mean(k: int, n: int, rate: float) -> float:
    """``(H_n - H_{n-k}) / rate``: Rényi's representation of exponential order statistics."""
    if k <= 100_000:
        return math.fsum(1.0 / j for j in range(n - k + 1, n + 1)) / rate
    return float(scipy.special.digamma(n + 1) - scipy.special.digamma(n - k + 1)) / rate


def pareto_order_statistic_mean(k: int, n: int, shape: float, scale: float) -> float:
    """``scale Γ(n+1) Γ(n-k+1-1/a) / (Γ(n-k+1) Γ(n+1-1/a))``; ``inf`` unless ``(n-k+1) a > 1``."""
    m = n - k + 1
    if m * shape <= 1.0:
        return math.inf
    gl = scipy.special.gammaln
    b = 1.0 / shape
    log_ratio = gl(n + 1.0) - gl(n + 1.0 - b) + gl(m - b) - gl(float(m))
    return scale * math.exp(float(log_ratio))


def tail_makes_infinite(isf: Callable[[float], float], k: int, n: int) -> bool:
    """Whether ``E[X_{k:n}]`` diverges, judged from the upper tail of ``isf``.

    Near ``v = 1 - u = 0`` the integrand behaves like ``isf(v) v^{n-k}``. The local tail
    exponent ``beta = -d log isf / d log v`` is estimated at ``v = 1e-12 .. 1e-14`` (or at
    larger ``v`` where ``isf`` overflows there); the mean is infinite when
    ``n - k + 1 <= beta`` (regularly varying tails, e.g. Pareto-like). Only call this for
    laws whose mean is infinite: a finite mean gives finite order statistics, since
    ``X_{k:n} <= X_1 + ... + X_n``.
    """
    for v1, v2 in ((1e-12, 1e-14), (1e-8, 1e-10), (1e-4, 1e-6)):
        x1, x2 = float(isf(v1)), float(isf(v2))
        if math.isfinite(x1) and math.isfinite(x2) and x1 > 0.0:
            beta = math.log(x2 / x1) / math.log(v1 / v2)
            return n - k + 1 <= beta + 1e-3
    return True


def _times(quantile: float, dens: float) -> float:
    """``quantile * dens``; an overflowed quantile stays ``inf`` even where ``dens`` is 0."""
    if not math.isfinite(quantile):
        return math.inf
    return quantile * dens if dens > 0.0 else 0.0


def _breakpoints(a: float, b: float) -> list[float]:
    """Split points in (0, 1/2] for the half of the Beta(a, b) integral near 0."""
    probs = np.asarray(_SPLIT_PROBS)
    pts = scipy.stats.beta.ppf(probs, a, b)
    inner = sorted({float(p) for p in pts if 0.0 < p < 0.5})
    return [0.0, *inner, 0.5]


def _integrate_end(
    func: Callable[[float], float], hi: float, eps_abs: float
) -> tuple[float, float]:
    """``∫_0^hi func(u) du`` in ``t = -log(u)``; returns (value, error estimate).

    A power singularity ``u^-c`` at 0 becomes the smooth ``exp(-(1 - c) t)``. The t-range is
    split at growing offsets so that ``quad`` cannot step over mass near its left end; it
    stops at ``t = 700`` (``u ≈ 1e-304``), or earlier where ``func`` overflows; the rest is
    added in closed form as an exponential tail in ``t`` (a power tail in ``u``), which
    matters only when the integral is close to diverging.
    """

    def log_func(t: float) -> float:
        u = math.exp(-t)
        return func(u) * u

    t0 = -math.log(hi)
    t_max = _T_MAX
    if not math.isfinite(log_func(t_max)):
        # Largest t (to ~1e-3) where func is finite: func(u) grows as u -> 0, so bisect.
        t_ok, t_bad = t0, t_max
        while t_bad - t_ok > 1e-3 * max(1.0, t_ok):
            mid = 0.5 * (t_ok + t_bad)
            t_ok, t_bad = (mid, t_bad) if math.isfinite(log_func(mid)) else (t_ok, mid)
        t_max = t_ok
    if t_max <= t0:
        return 0.0, 0.0
    pts = [t0, *(t0 + w for w in _T_OFFSETS if t0 + w < t_max), t_max]
    value, error = 0.0, 0.0
    for lo, up in itertools.pairwise(pts):
        out = scipy.integrate.quad(
            log_func, lo, up, epsabs=eps_abs, epsrel=_TOL_REL, limit=200, full_output=1
        )
        value += out[0]
        error += out[1]
    # Beyond t_max a regularly varying tail decays like exp(-lam t): add its integral, and
    # as its error the change when lam is measured over a longer span.
    g_end = log_func(t_max)
    if g_end > 0.0 and t_max - t0 > 1.0:
        g_before = log_func(t_max - 1.0)
        if g_before > g_end:
            tail = g_end / math.log(g_before / g_end)
            value += tail
            t_far = max(t0, t_max - 10.0)
            g_far = log_func(t_far)
            if t_max - t_far > 1.0 and g_far > g_before:
                error += abs(tail - g_end * (t_max - t_far) / math.log(g_far / g_end))
            else:
                error += tail
        else:
            error += math.inf  # not decaying: the integral may diverge
    return value, error


def quantile_order_statistic_mean(
    ppf: Callable[[float], float],
    isf: Callable[[float], float],
    k: int,
    n: int,
) -> float:
    """``E[X_{k:n}]`` by integrating the quantile function against the Beta(k, n-k+1) density.

    The unit interval is cut at 1/2: below it ``ppf(u)`` is integrated, above it
    ``isf(v)``, ``v = 1 - u``, so that heavy upper tails keep their precision. Each half is
    split at Beta quantiles (``scipy.integrate.quad`` on every piece), which keeps large n
    (a narrow Beta density) and endpoint singularities accurate to about 1e-10 relative.

    Args:
        ppf: scalar quantile function (lower tail), ``ppf(u)`` for ``u`` in (0, 1/2].
        isf: scalar inverse survival function, ``isf(v)`` for ``v`` in (0, 1/2].
        k: rank, ``1 <= k <= n``.
        n: sample size.

    Returns:
        The mean (finite; check divergence first with :func:`tail_makes_infinite`).
    """
    a, b = float(k), float(n - k + 1)
    log_norm = float(scipy.special.betaln(a, b))

    def lower(u: float) -> float:
        if u <= 0.0:
            return 0.0
        dens = math.exp((a - 1.0) * math.log(u) + (b - 1.0) * math.log1p(-u) - log_norm)
        return _times(float(ppf(u)), dens)

    def upper(v: float) -> float:
        if v <= 0.0:
            return 0.0
        dens = math.exp((a - 1.0) * math.log1p(-v) + (b - 1.0) * math.log(v) - log_norm)
        return _times(float(isf(v)), dens)

    # A scale for the absolute tolerance: the order statistic's median.
    scale = abs(float(ppf(float(scipy.stats.beta.median(a, b)))))
    if not math.isfinite(scale) or scale == 0.0:
        scale = abs(float(isf(0.5))) or 1.0
    eps_abs = 1e-15 * scale
    parts, errors = [], []
    for func, pts in ((lower, _breakpoints(a, b)), (upper, _breakpoints(b, a))):
        for lo, hi in itertools.pairwise(pts):
            if lo == 0.0:
                out = _integrate_end(func, hi, eps_abs)
            else:
                out = scipy.integrate.quad(
                    func, lo, hi, epsabs=eps_abs, epsrel=_TOL_REL, limit=200, full_output=1
                )
            parts.append(out[0])
            errors.append(out[1])
    total = math.fsum(parts)
    err = math.fsum(errors)
    if not math.isfinite(total) or err > _WARN_REL * abs(total) + 10 * eps_abs:
        warnings.warn(
            f"order-statistic mean E[X_{{{k}:{n}}}] = {total!r} may be inaccurate "
            f"(estimated absolute error {err:.3g})",
            RuntimeWarning,
            stacklevel=3,
        )
    return total
