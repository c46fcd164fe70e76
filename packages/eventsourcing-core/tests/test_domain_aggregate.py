"""Aggregates in the explicit style: _create(), trigger_event(), collect_events()."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any, List, Optional
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import pytest

from eventsourcing.domain import (
    Aggregate,
    AggregateCreated,
    AggregateEvent,
    VersionError,
)


class Journal(Aggregate):
    """An aggregate written the long way: explicit events with apply()."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.entries: List[str] = []

    @classmethod
    def start(cls, title: str) -> Journal:
        return cls._create(cls.Started, id=uuid4(), title=title)

    class Started(AggregateCreated):
        title: str

    def write(self, text: str) -> None:
        self.trigger_event(self.EntryWritten, text=text)

    class EntryWritten(AggregateEvent):
        text: str

        def apply(self, journal: Journal) -> None:
            journal.entries.append(self.text)

    def retitle(self, title: str) -> None:
        self.trigger_event(self.Retitled, title=title)

    class Retitled(AggregateEvent):
        title: str

        def apply(self, journal: Journal) -> None:
            if not self.title.strip():
                raise ValueError(f"bad title {self.title!r}")
            journal.title = self.title


def replay(events: List[Any], start: Optional[Any] = None) -> Any:
    aggregate = start
    for e in events:
        aggregate = e.mutate(aggregate)
    return aggregate


def test_create_with_base_created_event_class_and_given_id() -> None:
    aggregate_id = uuid4()
    aggregate = Aggregate._create(Aggregate.Created, id=aggregate_id)
    assert aggregate.id == aggregate_id
    assert aggregate.version == 1
    assert isinstance(aggregate.created_on, datetime)
    assert aggregate.created_on.tzinfo is not None
    assert aggregate.created_on == aggregate.modified_on


def test_trigger_event_increments_version_and_modified_on() -> None:
    aggregate = Aggregate._create(Aggregate.Created, id=uuid4())
    aggregate.trigger_event(AggregateEvent)
    assert aggregate.version == 2
    assert aggregate.modified_on > aggregate.created_on
    aggregate.trigger_event(Aggregate.Event)
    assert aggregate.version == 3


def test_collect_events_returns_pending_events_in_order_then_empties() -> None:
    aggregate = Aggregate._create(Aggregate.Created, id=uuid4())
    aggregate.trigger_event(AggregateEvent)
    assert len(aggregate.pending_events) == 2
    events = aggregate.collect_events()
    assert [type(e) for e in events] == [Aggregate.Created, AggregateEvent]
    assert isinstance(events[0], AggregateCreated)
    assert [e.originator_id for e in events] == [aggregate.id, aggregate.id]
    assert [e.originator_version for e in events] == [1, 2]
    assert events[0].timestamp == aggregate.created_on
    assert events[1].timestamp == aggregate.modified_on
    assert aggregate.pending_events == []
    assert aggregate.collect_events() == []


def test_created_event_carries_topic_of_aggregate_class() -> None:
    journal = Journal.start("Travels")
    (created,) = journal.collect_events()
    assert isinstance(created, Journal.Started)
    assert created.originator_topic == f"{Journal.__module__}:Journal"
    assert created.title == "Travels"


def test_explicit_events_apply_and_replay_to_equal_copy() -> None:
    journal = Journal.start("Travels")
    journal.write("Left home")
    journal.write("Crossed the sea")
    journal.retitle("Voyages")
    assert journal.entries == ["Left home", "Crossed the sea"]
    assert journal.title == "Voyages"
    assert journal.version == 4
    events = journal.collect_events()
    copy = replay(events)
    assert isinstance(copy, Journal)
    assert copy.id == journal.id
    assert copy.version == journal.version
    assert copy.created_on == journal.created_on
    assert copy.modified_on == journal.modified_on
    assert copy.entries == journal.entries
    assert copy == journal


def test_exception_in_apply_leaves_aggregate_unchanged_and_no_event() -> None:
    journal = Journal.start("Travels")
    before_modified = journal.modified_on
    with pytest.raises(ValueError, match="bad title"):
        journal.retitle("   ")
    assert journal.title == "Travels"
    assert journal.version == 1
    assert journal.modified_on == before_modified
    assert len(journal.pending_events) == 1
    journal.retitle("Voyages")
    assert journal.version == 2


