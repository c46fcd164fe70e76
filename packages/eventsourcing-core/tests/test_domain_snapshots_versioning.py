"""Snapshots, and versioning of event and aggregate classes with upcasting."""

from __future__ import annotations

from typing import Any, Dict, List
from uuid import uuid4

import pytest

from eventsourcing.domain import Aggregate, AggregateEvent, Snapshot, event
from eventsourcing.persistence import (
    DatetimeAsISO,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    UUIDAsHex,
)
from eventsourcing.utils import get_topic


def make_mapper() -> Mapper[Any]:
    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(DatetimeAsISO())
    return Mapper(transcoder=transcoder)


class World(Aggregate):
    def __init__(self) -> None:
        self.history: List[str] = []

    @event("SomethingHappened")
    def make_it_so(self, what: str) -> None:
        self.history.append(what)


def test_snapshot_take_records_id_version_topic_and_state() -> None:
    world = World()
    world.make_it_so("dinosaurs")
    world.make_it_so("trucks")
    snapshot = Snapshot.take(world)
    assert isinstance(snapshot, Snapshot)
    assert snapshot.originator_id == world.id
    assert snapshot.originator_version == world.version == 3
    assert snapshot.topic == f"{World.__module__}:World"
    assert snapshot.state["history"] == world.history
    assert snapshot.state["_created_on"] == world.created_on
    assert snapshot.state["_modified_on"] == world.modified_on
    assert len(snapshot.state) == 3
    assert snapshot.timestamp >= world.modified_on


def test_snapshot_mutate_reconstructs_equal_aggregate() -> None:
    world = World()
    world.make_it_so("dinosaurs")
    copy = Snapshot.take(world).mutate(None)
    assert isinstance(copy, World)
    assert copy.id == world.id
    assert copy.version == world.version
    assert copy.created_on == world.created_on
    assert copy.modified_on == world.modified_on
    assert copy.history == world.history
    assert copy.pending_events == []
    assert copy == world


def test_snapshot_built_from_a_whole_aggregate_dict_takes_its_own_id_and_version() -> None:
    # 9.1 programs build snapshots directly from ``aggregate.__dict__``, which
    # holds ``_id``, ``_version`` and ``_pending_events``: the snapshot's own
    # originator ID and version win, and the copy has no pending events.
    world = World()
    world.make_it_so("dinosaurs")
    state = dict(world.__dict__, _version=99)
    snapshot = Snapshot(  # type: ignore[call-arg]
        originator_id=world.id,
        originator_version=world.version,
        timestamp=world.modified_on,
        topic=get_topic(World),
        state=state,
    )
    copy = snapshot.mutate(None)
    assert copy.id == world.id
    assert copy.version == world.version == 2
    assert copy.history == ["dinosaurs"]
    assert copy.pending_events == []


def test_snapshot_then_later_events_replay_like_a_list_of_events() -> None:
    world = World()
    world.make_it_so("a")
    world.collect_events()
    snapshot = Snapshot.take(world)
    world.make_it_so("b")
    world.make_it_so("c")
    later = world.collect_events()
    obj: Any = None
    for domain_event in [snapshot, *later]:
        obj = domain_event.mutate(obj)
    assert obj == world
    assert obj.history == ["a", "b", "c"]


def test_snapshot_is_independent_of_later_changes() -> None:
    world = World()
    world.make_it_so("a")
    snapshot = Snapshot.take(world)
    world.make_it_so("b")
    assert snapshot.state["history"] == ["a"]
    first = snapshot.mutate(None)
    second = snapshot.mutate(None)
    first.make_it_so("c")
    assert second.history == ["a"]
    assert snapshot.state["history"] == ["a"]


def test_snapshot_survives_mapper_round_trip() -> None:
    mapper = make_mapper()
    world = World()
    world.make_it_so("a")
    snapshot = Snapshot.take(world)
    restored = mapper.to_domain_event(mapper.from_domain_event(snapshot))
    assert restored == snapshot
    assert restored.mutate(None) == world


def test_snapshot_of_aggregate_with_explicit_init_and_private_attributes() -> None:
    class Safe(Aggregate):
        def __init__(self, code: str) -> None:
            self._code = code

        @event
        def code_changed(self, code: str) -> None:
            self._code = code

    safe = Safe("1234")
    safe.code_changed("9999")
    snapshot = Snapshot.take(safe)
    assert snapshot.state["_code"] == "9999"
    assert snapshot.mutate(None) == safe


# Versioning: the same aggregate at versions 1 to 4 of its classes.


def created_state(aggregate_class: Any, **attrs: Any) -> Dict[str, Any]:
    return {
        "timestamp": Snapshot.create_timestamp(),
        "originator_topic": get_topic(aggregate_class),
        **attrs,
    }


class Thing(Aggregate):
    """Version 4: 'b' and 'c' were added to the created event, 'd' to the aggregate."""

    def __init__(self, a: str, b: int, c: float) -> None:
        self.a = a
        self.b = b
        self.c = c
        self.d = False

    class Created(Aggregate.Created):
        a: str
        b: int
        c: float

        class_version = 3

        @staticmethod
        def upcast_v1_v2(state: Dict[str, Any]) -> None:
            state["b"] = 0

        @staticmethod
        def upcast_v2_v3(state: Dict[str, Any]) -> None:
            state["c"] = 0.0

    @event("DUpdated")
    def set_d(self, d: bool) -> None:
        self.d = d

    class_version = 4

    @staticmethod
    def upcast_v1_v2(state: Dict[str, Any]) -> None:
        state["b"] = 0

    @staticmethod
    def upcast_v2_v3(state: Dict[str, Any]) -> None:
        state["c"] = 0.0

    @staticmethod
    def upcast_v3_v4(state: Dict[str, Any]) -> None:
        state["d"] = False


