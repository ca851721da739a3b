"""Models (parameter pytree + pure loss) and datasets for pssim.

Imports only JAX and numpy. A ``Model`` is ``init(key) -> params`` plus
``loss(params, batch) -> scalar`` (and an optional accuracy); a ``Dataset`` holds float32
features, labels or targets and the fixed evaluation set on which curves are reported.

Example:
    >>> import jax
    >>> from models import build_model, load_dataset
    >>> data = load_dataset("digits")
    >>> model = build_model("softmax", data, l2=0.01)
    >>> params = model.init(jax.random.key(0))
    >>> float(model.loss(params, (data.x[:8], data.y[:8]))) > 0
    True
"""

from ._cifar10 import load_cifar10
from ._dataset import Dataset, check_batch_size, from_arrays
from ._digits import load_digits
from ._linear import least_squares, softmax_regression
from ._mnist import load_mnist
from ._model import Batch, Model
from ._nets import cnn, mlp
from ._spec import build_model, load_dataset
from ._synthetic import least_squares_optimum, synthetic_classes, synthetic_least_squares

__all__ = [
    "Batch",
    "Dataset",
    "Model",
    "build_model",
    "check_batch_size",
    "cnn",
    "from_arrays",
    "least_squares",
    "least_squares_optimum",
    "load_cifar10",
    "load_dataset",
    "load_digits",
    "load_mnist",
    "mlp",
    "softmax_regression",
    "synthetic_classes",
    "synthetic_least_squares",
]
