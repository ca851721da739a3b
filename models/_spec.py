"""String specs for the command line: ``load_dataset("mnist:DIR")``, ``build_model("softmax")``."""

from __future__ import annotations

import dataclasses

from ._checks import MODEL_NAMES, DataError, check_float, shown
from ._cifar10 import load_cifar10
from ._dataset import Dataset, check_model_fits, from_arrays
from ._digits import load_digits
from ._files import existing_dir, existing_file, read_npz
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


#: What a synthetic spec's messages call the generator's arguments: the spec's letters.
_LETTERS = {"num_examples": "N", "num_features": "D", "dim": "D", "num_classes": "C"}
#: What an npz file's messages call the Dataset's fields: the file's arrays.
_ARRAYS = {f"Dataset.{name}": f"array {name}" for name in ("x", "y", "x_eval", "y_eval")}


def _unknown(spec: object) -> DataError:
    return DataError(f"`data` must be one of {DATA_FORMS}; got {shown(spec)}")


def _renamed(err: DataError, prefix: str, names: dict[str, str]) -> DataError:
    """``err`` as typed through a data spec: ``prefix: message`` with each backticked name
    in ``names`` shown as its replacement (``N`` for `num_examples`, ``array y`` for
    `Dataset.y`)."""
    text = str(err)
    for name, shown_as in names.items():
        text = text.replace(f"`{name}`", shown_as)
    return DataError(f"{prefix}: {text}")


def _synthetic(spec: str, rest: str) -> Dataset:
    kind, *numbers = rest.split(",")
    if kind not in _SYNTHETIC:
        raise _unknown(spec)
    loader, names = _SYNTHETIC[kind]
    limit = names.count(",") + 1
    if len(numbers) > limit or not all(s.isascii() and s.isdigit() for s in numbers):
        raise DataError(
            f"`data` synthetic:{kind} takes up to {limit} integers {names} after commas; "
            f"got {shown(spec)}"
        )
    try:
        return loader(*(int(s) for s in numbers))
    except DataError as err:
        raise _renamed(err, f"`data` {shown(spec)[1:-1]}", _LETTERS) from None


def _npz(path_text: str) -> Dataset:
    path = existing_file(path_text)
    arrays = read_npz(path)
    if "x" not in arrays or "y" not in arrays:
        raise DataError(
            f"`data` npz file {path.name} must hold arrays x and y; got {sorted(arrays)}"
        )
    try:
        ds = from_arrays(arrays["x"], arrays["y"], name=path.stem)
        if "x_eval" in arrays or "y_eval" in arrays:
            if "x_eval" not in arrays or "y_eval" not in arrays:
                raise DataError(f"`data` npz file {path.name} must hold x_eval and y_eval together")
            x_eval = arrays["x_eval"]
            if x_eval.ndim > 2:  # images: flattened like x
                x_eval = x_eval.reshape(x_eval.shape[0], -1)
            ds = dataclasses.replace(ds, x_eval=x_eval, y_eval=arrays["y_eval"])
    except DataError as err:
        if str(err).startswith("`data` "):
            raise
        raise _renamed(err, f"`data` npz file {path.name}", _ARRAYS) from None
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
        return load_mnist(existing_dir(rest))
    if kind in ("cifar10", "cifar10-rgb"):
        return load_cifar10(existing_dir(rest), grayscale=kind == "cifar10")
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
        raise DataError(f"`model` must be one of {', '.join(MODEL_NAMES)}; got {shown(name)}")
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
