"""The @event (alias @triggers) and @aggregate decorators."""

from __future__ import annotations

import dataclasses
import inspect
import sys
from datetime import datetime
from typing import Any, List, Optional, cast

import pytest

from eventsourcing.domain import (
    Aggregate,
    AggregateEvent,
    DecoratedEvent,
    aggregate,
    event,
    triggers,
)


def replay(events: List[Any]) -> Any:
    obj = None
    for e in events:
        obj = e.mutate(obj)
    return obj


class Robot(Aggregate):
    name: str

    @event("Renamed")
    def rename(self, name: str) -> None:
        """Give the robot a new name."""
        self.name = name

    @event
    def battery_charged(self, percent: int, *, source: str = "mains") -> None:
        self.charge = (percent, source)

    @triggers("Moved")
    def move(self, x: int, y: int = 0, /) -> None:
        self.position = (x, y)

    @event
    def _reset(self) -> None:
        self.name = "robot"


def test_named_event_is_defined_triggered_and_applied() -> None:
    robot = Robot(name="r1")
    robot.rename("r2")
    assert robot.name == "r2"
    assert robot.version == 2
    created, renamed = robot.collect_events()
    assert created.name == "r1"
    assert type(renamed) is Robot.Renamed
    assert renamed.name == "r2"
    assert renamed.originator_version == 2
    assert Robot.Renamed.__qualname__ == "Robot.Renamed"
    assert issubclass(Robot.Renamed, Robot.Event)
    assert issubclass(Robot.Renamed, DecoratedEvent)
    assert [f.name for f in dataclasses.fields(Robot.Renamed)][-1] == "name"


def test_event_name_inferred_from_method_name() -> None:
    robot = Robot(name="r1")
    robot.battery_charged(80)
    robot._reset()
    events = robot.collect_events()
    assert [type(e).__name__ for e in events] == ["Created", "BatteryCharged", "Reset"]
    assert events[1].percent == 80
    assert events[1].source == "mains"
    assert robot.charge == (80, "mains")
    assert robot.name == "robot"


def test_keyword_only_positional_only_and_default_arguments() -> None:
    robot = Robot(name="r1")
    robot.battery_charged(percent=50, source="solar")
    robot.move(3)
    robot.move(4, 5)
    assert robot.charge == (50, "solar")
    assert robot.position == (4, 5)
    events = robot.collect_events()
    assert (events[2].x, events[2].y) == (3, 0)
    copy = replay(events)
    assert copy.position == (4, 5)
    assert copy == robot


def test_decorated_methods_keep_name_doc_and_signature() -> None:
    assert Robot.rename.__name__ == "rename"
    # Python names a function in argument errors by its __qualname__, and 9.1
    # named aggregate methods there without their class (except on Python 3.10).
    expected = "Robot.rename" if sys.version_info[:2] == (3, 10) else "rename"
    assert Robot.rename.__qualname__ == expected
    assert Robot.rename.__wrapped__.__qualname__ == "Robot.rename"  # type: ignore[attr-defined]
    with pytest.raises(TypeError) as raised:
        Robot(name="r1").rename()  # type: ignore[call-arg]
    assert str(raised.value) == f"{expected}() missing 1 required positional argument: 'name'"
    assert Robot.rename.__doc__ == "Give the robot a new name."
    assert str(inspect.signature(Robot.rename)) == "(self, name: 'str') -> 'None'"
    assert str(inspect.signature(Robot.move)) == "(self, x: 'int', y: 'int' = 0, /) -> 'None'"
    assert Robot.rename.event_class is Robot.Renamed  # type: ignore[attr-defined]


def test_wrong_arguments_to_decorated_method_raise_type_error_and_record_nothing() -> None:
    robot = Robot(name="r1")
    with pytest.raises(TypeError, match=r"^(Robot\.)?rename\(\) missing 1 required"):
        robot.rename()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"^(Robot\.)?rename\(\) got an unexpected keyword"):
        robot.rename(title="x")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"^(Robot\.)?rename\(\) takes 2 positional"):
        robot.rename("a", "b")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"positional-only"):
        robot.move(x=1)  # type: ignore[call-arg]
    assert robot.version == 1
    assert len(robot.pending_events) == 1


