"""The spec's faults, slowdowns and network fields (see :mod:`simulator.spec`): what they
mean and how they are checked. All are opt-in; a spec that sets none of them keeps its
dict, TOML and digest.

- ``failure``, ``repair``: laws (spec strings, frozen scipy laws, expressions in m and P,
  like ``law``) of the time a learner stays up and stays down; each learner alternates
  from time 0, up first, on its own streams. Given together; a learner that goes down loses
  its work in flight.
- ``availability``: each learner's measured down periods instead (a CSV file with columns
  ``worker``, ``down``, ``up``; see :mod:`simulator._availability_file`), refused with
  ``failure``/``repair``; kept as typed, identified by the SHA-256 of its bytes.
- ``deadline``: D > 0; a round's update happens at the K-th arrival or D after the round
  started, with what has arrived. Round-based variants only (sync, k-sync, k-batch-sync,
  k-avg).
- ``slowdown``: ``(rate_in, rate_out, factor)`` (``"0.1,0.5,4"`` or a 3-list): a learner
  enters a slow state at rate ``rate_in`` and leaves it at ``rate_out`` (per time unit, a
  two-state Markov chain), working ``factor`` > 1 times slower while slow;
  ``slowdown_shared``: one chain for the whole cluster (needs ``slowdown``).
- ``model_bytes``: bytes of a gradient and of a model, > 0; None: the model's parameter
  count times the dtype's bytes (``spec.transfer_bytes``). Needs a link to cross
  (``bandwidth`` or ``server_bandwidth``).
- ``bandwidth``: each learner's link in bytes per time unit, one float or P of them
  (``"1e9,2e9"``); ``server_bandwidth``: each server shard's link, shared by the transfers
  in flight; ``servers``: S >= 1 shards (S > 1 needs ``server_bandwidth``).
- ``all-reduce`` has no server: no ``server_bandwidth``, ``servers``, ``service_time``,
  ``pull_latency`` or ``deadline``.

The laws ``failure`` and ``repair`` are resolved with the other law fields (in
:mod:`simulator._spec_checks`); this module checks the rest and returns the values to store.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from distributions import MAX_TIME
from models import DataError, data_shape, param_count
from simulator._availability_file import load_availability
from simulator._checks import check_count
from simulator.errors import PssimError, SpecError, shown

__all__ = [
    "ALL_REDUCE_REFUSED",
    "DTYPE_BYTES",
    "NETWORK_DEFAULTS",
    "ROUND_BASED",
    "check_network",
    "model_transfer_bytes",
    "replace_faults",
]

#: Canonical variants whose updates close rounds (a deadline may cut them).
ROUND_BASED = ("k-sync", "k-batch-sync", "k-avg")
#: The new fields and the values that leave them off (``to_dict`` skips these).
NETWORK_DEFAULTS: dict[str, Any] = {
    "failure": None,
    "repair": None,
    "availability": None,
    "deadline": None,
    "slowdown": None,
    "slowdown_shared": False,
    "model_bytes": None,
    "bandwidth": None,
    "server_bandwidth": None,
    "servers": 1,
}
#: Fields that ``all-reduce`` refuses (it has no server and no rounds to cut).
ALL_REDUCE_REFUSED = ("server_bandwidth", "servers", "service_time", "pull_latency", "deadline")
#: Bytes of one parameter of each replay dtype.
DTYPE_BYTES = {"float32": 4, "float64": 8}
#: Largest ``model_bytes`` and ``servers``: counts stay exact as floats.
_MAX_COUNT = 2**53


def _positive(name: str, value: Any, what: str = "a number") -> float:
    """``value`` (a real, or a string holding one) as a finite float > 0."""
    x = None
    if isinstance(value, str):
        try:  # ASCII only: Python reads Arabic-Indic or fullwidth digits
            x = float(value) if value.isascii() else None
        except ValueError:
            pass
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:
            x = float(value)
        except OverflowError:  # an integer beyond the floats
            x = math.inf
    if x is None:
        raise SpecError(f"`{name}` must be {what}; got {shown(value)}", param=name)
    if not (math.isfinite(x) and x > 0):
        raise SpecError(f"`{name}` must be a finite number > 0; got {shown(value)}", param=name)
    return x


def _items(value: Any) -> list | None:
    """The entries of a comma-separated string or a sequence; None for anything else."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",")]
    if isinstance(value, bytes) or not isinstance(value, Sequence):
        return None
    return list(value)


