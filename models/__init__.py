"""Models (parameter pytree + pure loss) and datasets for pssim.

Imports only JAX and numpy, on first use of a name (``import models`` itself is cheap). A
``Model`` is ``init(key) -> params`` plus ``loss(params, batch) -> scalar`` (and an optional
accuracy); a ``Dataset`` holds float32 features, labels or targets and the fixed evaluation
set on which curves are reported.

Example:
    >>> import jax
    >>> from models import build_model, load_dataset
    >>> data = load_dataset("digits")
    >>> model = build_model("softmax", data, l2=0.01)
    >>> params = model.init(jax.random.key(0))
    >>> float(model.loss(params, (data.x[:8], data.y[:8]))) > 0
    True
"""

from __future__ import annotations

import importlib

_PUBLIC = {
    "Batch": "models._model",
    "MODEL_NAMES": "models._checks",
    "DataError": "models._checks",
    "DataShape": "models._size",
    "DataTypeError": "models._checks",
    "Dataset": "models._dataset",
    "Model": "models._model",
    "build_model": "models._spec",
    "check_batch_size": "models._dataset",
    "check_model_fits": "models._dataset",
    "cnn": "models._nets",
    "data_shape": "models._size",
    "from_arrays": "models._dataset",
    "least_squares": "models._linear",
    "least_squares_optimum": "models._synthetic",
    "load_cifar10": "models._cifar10",
    "load_dataset": "models._spec",
    "load_digits": "models._digits",
    "load_mnist": "models._mnist",
    "mlp": "models._nets",
    "param_count": "models._size",
    "softmax_regression": "models._linear",
    "synthetic_classes": "models._synthetic",
    "synthetic_least_squares": "models._synthetic",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return list(__all__)
