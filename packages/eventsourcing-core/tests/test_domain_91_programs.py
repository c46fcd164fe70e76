"""Domain programs written for eventsourcing 9.1.9 behave here as they did there.

Each test states a 9.1.9 behaviour (checked by running the same program with
eventsourcing 9.1.9) that this library once did differently.
"""

from __future__ import annotations

import dataclasses
import sys
import types
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any, Dict, Iterator, List, Optional
from uuid import uuid4

import pytest

from eventsourcing import domain
from eventsourcing.application import Application
from eventsourcing.domain import (
    Aggregate,
    AggregateCreated,
    AggregateEvent,
    DecoratedEvent,
    OriginatorIDError,
    OriginatorVersionError,
    VersionError,
    aggregate,
    decorated_event_classes,
    decorated_methods,
    event,
    raise_missing_names_type_error,
)
from eventsourcing.utils import get_topic, register_topic, resolve_topic

# --- 1 and 2: generic event classes, and the aggregate's own Event class ------

user_id: ContextVar[Optional[str]] = ContextVar("user_id", default=None)


class Page(Aggregate):
    title: str
    body: str = ""
    modified_by: Optional[str] = dataclasses.field(default=None, init=False)

    class Event(Aggregate.Event["Page"]):
        user_id: Optional[str] = dataclasses.field(default_factory=user_id.get, init=False)

        def apply(self, aggregate: Page) -> None:
            aggregate.modified_by = self.user_id

    @event("BodyUpdated")
    def update_body(self, body: str) -> None:
        self.body = body

    def rename(self, title: str) -> None:
        self.trigger_event(self.Renamed, title=title)

    class Renamed(Aggregate.Event["Page"]):
        title: str

        def apply(self, aggregate: Page) -> None:
            super().apply(aggregate)
            aggregate.title = self.title


class Vehicle(Aggregate):
    """As 9.1.9's parking lot example declares its events."""

    class Event(Aggregate.Event["Vehicle"]):
        pass

    class Registered(Event, Aggregate.Created["Vehicle"]):
        plate: str

    @event(Registered)
    def __init__(self, plate: str) -> None:
        self.plate = plate


@pytest.fixture
def app(store_env: Dict[str, str]) -> Iterator[Application[Any]]:
    with Application[Any](env=store_env) as application:
        yield application


def test_aggregate_event_classes_are_generic() -> None:
    assert Page.Event.__orig_bases__ == (Aggregate.Event["Page"],)  # type: ignore[attr-defined]
    vehicle = Vehicle("ABC 123")
    (registered,) = vehicle.collect_events()
    assert type(registered) is Vehicle.Registered
    assert isinstance(registered, Vehicle.Event)
    assert registered.mutate(None) == vehicle


def test_base_event_apply_runs_for_created_and_every_command(app: Application[Any]) -> None:
    token = user_id.set("alice")
    try:
        page = Page(title="Home")
        assert page.modified_by == "alice"
        user_id.set("bob")
        page.update_body("Hello")
        assert page.modified_by == "bob"
        user_id.set("carol")
        page.rename("Start")
        assert (page.title, page.modified_by) == ("Start", "carol")
    finally:
        user_id.reset(token)
    created, updated, renamed = page.pending_events
    assert [e.user_id for e in (created, updated, renamed)] == ["alice", "bob", "carol"]
    # The made and declared event classes all extend the aggregate's Event class.
    assert isinstance(created, Page.Event) and isinstance(updated, Page.Event)
    assert isinstance(renamed, Page.Event)
    assert issubclass(Page.BodyUpdated, DecoratedEvent)
    assert get_topic(type(renamed)) == f"{__name__}:Page.Renamed"
    app.save(page)
    copy = app.repository.get(page.id)
    assert (copy.title, copy.body, copy.modified_by) == ("Start", "Hello", "carol")
    assert copy == page


def test_subclass_events_extend_the_subclass_event_class() -> None:
    class Note(Page):
        class Event(Page.Event):
            def apply(self, aggregate: Any) -> None:
                super().apply(aggregate)
                aggregate.notes = getattr(aggregate, "notes", 0) + 1

        @event("Pinned")
        def pin(self) -> None:
            self.pinned = True

    note = Note(title="n")
    note.pin()
    assert note.notes == 2  # the Created event and Pinned
    assert issubclass(Note.Created, Note.Event) and issubclass(Note.Pinned, Note.Event)


