"""Which target a user asked for: exactly one of a level, an accuracy or a fraction of the
initial value (none: the default level), and how long a seed must stay there."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from simulator.errors import PssimError, PssimTypeError, shown
from simulator.results._columns import finite_number

__all__ = ["TARGET_KINDS", "TargetChoice", "check_targets", "check_window", "rule_text"]

#: The arguments that give a target, in the order messages name them.
TARGET_KINDS = ("target", "target_accuracy", "target_fraction")


@dataclasses.dataclass(frozen=True)
class TargetChoice:
    """A checked target.

    Attributes:
        kind: the argument that gave it (one of :data:`TARGET_KINDS`), None for the default.
        value: its value (a level, an accuracy in (0, 1], a fraction in (0, 1)); None.
        window: simulated time a seed must stay at the target (None: the rest of its run).
    """

    kind: str | None
    value: float | None
    window: float | None

    @property
    def above(self) -> bool:
        """Whether reaching is ``>=`` (an accuracy) rather than ``<=`` (an error or loss)."""
        return self.kind == "target_accuracy"

    def rule(self) -> str:
        """The rule in words, e.g. ``stays at or below for the rest of the run``."""
        return rule_text(self.window, above=self.above)

    def fraction_level(self, starts: np.ndarray, quantity: str, source: str) -> float:
        """A ``target_fraction``'s level: the fraction times the mean of the finite values
        of ``starts`` (the ``quantity`` at update 0, from ``source``, e.g. ```table```).

        Raises:
            PssimError: no finite start, or a mean start that is not positive.
        """
        starts = np.asarray(starts, dtype=float)
        starts = starts[np.isfinite(starts)]
        if starts.size == 0:
            raise PssimError(
                f"`target_fraction` needs the initial {quantity}: {source} has no finite "
                f"{quantity} at update 0",
                param="target_fraction",
            )
        initial = float(np.mean(starts))
        if not initial > 0:
            raise PssimError(
                f"`target_fraction` needs a positive initial {quantity}; the mean at update 0 "
                f"is {initial:.6g}",
                param="target_fraction",
            )
        return self.value * initial


def rule_text(window: float | None, *, above: bool = False) -> str:
    """How long a seed must stay at the target, in words.

    Example:
        >>> rule_text(None)
        'stays at or below for the rest of the run'
        >>> rule_text(5.0, above=True)
        'stays at or above for 5 time units (or to the end of the run)'
    """
    side = "above" if above else "below"
    if window is None:
        return f"stays at or {side} for the rest of the run"
    return f"stays at or {side} for {window:.6g} time units (or to the end of the run)"


def _number(name: str, value: object) -> float:
    """``value`` as a float (an int beyond the float range is infinite), or refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise PssimTypeError(f"`{name}` must be a number; got {shown(value)}", param=name)
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _in_unit(name: str, value: object, *, closed: bool) -> float:
    x = _number(name, value)
    if not (0.0 < x < 1.0 or (closed and x == 1.0)):
        interval = "(0, 1]" if closed else "(0, 1)"
        raise PssimError(f"`{name}` must be in {interval}; got {shown(value)}", param=name)
    return x


def check_window(value: object, name: str = "window") -> float | None:
    """``value`` (None, or a simulated time > 0) checked; ``name`` is the user's argument."""
    if value is None:
        return None
    x = _number(name, value)
    if math.isnan(x) or math.isinf(x):
        raise PssimError(f"`{name}` must be finite; got {shown(value)}", param=name)
    if x <= 0:
        raise PssimError(f"`{name}` must be > 0; got {shown(value)}", param=name)
    return x


def check_targets(
    *,
    target: object = None,
    target_accuracy: object = None,
    target_fraction: object = None,
    window: object = None,
    window_name: str = "window",
) -> TargetChoice:
    """The target asked for, checked before any work.

    Args:
        target: a level of the error (or the loss): a finite number.
        target_accuracy: an accuracy in (0, 1].
        target_fraction: a fraction in (0, 1) of the initial value.
        window: simulated time units > 0 (finite), or None.
        window_name: the argument the user gave ``window`` as (e.g. ``target_window``).

    Raises:
        PssimError: two targets given (naming both), or a value out of its range;
            PssimTypeError: a value that is not a number.
    """
    given = dict(zip(TARGET_KINDS, (target, target_accuracy, target_fraction), strict=True))
    named = [name for name, value in given.items() if value is not None]
    if len(named) > 1:
        listed = ", ".join(f"`{n}`" for n in TARGET_KINDS[:-1]) + f" or `{TARGET_KINDS[-1]}`"
        got = ", ".join(f"`{n}`" for n in named[:-1]) + f" and `{named[-1]}`"
        raise PssimError(f"give one of {listed}; got {got}", param=named[-1])
    checked_window = check_window(window, window_name)
    if not named:
        return TargetChoice(None, None, checked_window)
    kind = named[0]
    value = given[kind]
    if kind == "target":
        if not finite_number(value):
            raise PssimError(
                f"`target` must be a finite number; got {shown(value)}", param="target"
            )
        x = float(value)
    else:
        x = _in_unit(kind, value, closed=kind == "target_accuracy")
    return TargetChoice(kind, x, checked_window)
