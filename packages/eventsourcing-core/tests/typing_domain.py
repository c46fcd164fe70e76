"""User code of the domain API that ``mypy --strict`` must accept (see mypy.ini).

Not a test module: it is type-checked, and can be run as a script to show
that it also works. ``assert_type`` lines state what a type checker (and so
an IDE) infers for decorated methods, dataclass-style aggregates and events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Optional
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from typing_extensions import assert_type

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.domain import (
    Aggregate,
    AggregateCreated,
    AggregateEvent,
    DomainEvent,
    Snapshot,
    aggregate,
    event,
    triggers,
)


class World(Aggregate):
    """Explicit style."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.history: List[str] = []

    @classmethod
    def create(cls, name: str) -> World:
        return cls._create(cls.Created, id=uuid4(), name=name)

    class Created(AggregateCreated["World"]):
        name: str

    def make_it_so(self, what: str) -> None:
        self.trigger_event(self.SomethingHappened, what=what)

    class SomethingHappened(AggregateEvent["World"]):
        what: str

        def apply(self, world: World) -> None:
            world.history.append(self.what)


@dataclass
class Page(Aggregate):
    """Dataclass style with @event methods and a property setter."""

    name: str
    body: str = ""
    tags: List[str] = field(default_factory=list, init=False)

    @staticmethod
    def create_id(name: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/pages/{name}")

    @event("NameUpdated")
    def update_name(self, name: str) -> None:
        self.name = name

    @event
    def tag_added(self, tag: str, *, pinned: bool = False) -> None:
        self.tags.insert(0, tag) if pinned else self.tags.append(tag)

    @property
    def title(self) -> str:
        return self.name.title()

    @title.setter
    @triggers("Retitled")
    def title(self, value: str) -> None:
        self.name = value.lower()


class Ticket(Aggregate, created_event_name="Opened"):
    """Annotations without @dataclass, and an event class given to @event."""

    subject: str
    assignee: Optional[str] = None

    class Assigned(Aggregate.Event["Ticket"]):
        assignee: Optional[str]

    @event(Assigned)
    def assign(self, assignee: Optional[str]) -> None:
        self.assignee = assignee


class Cargo(Aggregate):
    """Projection by single dispatch on the aggregate."""

    def __init__(self, destination: str) -> None:
        self.destination = destination
        self.legs: List[str] = []

    class Event(Aggregate.Event["Cargo"]):
        def apply(self, aggregate: Any) -> None:
            assert isinstance(aggregate, Cargo)
            aggregate.when(self)

    class LegAdded(Event):
        leg: str

    def add_leg(self, leg: str) -> None:
        self.trigger_event(self.LegAdded, leg=leg)

    @singledispatchmethod
    def when(self, domain_event: DomainEvent) -> None:
        """Events without a registered handler change nothing."""

    @when.register(LegAdded)
    def _(self, domain_event: Cargo.LegAdded) -> None:
        self.legs.append(domain_event.leg)


class Vehicle(Aggregate):
    """Generic event base classes, declared as eventsourcing 9.1.9 programs do."""

    class Event(Aggregate.Event["Vehicle"]):
        pass

    class Registered(Event, Aggregate.Created["Vehicle"]):
        plate: str

    @event(Registered)
    def __init__(self, plate: str) -> None:
        self.plate = plate


@aggregate(created_event_name="Started")
class Job:
    def __init__(self, title: str) -> None:
        self.title = title


def use_world() -> World:
    world = World.create("earth")
    assert_type(world, World)
    world.make_it_so("dinosaurs")
    events = world.collect_events()
    assert_type(events, List[AggregateEvent[Any]])
    copy: Optional[World] = None
    for domain_event in events:
        copy = domain_event.mutate(copy)
    assert copy is not None and copy.history == ["dinosaurs"]
    snapshot = Snapshot.take(world)
    state: Dict[str, Any] = snapshot.state
    assert "history" in state
    restored: World = snapshot.mutate(None)
    assert_type(world.id, UUID)
    assert_type(world.version, int)
    assert_type(world.created_on, datetime)
    assert_type(world.modified_on, datetime)
    return restored


def use_page() -> Page:
    page = Page(name="home")
    assert_type(page, Page)
    page.update_name("index")
    page.tag_added("new", pinned=True)
    page.title = "Welcome"
    assert [type(e) for e in page.collect_events()] == [
        Page.Created,
        Page.NameUpdated,  # defined by @event at run time
        Page.TagAdded,
        Page.Retitled,
    ]
    assert_type(page.title, str)
    assert_type(Page.create_id("x"), UUID)
    return page


def use_ticket() -> Ticket:
    ticket = Ticket("broken link")
    ticket.assign("ann")
    ticket.assign(None)
    return ticket


def use_cargo() -> Cargo:
    cargo = Cargo("Hong Kong")
    cargo.add_leg("Rotterdam")
    return cargo


def use_job() -> Job:
    return Job("paint")


if __name__ == "__main__":
    assert use_world().history == ["dinosaurs"]
    assert use_page().name == "welcome"
    assert use_ticket().assignee is None
    assert use_cargo().legs == ["Rotterdam"]
    assert use_job().title == "paint"
    print("ok")
