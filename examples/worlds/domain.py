"""Aggregates of the worlds system: worlds where things happen, and counters."""

from __future__ import annotations

from typing import List
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

__all__ = ["Counter", "World"]


class World(Aggregate):
    """A world with a history of things that happened in it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.history: List[str] = []

    class SomethingHappened(Aggregate.Event["World"]):
        """Declared so that the policy of Counters can name it."""

        what: str

    @event(SomethingHappened)
    def make_it_so(self, what: str) -> None:
        self.history.append(what)


class Counter(Aggregate):
    """How many times one thing happened, in any world."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.count = 0

    @staticmethod
    def create_id(what: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/counters/{what}")

    @event("Incremented")
    def increment(self) -> None:
        self.count += 1
