"""Stored events, notifications, tracking, exceptions, recorder ports and the
event store, with the domain layer's own events going through the mapper."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from datetime import datetime
from decimal import Decimal
from typing import Any, List, Optional, Sequence
from uuid import UUID, uuid4

import pytest

from eventsourcing import persistence
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.domain import TZINFO, Aggregate, DomainEvent, Snapshot, event
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    Cipher,
    Compressor,
    DatabaseError,
    DataError,
    DatetimeAsISO,
    DecimalAsStr,
    EventStore,
    InfrastructureFactory,
    IntegrityError,
    InterfaceError,
    InternalError,
    JSONTranscoder,
    Mapper,
    Notification,
    NotSupportedError,
    OperationalError,
    PersistenceError,
    ProcessRecorder,
    ProgrammingError,
    RecordConflictError,
    Recorder,
    Recording,
    StoredEvent,
    Tracking,
    Transcoder,
    Transcoding,
    UUIDAsHex,
    make_notification,
    make_stored_event,
)
from eventsourcing.popo import POPOAggregateRecorder, POPOApplicationRecorder, POPOProcessRecorder


def transcoder() -> JSONTranscoder:
    t = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DatetimeAsISO(), DecimalAsStr()):
        t.register(transcoding)
    return t


# --- Stored events, notifications, tracking ------------------------------------------


def test_stored_event_is_a_frozen_dataclass_with_the_reference_fields() -> None:
    id1 = uuid4()
    s = StoredEvent(originator_id=id1, originator_version=1, topic="a.b:C", state=b"{}")
    assert [f.name for f in dataclasses.fields(StoredEvent)] == [
        "originator_id",
        "originator_version",
        "topic",
        "state",
    ]
    assert s == StoredEvent(id1, 1, "a.b:C", b"{}")
    assert hash(s) == hash(StoredEvent(id1, 1, "a.b:C", b"{}"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.state = b"[]"  # type: ignore[misc]


def test_notification_is_a_stored_event_with_an_id() -> None:
    id1 = uuid4()
    n = Notification(id=123, originator_id=id1, originator_version=1, topic="a:B", state=b"{}")
    assert isinstance(n, StoredEvent)
    assert [f.name for f in dataclasses.fields(Notification)][-1] == "id"
    assert n.id == 123
    with pytest.raises(dataclasses.FrozenInstanceError):
        n.id = 124  # type: ignore[misc]
    # A notification is not equal to the stored event it was made from.
    assert n != StoredEvent(id1, 1, "a:B", b"{}")


def test_stored_events_and_notifications_keep_their_fields_in_slots() -> None:
    # No instance dict: one object per notification for the garbage collector.
    s = StoredEvent(uuid4(), 1, "a:B", b"{}")
    n = Notification(uuid4(), 1, "a:B", b"{}", 1)
    for obj in (s, n, make_stored_event(uuid4(), 1, "a:B", b"{}")):
        assert not hasattr(obj, "__dict__")
    assert not hasattr(make_notification(uuid4(), 1, "a:B", b"{}", 1), "__dict__")


@pytest.mark.parametrize("by_keyword", [False, True])
def test_make_functions_make_what_the_constructors_make(by_keyword: bool) -> None:
    id1 = uuid4()
    fields = {"originator_id": id1, "originator_version": 2, "topic": "a:B", "state": b"\x00"}
    if by_keyword:
        made = [make_stored_event(**fields), make_notification(**fields, id=7)]
    else:
        made = [
            make_stored_event(id1, 2, "a:B", b"\x00"),
            make_notification(id1, 2, "a:B", b"\x00", 7),
        ]
    expected = [StoredEvent(**fields), Notification(**fields, id=7)]
    for m, e in zip(made, expected, strict=True):
        assert type(m) is type(e)
        assert m == e and hash(m) == hash(e) and repr(m) == repr(e)
        assert dataclasses.astuple(m) == dataclasses.astuple(e)
        assert pickle.loads(pickle.dumps(m)) == e
        assert copy.copy(m) == e and copy.deepcopy(m) == e
        assert type(dataclasses.replace(m, topic="c:D")) is type(e)
        with pytest.raises(dataclasses.FrozenInstanceError):
            m.topic = "c:D"  # type: ignore[misc]
        with pytest.raises(dataclasses.FrozenInstanceError):
            del m.topic  # type: ignore[misc]
        assert m.topic == "a:B"


def test_a_subclass_of_stored_event_may_add_fields_as_in_9_1() -> None:
    @dataclasses.dataclass(frozen=True)
    class Labelled(StoredEvent):
        label: str

    id1 = uuid4()
    s = Labelled(id1, 1, "a:B", b"{}", "x")
    assert (s.originator_id, s.originator_version, s.topic, s.state, s.label) == (
        id1,
        1,
        "a:B",
        b"{}",
        "x",
    )
    assert s == Labelled(id1, 1, "a:B", b"{}", "x") and s != StoredEvent(id1, 1, "a:B", b"{}")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.label = "y"  # type: ignore[misc]


def test_tracking_is_a_frozen_dataclass() -> None:
    t = Tracking(notification_id=123, application_name="bounded_context1")
    assert (t.application_name, t.notification_id) == ("bounded_context1", 123)
    assert Tracking("bounded_context1", 123) == t
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.notification_id = 1  # type: ignore[misc]


# --- Exceptions ------------------------------------------------------------------------


def test_exception_hierarchy_follows_pep_249() -> None:
    assert issubclass(PersistenceError, Exception)
    assert issubclass(InterfaceError, PersistenceError)
    assert issubclass(DatabaseError, PersistenceError)
    for cls in (
        DataError,
        OperationalError,
        IntegrityError,
        InternalError,
        ProgrammingError,
        NotSupportedError,
    ):
        assert cls.__bases__[0] is DatabaseError, cls
    assert not issubclass(InterfaceError, DatabaseError)
    # The legacy conflict error still catches conflicts.
    assert issubclass(IntegrityError, RecordConflictError)
    assert not issubclass(RecordConflictError, PersistenceError)


# --- Recorder ports ------------------------------------------------------------------


def test_recorder_flavours_extend_each_other() -> None:
    assert issubclass(AggregateRecorder, Recorder)
    assert issubclass(ApplicationRecorder, AggregateRecorder)
    assert issubclass(ProcessRecorder, ApplicationRecorder)


def test_recorder_ports_cannot_be_instantiated_without_their_methods() -> None:
    class Incomplete(ApplicationRecorder):
        def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
            pass

        def select_events(
            self,
            originator_id: UUID,
            gt: Optional[int] = None,
            lte: Optional[int] = None,
            desc: bool = False,
            limit: Optional[int] = None,
        ) -> List[StoredEvent]:
            return []

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()  # type: ignore[abstract]
    with pytest.raises(TypeError, match="abstract"):
        InfrastructureFactory("", {})  # type: ignore[abstract]


# --- Event store ---------------------------------------------------------------------


def domain_event(id1: UUID, version: int) -> DomainEvent:
    return DomainEvent(
        originator_id=id1, originator_version=version, timestamp=datetime.now(tz=TZINFO)
    )


def test_event_store_puts_and_gets_domain_events() -> None:
    store: EventStore[DomainEvent] = EventStore(
        mapper=Mapper(transcoder=transcoder()), recorder=POPOApplicationRecorder()
    )
    id1 = uuid4()
    events = [domain_event(id1, v) for v in range(1, 6)]
    recordings = store.put(events[:2])
    assert [r.domain_event for r in recordings] == events[:2]
    assert [r.notification.id for r in recordings if r.notification] == [1, 2]
    assert [n.id for n in store.recorder.select_notifications(1, 10)] == [1, 2]
    assert [r.notification.id for r in store.put(events[2:]) if r.notification] == [3, 4, 5]
    got = store.get(id1)
    assert not isinstance(got, list)  # an iterator, decoded lazily
    assert list(got) == events
    assert list(store.get(id1, gt=3)) == events[3:]
    assert list(store.get(id1, lte=2)) == events[:2]
    assert list(store.get(id1, desc=True, limit=2)) == [events[4], events[3]]
    assert list(store.get(id1, gt=1, lte=4, limit=2)) == events[1:3]
    assert list(store.get(uuid4())) == []


class PageCounting(POPOApplicationRecorder):
    """A real in-memory recorder that notes the limit of each select_events call."""

    def __init__(self) -> None:
        super().__init__()
        self.limits: List[Optional[int]] = []

    def select_events(self, originator_id: UUID, **kwargs: Any) -> List[StoredEvent]:
        self.limits.append(kwargs.get("limit"))
        return super().select_events(originator_id, **kwargs)


def test_event_store_reads_a_long_history_a_page_at_a_time() -> None:
    recorder = PageCounting()
    store: EventStore[DomainEvent] = EventStore(Mapper(transcoder=transcoder()), recorder)
    store.page_size = 3
    id1 = uuid4()
    events = [domain_event(id1, v) for v in range(1, 11)]
    store.put(events)
    got = store.get(id1)
    assert recorder.limits == [3]  # the first page at once, the others as reached
    assert next(got) == events[0]
    assert recorder.limits == [3]
    assert list(got) == events[1:]
    assert recorder.limits == [3, 3, 3, 3]  # never more than a page per read
    # Every combination of bounds gives what one unpaged read gives.
    whole: EventStore[DomainEvent] = EventStore(store.mapper, recorder)
    whole.page_size = 1000
    for gt in (None, 0, 2, 9, 10):
        for lte in (None, 1, 3, 7, 10):
            for desc in (False, True):
                for limit in (None, 0, 1, 3, 4, 6, 20):
                    args = dict(gt=gt, lte=lte, desc=desc, limit=limit)
                    assert list(store.get(id1, **args)) == list(whole.get(id1, **args)), args


def test_event_store_with_an_aggregate_recorder_returns_no_notifications() -> None:
    store: EventStore[DomainEvent] = EventStore(
        mapper=Mapper(transcoder=transcoder()), recorder=POPOAggregateRecorder()
    )
    id1 = uuid4()
    event = domain_event(id1, 1)
    assert store.put([event]) == [Recording(event, None)]
    assert len(list(store.get(id1))) == 1


def test_event_store_gives_the_recorder_events_mapped_on_demand() -> None:
    # The recorder contract: any Sequence[StoredEvent], maybe produced while consumed.
    seen: List[Any] = []

    class Watching(POPOApplicationRecorder):
        def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
            seen.append(stored_events)
            return super().insert_events(stored_events, **kwargs)

    mapper: Mapper[DomainEvent] = Mapper(transcoder=transcoder())
    store: EventStore[DomainEvent] = EventStore(mapper, Watching())
    id1 = uuid4()
    # A large save is mapped on demand...
    events = [domain_event(id1, v) for v in range(1, 152)]
    recordings = store.put(events)
    (given,) = seen
    assert not isinstance(given, list)
    assert len(given) == 151
    assert list(given) == [mapper.from_domain_event(e) for e in events]
    assert given[1:] == list(given)[1:] and given[-1] is list(given)[-1]  # mapped once
    assert [r.notification for r in recordings] == store.recorder.select_notifications(1, 200)
    # ...a small one (up to 100 events) before the insert, as a list.
    small = [domain_event(id1, v) for v in range(152, 155)]
    recordings = store.put(small)
    assert seen[1] == [mapper.from_domain_event(e) for e in small]
    assert [r.notification.id for r in recordings if r.notification] == [152, 153, 154]


def test_event_store_records_nothing_if_mapping_an_event_fails() -> None:
    store: EventStore[Any] = EventStore(Mapper(transcoder=transcoder()), POPOApplicationRecorder())
    id1 = uuid4()
    unmappable = DomainEvent(originator_id=id1, originator_version=3, timestamp=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not serializable"):
        store.put([domain_event(id1, 1), domain_event(id1, 2), unmappable])
    assert list(store.get(id1)) == []
    assert store.recorder.max_notification_id() == 0  # type: ignore[attr-defined]


def test_event_store_conflict_stores_none_of_the_new_events() -> None:
    recorder = POPOApplicationRecorder()
    store: EventStore[DomainEvent] = EventStore(Mapper(transcoder=transcoder()), recorder)
    id1, id2 = uuid4(), uuid4()
    first = domain_event(id1, 1)
    store.put([first])
    with pytest.raises(IntegrityError):
        store.put([domain_event(id2, 1), domain_event(id1, 2), domain_event(id1, 1)])
    assert list(store.get(id1)) == [first]
    assert list(store.get(id2)) == []
    assert recorder.max_notification_id() == 1


def test_event_store_passes_tracking_to_a_process_recorder() -> None:
    recorder = POPOProcessRecorder()
    store: EventStore[DomainEvent] = EventStore(Mapper(transcoder=transcoder()), recorder)
    id1 = uuid4()
    store.put([domain_event(id1, 1)], tracking=Tracking("upstream", 5))
    assert recorder.max_tracking_id("upstream") == 5
    with pytest.raises(IntegrityError):
        store.put([domain_event(id1, 2)], tracking=Tracking("upstream", 5))
    assert len(list(store.get(id1))) == 1


# --- The domain layer's events through the mapper ---------------------------------------


class Account(Aggregate):
    @event("Opened")
    def __init__(self, owner: str, balance: Decimal) -> None:
        self.owner = owner
        self.balance = balance

    @event("Credited")
    def credit(self, amount: Decimal) -> None:
        self.balance += amount


@pytest.mark.parametrize("compress", [False, True])
def test_aggregate_events_round_trip_and_rebuild_the_aggregate(compress: bool) -> None:
    mapper: Mapper[Any] = Mapper(
        transcoder=transcoder(), compressor=ZlibCompressor() if compress else None
    )
    store: EventStore[Any] = EventStore(mapper, POPOApplicationRecorder())
    account = Account(owner="Alice", balance=Decimal("10.00"))
    account.credit(Decimal("2.50"))
    pending = account.collect_events()
    store.put(pending)

    copies = list(store.get(account.id))
    assert copies == pending
    assert [type(e).__qualname__ for e in copies] == ["Account.Opened", "Account.Credited"]
    rebuilt = None
    for e in copies:
        rebuilt = e.mutate(rebuilt)
    assert isinstance(rebuilt, Account)
    assert (rebuilt.id, rebuilt.version, rebuilt.owner, rebuilt.balance) == (
        account.id,
        2,
        "Alice",
        Decimal("12.50"),
    )
    if not compress:
        stored = store.recorder.select_events(account.id)
        assert stored[0].topic == f"{__name__}:Account.Opened"
        assert b'"owner": "Alice"' in stored[0].state


def test_snapshots_round_trip() -> None:
    mapper: Mapper[Any] = Mapper(transcoder=transcoder())
    store: EventStore[Any] = EventStore(mapper, POPOAggregateRecorder())
    account = Account(owner="Bob", balance=Decimal("1"))
    account.credit(Decimal("1"))
    snapshot = Snapshot.take(account)
    store.put([snapshot])
    (copy,) = store.get(account.id, desc=True, limit=1)
    assert copy == snapshot
    restored = copy.mutate()
    assert (restored.id, restored.version, restored.balance) == (account.id, 2, Decimal("2"))


def test_ports_for_extensions_are_abstract() -> None:
    class HalfCompressor(Compressor):
        def compress(self, data: bytes) -> bytes:
            return data

    class HalfCipher(Cipher):
        def __init__(self, cipher_key: str) -> None:
            self.key = cipher_key

    class HalfTranscoding(Transcoding):
        type = int
        name = "int"

        def encode(self, obj: Any) -> Any:
            return obj

    cases: List[Any] = [
        (HalfCompressor, ()),
        (HalfCipher, ("key",)),
        (HalfTranscoding, ()),
        (Transcoder, ()),
    ]
    for cls, args in cases:
        with pytest.raises(TypeError, match="abstract"):
            cls(*args)


def test_stored_event_accepts_the_references_example_arguments() -> None:
    # The reference constructs stored events and notifications with str state.
    s = StoredEvent(originator_id=uuid4(), originator_version=1, state="{}", topic="a.b:C")  # type: ignore[arg-type]
    assert s.state == "{}"  # type: ignore[comparison-overlap]


@pytest.mark.parametrize("converted_at_once", [100, 3])
def test_event_store_gives_the_events_before_one_that_cannot_be_converted(
    converted_at_once: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(persistence, "_CONVERTED_AT_ONCE", converted_at_once)
    recorder = POPOApplicationRecorder()
    store: EventStore[DomainEvent] = EventStore(Mapper(transcoder=transcoder()), recorder)
    store.page_size = 4
    id1 = uuid4()
    events = [domain_event(id1, v) for v in range(1, 11)]
    stored = [store.mapper.from_domain_event(e) for e in events]
    stored[5] = StoredEvent(id1, 6, stored[5].topic, b'{"timestamp": ')
    recorder.insert_events(stored)
    got = store.get(id1)
    # Pages (of 4) are converted whole or 3 events at a time: the damaged
    # sixth event is in the second page, and in its first or second part.
    assert [next(got) for _ in range(5)] == events[:5]
    with pytest.raises(DataError, match=f"{id1} version 6"):
        next(got)
    # Another history, read through in parts smaller than pages, is all there.
    id2 = uuid4()
    more = [domain_event(id2, v) for v in range(1, 12)]
    store.put(more)
    assert list(store.get(id2)) == more
    assert list(store.get(id2, desc=True, limit=7)) == more[::-1][:7]
