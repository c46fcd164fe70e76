"""Domain events: frozen dataclasses, timestamps and time zones, storage round trips."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, List
from uuid import uuid4

import pytest

import eventsourcing.domain as domain
from eventsourcing.domain import (
    Aggregate,
    AggregateCreated,
    AggregateEvent,
    DomainEvent,
    Snapshot,
    event,
)
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Mapper, UUIDAsHex


def make_mapper() -> Mapper[Any]:
    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(DatetimeAsISO())
    return Mapper(transcoder=transcoder)


class Kettle(Aggregate):
    def __init__(self, litres: float) -> None:
        self.litres = litres
        self.boiled = 0

    class Boiled(Aggregate.Event):
        def apply(self, kettle: Kettle) -> None:
            kettle.boiled += 1

    def boil(self) -> None:
        self.trigger_event(self.Boiled)

    @event("Filled")
    def fill(self, litres: float) -> None:
        self.litres = litres


def test_domain_event_is_frozen_dataclass_with_three_fields() -> None:
    now = datetime.now(tz=timezone.utc)
    e = DomainEvent(originator_id=uuid4(), originator_version=3, timestamp=now)
    assert [f.name for f in dataclasses.fields(e)] == [
        "originator_id",
        "originator_version",
        "timestamp",
    ]
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.originator_version = 4  # type: ignore[misc]
    same = DomainEvent(originator_id=e.originator_id, originator_version=3, timestamp=now)
    assert e == same
    assert hash(e) == hash(same)


def test_event_subclasses_are_frozen_dataclasses_keeping_state_in_dict() -> None:
    class Rang(AggregateEvent):
        loudness: int

    e = Rang(originator_id=uuid4(), originator_version=2, timestamp=datetime.now(), loudness=9)
    assert e.__dict__["loudness"] == 9
    assert "loudness" in [f.name for f in dataclasses.fields(e)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.loudness = 3  # type: ignore[misc]


def test_event_classes_must_not_use_slots() -> None:
    with pytest.raises(TypeError, match="__slots__"):

        class Slotted(AggregateEvent):
            __slots__ = ("x",)


def test_created_event_has_originator_topic_field() -> None:
    names = [f.name for f in dataclasses.fields(AggregateCreated)]
    assert names == ["originator_id", "originator_version", "timestamp", "originator_topic"]
    assert issubclass(Aggregate.Created, AggregateCreated)
    assert issubclass(Aggregate.Created, Aggregate.Event)
    assert issubclass(Aggregate.Event, AggregateEvent)


def test_snapshot_fields() -> None:
    names = [f.name for f in dataclasses.fields(Snapshot)]
    assert names == ["originator_id", "originator_version", "timestamp", "topic", "state"]


def test_timestamps_are_utc_by_default() -> None:
    kettle = Kettle(1.5)
    assert kettle.created_on.tzinfo is timezone.utc
    assert abs(datetime.now(tz=timezone.utc) - kettle.created_on) < timedelta(minutes=1)


@pytest.fixture
def restore_tzinfo() -> Iterator[None]:
    original = domain.TZINFO
    try:
        yield
    finally:
        domain.TZINFO = original


@pytest.mark.usefixtures("restore_tzinfo")
def test_assigning_tzinfo_changes_timezone_of_new_timestamps() -> None:
    plus_two = timezone(timedelta(hours=2))
    domain.TZINFO = plus_two
    kettle = Kettle(1.0)
    kettle.boil()
    assert kettle.created_on.tzinfo is plus_two
    assert kettle.modified_on.tzinfo is plus_two
    assert DomainEvent.create_timestamp().tzinfo is plus_two
    assert domain.create_utc_datetime_now().tzinfo is plus_two


def test_tzinfo_topic_environment_variable_configures_tzinfo() -> None:
    code = (
        "import eventsourcing.domain as d\n"
        "from datetime import timezone\n"
        "assert d.TZINFO is timezone.max, d.TZINFO\n"
        "print(d.Aggregate().created_on.utcoffset())\n"
    )
    env = dict(os.environ, TZINFO_TOPIC="datetime:timezone.max")
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "23:59:00"


def test_mutate_applies_first_then_sets_version_and_modified_on() -> None:
    seen: List[Any] = []

    class Watched(Aggregate):
        class Poked(Aggregate.Event):
            def apply(self, aggregate: Any) -> None:
                seen.append((aggregate.version, aggregate.modified_on))

    watched = Watched()
    before = (watched.version, watched.modified_on)
    watched.trigger_event(Watched.Poked)
    assert seen == [before]
    assert watched.version == 2
    assert watched.modified_on == watched.pending_events[-1].timestamp


def test_apply_returning_a_value_is_an_error() -> None:
    # As in 9.1.3: a returned value would be discarded, which hides a bug
    # (e.g. an apply() that builds a new state instead of changing the aggregate).
    class Returns(Aggregate):
        class Done(Aggregate.Event):
            def apply(self, aggregate: Any) -> Any:
                return "ignored"

        @event("Said")
        def say(self) -> Any:
            return "ignored"

    returns = Returns()
    with pytest.raises(TypeError) as raised:
        returns.trigger_event(Returns.Done)
    assert str(raised.value) == (
        "Unexpected value returned from "
        "test_apply_returning_a_value_is_an_error.<locals>.Returns.Done.apply(). "
        "Values returned from 'apply' methods are discarded."
    )
    with pytest.raises(TypeError, match=r"^Unexpected value returned from .*Returns\.say\(\)\. "):
        returns.say()
    assert returns.version == 1 and len(returns.pending_events) == 1


def test_events_survive_mapper_round_trip_and_still_mutate() -> None:
    mapper = make_mapper()
    kettle = Kettle(1.5)
    kettle.boil()
    kettle.fill(0.5)
    kettle.boil()
    events = kettle.collect_events()
    stored = [mapper.from_domain_event(e) for e in events]
    restored = [mapper.to_domain_event(s) for s in stored]
    assert restored == events
    assert [type(e) for e in restored] == [type(e) for e in events]
    copy = None
    for e in restored:
        copy = e.mutate(copy)
    assert copy == kettle
    assert copy is not None and copy.litres == 0.5 and copy.boiled == 2


def test_stored_state_has_event_attributes_but_not_originator_fields() -> None:
    mapper = make_mapper()
    kettle = Kettle(2.0)
    stored = mapper.from_domain_event(kettle.collect_events()[0])
    state = mapper.transcoder.decode(stored.state)
    assert set(state) == {"timestamp", "originator_topic", "litres"}
    assert stored.topic == f"{Kettle.__module__}:Kettle.Created"


def test_topics_of_library_classes_resolve_back() -> None:
    from eventsourcing.utils import get_topic, resolve_topic

    assert get_topic(Aggregate.Created) == "eventsourcing.domain:Aggregate.Created"
    assert resolve_topic("eventsourcing.domain:Aggregate.Created") is Aggregate.Created
    assert resolve_topic(get_topic(Kettle.Filled)) is Kettle.Filled