def test_event_applied_out_of_sequence_raises_version_error() -> None:
    journal = Journal.start("Travels")
    journal.write("one")
    journal.write("two")
    created, first, second = journal.collect_events()
    copy = created.mutate(None)
    with pytest.raises(VersionError, match="expected 2"):
        second.mutate(copy)
    assert copy.version == 1
    assert copy.entries == []
    with pytest.raises(VersionError):
        first.mutate(first.mutate(copy))


def test_mutate_misuse_is_a_type_error() -> None:
    journal = Journal.start("Travels")
    journal.write("one")
    created, written = journal.collect_events()
    with pytest.raises(TypeError, match="needs an aggregate"):
        written.mutate(None)
    with pytest.raises(TypeError, match="constructs a new aggregate"):
        created.mutate(journal)


def test_trigger_event_with_wrong_arguments_names_event_class() -> None:
    journal = Journal.start("Travels")
    with pytest.raises(TypeError, match="EntryWritten"):
        journal.trigger_event(Journal.EntryWritten, words="x")
    with pytest.raises(TypeError, match="EntryWritten"):
        journal.trigger_event(Journal.EntryWritten)
    assert journal.version == 1
    assert len(journal.pending_events) == 1


def test_create_with_wrong_arguments_names_event_class() -> None:
    with pytest.raises(TypeError, match=r"Journal\.Started"):
        Journal._create(Journal.Started, id=uuid4(), heading="x")


def test_timestamps_of_one_aggregate_never_go_backwards() -> None:
    journal = Journal.start("Travels")
    for i in range(200):
        journal.write(str(i))
    stamps = [e.timestamp for e in journal.collect_events()]
    assert all(a < b for a, b in itertools.pairwise(stamps))


def test_equality_compares_class_and_state_not_pending_events() -> None:
    journal = Journal.start("Travels")
    journal.write("one")
    events = journal.pending_events[:]
    copy = replay(events)
    assert copy.pending_events == []
    assert copy == journal
    copy.write("two")
    assert copy != journal
    assert journal != "Travels"

    class OtherJournal(Journal):
        pass

    other = object.__new__(OtherJournal)
    other.__dict__.update(journal.__dict__)
    assert other != journal


def test_aggregates_are_not_hashable() -> None:
    journal = Journal.start("Travels")
    with pytest.raises(TypeError):
        hash(journal)


def test_repr_shows_class_id_version_and_attributes() -> None:
    journal = Journal.start("Travels")
    text = repr(journal)
    assert text.startswith("Journal(")
    assert f"id={journal.id!r}" in text
    assert "version=1" in text
    assert "title='Travels'" in text
    assert "entries=[]" in text
    assert "pending_events" not in text


def test_id_is_read_only() -> None:
    journal = Journal.start("Travels")
    with pytest.raises(AttributeError, match="cannot be changed"):
        journal.id = uuid4()  # type: ignore[misc]
    journal.id = journal.id  # type: ignore[misc]  # a no-op is allowed
    assert journal.version == 1


class Counter(Aggregate):
    INITIAL_VERSION = 0

    def __init__(self) -> None:
        self.count = 0

    def increment(self) -> None:
        self.trigger_event(self.Incremented)

    class Incremented(Aggregate.Event):
        def apply(self, counter: Counter) -> None:
            counter.count += 1


def test_initial_version_can_be_changed_per_class() -> None:
    counter = Counter()
    assert counter.version == 0
    counter.increment()
    assert counter.version == 1
    events = counter.collect_events()
    assert [e.originator_version for e in events] == [0, 1]
    assert replay(events) == counter
    assert Aggregate().version == 1


class Page(Aggregate):
    def __init__(self, name: str, body: str) -> None:
        self.name = name
        self.body = body

    @classmethod
    def create(cls, name: str, body: str = "") -> Page:
        return cls._create(event_class=cls.Created, id=uuid4(), name=name, body=body)

    class Created(AggregateCreated):
        name: str
        body: str

    def update_name(self, name: str) -> None:
        self.trigger_event(self.NameUpdated, name=name)

    class NameUpdated(AggregateEvent):
        name: str

        def apply(self, page: Page) -> None:
            page.name = self.name


