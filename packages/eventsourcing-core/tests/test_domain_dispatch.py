"""Event construction details and single dispatch (eventsourcing.dispatch)."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import InitVar, field
from datetime import datetime, timezone
from typing import Any, ClassVar, List
from uuid import uuid4

import pytest

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.domain import Aggregate, AggregateEvent, DomainEvent

NOW = datetime.now(tz=timezone.utc)


class Measured(AggregateEvent):
    value: float
    unit: str = "m"


def test_event_init_takes_fields_by_position_and_keyword_with_defaults() -> None:
    oid = uuid4()
    by_keyword = Measured(originator_id=oid, originator_version=2, timestamp=NOW, value=1.5)
    by_position = Measured(oid, 2, NOW, 1.5)  # type: ignore[misc]
    assert by_keyword == by_position
    assert by_keyword.unit == "m"
    assert Measured(oid, 2, NOW, 1.5, "km").unit == "km"  # type: ignore[misc]
    assert list(inspect.signature(Measured).parameters) == [
        "originator_id",
        "originator_version",
        "timestamp",
        "value",
        "unit",
    ]


def test_event_init_reports_missing_and_unexpected_arguments() -> None:
    oid = uuid4()
    with pytest.raises(TypeError, match=r"Measured.__init__\(\) missing 1 required"):
        Measured(originator_id=oid, originator_version=2, timestamp=NOW)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        Measured(oid, 2, NOW, 1.0, colour="red")  # type: ignore[call-arg,misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Measured(oid, 2, NOW, 1.0).value = 2.0  # type: ignore[misc]


def test_event_classes_with_dataclass_extras_keep_dataclass_init() -> None:
    seen: List[Any] = []

    class Checked(AggregateEvent):
        value: int
        tags: List[str] = field(default_factory=list)
        scale: InitVar[int] = 1
        kind: ClassVar[str] = "checked"

        def __post_init__(self, scale: int) -> None:
            seen.append(scale)
            if self.value < 0:
                raise ValueError("negative")

    e = Checked(originator_id=uuid4(), originator_version=1, timestamp=NOW, value=3, scale=10)
    assert seen == [10]
    assert e.tags == []
    assert "scale" not in e.__dict__
    with pytest.raises(ValueError, match="negative"):
        Checked(originator_id=uuid4(), originator_version=1, timestamp=NOW, value=-1)


def test_event_class_with_own_init_keeps_it() -> None:
    class Custom(DomainEvent):
        def __init__(self, note: str) -> None:
            object.__setattr__(self, "originator_id", uuid4())
            object.__setattr__(self, "originator_version", 1)
            object.__setattr__(self, "timestamp", NOW)
            object.__setattr__(self, "note", note)

    assert Custom("hi").note == "hi"  # type: ignore[attr-defined]


class Ship(Aggregate):
    def __init__(self, name: str) -> None:
        self.name = name
        self.log: List[str] = []

    class Event(Aggregate.Event):
        def apply(self, aggregate: Any) -> None:
            aggregate.when(self)

    class Departed(Event):
        port: str

    class Arrived(Event):
        port: str

    class Inspected(Event):
        pass

    def depart(self, port: str) -> None:
        self.trigger_event(self.Departed, port=port)

    def arrive(self, port: str) -> None:
        self.trigger_event(self.Arrived, port=port)

    def inspect(self) -> None:
        self.trigger_event(self.Inspected)

    @singledispatchmethod
    def when(self, event: Any) -> None:
        """Events without a handler change nothing."""

    @when.register(Departed)
    def _(self, event: Ship.Departed) -> None:
        self.log.append(f"left {event.port}")

    @when.register
    def _(self, event: Ship.Arrived) -> None:  # registered by annotation (forward reference)
        self.log.append(f"reached {event.port}")


def test_aggregate_projection_by_single_dispatch() -> None:
    ship = Ship("argo")
    ship.depart("Iolcus")
    ship.inspect()
    ship.arrive("Colchis")
    assert ship.log == ["left Iolcus", "reached Colchis"]
    assert ship.version == 4
    copy = None
    for e in ship.collect_events():
        copy = e.mutate(copy)
    assert copy == ship


def test_dispatch_follows_class_hierarchy_and_keeps_docs() -> None:
    class Base:
        pass

    class Sub(Base):
        pass

    class Handler:
        @singledispatchmethod
        def handle(self, obj: Any, extra: int = 0) -> str:
            """Handle anything."""
            return f"default {extra}"

        @handle.register(Base)
        def _(self, obj: Base, extra: int = 0) -> str:
            return f"base {extra}"

    handler = Handler()
    assert handler.handle(Sub(), extra=2) == "base 2"
    assert handler.handle(object()) == "default 0"
    assert handler.handle.__doc__ == "Handle anything."
    assert Handler.handle.__name__ == "handle"
    with pytest.raises(TypeError, match="requires an argument"):
        handler.handle()


def test_dispatch_registration_after_first_use_takes_effect() -> None:
    class Handler:
        @singledispatchmethod
        def handle(self, obj: Any) -> str:
            return "default"

    handler = Handler()
    assert handler.handle(1) == "default"

    @Handler.__dict__["handle"].register(int)
    def _(self: Handler, obj: int) -> str:
        return "int"

    assert handler.handle(1) == "int"


def test_unresolvable_forward_reference_is_reported_on_use() -> None:
    class Handler:
        @singledispatchmethod
        def handle(self, obj: Any) -> str:
            return "default"

        @handle.register
        def _(self, obj: NoSuchClass) -> str:  # type: ignore[name-defined]  # noqa: F821
            return "never"

    with pytest.raises(TypeError, match="could not be resolved"):
        Handler().handle(1)


def test_process_policy_style_dispatch_with_two_arguments() -> None:
    processed: List[Any] = []

    class Policy:
        @singledispatchmethod
        def policy(self, domain_event: Any, process_event: Any) -> None:
            """Ignore other events."""

        @policy.register(Ship.Departed)
        def _(self, domain_event: Ship.Departed, process_event: Any) -> None:
            processed.append((domain_event.port, process_event))

    ship = Ship("argo")
    ship.depart("Iolcus")
    ship.inspect()
    for e in ship.collect_events():
        Policy().policy(e, "pe")
    assert processed == [("Iolcus", "pe")]
