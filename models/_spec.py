"""String specs for the command line: ``load_dataset("mnist:DIR")``, ``build_model("softmax")``."""

from __future__ import annotations

import dataclasses
import zipfile

import numpy as np

from ._checks import MODEL_NAMES, DataError, check_float
from ._cifar10 import load_cifar10
from ._dataset import Dataset, check_model_fits, from_arrays
from ._digits import load_digits
from ._files import existing_file
from ._linear import least_squares, softmax_regression
from ._mnist import load_mnist
from ._model import Model
from ._nets import cnn, mlp
from ._synthetic import synthetic_classes, synthetic_least_squares

DATA_FORMS = (
    "digits, mnist:DIR, cifar10:DIR, synthetic:classes[,N,D,C], "
    "synthetic:least-squares[,N,D], npz:PATH"
)
#: synthetic:KIND -> (generator, names of its optional positional integer arguments)
_SYNTHETIC = {
    "classes": (synthetic_classes, "N,D,C"),
    "least-squares": (synthetic_least_squares, "N,D"),
}


def _unknown(spec: object) -> DataError:
    return DataError(f"`data` must be one of {DATA_FORMS}; got {spec!r}")


def _synthetic(spec: str, rest: str) -> Dataset:
    kind, *numbers = rest.split(",")
    if kind not in _SYNTHETIC:
        raise _unknown(spec)
    loader, names = _SYNTHETIC[kind]
    limit = names.count(",") + 1
    if len(numbers) > limit or not all(s.isascii() and s.isdigit() for s in numbers):
        raise DataError(
            f"`data` synthetic:{kind} takes up to {limit} integers {names} after commas; "
            f"got {spec!r}"
        )
    return loader(*(int(s) for s in numbers))


def _npz(path_text: str) -> Dataset:
    path = existing_file(path_text)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"`data` npz file {path.name} cannot be read: {err}") from None
    if "x" not in arrays or "y" not in arrays:
        raise DataError(
            f"`data` npz file {path.name} must hold arrays x and y; got {sorted(arrays)}"
        )
    ds = from_arrays(arrays["x"], arrays["y"], name=path.stem)
    if "x_eval" in arrays or "y_eval" in arrays:
        if "x_eval" not in arrays or "y_eval" not in arrays:
            raise DataError(f"`data` npz file {path.name} must hold x_eval and y_eval together")
        x_eval = arrays["x_eval"]
        if x_eval.ndim > 2:  # images: flattened like x
            x_eval = x_eval.reshape(x_eval.shape[0], -1)
        ds = dataclasses.replace(ds, x_eval=x_eval, y_eval=arrays["y_eval"])
    return ds


def load_dataset(spec: str) -> Dataset:
    """Loads a data set from a command-line spec.

    Forms: ``digits``; ``mnist:DIR`` (IDX files); ``cifar10:DIR`` (binary files, grey) or
    ``cifar10-rgb:DIR``; ``synthetic:classes[,N,D,C]``; ``synthetic:least-squares[,N,D]``;
    ``npz:PATH`` (arrays ``x`` and ``y``, optionally ``x_eval`` and ``y_eval``).

    Args:
        spec: the spec string.

    Returns:
        The loaded ``Dataset``.

    Raises:
        ValueError: one line, e.g. "`data` must be one of digits, mnist:DIR, ...; got 'foo'".

    Example:
        >>> load_dataset("synthetic:classes,300,5,3").x.shape
        (300, 5)
    """
    if not isinstance(spec, str):
        raise _unknown(spec)
    if spec == "digits":
        return load_digits()
    kind, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise _unknown(spec)
    if kind == "mnist":
        return load_mnist(rest)
    if kind in ("cifar10", "cifar10-rgb"):
        return load_cifar10(rest, grayscale=kind == "cifar10")
    if kind == "synthetic":
        return _synthetic(spec, rest)
    if kind == "npz":
        return _npz(rest)
    raise _unknown(spec)


def build_model(name: str, dataset: Dataset, l2: float) -> Model:
    """Builds a named model sized for a data set.

    Args:
        name: "softmax" (softmax regression), "softmax-nobias" (without the bias: strongly
            convex, the 784x10 model of Dutta et al.), "least-squares", "mlp" (one hidden
            layer of 64 ReLU units) or "cnn" (two conv blocks; needs ``dataset.image_shape``).
        dataset: the training set; gives d, C and the image shape.
        l2: regularisation weight >= 0.

    Returns:
        The ``Model``.

    Raises:
        ValueError: unknown name, a model that does not fit the task or the feature count
            of ``dataset`` (see ``check_model_fits``), or a bad ``l2``.

    Example:
        >>> build_model("softmax", load_dataset("digits"), 0.01).convex
        True
    """
    if name not in MODEL_NAMES:
        raise DataError(f"`model` must be one of {', '.join(MODEL_NAMES)}; got {name!r}")
    if not isinstance(dataset, Dataset):
        raise DataError(f"`data` must be a Dataset; got {type(dataset).__name__}")
    lam = check_float("l2", l2)
    needs = "regression" if name == "least-squares" else "classification"
    if dataset.task != needs:
        raise DataError(
            f"`model` {name} needs {needs} `data`; got {dataset.name!r} ({dataset.task})"
        )
    if name == "least-squares":
        model = least_squares(dataset.num_features, lam)
    elif name in ("softmax", "softmax-nobias"):
        model = softmax_regression(
            dataset.num_features, dataset.num_classes, lam, bias=name == "softmax"
        )
    elif name == "mlp":
        model = mlp(dataset.num_features, dataset.num_classes, l2=lam)
    elif dataset.image_shape is None:
        raise DataError(
            f"`model` cnn needs image `data` (with an image shape, e.g. digits or mnist:DIR); "
            f"got {dataset.name!r}"
        )
    else:
        model = cnn(dataset.image_shape, dataset.num_classes, l2=lam)
    check_model_fits(dataset, model)
    return model
