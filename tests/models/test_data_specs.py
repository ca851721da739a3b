"""``load_dataset`` spec parsing and ``build_model`` sizing and checks."""

from __future__ import annotations

import re
from pathlib import Path

import jax
import numpy as np
import pytest

from models import build_model, load_dataset, synthetic_classes, synthetic_least_squares

DATA_ERROR = (
    "`data` must be one of digits, mnist:DIR, cifar10:DIR, synthetic:classes[,N,D,C], "
    "synthetic:least-squares[,N,D], npz:PATH; got {!r}"
)


def test_digits_and_synthetic_specs() -> None:
    assert load_dataset("digits").x.shape == (1797, 64)
    ds = load_dataset("synthetic:classes")
    assert ds.x.shape == (2000, 20) and ds.num_classes == 4
    ds = load_dataset("synthetic:classes,300,5,3")
    assert ds.x.shape == (300, 5) and ds.num_classes == 3
    assert load_dataset("synthetic:classes,50").x.shape == (50, 20)
    ds = load_dataset("synthetic:least-squares,200,4")
    assert ds.x.shape == (200, 4) and ds.task == "regression" and "f_star" in ds.optimum
    assert load_dataset("synthetic:least-squares").x.shape == (1000, 10)


def test_mnist_spec(mnist_dir: Path) -> None:
    assert load_dataset(f"mnist:{mnist_dir}").num_examples == 10_000


def test_cifar_specs(write_cifar) -> None:
    planes = np.zeros((2, 3, 32, 32), np.uint8)
    folder = write_cifar("test_batch.bin", planes, np.array([1, 2]))
    assert load_dataset(f"cifar10:{folder}").x.shape == (2, 1024)
    assert load_dataset(f"cifar10-rgb:{folder}").x.shape == (2, 3072)


def test_npz_spec(tmp_path: Path) -> None:
    path = tmp_path / "toy.npz"
    np.savez(path, x=np.ones((5, 3)), y=np.array([0, 1, 2, 1, 0]))
    ds = load_dataset(f"npz:{path}")
    assert ds.name == "toy" and ds.num_classes == 3 and ds.x.shape == (5, 3)
    np.savez(path, x=np.ones((5, 3)), y=np.arange(5.0), x_eval=np.zeros((2, 3)), y_eval=[1.0, 2])
    ds = load_dataset(f"npz:{path}")
    assert ds.task == "regression" and ds.x_eval.shape == (2, 3)
    np.savez(path, features=np.ones((5, 3)))
    with pytest.raises(
        ValueError, match=r"^`data` npz file toy.npz must hold arrays x and y; got \['features'\]$"
    ):
        load_dataset(f"npz:{path}")
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"^`data` npz file toy.npz cannot be read: "):
        load_dataset(f"npz:{path}")
    with pytest.raises(ValueError, match=r"^`data` path must be an existing file; got 'nope.npz'$"):
        load_dataset("npz:nope.npz")


@pytest.mark.parametrize(
    "spec",
    ["foo", "", "mnist", "mnist:", "synthetic:", "synthetic:blobs", "cifar100:x", "Digits", 42],
)
def test_unknown_specs(spec) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(DATA_ERROR.format(spec))}$"):
        load_dataset(spec)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("synthetic:classes,a", "`data` synthetic:classes takes up to 3 integers N,D,C"),
        ("synthetic:classes,1,2,3,4", "`data` synthetic:classes takes up to 3 integers N,D,C"),
        ("synthetic:classes,-5", "`data` synthetic:classes takes up to 3 integers N,D,C"),
        ("synthetic:least-squares,10,2,1", "`data` synthetic:least-squares takes up to 2"),
        ("synthetic:classes,0", "`data` synthetic:classes,0: N must be an integer >= 1; got 0"),
        (
            "synthetic:least-squares,5,10",
            "`data` synthetic:least-squares,5,10: N must be >= D (10); got 5",
        ),
        ("mnist:no/such/dir", "`data` path must be an existing directory; got 'no/such/dir'"),
        ("cifar10:no/such/dir", "`data` path must be an existing directory; got 'no/such/dir'"),
    ],
)
def test_bad_spec_arguments(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        load_dataset(spec)


CLASSES = synthetic_classes(num_examples=40, num_features=7, num_classes=3)
DIGITS = load_dataset("digits")
REGRESSION = synthetic_least_squares(num_examples=40, dim=6)


def test_build_model_sizes() -> None:
    softmax = build_model("softmax", DIGITS, 0.01)
    assert softmax.name == "softmax" and softmax.convex and softmax.l2 == 0.01
    params = jax.eval_shape(softmax.init, _key())
    assert params["W"].shape == (64, 10)
    ls = build_model("least-squares", REGRESSION, 0.0)
    assert ls.convex and jax.eval_shape(ls.init, _key())["w"].shape == (6,)
    net = build_model("mlp", CLASSES, 0.0)
    assert not net.convex and jax.eval_shape(net.init, _key())["layers"][-1]["W"].shape == (64, 3)
    conv = build_model("cnn", DIGITS, 0.001)
    assert jax.eval_shape(conv.init, _key())["conv"][0]["W"].shape == (3, 3, 1, 8)


def _key() -> jax.Array:
    return jax.random.key(0)


def test_build_model_errors() -> None:
    names = "softmax, softmax-nobias, least-squares, mlp, cnn"
    with pytest.raises(ValueError, match=rf"^`model` must be one of {names}; got 'foo'$"):
        build_model("foo", DIGITS, 0.0)
    with pytest.raises(ValueError, match=r"^`model` least-squares needs regression `data`; got "):
        build_model("least-squares", DIGITS, 0.0)
    for name in ("softmax", "mlp", "cnn"):
        with pytest.raises(ValueError, match=f"^`model` {name} needs classification `data`"):
            build_model(name, REGRESSION, 0.0)
    with pytest.raises(ValueError, match=r"^`model` cnn needs image `data`"):
        build_model("cnn", CLASSES, 0.0)
    with pytest.raises(ValueError, match=r"^`l2` must be a finite number >= 0; got -0.1$"):
        build_model("softmax", DIGITS, -0.1)
