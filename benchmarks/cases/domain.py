"""Domain model hot paths: creating aggregates, command methods, replay.

These touch no storage, so they run for the ``popo`` backend only; they
measure the cost the domain layer adds to every command an application runs.
"""

from __future__ import annotations

from typing import Any, List

from benchmarks.harness import case
from eventsourcing.domain import Aggregate, event


class Dog(Aggregate):
    """Declarative style: created event from __init__, @event command."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tricks: List[str] = []

    @event("TrickAdded")
    def add_trick(self, trick: str) -> None:
        self.tricks.append(trick)


class Cat(Aggregate):
    """Explicit style: trigger_event() with an event class that has apply()."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tricks: List[str] = []

    def add_trick(self, trick: str) -> None:
        self.trigger_event(self.TrickAdded, trick=trick)

    class TrickAdded(Aggregate.Event["Cat"]):
        trick: str

        def apply(self, cat: Cat) -> None:
            cat.tricks.append(self.trick)


@case("domain: create aggregate", backends=("popo",))
def create_aggregate(backend: str, env: dict[str, str]) -> int:
    """Call an aggregate class: a new ID, a created event, __init__."""
    count = 20_000
    for _ in range(count):
        Dog("fido")
    return count


@case("domain: @event command", backends=("popo",))
def event_command(backend: str, env: dict[str, str]) -> int:
    """Call an @event decorated method: an event is made and applied."""
    count = 50_000
    dog = Dog("fido")
    add_trick = dog.add_trick
    for _ in range(count):
        add_trick("roll over")
    return count


@case("domain: trigger_event", backends=("popo",))
def trigger_event(backend: str, env: dict[str, str]) -> int:
    """A command calling trigger_event() with an explicit event class."""
    count = 50_000
    cat = Cat("tom")
    add_trick = cat.add_trick
    for _ in range(count):
        add_trick("purr")
    return count


@case("domain: replay events", backends=("popo",))
def replay_events(backend: str, env: dict[str, str]) -> int:
    """Reconstruct an aggregate by mutating with each of its events."""
    dog = Dog("fido")
    for _ in range(999):
        dog.add_trick("sit")
    events = dog.collect_events()
    rounds = 50
    for _ in range(rounds):
        obj: Any = None
        for domain_event in events:
            obj = domain_event.mutate(obj)
    return rounds * len(events)