def test_replay_runs_method_body_as_apply() -> None:
    robot = Robot(name="r1")
    robot.rename("r2")
    robot.rename("r3")
    copy = replay(robot.collect_events())
    assert copy.name == "r3"
    assert copy == robot


class World(Aggregate):
    def __init__(self) -> None:
        self.history: List[str] = []

    @event("SomethingHappened")
    def make_it_so(self, what: str) -> None:
        self.history.append(what)


def test_world_in_declarative_style() -> None:
    world = World()
    world.make_it_so("dinosaurs")
    world.make_it_so("trucks")
    world.make_it_so("internet")
    assert world.history == ["dinosaurs", "trucks", "internet"]
    events = world.collect_events()
    assert len(events) == 4
    assert [e.what for e in events[1:]] == ["dinosaurs", "trucks", "internet"]
    assert replay(events) == world


class Thermostat(Aggregate):
    target: int = 20

    def set_target(self, target: int) -> None:
        if target != self.target:
            self.target_changed(target)

    @event
    def target_changed(self, target: int) -> None:
        self.target = target


def test_command_method_triggers_event_only_when_something_changes() -> None:
    thermostat = Thermostat()
    for target in (20, 20, 20, 22, 22, 22, 22):
        thermostat.set_target(target)
    events = thermostat.collect_events()
    assert len(events) == 2
    assert type(events[1]) is Thermostat.TargetChanged


class Order(Aggregate):
    def __init__(self, name: str) -> None:
        self.name = name
        self.confirmed_at: Optional[datetime] = None
        self.pickedup_at: Optional[datetime] = None

    @event("Confirmed")
    def confirm(self, at: datetime) -> None:
        self.confirmed_at = at

    def pickup(self, at: datetime) -> None:
        if self.confirmed_at is None:
            raise RuntimeError("Order is not confirmed")
        self._pickup(at)

    @event("PickedUp")
    def _pickup(self, at: datetime) -> None:
        self.pickedup_at = at

    @event("Shipped")
    def ship(self, at: datetime) -> None:
        if self.pickedup_at is None:
            raise RuntimeError("Order is not picked up")
        self.shipped_at = at


def test_non_trivial_command_checks_before_triggering() -> None:
    order = Order("books")
    with pytest.raises(RuntimeError):
        order.pickup(datetime.now())
    assert len(order.pending_events) == 1
    order.confirm(datetime.now())
    order.pickup(datetime.now())
    assert order.pickedup_at is not None and order.confirmed_at is not None
    assert order.pickedup_at > order.confirmed_at
    events = order.collect_events()
    assert [type(e).__name__ for e in events] == ["Created", "Confirmed", "PickedUp"]
    copy = replay(events)
    assert copy.confirmed_at == order.confirmed_at
    assert copy.pickedup_at == order.pickedup_at
    assert copy.modified_on == order.modified_on


def test_exception_in_decorated_body_records_no_event_and_keeps_version() -> None:
    order = Order("books")
    modified_on = order.modified_on
    with pytest.raises(RuntimeError, match="not picked up"):
        order.ship(datetime.now())
    assert order.version == 1
    assert order.modified_on == modified_on
    assert len(order.pending_events) == 1
    assert not hasattr(order, "shipped_at")


class Gadget(Aggregate):
    class Painted(Aggregate.Event):
        colour: str
        coats: int = 1

    @event(Painted)
    def paint(self, colour: str) -> None:
        self.colour = colour


def test_event_class_can_be_given_to_decorator() -> None:
    gadget = Gadget()
    gadget.paint("blue")
    assert gadget.colour == "blue"
    created, painted = gadget.collect_events()
    assert type(painted) is Gadget.Painted
    assert painted.coats == 1
    assert replay([created, painted]) == gadget