def stored_created_event(state: Dict[str, Any], class_version: int) -> StoredEvent:
    mapper = make_mapper()
    if class_version > 1:
        state = {**state, "class_version": class_version}
    return StoredEvent(
        originator_id=uuid4(),
        originator_version=1,
        topic=get_topic(Thing.Created),
        state=mapper.transcoder.encode(state),
    )


@pytest.mark.parametrize(
    ("stored_version", "attrs", "expected"),
    [
        (1, {"a": "x"}, ("x", 0, 0.0)),
        (2, {"a": "x", "b": 5}, ("x", 5, 0.0)),
        (3, {"a": "x", "b": 5, "c": 1.5}, ("x", 5, 1.5)),
    ],
)
def test_old_created_events_are_upcast_through_each_version(
    stored_version: int, attrs: Dict[str, Any], expected: Any
) -> None:
    mapper = make_mapper()
    stored = stored_created_event(created_state(Thing, **attrs), stored_version)
    created = mapper.to_domain_event(stored)
    assert (created.a, created.b, created.c) == expected
    thing = created.mutate(None)
    assert (thing.a, thing.b, thing.c, thing.d) == (*expected, False)


def test_new_events_store_class_version_and_read_back_unchanged() -> None:
    mapper = make_mapper()
    thing = Thing("x", 1, 2.0)
    thing.set_d(True)
    created, updated = thing.collect_events()
    stored = mapper.from_domain_event(created)
    assert mapper.transcoder.decode(stored.state)["class_version"] == 3
    assert "class_version" not in mapper.transcoder.decode(mapper.from_domain_event(updated).state)
    copy = mapper.to_domain_event(stored).mutate(None)
    assert (copy.a, copy.b, copy.c) == ("x", 1, 2.0)


@pytest.mark.parametrize(
    ("snapshot_version", "attrs", "expected"),
    [
        (1, {"a": "x"}, ("x", 0, 0.0, False)),
        (2, {"a": "x", "b": 5}, ("x", 5, 0.0, False)),
        (3, {"a": "x", "b": 5, "c": 1.5}, ("x", 5, 1.5, False)),
        (4, {"a": "x", "b": 5, "c": 1.5, "d": True}, ("x", 5, 1.5, True)),
    ],
)
def test_old_snapshots_are_upcast_by_aggregate_class(
    snapshot_version: int, attrs: Dict[str, Any], expected: Any
) -> None:
    now = Snapshot.create_timestamp()
    state: Dict[str, Any] = {"_created_on": now, "_modified_on": now, **attrs}
    if snapshot_version > 1:
        state["class_version"] = snapshot_version
    snapshot = Snapshot(
        originator_id=uuid4(),
        originator_version=7,
        timestamp=now,
        topic=get_topic(Thing),
        state=state,
    )
    thing = snapshot.mutate(None)
    assert (thing.a, thing.b, thing.c, thing.d) == expected
    assert thing.version == 7
    assert "class_version" not in thing.__dict__
    assert "class_version" in snapshot.state or snapshot_version == 1


def test_snapshot_of_versioned_aggregate_records_class_version() -> None:
    thing = Thing("x", 1, 2.0)
    snapshot = Snapshot.take(thing)
    assert snapshot.state["class_version"] == 4
    copy = snapshot.mutate(None)
    assert copy == thing


def test_missing_snapshot_upcast_method_is_reported() -> None:
    class Gappy(Aggregate):
        class_version = 3

        @staticmethod
        def upcast_v1_v2(state: Dict[str, Any]) -> None:
            pass

    now = Snapshot.create_timestamp()
    snapshot = Snapshot(
        originator_id=uuid4(),
        originator_version=1,
        timestamp=now,
        topic=get_topic(Gappy),
        state={"_created_on": now, "_modified_on": now},
    )
    # As in 9.1.9 (and as for stored events): AttributeError.
    with pytest.raises(AttributeError) as raised:
        snapshot.mutate(None)
    assert str(raised.value) == (
        f"{Gappy.__qualname__} has class_version 3 but no method upcast_v2_v3() to "
        f"upcast the state of snapshot of {snapshot.originator_id} at version 1"
    )


class Reading(AggregateEvent):
    """An event class at version 2, stored by the mapper with its class_version."""

    celsius: float
    unit: str

    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: Dict[str, Any]) -> None:
        state["unit"] = "C"


def test_event_class_version_upcasts_state_of_version_1_events() -> None:
    mapper = make_mapper()
    stored = StoredEvent(
        originator_id=uuid4(),
        originator_version=2,
        topic=get_topic(Reading),
        state=mapper.transcoder.encode({"timestamp": Snapshot.create_timestamp(), "celsius": 21.5}),
    )
    reading = mapper.to_domain_event(stored)
    assert isinstance(reading, Reading)
    assert (reading.celsius, reading.unit) == (21.5, "C")