def test_event_class_given_to_decorator_extends_the_aggregate_event_class() -> None:
    class Order(Aggregate):
        class Event(Aggregate.Event["Order"]):
            def apply(self, aggregate: Any) -> None:
                aggregate.log.append(type(self).__name__)

        def __init__(self) -> None:
            self.log: List[str] = []

        class Confirmed(AggregateEvent["Order"]):
            at: datetime

            def apply(self, aggregate: Any) -> None:
                super().apply(aggregate)
                aggregate.log.append("Confirmed.apply")

        @event(Confirmed)
        def confirm(self, at: datetime) -> None:
            self.log.append("confirm")

    order = Order()
    order.confirm(datetime(2022, 1, 1, tzinfo=timezone.utc))
    assert order.log == ["Created", "Confirmed", "Confirmed.apply", "confirm"]
    assert issubclass(Order.Confirmed, Order.Event)
    assert decorated_methods[Order.Confirmed].__name__ == "confirm"
    assert Order.Confirmed in decorated_event_classes.values()


# --- 3: @event above or below the property setter -----------------------------


def test_event_decorator_above_or_below_property_setter() -> None:
    class Invoice(Aggregate):
        def __init__(self, amount: int) -> None:
            self._amount = amount
            self._note = ""

        @property
        def amount(self) -> int:
            return self._amount

        @event("AmountUpdated")
        @amount.setter
        def amount(self, amount: int) -> None:
            self._amount = amount

        @property
        def note(self) -> str:
            return self._note

        @note.setter
        @event("NoteUpdated")
        def note(self, note: str) -> None:
            self._note = note

    invoice = Invoice(1)
    invoice.amount = 2
    invoice.note = "paid"
    created, amount_updated, note_updated = invoice.collect_events()
    assert (type(amount_updated), amount_updated.amount) == (Invoice.AmountUpdated, 2)
    assert (type(note_updated), note_updated.note) == (Invoice.NoteUpdated, "paid")
    copy = note_updated.mutate(amount_updated.mutate(created.mutate(None)))
    assert (copy.amount, copy.note) == (2, "paid")


def test_event_decorator_on_property_needs_a_setter_and_a_name() -> None:
    with pytest.raises(TypeError) as raised:

        class A(Aggregate):
            @event("X")
            @property
            def p(self) -> int:
                return 1

    assert str(raised.value) == "@event can't decorate p() property getter"

    with pytest.raises(TypeError) as raised:

        class B(Aggregate):
            @property
            def p(self) -> int:
                return 1

            @event  # type: ignore[arg-type]
            @p.setter
            def p(self, value: int) -> None:
                pass

    assert str(raised.value) == "@event on p() setter requires event name or class"

    with pytest.raises(TypeError) as raised:

        class C(Aggregate):
            @property
            def p(self) -> int:
                return 1

            @p.setter
            @event
            def p(self, value: int) -> None:
                pass

    assert str(raised.value) == "@event under p() property setter requires event class name"


# --- 4: parameters named like event attributes get the event's values ----------


def test_parameter_named_timestamp_receives_the_event_timestamp(app: Application[Any]) -> None:
    class Bill(Aggregate):
        @event("Drafted")
        def __init__(self, number: str, timestamp: Optional[datetime] = None) -> None:
            self.number = number
            self.drafted_on = timestamp

        @event("Issued")
        def issue(self, issued_by: str, timestamp: Optional[datetime] = None) -> None:
            self.issued_by = issued_by
            self.issued_on = timestamp

    bill = Bill("INV-1")
    bill.issue("alice", timestamp=datetime(2000, 1, 1, tzinfo=timezone.utc))
    drafted, issued = bill.pending_events
    assert bill.drafted_on == drafted.timestamp == bill.created_on
    assert bill.issued_on == issued.timestamp == bill.modified_on  # not the argument
    assert set(issued.__dict__) == {
        "originator_id",
        "originator_version",
        "timestamp",
        "issued_by",
    }
    app.save(bill)
    copy = app.repository.get(bill.id)
    assert (copy.drafted_on, copy.issued_on) == (bill.drafted_on, bill.issued_on)


# --- 5: events mutate objects that are not aggregates --------------------------


class Counter:
    def __init__(self) -> None:
        self.id = uuid4()
        self.version = 1
        self.modified_on: Optional[datetime] = None
        self.count = 0


class Incremented(AggregateEvent[Any]):
    by: int

    def apply(self, aggregate: Any) -> None:
        aggregate.count += self.by


