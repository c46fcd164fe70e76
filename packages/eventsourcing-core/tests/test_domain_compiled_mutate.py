"""The ``mutate()`` compiled for each ``@event`` class behaves as ``apply()`` would.

Event classes of decorated methods run the method body from ``mutate()``
itself (one Python call fewer per event). These tests hold that shortcut to
the behaviour of the general ``AggregateEvent.mutate()``, which calls
``apply()``: the same checks, the same order, and a subclass's own
``apply()`` or ``mutate()`` still used.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, List
from uuid import uuid4

import pytest

from eventsourcing.application import Application
from eventsourcing.domain import (
    Aggregate,
    AggregateEvent,
    OriginatorIDError,
    VersionError,
    event,
    mutate_returns_the_aggregate,
)


class Dog(Aggregate):
    class Event(Aggregate.Event["Dog"]):
        def apply(self, aggregate: Any) -> None:
            aggregate.log.append(f"base {type(self).__name__}")

    def __init__(self, name: str) -> None:
        self.name = name
        self.log: List[str] = []

    @event("TrickAdded")
    def add_trick(self, trick: str) -> None:
        self.log.append(f"trick {trick}")

    @event("Barked")
    def bark(self) -> Any:
        return "woof"  # a bug: apply() values are discarded (9.1.3 refuses them)


class Renamed(AggregateEvent[Any]):
    """An event class given to @event that decides itself how it mutates."""

    name: str

    def mutate(self, aggregate: Any) -> Any:
        aggregate.renamed_by_own_mutate = True
        return super().mutate(aggregate)


class Cat(Aggregate):
    def __init__(self) -> None:
        self.name = ""

    @event(Renamed)
    def rename(self, name: str) -> None:
        self.name = name


def test_decorated_event_classes_compile_a_mutate_that_returns_the_aggregate() -> None:
    assert Dog.TrickAdded.mutate is not AggregateEvent.mutate
    # So applications still cache and snapshot aggregates saved with them.
    assert mutate_returns_the_aggregate(Dog.TrickAdded)
    assert mutate_returns_the_aggregate(AggregateEvent)


def test_compiled_mutate_runs_the_base_apply_then_the_body_and_advances() -> None:
    dog = Dog("fido")
    dog.add_trick("sit")
    assert dog.log == ["base Created", "base TrickAdded", "trick sit"]
    created, added = dog.collect_events()
    copy = added.mutate(created.mutate(None))
    assert copy.log == dog.log
    assert (copy.version, copy.modified_on) == (2, added.timestamp)


def test_compiled_mutate_refuses_what_the_general_one_refuses() -> None:
    dog = Dog("fido")
    dog.add_trick("sit")
    added = dog.collect_events()[1]
    other = Dog("rex")
    with pytest.raises(OriginatorIDError):
        added.mutate(other)
    stale = Dog.TrickAdded(
        originator_id=dog.id, originator_version=2, timestamp=added.timestamp, trick="x"
    )
    with pytest.raises(VersionError):
        stale.mutate(dog)
    with pytest.raises(TypeError, match="needs an aggregate to mutate, got None"):
        added.mutate(None)
    assert (dog.version, other.version, dog.log[-1]) == (2, 1, "trick sit")
    with pytest.raises(TypeError, match=r"^Unexpected value returned from .*bark\(\)"):
        dog.bark()
    assert dog.version == 2  # the event was not kept


def test_compiled_mutate_mutates_a_plain_object_through_public_attributes() -> None:
    class Plain:
        def __init__(self) -> None:
            self.id = uuid4()
            self.version = 1
            self.modified_on: Any = None
            self.log: List[str] = []

    plain = Plain()
    now = datetime.now(timezone.utc)
    added = Dog.TrickAdded(originator_id=plain.id, originator_version=2, timestamp=now, trick="x")
    assert added.mutate(plain) is plain
    assert (plain.log, plain.version, plain.modified_on) == (
        ["base TrickAdded", "trick x"],
        2,
        now,
    )


def test_subclass_with_its_own_apply_is_mutated_by_that_apply() -> None:
    class LoudTrickAdded(Dog.TrickAdded):
        def apply(self, aggregate: Any) -> None:
            aggregate.log.append(f"loud {self.trick}")

    dog = Dog("fido")
    dog.trigger_event(LoudTrickAdded, trick="sit")
    assert dog.log == ["base Created", "loud sit"]
    assert dog.version == 2


def test_event_class_with_its_own_mutate_keeps_it() -> None:
    cat = Cat()
    cat.rename("tom")
    assert cat.name == "tom"
    assert getattr(cat, "renamed_by_own_mutate", False)
    assert not mutate_returns_the_aggregate(Renamed)


def test_application_snapshots_aggregates_of_decorated_events() -> None:
    class Kennel(Application[Any]):
        snapshotting_intervals = {Dog: 2}

    app = Kennel(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    dog = Dog("fido")
    dog.add_trick("sit")
    app.save(dog)
    assert app.snapshots is not None
    assert [s.originator_version for s in app.snapshots.get(dog.id)] == [2]