def test_event_class_given_to_decorator_is_checked() -> None:
    class HasApply(Aggregate.Event):
        colour: str

        def apply(self, aggregate: Any) -> None:
            aggregate.steps = ["HasApply.apply"]

    class A(Aggregate):
        @event(HasApply)
        def paint(self, colour: str) -> None:
            self.steps.append(f"paint {colour}")

    # A class from elsewhere is used itself (its topic stays the same); its
    # own apply() runs first, then the method body, as in 9.1.9.
    a = A()
    a.paint("red")
    assert type(a.pending_events[-1]) is HasApply
    assert a.steps == ["HasApply.apply", "paint red"]

    class Painted(Aggregate.Event):
        colour: str

    with pytest.raises(TypeError, match=r"\['size'\] which are not attributes"):

        class B(Aggregate):
            @event(Painted)
            def paint(self, colour: str, size: int) -> None:
                pass

    class C(Aggregate):
        @event(Painted)
        def paint(self, colour: str) -> None:
            pass

    with pytest.raises(TypeError, match=r"^Painted event class used in more than one decorator$"):

        class D(Aggregate):
            @event(Painted)
            def paint(self, colour: str) -> None:
                pass

    with pytest.raises(
        TypeError, match=r"is not a str, aggregate event class, function, or property$"
    ):
        event(int)  # type: ignore[call-overload]


class Lamp(Aggregate):
    def __init__(self, colour: str) -> None:
        self._colour = colour

    @property
    def colour(self) -> str:
        return self._colour

    @colour.setter
    @event("ColourChanged")
    def colour(self, colour: str) -> None:
        self._colour = colour


def test_decorated_property_setter_triggers_event() -> None:
    lamp = Lamp("red")
    lamp.colour = "green"
    assert lamp.colour == "green"
    created, changed = lamp.collect_events()
    assert type(changed) is Lamp.ColourChanged
    assert changed.colour == "green"
    assert replay([created, changed]).colour == "green"


def test_decorator_misuse_raises_type_errors() -> None:
    with pytest.raises(TypeError, match=r"^\*args not supported by decorator on f\(\)"):

        class A(Aggregate):
            @event
            def f(self, *args: Any) -> None:
                pass

    with pytest.raises(TypeError, match=r"^\*\*kwargs not supported by decorator on f\(\)"):

        class B(Aggregate):
            @event("Done")
            def f(self, **kwargs: Any) -> None:
                pass

    with pytest.raises(TypeError, match="staticmethod"):

        class C(Aggregate):
            @event  # type: ignore[arg-type]
            @staticmethod
            def f() -> None:
                pass

    with pytest.raises(TypeError, match="property"):

        class D(Aggregate):
            @event  # type: ignore[arg-type]
            @property
            def f(self) -> int:
                return 1

    with pytest.raises(TypeError, match="getter"):

        class E(Aggregate):
            @property
            @event
            def f(self) -> int:
                return 1

    with pytest.raises(TypeError, match="not a valid class name"):
        event("not a name")
    with pytest.raises(
        TypeError, match="is not a str, aggregate event class, function, or property"
    ):
        event(42)  # type: ignore[call-overload]
    with pytest.raises(ValueError, match=r"^Can't use empty string as name of event class$"):
        event("")
    with pytest.raises(TypeError, match=r"^Done event already defined on G"):

        class G(Aggregate):
            class Done(Aggregate.Event):
                pass

            @event("Done")
            def f(self) -> None:
                pass


def test_decorated_method_used_in_plain_class_is_a_clear_error() -> None:
    class Plain:
        @event("Done")
        def f(self) -> None:
            pass

    with pytest.raises(TypeError, match="not an Aggregate"):
        Plain().f()
    with pytest.raises(TypeError, match="not an Aggregate"):
        Plain.f(Plain())
    assert Plain.f.__qualname__.endswith("Plain.f")


def test_subclass_inherits_decorated_methods_and_events() -> None:
    class Cyborg(Robot):
        @event("Upgraded")
        def upgrade(self, level: int) -> None:
            self.level = level

    cyborg = Cyborg(name="c1")
    cyborg.rename("c2")
    cyborg.upgrade(3)
    events = cyborg.collect_events()
    assert [type(e) for e in events] == [Cyborg.Created, Robot.Renamed, Cyborg.Upgraded]
    copy = replay(events)
    assert type(copy) is Cyborg
    assert copy == cyborg


