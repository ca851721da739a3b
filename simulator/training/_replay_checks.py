"""The checks of a replay's arguments, and its data placed on the device."""

from __future__ import annotations

import math
import numbers
from typing import Any

import jax
import numpy as np

from simulator.errors import PssimError, shown
from simulator.training.rules import FixedRate

__all__ = ["check_f_star", "check_factor", "check_fit", "check_model", "check_rule", "device_data"]


def _finite(value: Any) -> bool:
    """Whether ``value`` is a real number (not a bool) that a float holds finitely."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int beyond the float range
        return False


def check_f_star(f_star: Any) -> None:
    ok = f_star is None or (isinstance(f_star, str) and f_star == "auto") or _finite(f_star)
    if not ok:
        raise PssimError(
            f"`f_star` must be a finite number, None or 'auto'; got {shown(f_star)}",
            param="f_star",
        )


def check_factor(factor: Any) -> float:
    if not (_finite(factor) and factor > 1):
        raise PssimError(
            f"`divergence_factor` must be a finite number > 1; got {shown(factor)}",
            param="divergence_factor",
        )
    return float(factor)


def check_model(model: Any) -> None:
    """``model`` must have callable ``init`` and ``loss``."""
    for field in ("init", "loss"):
        if not callable(getattr(model, field, None)):
            raise PssimError(
                f"`model.{field}` must be callable; got {type(model).__name__}", param="model"
            )


def device_data(dataset: Any, dtype: str) -> tuple:
    """``(x, y, x_eval, y_eval)`` on the device, features cast to ``dtype``.

    An evaluation array that is the training array (or a view of all of it) is placed on the
    device once.
    """
    out: list[jax.Array] = []
    placed: dict[tuple, jax.Array] = {}
    for name in ("x", "y", "x_eval", "y_eval"):
        arr = np.asarray(getattr(dataset, name, None))
        if arr.dtype == object or arr.ndim == 0 or arr.shape[0] < 1:
            raise PssimError(f"`dataset.{name}` must be a non-empty array; got shape {arr.shape}")
        floating = name.startswith("x") or np.issubdtype(arr.dtype, np.floating)
        target = np.dtype(dtype) if floating else np.dtype(np.int32)
        ident = (arr.__array_interface__["data"][0], arr.shape, arr.strides, arr.dtype.str, target)
        if ident not in placed:
            placed[ident] = jax.device_put(np.asarray(arr, dtype=target))
        out.append(placed[ident])
    if out[0].shape[0] != out[1].shape[0] or out[2].shape[0] != out[3].shape[0]:
        raise PssimError("`dataset` features and targets must have the same number of rows")
    return tuple(out)


def check_fit(model: Any, data: tuple) -> None:
    """The model's loss must accept the dataset's rows (checked on shapes, nothing runs)."""
    x, y = data[0][:1], data[1][:1]
    name = getattr(model, "name", type(model).__name__)
    try:
        params = jax.eval_shape(model.init, jax.random.key(0))
        out = jax.eval_shape(model.loss, params, (x, y))
    except (TypeError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PssimError(
            f"`dataset` rows of shape {tuple(x.shape[1:])} do not fit `model` {name!r}: {first}",
            param="dataset",
        ) from None
    if getattr(out, "shape", None) != ():
        raise PssimError(
            f"`model.loss` must return a scalar; got shape {getattr(out, 'shape', None)}",
            param="model",
        )


def check_rule(rule: Any, variant: str) -> None:
    if not (callable(getattr(rule, "init", None)) and callable(getattr(rule, "apply", None))):
        raise PssimError(f"`rule` must be a server rule; got {type(rule).__name__}")
    if variant == "k-avg" and not isinstance(rule, FixedRate):
        raise PssimError(
            f"`rule` must be FixedRate for k-avg (local SGD steps); got {type(rule).__name__}"
        )
