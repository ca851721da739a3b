"""The public API as a user meets it: ``from simulator import X`` gives X, never a module."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types

import pytest

import distributions
import models
import simulator


def _all_packages():
    """Every package of the project (after importing every module, so that submodule
    attributes that could shadow public names are all set)."""
    packages = [distributions, models, simulator]
    for info in pkgutil.walk_packages(simulator.__path__, "simulator."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        if info.ispkg:
            packages.append(module)
    for pkg in (distributions, models):
        for info in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + "."):
            importlib.import_module(info.name)
    return packages


@pytest.mark.parametrize("name", simulator.__all__)
def test_every_public_name_is_what_it_says(name):
    namespace: dict = {}
    exec(f"from simulator import {name}", namespace)
    assert not isinstance(namespace[name], types.ModuleType), name


def test_no_public_name_equals_a_submodule_even_after_every_import():
    for package in _all_packages():
        submodules = {info.name for info in pkgutil.iter_modules(package.__path__)}
        public = set(getattr(package, "__all__", ()))
        assert not public & submodules, (package.__name__, sorted(public & submodules))
        for name in public:
            assert not inspect.ismodule(getattr(package, name)), (package.__name__, name)
    from simulator import replay

    assert callable(replay) and simulator.replay is replay
    assert inspect.isfunction(simulator.replay) and inspect.isfunction(simulator.simulate)


def test_dir_lists_every_public_name():
    assert set(simulator.__all__) <= set(dir(simulator))
    assert set(models.__all__) <= set(dir(models))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        simulator.nope  # noqa: B018


def test_errors_are_one_family():
    from simulator import USER_ERRORS, PssimError, PssimTypeError, SpecError

    assert issubclass(PssimError, ValueError) and issubclass(SpecError, PssimError)
    assert issubclass(PssimTypeError, TypeError) and issubclass(PssimTypeError, PssimError)
    assert distributions.LawError in USER_ERRORS and models.DataError in USER_ERRORS
    with pytest.raises(ValueError):  # what API users catch keeps working
        simulator.ExperimentSpec(updates=0)
    with pytest.raises(distributions.LawError):
        distributions.parse_law("exp:-1")


def test_version_is_the_package_version():
    from importlib.metadata import version

    assert simulator.__version__ == version("pssim")