def _slowdown(value: Any) -> tuple[float, float, float] | None:
    """``(rate_in, rate_out, factor)``: rates > 0 per time unit, factor > 1."""
    if value is None:
        return None
    form = "RATE_IN,RATE_OUT,FACTOR (rates > 0 per time unit into and out of the slow state, "
    form += "FACTOR > 1)"
    items = _items(value)
    if items is None or len(items) != 3:
        raise SpecError(f"`slowdown` must be {form}; got {shown(value)}", param="slowdown")
    rate_in, rate_out, factor = (_positive("slowdown", x, form) for x in items)
    if factor <= 1:
        raise SpecError(
            f"`slowdown` FACTOR must be > 1 (a slow learner works FACTOR times slower); "
            f"got {shown(value)}",
            param="slowdown",
        )
    return rate_in, rate_out, factor


def _bandwidth(value: Any, p: int) -> float | tuple[float, ...] | None:
    """One link rate for every learner (a float) or P of them (a tuple)."""
    if value is None:
        return None
    form = "bytes per time unit: a number > 0 or P numbers (one per learner)"
    items = [value] if isinstance(value, numbers.Real) else _items(value)
    if items is None or not items:
        raise SpecError(f"`bandwidth` must be {form}; got {shown(value)}", param="bandwidth")
    if len(items) == 1 and not isinstance(value, numbers.Real):  # "1e9", [1e9]: one value
        return _positive("bandwidth", items[0], form)
    if isinstance(value, numbers.Real):
        return _positive("bandwidth", value, form)
    if len(items) != p:
        raise SpecError(
            f"`bandwidth` must have one value or P ({p}) values, one per learner; got "
            f"{len(items)} values",
            param="bandwidth",
        )
    return tuple(_positive("bandwidth", x, form) for x in items)


def _count(name: str, value: Any, optional: bool = False) -> int | None:
    """A count >= 1; a whole float (``1e6``, as sizes are written) is taken as its int."""
    if value is None and optional:
        return None
    if isinstance(value, float) and value.is_integer():
        if value > _MAX_COUNT:  # said as typed, not as the int it would round to
            raise SpecError(f"`{name}` must be <= {_MAX_COUNT}; got {value:g}", param=name)
        value = int(value)
    try:
        return check_count(name, value, maximum=_MAX_COUNT)
    except PssimError as err:
        raise SpecError(str(err), param=name) from None


def _failure_laws(out: dict[str, Any]) -> None:
    """``failure`` and ``repair`` together, the failure law's mean > 0."""
    failure, repair = out["failure"], out["repair"]
    if (failure is None) != (repair is None):
        given, other = ("failure", "repair") if repair is None else ("repair", "failure")
        raise SpecError(
            f"`failure` and `repair` must be given together (a learner alternates up and down "
            f"times); got `{given}` without `{other}`",
            param=other,
        )
    if failure is not None:
        try:
            mean = float(failure.mean())
        except (ValueError, ArithmeticError):
            mean = math.nan
        if not mean > 0:  # every learner would be down at once, forever
            raise SpecError(
                f"`failure` must keep learners up for a mean time > 0; got {failure.spec} "
                f"(mean {mean:g})",
                param="failure",
            )


def _all_reduce(out: dict[str, Any], get: Callable[[str], Any]) -> None:
    """Refuse what ``all-reduce`` cannot use, naming the field and ``variant``."""
    for name in ALL_REDUCE_REFUSED:
        value = out.get(name, get(name))
        if value is not None and value != NETWORK_DEFAULTS.get(name):
            what = value.spec if hasattr(value, "spec") else shown(value)
            raise SpecError(
                f"`{name}` must not be given with `variant` all-reduce (no server: the "
                f"learners average their gradients by a ring all-reduce); got {name}={what}",
                param=name,
            )


