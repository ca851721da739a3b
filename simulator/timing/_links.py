"""A link shared by the transfers in flight: processor sharing with per-flow caps.

The transfers crossing a link split its capacity max-min fairly (water-filling): a flow
capped below its fair share (by its learner's own link) takes its cap, the others share
what is left equally. Each time a flow starts or ends, every flow's remaining bytes are
brought up to date and the next completion is scheduled again (SimGrid's fluid model of
a shared link). Completion times are exact up to floating point; the flow whose computed
completion is the earliest is the one that completes (no residue below a tolerance).
"""

from __future__ import annotations

import math

import simpy

__all__ = ["Flow", "SharedLink", "fair_rates"]


def fair_rates(capacity: float, caps: list[float]) -> list[float]:
    """Max-min fair rates of flows with ``caps`` (math.inf: uncapped) on a link of
    ``capacity`` (bytes per unit time)."""
    order = sorted(range(len(caps)), key=caps.__getitem__)
    rates = [0.0] * len(caps)
    left, n = capacity, len(caps)
    for rank, i in enumerate(order):
        share = left / (n - rank)
        rate = min(caps[i], share)
        rates[i] = rate
        left -= rate
    return rates


class Flow:
    """One transfer on a link: ``done`` fires when its bytes have crossed."""

    __slots__ = ("cap", "done", "rate", "remaining")

    def __init__(self, env: simpy.Environment, nbytes: float, cap: float) -> None:
        self.remaining, self.cap, self.rate = float(nbytes), float(cap), 0.0
        self.done = env.event()


class SharedLink:
    """A link of ``capacity`` bytes per unit time shared by its flows.

    ``uniform``: every flow has the same size and cap (a promise of the caller), so all
    flows get ``min(cap, capacity / n)`` and the oldest one finishes first.
    """

    def __init__(self, env: simpy.Environment, capacity: float, *, uniform: bool = False) -> None:
        self.env, self.capacity, self.uniform = env, float(capacity), uniform
        self.flows: list[Flow] = []
        self._since = env.now  # remaining bytes are up to date at this time
        self._generation = 0  # invalidates a scheduled completion when flows change

    def transfer(self, nbytes: float, cap: float = math.inf) -> Flow:
        """Start a flow of ``nbytes`` capped at ``cap``; yield its ``done`` to wait."""
        self._advance()
        flow = Flow(self.env, nbytes, cap)
        if flow.remaining <= 0:
            flow.done.succeed()
            return flow
        self.flows.append(flow)
        self._schedule()
        return flow

    def cancel(self, flow: Flow) -> None:
        """Stop a flow before it completes (its learner failed or was cancelled)."""
        if flow in self.flows:
            self._advance()
            self.flows.remove(flow)
            self._schedule()

    def _advance(self) -> None:
        dt = self.env.now - self._since
        if dt > 0:
            for f in self.flows:
                f.remaining -= f.rate * dt
        self._since = self.env.now

    def _schedule(self) -> None:
        self._generation += 1
        if not self.flows:
            return
        if self.uniform:
            rate = min(self.flows[0].cap, self.capacity / len(self.flows))
            for f in self.flows:
                f.rate = rate
            first = self.flows[0]  # the oldest: the same bytes, the same rate since
        else:
            rates = fair_rates(self.capacity, [f.cap for f in self.flows])
            for f, r in zip(self.flows, rates, strict=True):
                f.rate = r
            first = min(self.flows, key=lambda f: f.remaining / f.rate)
        timer = self.env.timeout(max(first.remaining / first.rate, 0.0))
        generation = self._generation
        timer.callbacks.append(lambda _e: self._complete(first, generation))

    def _complete(self, flow: Flow, generation: int) -> None:
        if generation != self._generation:
            return  # flows changed since: a later schedule holds
        self._advance()
        self.flows.remove(flow)
        flow.remaining = 0.0
        flow.done.succeed()
        self._schedule()