def test_aggregate_event_mutates_a_plain_object_with_id_and_version() -> None:
    counter = Counter()
    now = datetime.now(timezone.utc)
    incremented = Incremented(originator_id=counter.id, originator_version=2, timestamp=now, by=3)
    assert incremented.mutate(counter) is counter
    assert (counter.count, counter.version, counter.modified_on) == (3, 2, now)
    with pytest.raises(VersionError):
        incremented.mutate(counter)
    assert (counter.count, counter.version) == (3, 2)


def test_event_of_another_originator_is_refused() -> None:
    page = Page(title="t")
    other = Page(title="u")
    update = Page.Renamed(
        originator_id=other.id, originator_version=2, timestamp=page.modified_on, title="x"
    )
    with pytest.raises(OriginatorIDError):
        update.mutate(page)
    assert (page.title, page.version) == ("t", 1)
    stale = Page.Renamed(
        originator_id=page.id, originator_version=5, timestamp=page.modified_on, title="x"
    )
    with pytest.raises(OriginatorVersionError):  # 9.1.9's name
        stale.mutate(page)
    assert issubclass(VersionError, OriginatorVersionError)  # 9.1.3's name still works


# --- 6: renamed modules and classes --------------------------------------------


def test_registered_module_prefix_and_class_resolve_nested_names() -> None:
    class Bird(Aggregate):
        class Registered(Aggregate.Created["Bird"]):
            pass

    package = types.ModuleType("i14_newpkg")
    package.__path__ = []
    module = types.ModuleType("i14_newpkg.birds")
    module.Bird = Bird  # type: ignore[attr-defined]
    package.birds = module  # type: ignore[attr-defined]
    sys.modules.update({"i14_newpkg": package, "i14_newpkg.birds": module})
    try:
        register_topic("i14_oldpkg", package)
        assert resolve_topic("i14_oldpkg.birds:Bird") is Bird
        register_topic("i14_oldmod:OldBird", Bird)
        assert resolve_topic("i14_oldmod:OldBird.Registered") is Bird.Registered
    finally:
        del sys.modules["i14_newpkg"], sys.modules["i14_newpkg.birds"]


# --- 7: aggregate classes are dataclasses --------------------------------------


