"""The worlds system: ``Worlds`` records what happens, ``Counters`` counts it.

``Counters`` is a process application: it follows the notification log of
``Worlds``, and what its policy saves is recorded atomically with the
position of the notification it processed, so each event is counted once,
even across restarts.
"""

from __future__ import annotations

from typing import Any, List
from uuid import UUID

from eventsourcing.application import AggregateNotFound, Application
from eventsourcing.domain import DomainEvent
from eventsourcing.system import ProcessApplication, ProcessEvent, System
from examples.worlds.domain import Counter, World

__all__ = ["Counters", "Worlds", "worlds_system"]


class Worlds(Application[World]):
    """Creates worlds and makes things happen in them."""

    def create_world(self, name: str) -> UUID:
        world = World(name)
        self.save(world)
        return world.id

    def make_it_so(self, world_id: UUID, what: str) -> None:
        world: World = self.repository.get(world_id)
        world.make_it_so(what)
        self.save(world)

    def get_history(self, world_id: UUID) -> List[str]:
        world: World = self.repository.get(world_id)
        return list(world.history)


class Counters(ProcessApplication[Counter]):
    """Counts how many times each thing happened, in every world it follows."""

    def policy(self, domain_event: DomainEvent, process_event: ProcessEvent) -> None:
        if not isinstance(domain_event, World.SomethingHappened):
            return
        try:
            counter: Counter = self.repository.get(Counter.create_id(domain_event.what))
        except AggregateNotFound:
            counter = Counter(domain_event.what)
        counter.increment()
        process_event.collect_events(counter)

    def get_count(self, what: str) -> int:
        try:
            counter: Counter = self.repository.get(Counter.create_id(what))
        except AggregateNotFound:
            return 0
        return counter.count


def worlds_system() -> System:
    """Counters follows Worlds."""
    pipes: List[List[Any]] = [[Worlds, Counters]]
    return System(pipes=pipes)