class Index(Aggregate):
    def __init__(self, name: str, ref: Optional[UUID]) -> None:
        self.name = name
        self.ref = ref

    @classmethod
    def create(cls, page: Page) -> Index:
        return cls._create(
            event_class=cls.Created, id=cls.create_id(page.name), name=page.name, ref=page.id
        )

    @staticmethod
    def create_id(name: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/pages/{name}")

    class Created(AggregateCreated):
        name: str
        ref: Optional[UUID]

    def update_ref(self, ref: Optional[UUID]) -> None:
        self.trigger_event(self.RefUpdated, ref=ref)

    class RefUpdated(AggregateEvent):
        ref: Optional[UUID]

        def apply(self, index: Index) -> None:
            index.ref = self.ref


def test_namespaced_ids_find_aggregates_by_mutable_name() -> None:
    page = Page.create(name="Erth")
    index1 = Index.create(page)
    assert Index.create_id("Erth") == index1.id
    assert index1.ref == page.id
    assert index1.id.version == 5

    page.update_name("Earth")
    index1.update_ref(None)
    index2 = Index.create(page)
    assert Index.create_id("Earth") == index2.id
    assert index2.ref == page.id
    assert index1.ref is None
    assert index1.id != index2.id


def test_created_on_modified_on_and_history_match_events() -> None:
    page = Page.create(name="Erth")
    page.update_name("Earth")
    created, updated = page.collect_events()
    assert page.created_on == created.timestamp
    assert page.modified_on == updated.timestamp
    assert page.modified_on > page.created_on


class Vote(Aggregate):
    def __init__(self) -> None:
        self.count = 0

    class Cast(Aggregate.Event):
        def apply(self, vote: Vote) -> None:
            vote.count += 1

    class Discarded(Aggregate.Event):
        def mutate(self, aggregate: Optional[Vote]) -> Optional[Vote]:
            super().mutate(aggregate)
            return None

    def discard(self) -> None:
        self.trigger_event(self.Discarded)


def test_final_event_can_return_none_from_mutate() -> None:
    vote = Vote()
    vote.trigger_event(Vote.Cast)
    vote.discard()
    assert vote.version == 3
    events = vote.collect_events()
    assert replay(events[:2]).count == 1
    assert replay(events) is None


def test_initial_version_can_be_set_on_the_library_base_class(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Aggregate, "INITIAL_VERSION", 0)
    vote = Vote()
    assert vote.version == 0
    vote.trigger_event(Vote.Cast)
    assert [e.originator_version for e in vote.collect_events()] == [0, 1]


class Stamped(Aggregate):
    """Events of this aggregate all read the same clock value."""

    class Event(Aggregate.Event):
        @staticmethod
        def create_timestamp() -> datetime:
            return FIXED_TIME

    class Created(Event, Aggregate.Created):
        pass

    class Ticked(Event):
        pass


FIXED_TIME = datetime(2030, 1, 1, tzinfo=timezone.utc)


def test_timestamps_are_nudged_forward_when_the_clock_does_not_advance() -> None:
    stamped = Stamped()
    stamped.trigger_event(Stamped.Ticked)
    stamped.trigger_event(Stamped.Ticked)
    stamps = [e.timestamp for e in stamped.collect_events()]
    assert stamps == [FIXED_TIME + timedelta(microseconds=i) for i in range(3)]
    assert stamped.modified_on == stamps[-1]


def test_version_and_modified_on_can_be_set() -> None:
    stamped = Stamped()
    stamped.version = 5
    stamped.modified_on = FIXED_TIME + timedelta(days=1)
    assert stamped.version == 5
    stamped.trigger_event(Stamped.Ticked)
    assert stamped.version == 6
    assert stamped.modified_on == FIXED_TIME + timedelta(days=1, microseconds=1)


def test_trigger_event_takes_the_event_class_by_keyword_too() -> None:
    # eventsourcing 9.1 code may call trigger_event(event_class=...).
    class Counter(Aggregate):
        class Incremented(Aggregate.Event):
            by: int

            def apply(self, aggregate: Aggregate) -> None:
                aggregate.count = getattr(aggregate, "count", 0) + self.by  # type: ignore[attr-defined]

    counter = Counter()
    counter.trigger_event(event_class=Counter.Incremented, by=2)
    counter.trigger_event(Counter.Incremented, by=3)
    assert counter.count == 5  # type: ignore[attr-defined]
    assert counter.version == 3
