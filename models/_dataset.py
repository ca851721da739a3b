"""The ``Dataset`` record, construction from user arrays, batch size and model fit checks."""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

import numpy as np

from ._checks import DataError, DataTypeError, as_array, check_int, check_int_tuple, shown

#: Largest evaluation set built by default; bigger training sets are evaluated on a fixed
#: seeded subset of this many rows.
EVAL_SIZE = 10_000
_EVAL_SEED = 0
TASKS = ("classification", "regression")


def _features(name: str, x: Any) -> np.ndarray:
    arr = as_array(name, x)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise DataError(f"`{name}` must hold real numbers; got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise DataError(f"`{name}` must have shape (N, d) with N, d >= 1; got {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.all(np.isfinite(arr)):
        raise DataError(f"`{name}` must be finite; got {int((~np.isfinite(arr)).sum())} bad values")
    return arr


def _targets(name: str, y: Any, task: str, num_classes: int | None, n: int) -> np.ndarray:
    arr = as_array(name, y)
    if arr.shape != (n,):
        raise DataError(f"`{name}` must have shape ({n},) to match the features; got {arr.shape}")
    if task == "regression":
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise DataError(f"`{name}` must hold real numbers; got dtype {arr.dtype}")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.all(np.isfinite(arr)):
            raise DataError(f"`{name}` must be finite; got {int((~np.isfinite(arr)).sum())} bad")
        return arr
    if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)):
        if not np.all(arr == np.round(arr)):
            raise DataError(f"`{name}` class labels must be integers; got non-integer values")
    elif not np.issubdtype(arr.dtype, np.integer):
        raise DataError(f"`{name}` class labels must be integers; got dtype {arr.dtype}")
    lo, hi = arr.min(), arr.max()
    if lo < 0 or (num_classes is not None and hi >= num_classes):
        top = "num_classes" if num_classes is None else num_classes
        raise DataError(f"`{name}` labels must lie in [0, {top}); got range [{lo}, {hi}]")
    return np.ascontiguousarray(arr, dtype=np.int32)


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """A training set and the fixed set on which loss, error and accuracy are reported.

    Arrays are converted on construction (features to float32, labels to int32, regression
    targets to float32) and checked for shape, dtype and finiteness.

    Attributes:
        name: short label ("digits", "mnist", ...).
        x: (N, d) float32 training features (images flattened in HWC order).
        y: (N,) int32 class labels in [0, num_classes) or float32 regression targets.
        x_eval: (N_eval, d) float32 evaluation features. Default: the training set itself
            when N <= 10000 (the paper's error F(w) - F* is that of the training risk),
            else a fixed seeded subset of 10000 training rows.
        y_eval: (N_eval,) labels or targets matching ``x_eval``.
        num_classes: C for classification (default: largest label + 1), None for regression.
        image_shape: (H, W, C) when the rows are images, else None.
        task: "classification" or "regression"; default inferred from the dtype of ``y``
            (integers mean classification).
        optimum: closed-form constants of a synthetic problem (see
            ``synthetic_least_squares``), else None.

    Example:
        >>> ds = Dataset("toy", np.zeros((4, 2)), np.array([0, 1, 0, 1]))
        >>> ds.task, ds.num_classes, ds.num_examples, ds.num_features
        ('classification', 2, 4, 2)
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    x_eval: np.ndarray | None = None
    y_eval: np.ndarray | None = None
    num_classes: int | None = None
    image_shape: tuple[int, ...] | None = None
    task: str | None = None
    optimum: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        def put(field: str, value: Any) -> None:
            object.__setattr__(self, field, value)

        if not isinstance(self.name, str) or not self.name:
            raise DataError(f"`Dataset.name` must be a non-empty string; got {shown(self.name)}")
        task = self.task
        if task is None:
            integer = np.issubdtype(as_array("Dataset.y", self.y).dtype, np.integer)
            task = "classification" if integer else "regression"
        if task not in TASKS:
            raise DataError(f"`Dataset.task` must be one of {', '.join(TASKS)}; got {shown(task)}")
        put("task", task)
        x = _features("Dataset.x", self.x)
        n, d = x.shape
        put("x", x)
        classes = self.num_classes
        if task == "regression" and classes is not None:
            raise DataError(
                f"`Dataset.num_classes` must be None for regression; got {shown(classes)}"
            )
        if classes is not None:
            classes = check_int("Dataset.num_classes", classes, minimum=2)
        put("y", _targets("Dataset.y", self.y, task, classes, n))
        if task == "classification" and classes is None:
            classes = max(int(self.y.max()) + 1, 2)
        put("num_classes", classes)
        if (self.x_eval is None) != (self.y_eval is None):
            raise DataError("`Dataset.x_eval` and `Dataset.y_eval` must be given together")
        if self.x_eval is None:
            rows = slice(None)
            if n > EVAL_SIZE:
                rng = np.random.default_rng(_EVAL_SEED)
                rows = np.sort(rng.choice(n, size=EVAL_SIZE, replace=False))
            put("x_eval", self.x[rows])
            put("y_eval", self.y[rows])
        else:
            xe = _features("Dataset.x_eval", self.x_eval)
            if xe.shape[1] != d:
                raise DataError(f"`Dataset.x_eval` must have {d} columns; got {xe.shape[1]}")
            put("x_eval", xe)
            put("y_eval", _targets("Dataset.y_eval", self.y_eval, task, classes, xe.shape[0]))
        if self.image_shape is not None:
            shape = check_int_tuple("Dataset.image_shape", self.image_shape, length=3)
            if math.prod(shape) != d:
                raise DataError(
                    f"`Dataset.image_shape` must multiply to the {d} features; got {shape}"
                )
            put("image_shape", shape)
        if self.optimum is not None and not isinstance(self.optimum, dict):
            kind = type(self.optimum).__name__
            raise DataError(f"`Dataset.optimum` must be a dict or None; got {kind}")

    @property
    def num_examples(self) -> int:
        """N, the number of training rows."""
        return int(self.x.shape[0])

    @property
    def num_features(self) -> int:
        """d, the number of features per row."""
        return int(self.x.shape[1])

    def __repr__(self) -> str:
        extra = f", num_classes={self.num_classes}" if self.num_classes else ""
        if self.image_shape is not None:
            extra += f", image_shape={self.image_shape}"
        return (
            f"Dataset(name={self.name!r}, task={self.task!r}, N={self.num_examples}, "
            f"d={self.num_features}, N_eval={self.x_eval.shape[0]}{extra})"
        )


def from_arrays(
    x: Any,
    y: Any,
    task: str | None = None,
    num_classes: int | None = None,
    name: str = "arrays",
) -> Dataset:
    """Wraps user arrays as a ``Dataset``.

    Args:
        x: (N, d) features, or images (N, H, W, C) / (N, H, W) which are flattened in HWC
            order and remembered as ``image_shape``.
        y: (N,) labels or targets.
        task: "classification" or "regression"; default: classification when ``y`` holds
            integers, regression otherwise.
        num_classes: number of classes (default: largest label + 1).
        name: label of the data set.

    Returns:
        The validated ``Dataset`` (evaluated on itself, or a 10000-row subset when larger).

    Example:
        >>> ds = from_arrays(np.random.default_rng(0).random((5, 3)), np.arange(5) % 2)
        >>> ds.task, ds.num_classes
        ('classification', 2)
    """
    arr = as_array("Dataset.x", x)
    image_shape = None
    if arr.ndim in (3, 4):
        image_shape = tuple(arr.shape[1:]) if arr.ndim == 4 else (*arr.shape[1:], 1)
        arr = arr.reshape(arr.shape[0], -1)
    return Dataset(
        name,
        arr,
        as_array("Dataset.y", y),
        num_classes=num_classes,
        image_shape=image_shape,
        task=task,
    )


def _check_dataset(dataset: object) -> None:
    if not isinstance(dataset, Dataset):
        raise DataTypeError(f"`dataset` must be a Dataset; got {type(dataset).__name__}")


def check_batch_size(dataset: Dataset, m: object) -> int:
    """Checks a mini-batch size against a data set.

    Args:
        dataset: the training set.
        m: the mini-batch size.

    Returns:
        ``m`` as an int.

    Raises:
        ValueError: "`batch` must be <= the number of training examples (1797); got 5000"
            (or ">= 1", or "an integer").

    Example:
        >>> check_batch_size(Dataset("toy", np.zeros((4, 2)), np.arange(4)), 2)
        2
    """
    _check_dataset(dataset)
    if isinstance(m, bool) or not isinstance(m, numbers.Integral):
        raise DataError(f"`batch` must be an integer; got {shown(m)}")
    if m < 1:
        raise DataError(f"`batch` must be >= 1; got {m}")
    if m > dataset.num_examples:
        raise DataError(
            f"`batch` must be <= the number of training examples ({dataset.num_examples}); "
            f"got {shown(m)}"
        )
    return int(m)


def check_model_fits(dataset: Dataset, model: Any) -> None:
    """Checks that a model expects as many features per row as a data set has.

    Models that do not state ``num_features`` (None or missing) pass unchecked.

    Args:
        dataset: the training set (its rows have ``dataset.num_features`` features).
        model: a ``Model`` (or any object with ``name`` and ``num_features``).

    Raises:
        ValueError: "`model` 'softmax' expects 784 features per row; got 64 in `data`
            'digits'".

    Example:
        >>> from models import softmax_regression
        >>> toy = Dataset("toy", np.zeros((4, 2)), np.arange(4))
        >>> check_model_fits(toy, softmax_regression(2, 4))  # fits: returns None
    """
    _check_dataset(dataset)
    expected = getattr(model, "num_features", None)
    if expected is not None and expected != dataset.num_features:
        name = getattr(model, "name", type(model).__name__)
        raise DataError(
            f"`model` {name!r} expects {expected} features per row; "
            f"got {dataset.num_features} in `data` {dataset.name!r}"
        )