def test_aggregate_classes_are_dataclasses() -> None:
    class Dog(Aggregate):
        name: str
        tricks: List[str] = dataclasses.field(default_factory=list)

    class Cat(Aggregate):
        def __init__(self, name: str) -> None:
            self.name = name

    class Kitten(Cat):
        pass

    dog = Dog("fido")
    assert dataclasses.is_dataclass(Dog) and dataclasses.is_dataclass(Cat)
    assert "__dataclass_params__" in Kitten.__dict__
    assert not Kitten.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert [f.name for f in dataclasses.fields(Dog)] == ["name", "tricks"]
    assert dataclasses.asdict(dog) == {"name": "fido", "tricks": []}
    assert dataclasses.fields(Cat) == ()
    # A program may still apply @dataclass itself, to aggregates and to events.

    @dataclasses.dataclass
    class Cow(Aggregate):
        name: str

    @dataclasses.dataclass(frozen=True)
    class Mooed(domain.DomainEvent):
        loudness: int

    assert Cow("daisy").name == "daisy"
    mooed = Mooed(originator_id=uuid4(), originator_version=1, timestamp=dog.created_on, loudness=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        mooed.loudness = 4  # type: ignore[misc]


# --- 9: classes defined in functions are saved and read back -------------------


def test_aggregates_defined_in_a_function_are_read_back(app: Application[Any]) -> None:
    class Local(Aggregate):
        class Started(AggregateCreated["Local"]):
            name: str

        def __init__(self, name: str) -> None:
            self.name = name
            self.done: List[str] = []

        @event("Done")
        def do(self, what: str) -> None:
            self.done.append(what)

    local = Local("x")
    local.do("it")
    app.save(local)
    copy = app.repository.get(local.id)
    assert type(copy) is Local and copy.done == ["it"]
    assert "<locals>" in get_topic(Local.Done)


# --- 10 and 11: 9.1's errors and names -----------------------------------------


def test_raise_missing_names_type_error_lists_names_as_python_does() -> None:
    for names, listed in [
        (["'a'"], "'a'"),
        (["'a'", "'b'"], "'a' and 'b'"),
        (["'a'", "'b'", "'c'"], "'a', 'b', and 'c'"),
    ]:
        with pytest.raises(TypeError) as raised:
            raise_missing_names_type_error(names, "f() missing: ")
        assert str(raised.value) == f"f() missing: {listed}"


class _Given(AggregateEvent[Any]):
    pass


class _Created(AggregateCreated[Any]):
    pass


def _define(body: Dict[str, Any], **kwargs: Any) -> Any:
    return type(Aggregate)("A", (Aggregate,), {"__qualname__": "A", **body}, **kwargs)


def _init(self: Any) -> None:
    pass


def _method(self: Any) -> None:
    pass


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: event(""), ValueError, "Can't use empty string as name of event class"),
        (
            lambda: event(1),  # type: ignore[call-overload]
            TypeError,
            "1 is not a str, aggregate event class, function, or property",
        ),
        (
            lambda: _define({"f": event("X")(lambda self, *args: None)}),
            TypeError,
            "*args not supported by decorator on <lambda>()",
        ),
        (
            lambda: _define({"__init__": lambda self, **kw: None}),
            TypeError,
            "**kw not supported by decorator on __init__()",
        ),
        (
            lambda: _define({"X": _Given, "f": event("X")(_method)}),
            TypeError,
            "X event already defined on A",
        ),
        (
            lambda: _define({"__init__": event(_init)}),
            TypeError,
            "Decorator on __init__ has neither event name nor class",
        ),
        (
            lambda: _define({"__init__": event("Opened")(_init)}, created_event_name="Began"),
            TypeError,
            "Can't use both 'created_event_name' and decorator on __init__",
        ),
        (
            lambda: _define({"_created_event_class": _Created}, created_event_name="Began"),
            TypeError,
            "Can't use both '_created_event_class' and 'created_event_name'",
        ),
        (
            lambda: _define({"_created_event_class": _Created, "__init__": event("O")(_init)}),
            TypeError,
            "Can't use both '_created_event_class' and decorator on __init__",
        ),
        (
            lambda: _define({"_created_event_class": int}),
            TypeError,
            "<class 'int'> not subclass of AggregateCreated",
        ),
        (
            lambda: _define({"Began": _Created, "f": event(_Created)(_method)}),
            TypeError,
            f"{_Created} is subclass of AggregateCreated",
        ),
        (
            lambda: aggregate(_define({})),
            TypeError,
            "A is already an Aggregate",
        ),
    ],
)
def test_misuse_raises_the_9_1_exception_and_message(make: Any, error: type, message: str) -> None:
    with pytest.raises(error) as raised:  # type: ignore[var-annotated]
        make()
    assert str(raised.value) == message


def test_event_class_used_by_two_decorators_is_refused() -> None:
    class Shared(AggregateEvent[Any]):
        pass

    _define({"f": event(Shared)(_method)})
    with pytest.raises(TypeError) as raised:
        _define({"g": event(Shared)(_method)})
    assert str(raised.value) == "Shared event class used in more than one decorator"


def test_created_event_class_named_by_class_attribute() -> None:
    class Ship(Aggregate):
        class Launched(AggregateCreated["Ship"]):
            name: str

        class Registered(AggregateCreated["Ship"]):
            name: str

        _created_event_class = Registered

        def __init__(self, name: str) -> None:
            self.name = name

    (created,) = Ship("argo").collect_events()
    assert type(created) is Ship.Registered


def test_event_construction_errors_start_with_9_1_wording() -> None:
    class Boat(Aggregate):
        class Sailed(Aggregate.Event["Boat"]):
            to: str

    with pytest.raises(TypeError) as raised:
        Boat._create(Boat.Created, name="x")
    assert str(raised.value).startswith("Unable to construct 'Created' event: ")
    with pytest.raises(TypeError) as raised:
        Boat().trigger_event(Boat.Sailed)
    assert str(raised.value).startswith(f"Can't construct event {Boat.Sailed}: ")


def test_public_names_of_the_9_1_9_domain_module_are_importable() -> None:
    names = """TZINFO MetaDomainEvent T DomainEvent TDomainEvent TAggregate AggregateEvent
    AggregateCreated EventSpecType AnyCallable DecoratedObjType InjectEventType
    CommandMethodDecorator event triggers UnboundCommandMethodDecorator
    BoundCommandMethodDecorator given_event_classes decorated_methods
    aggregate_has_many_created_event_classes DecoratedEvent decorated_event_classes
    raise_missing_names_type_error TT MetaAggregate Aggregate aggregate OriginatorIDError
    OriginatorVersionError VersionError Snapshot""".split()
    assert [name for name in names if not hasattr(domain, name)] == []
    assert set(names) <= set(domain.__all__)
