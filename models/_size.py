"""Model sizes without JAX: the parameter count of a named model on a data set's shapes.

What a push or a pull carries over a network is one gradient or one model, so its size is
the parameter count times the bytes of the dtype. Both functions here are plain arithmetic
(the data sets shipped or generated have known shapes; a data set on disk is read with the
loaders that import no JAX), so a timing-only run never loads JAX to know them.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools

from ._checks import MODEL_NAMES, DataError, check_int, check_int_tuple, shown

__all__ = ["DataShape", "data_shape", "param_count"]

#: Hidden widths of ``mlp`` and channels of ``cnn`` as ``build_model`` makes them.
MLP_HIDDEN = (64,)
CNN_CHANNELS = (8, 16)


@dataclasses.dataclass(frozen=True)
class DataShape:
    """The shapes a model is sized by: d features, C classes (None for regression), and
    the (H, W, C) image shape of image data (else None)."""

    num_features: int
    num_classes: int | None
    image_shape: tuple[int, int, int] | None = None


#: Shapes of the data sets whose shapes are fixed: (features, classes, image shape).
_FIXED = {
    "digits": DataShape(64, 10, (8, 8, 1)),
    "cifar10": DataShape(1024, 10, (32, 32, 1)),
    "cifar10-rgb": DataShape(3072, 10, (32, 32, 3)),
}
#: Defaults of the synthetic generators: classes (N, D, C) and least-squares (N, D).
_SYNTHETIC = {"classes": (2000, 20, 4), "least-squares": (1000, 10)}


def param_count(
    model: str,
    num_features: int,
    num_classes: int | None = None,
    image_shape: tuple[int, int, int] | None = None,
) -> int:
    """Number of scalar parameters of ``build_model(model, ...)`` for the given shapes.

    Args:
        model: a name of ``MODEL_NAMES``.
        num_features: d.
        num_classes: C >= 2 (ignored by ``least-squares``).
        image_shape: (H, W, C) of one image, needed by ``cnn`` only.

    Raises:
        DataError: an unknown model, or a shape it needs that is missing or not positive.

    Example:
        >>> param_count("softmax", 64, 10)  # W (64, 10) and b (10,)
        650
    """
    d = check_int("num_features", num_features)
    if model == "least-squares":
        return d
    if model not in MODEL_NAMES:
        raise DataError(f"`model` must be one of {', '.join(MODEL_NAMES)}; got {shown(model)}")
    c = check_int("num_classes", num_classes, minimum=2)
    if model in ("softmax", "softmax-nobias"):
        return d * c + (c if model == "softmax" else 0)
    if model == "mlp":
        sizes = (d, *MLP_HIDDEN, c)
        return sum(a * b + b for a, b in itertools.pairwise(sizes))
    if image_shape is None:
        raise DataError("`model` cnn needs an image shape (H, W, C); got None")
    h, w, c_in = check_int_tuple("image_shape", image_shape, length=3)
    total = 0
    for c_out in CNN_CHANNELS:
        total += 9 * c_in * c_out + c_out
        c_in = c_out
        h, w = -(-h // 2), -(-w // 2)
    return total + h * w * c_in * c + c


@functools.lru_cache(maxsize=64)
def data_shape(spec: str) -> DataShape:
    """The shapes of the data set of a ``load_dataset`` spec, without loading JAX: fixed
    for ``digits`` and CIFAR-10, from the arguments for ``synthetic:...``, read from the
    files for ``mnist:DIR`` and ``npz:PATH`` (cached per spec).

    Raises:
        DataError: a spec ``load_dataset`` would refuse, or unreadable files.

    Example:
        >>> data_shape("synthetic:classes,100,5,3")
        DataShape(num_features=5, num_classes=3, image_shape=None)
    """
    kind, _, rest = str(spec).partition(":")
    if spec == "digits" or (kind in ("cifar10", "cifar10-rgb") and rest):
        return _FIXED[kind]
    if kind == "synthetic" and rest:
        name, *numbers = rest.split(",")
        defaults = _SYNTHETIC.get(name)
        if (
            defaults is None
            or len(numbers) > len(defaults)
            or not all(s.isascii() and s.isdigit() for s in numbers)
        ):
            raise DataError(f"`data` must be a valid synthetic spec; got {shown(spec)}")
        values = [int(s) for s in numbers] + list(defaults[len(numbers) :])
        return DataShape(values[1], values[2] if name == "classes" else None)
    if kind in ("mnist", "npz") and rest:
        return _loaded_shape(kind, rest)
    raise DataError(f"`data` must be a data set spec; got {shown(spec)}")


def _loaded_shape(kind: str, rest: str) -> DataShape:
    """The shapes of a data set read from disk (by the loaders that import no JAX)."""
    from ._dataset import from_arrays
    from ._files import existing_dir, existing_file, read_npz
    from ._mnist import load_mnist

    if kind == "mnist":
        ds = load_mnist(existing_dir(rest))
    else:
        arrays = read_npz(existing_file(rest))
        if "x" not in arrays or "y" not in arrays:
            raise DataError(
                f"`data` npz file {rest} must hold arrays x and y; got {sorted(arrays)}"
            )
        ds = from_arrays(arrays["x"], arrays["y"])
    return DataShape(ds.num_features, ds.num_classes, ds.image_shape)