def check_network(
    get: Callable[[str], Any], out: dict[str, Any], variant: str, canonical: str, p: int
) -> dict[str, Any]:
    """Check the faults, slowdown and network fields; return the values to store.

    Args:
        get: the spec's field getter (values as given).
        out: the values already checked: ``failure``, ``repair`` (resolved laws or None),
            ``service_time``, ``pull_latency``.
        variant: the variant as named (``sync``); canonical: its canonical name.
        p: P, the number of learners.

    Raises:
        SpecError: one line naming the field (and the other field of a refused pair).
    """
    res: dict[str, Any] = {}
    _failure_laws(out)
    availability = get("availability")
    if availability is not None:
        if out["failure"] is not None:
            raise SpecError(
                "`availability` and `failure` must not both be given (the file gives every "
                "learner's down periods); got both",
                param="availability",
            )
        availability = load_availability(availability)
        availability.check_learners(p)
    res["availability"] = availability
    res["deadline"] = None
    if get("deadline") is not None:
        res["deadline"] = _positive("deadline", get("deadline"))
        if canonical not in ROUND_BASED:
            raise SpecError(
                "`deadline` applies to the round-based variants only (sync, k-sync, "
                f"k-batch-sync, k-avg); got `variant` {variant}",
                param="deadline",
            )
    res["slowdown"] = _slowdown(get("slowdown"))
    shared = get("slowdown_shared")
    if not isinstance(shared, bool):
        raise SpecError(
            f"`slowdown_shared` must be true or false; got {shown(shared)}",
            param="slowdown_shared",
        )
    if shared and res["slowdown"] is None:
        raise SpecError(
            "`slowdown_shared` needs `slowdown` (the chain it shares); got slowdown_shared "
            "and no slowdown",
            param="slowdown_shared",
        )
    res["slowdown_shared"] = shared
    res["bandwidth"] = _bandwidth(get("bandwidth"), p)
    res["server_bandwidth"] = None
    if get("server_bandwidth") is not None:
        res["server_bandwidth"] = _positive(
            "server_bandwidth", get("server_bandwidth"), "bytes per time unit, a number > 0"
        )
    res["servers"] = _count("servers", get("servers"))
    if res["servers"] > 1 and res["server_bandwidth"] is None:
        raise SpecError(
            f"`servers` > 1 needs `server_bandwidth`; got servers={res['servers']} and no "
            "server_bandwidth",
            param="servers",
        )
    res["model_bytes"] = _count("model_bytes", get("model_bytes"), optional=True)
    if (
        res["model_bytes"] is not None
        and res["bandwidth"] is None
        and res["server_bandwidth"] is None
    ):
        raise SpecError(
            "`model_bytes` needs `bandwidth` or `server_bandwidth` (bytes take time only on "
            f"a link); got model_bytes={res['model_bytes']} and neither",
            param="model_bytes",
        )
    _check_transfer_time(res)
    if canonical == "all-reduce":
        _all_reduce({**out, **res}, get)
    return res


def _check_transfer_time(res: dict[str, Any]) -> None:
    """A transfer of ``model_bytes`` over the slowest link must take a finite time no longer
    than any law's (``distributions.MAX_TIME``)."""
    nbytes = res["model_bytes"]
    if nbytes is None:
        return
    bandwidth = res["bandwidth"]
    links = [("bandwidth", b) for b in (bandwidth if isinstance(bandwidth, tuple) else [bandwidth])]
    links.append(("server_bandwidth", res["server_bandwidth"]))
    for name, rate in links:
        if rate is not None and not nbytes / rate <= MAX_TIME:
            raise SpecError(
                f"`model_bytes` / `{name}` must be a transfer time <= {MAX_TIME:g}; got "
                f"{nbytes} / {rate:g} = {nbytes / rate:g}",
                param="model_bytes",
            )


def replace_faults(changes: dict[str, Any]) -> None:
    """Make failure/repair and ``availability`` alternatives in ``changes``, and turn off
    both laws when one is set to None (see ``ExperimentSpec.replace``)."""
    if changes.get("failure") is not None or changes.get("repair") is not None:
        changes.setdefault("availability", None)
    if changes.get("availability") is not None:
        changes.setdefault("failure", None)
        changes.setdefault("repair", None)
    for one, other in (("failure", "repair"), ("repair", "failure")):
        if one in changes and changes[one] is None:
            changes.setdefault(other, None)


@functools.lru_cache(maxsize=256)
def model_transfer_bytes(model: str, data: str, dtype: str) -> int:
    """Bytes of one gradient or model of ``model`` on ``data``: its parameter count times
    the bytes of ``dtype`` (cached: a data set on disk is read once).

    Raises:
        SpecError: data whose shapes cannot be read, or a model that does not fit it
            (``param`` is ``data``).
    """
    try:
        shape = data_shape(data)
        count = param_count(model, shape.num_features, shape.num_classes, shape.image_shape)
    except DataError as err:
        raise SpecError(
            f"`data` must give the model's size (the bytes of a push or pull; or give "
            f"`model_bytes`): {err}",
            param="data",
        ) from None
    return count * DTYPE_BYTES[dtype]
