"""The cluster a runtime theory is asked about: what a run has beyond the papers' idealised
one (failures, deadlines, slowdowns, links, latencies), as :class:`Cluster`."""

from __future__ import annotations

import dataclasses
from typing import Any

from simulator.errors import PssimError

__all__ = ["Cluster"]


@dataclasses.dataclass(frozen=True)
class Cluster:
    """What a run has beyond the papers' cluster (each off by default; see
    :class:`~simulator.spec.ExperimentSpec` for the fields' meaning and units).

    Attributes:
        failure, repair: laws of the up and down times, or None.
        availability: P (n_l, 2) arrays of each learner's down periods ``[down, up)``.
        deadline: D > 0 of a round, or None.
        slowdown: ``(rate_in, rate_out, factor)`` or None; ``slowdown_shared``: one chain.
        transfer_bytes: B, bytes of a push or a pull (needed with links).
        bandwidth: each learner's link (a float, or P floats), or None (unlimited).
        server_bandwidth: each server shard's link, or None; ``servers``: S >= 1.
        push_latency, pull_latency, service_time: laws, or None.
    """

    failure: Any = None
    repair: Any = None
    availability: Any = None
    deadline: float | None = None
    slowdown: tuple[float, float, float] | None = None
    slowdown_shared: bool = False
    transfer_bytes: float | None = None
    bandwidth: Any = None
    server_bandwidth: float | None = None
    servers: int = 1
    push_latency: Any = None
    pull_latency: Any = None
    service_time: Any = None

    @classmethod
    def from_spec(cls, spec) -> Cluster:
        """The cluster of an :class:`~simulator.spec.ExperimentSpec`."""
        names = [f.name for f in dataclasses.fields(cls)]
        values = {n: getattr(spec, n, None) for n in names if n != "transfer_bytes"}
        values["servers"] = values["servers"] or 1
        values["slowdown_shared"] = bool(values["slowdown_shared"])
        if values["availability"] is not None:
            values["availability"] = values["availability"].intervals(spec.num_learners)
        network = values["bandwidth"] is not None or values["server_bandwidth"] is not None
        if network:
            values["transfer_bytes"] = spec.transfer_bytes
        return cls(**values)

    def __post_init__(self) -> None:
        if self.network and self.transfer_bytes is None:
            raise PssimError(
                "`transfer_bytes` must be given with a bandwidth or a server bandwidth; got None",
                param="transfer_bytes",
            )

    @property
    def features(self) -> tuple[str, ...]:
        """The fields that are on, in field order (``repair`` goes with ``failure``)."""
        off = {"slowdown_shared": False, "servers": 1}
        on = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("repair", "transfer_bytes") or value is None:
                continue
            if f.name not in off or value != off[f.name]:
                on.append(f.name)
        return tuple(on)

    @property
    def network(self) -> bool:
        return self.bandwidth is not None or self.server_bandwidth is not None

    def for_variant(self, variant: str) -> Cluster:
        """This cluster as it applies to ``variant`` (a canonical name), as
        :func:`simulator.studies._variant_specs.for_variant` keeps a spec: a deadline for the
        round-based variants only; no server link, shards, service time or pull for
        all-reduce."""
        changes: dict[str, Any] = {}
        if variant not in ("k-sync", "k-batch-sync", "k-avg"):
            changes["deadline"] = None
        if variant == "all-reduce":
            changes.update(server_bandwidth=None, servers=1, service_time=None, pull_latency=None)
        return dataclasses.replace(self, **changes) if changes else self