def test_events_inherit_from_aggregate_event_base_class() -> None:
    class Audited(Aggregate):
        class Event(Aggregate.Event):
            def audit(self) -> str:
                return f"v{self.originator_version}"

        @event
        def touched(self) -> None:
            pass

    audited = Audited()
    audited.touched()
    assert issubclass(Audited.Touched, AggregateEvent)
    assert audited.pending_events[-1].audit() == "v2"


@aggregate(created_event_name="Started")
class Job:
    def __init__(self, title: str) -> None:
        self.title = title

    @event("Finished")
    def finish(self) -> None:
        self.done = True


@aggregate
class Note:
    text: str


def test_aggregate_decorator_makes_plain_class_an_aggregate() -> None:
    job = Job("paint")
    assert isinstance(job, Aggregate)
    assert Job.__qualname__ == "Job"
    job.finish()  # type: ignore[attr-defined]
    events = job.collect_events()  # type: ignore[attr-defined]
    assert [type(e) for e in events] == [Job.Started, Job.Finished]  # type: ignore[attr-defined]
    assert events[0].originator_topic == f"{__name__}:Job"
    assert replay(events) == job
    note = Note("hello")  # type: ignore[call-arg]
    assert note.text == "hello"
    assert replay(note.collect_events()) == note  # type: ignore[attr-defined]


def test_aggregate_decorator_rejects_aggregates_and_non_classes() -> None:
    with pytest.raises(TypeError, match="already an Aggregate"):
        aggregate(Robot)
    with pytest.raises(TypeError, match="decorates classes"):
        aggregate(lambda: None)  # type: ignore[type-var]


def test_aggregate_decorator_keeps_other_base_classes() -> None:
    class Named:
        def describe(self) -> str:
            return f"named {self.name}"  # type: ignore[attr-defined]

    @aggregate
    class Thing(Named):
        def __init__(self, name: str) -> None:
            self.name = name

        def describe(self) -> str:
            return super().describe().upper()

        @event
        def renamed(self, name: str) -> None:
            super().__init__()
            self.name = name

    thing = Thing("box")
    assert thing.describe() == "NAMED BOX"
    assert isinstance(thing, Named) and isinstance(thing, Aggregate)
    thing.renamed("crate")
    assert replay(thing.collect_events()).describe() == "NAMED CRATE"


def test_event_with_empty_parentheses_and_bare_triggers_infer_names() -> None:
    class Valve(Aggregate):
        @event()
        def opened(self) -> None:
            self.open = True

        @triggers
        def closed(self) -> None:
            self.open = False

    valve = Valve()
    valve.opened()
    valve.closed()
    assert [type(e) for e in valve.collect_events()[1:]] == [Valve.Opened, Valve.Closed]
    assert valve.open is False


def test_event_decorator_rejects_functions_it_cannot_use() -> None:
    import functools

    def f(self: Any, x: int) -> None:
        pass

    with pytest.raises(TypeError, match="is not a function or property"):
        event("Done")(cast(Any, functools.partial(f, None)))
    with pytest.raises(TypeError, match="must take the aggregate as its first argument"):

        class A(Aggregate):
            @event
            def g() -> None:  # type: ignore[misc]
                pass


def test_decorated_method_added_after_class_definition_is_a_clear_error() -> None:
    class Late(Aggregate):
        pass

    def ring(self: Any) -> None:
        pass

    Late.ring = event("Rang")(ring)  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="not defined in the body"):
        Late().ring()  # type: ignore[attr-defined]


def test_decorated_event_apply_of_base_class_runs_method_with_event_values() -> None:
    robot = Robot(name="r1")
    robot.battery_charged(42, source="sun")
    created, charged = robot.collect_events()
    copy = created.mutate(None)
    DecoratedEvent.apply(charged, copy)
    assert copy.charge == (42, "sun")


def test_event_decorator_on_init_needs_created_event_class() -> None:
    class NotCreated(Aggregate.Event):
        name: str

    with pytest.raises(TypeError, match="NotCreated'> not subclass of AggregateCreated"):

        class Ship(Aggregate):
            @event(NotCreated)
            def __init__(self, name: str) -> None:
                self.name = name
