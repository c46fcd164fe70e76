"""The in-memory recorders: uniqueness, atomicity, ordering, notifications,
tracking, bad input and concurrent writers."""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List, Optional, Tuple
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    DataError,
    IntegrityError,
    InterfaceError,
    Notification,
    PersistenceError,
    ProcessRecorder,
    RecordConflictError,
    StoredEvent,
    Tracking,
)
from eventsourcing.popo import (
    POPOAggregateRecorder,
    POPOApplicationRecorder,
    POPOProcessRecorder,
)

TOPIC_A = "bank:Opened"
TOPIC_B = "bank:Credited"


def stored(originator_id: UUID, version: int, topic: str = TOPIC_A) -> StoredEvent:
    return StoredEvent(
        originator_id=originator_id,
        originator_version=version,
        topic=topic,
        state=f'{{"v": {version}}}'.encode(),
    )


RECORDERS: Dict[str, Callable[[], AggregateRecorder]] = {
    "aggregate": POPOAggregateRecorder,
    "application": POPOApplicationRecorder,
    "process": POPOProcessRecorder,
}


@pytest.fixture(params=sorted(RECORDERS))
def recorder(request: pytest.FixtureRequest) -> AggregateRecorder:
    return RECORDERS[request.param]()


@pytest.fixture(params=["application", "process"])
def app_recorder(request: pytest.FixtureRequest) -> ApplicationRecorder:
    r = RECORDERS[request.param]()
    assert isinstance(r, ApplicationRecorder)
    return r


def snapshot(r: AggregateRecorder, ids: List[UUID]) -> Tuple[Any, ...]:
    """Everything observable about a recorder, to show a failure changed nothing."""
    events = tuple(tuple(r.select_events(i)) for i in ids)
    if isinstance(r, ApplicationRecorder):
        return events, r.max_notification_id(), tuple(r.select_notifications(1, 10**6))
    return (events,)


# --- Aggregate sequences --------------------------------------------------------------


def test_kinds_of_recorder() -> None:
    assert isinstance(POPOAggregateRecorder(), AggregateRecorder)
    assert isinstance(POPOApplicationRecorder(), ApplicationRecorder)
    assert isinstance(POPOProcessRecorder(), ProcessRecorder)


def test_inserted_events_are_selected_in_version_order(recorder: AggregateRecorder) -> None:
    id1, id2 = uuid4(), uuid4()
    assert recorder.select_events(id1) == []
    recorder.insert_events([stored(id1, 1), stored(id1, 2)])
    recorder.insert_events([stored(id2, 1)])
    recorder.insert_events([stored(id1, 3)])
    assert recorder.select_events(id1) == [stored(id1, 1), stored(id1, 2), stored(id1, 3)]
    assert recorder.select_events(id2) == [stored(id2, 1)]


def test_versions_inserted_out_of_order_are_selected_in_order(recorder: AggregateRecorder) -> None:
    id1 = uuid4()
    recorder.insert_events([stored(id1, 5)])
    recorder.insert_events([stored(id1, 2), stored(id1, 9)])
    recorder.insert_events([stored(id1, 3)])
    assert [e.originator_version for e in recorder.select_events(id1)] == [2, 3, 5, 9]


def test_gt_lte_desc_limit(recorder: AggregateRecorder) -> None:
    id1 = uuid4()
    recorder.insert_events([stored(id1, v) for v in range(1, 11)])

    def versions(**kwargs: Any) -> List[int]:
        return [e.originator_version for e in recorder.select_events(id1, **kwargs)]

    assert versions(gt=7) == [8, 9, 10]
    assert versions(lte=3) == [1, 2, 3]
    assert versions(gt=3, lte=6) == [4, 5, 6]
    assert versions(desc=True) == list(range(10, 0, -1))
    assert versions(limit=2) == [1, 2]
    assert versions(desc=True, limit=2) == [10, 9]
    assert versions(gt=2, lte=8, desc=True, limit=3) == [8, 7, 6]
    assert versions(gt=2, lte=8, limit=3) == [3, 4, 5]
    assert versions(gt=10) == []
    assert versions(gt=5, lte=5) == []
    assert versions(gt=6, lte=2) == []
    assert versions(limit=0) == []
    assert versions(lte=0) == []


@settings(max_examples=60, deadline=None)
@given(
    versions=st.sets(st.integers(min_value=0, max_value=50), max_size=20),
    gt=st.none() | st.integers(min_value=-1, max_value=52),
    lte=st.none() | st.integers(min_value=-1, max_value=52),
    desc=st.booleans(),
    limit=st.none() | st.integers(min_value=0, max_value=25),
    batches=st.integers(min_value=1, max_value=4),
)
def test_select_events_matches_a_model(
    versions: set[int],
    gt: Optional[int],
    lte: Optional[int],
    desc: bool,
    limit: Optional[int],
    batches: int,
) -> None:
    r = POPOAggregateRecorder()
    id1 = uuid4()
    events = [stored(id1, v) for v in versions]  # set order: not sorted
    for i in range(batches):
        r.insert_events(events[i::batches])
    expected = sorted(v for v in versions if (gt is None or v > gt) and (lte is None or v <= lte))
    if desc:
        expected.reverse()
    if limit is not None:
        expected = expected[:limit]
    assert [e.originator_version for e in r.select_events(id1, gt, lte, desc, limit)] == expected


def test_selected_lists_are_copies(recorder: AggregateRecorder) -> None:
    id1 = uuid4()
    recorder.insert_events([stored(id1, 1), stored(id1, 2)])
    recorder.select_events(id1).clear()
    recorder.select_events(id1, desc=True).clear()
    assert len(recorder.select_events(id1)) == 2


# --- Uniqueness and atomicity ---------------------------------------------------------


def test_conflict_with_recorded_event_records_nothing_of_the_batch(
    recorder: AggregateRecorder,
) -> None:
    id1, id2 = uuid4(), uuid4()
    recorder.insert_events([stored(id1, 1)])
    before = snapshot(recorder, [id1, id2])
    with pytest.raises(IntegrityError, match=f"originator_id={id1} originator_version=1"):
        recorder.insert_events([stored(id2, 1), stored(id1, 2), stored(id1, 1, topic=TOPIC_B)])
    assert snapshot(recorder, [id1, id2]) == before
    assert recorder.select_events(id2) == []
    assert recorder.select_events(id1) == [stored(id1, 1)]


def test_conflict_within_one_batch_records_nothing(recorder: AggregateRecorder) -> None:
    id1 = uuid4()
    with pytest.raises(IntegrityError, match="given twice in one batch"):
        recorder.insert_events([stored(id1, 1), stored(id1, 2), stored(id1, 1)])
    assert recorder.select_events(id1) == []
    if isinstance(recorder, ApplicationRecorder):
        assert recorder.max_notification_id() == 0


def test_conflict_with_an_earlier_version_in_the_middle(recorder: AggregateRecorder) -> None:
    id1 = uuid4()
    recorder.insert_events([stored(id1, 1), stored(id1, 5), stored(id1, 9)])
    with pytest.raises(IntegrityError):
        recorder.insert_events([stored(id1, 5)])
    recorder.insert_events([stored(id1, 4)])  # a free position below the last is fine
    assert [e.originator_version for e in recorder.select_events(id1)] == [1, 4, 5, 9]


def test_integrity_error_is_a_record_conflict_error_and_a_persistence_error(
    recorder: AggregateRecorder,
) -> None:
    id1 = uuid4()
    recorder.insert_events([stored(id1, 1)])
    with pytest.raises(RecordConflictError):
        recorder.insert_events([stored(id1, 1)])
    with pytest.raises(PersistenceError):
        recorder.insert_events([stored(id1, 1)])


def test_empty_insert_changes_nothing(recorder: AggregateRecorder) -> None:
    result = recorder.insert_events([])
    if isinstance(recorder, ApplicationRecorder):
        assert result == []
        assert recorder.max_notification_id() == 0
    else:
        assert result is None


# --- Notifications ----------------------------------------------------------------


def test_insert_returns_notification_ids_and_notifications_are_selected(
    app_recorder: ApplicationRecorder,
) -> None:
    id1, id2 = uuid4(), uuid4()
    assert app_recorder.max_notification_id() == 0
    assert app_recorder.select_notifications(1, 10) == []
    assert app_recorder.insert_events([stored(id1, 1), stored(id2, 1, TOPIC_B)]) == [1, 2]
    assert app_recorder.insert_events([stored(id1, 2, TOPIC_B)]) == [3]
    assert app_recorder.max_notification_id() == 3

    notifications = app_recorder.select_notifications(1, 10)
    assert notifications == [
        Notification(id1, 1, TOPIC_A, b'{"v": 1}', id=1),
        Notification(id2, 1, TOPIC_B, b'{"v": 1}', id=2),
        Notification(id1, 2, TOPIC_B, b'{"v": 2}', id=3),
    ]
    assert all(type(n) is Notification for n in notifications)
    expected = Notification(id1, 1, TOPIC_A, b'{"v": 1}', id=1)
    assert hash(notifications[0]) == hash(expected)
    assert repr(notifications[0]) == repr(expected)
    # Selecting events still gives stored events, not notifications.
    assert app_recorder.select_events(id1) == [stored(id1, 1), stored(id1, 2, TOPIC_B)]


def test_select_notifications_start_limit_stop_topics(app_recorder: ApplicationRecorder) -> None:
    ids = [uuid4() for _ in range(10)]
    for i, id_ in enumerate(ids):
        app_recorder.insert_events([stored(id_, 1, TOPIC_A if i % 2 == 0 else TOPIC_B)])

    def select(start: int, limit: int, stop: Optional[int] = None, topics: Any = ()) -> List[int]:
        return [n.id for n in app_recorder.select_notifications(start, limit, stop, topics)]

    assert select(1, 3) == [1, 2, 3]
    assert select(4, 3) == [4, 5, 6]
    assert select(9, 5) == [9, 10]
    assert select(11, 5) == []
    assert select(0, 2) == [1, 2]
    assert select(-5, 2) == [1, 2]
    assert select(1, 0) == []
    assert select(1, 100, stop=4) == [1, 2, 3, 4]
    assert select(3, 2, stop=4) == [3, 4]
    assert select(3, 100, stop=3) == [3]
    assert select(5, 100, stop=4) == []
    assert select(1, 100, stop=0) == []
    assert select(1, 100, stop=-3) == []
    assert select(1, 100, topics=[TOPIC_B]) == [2, 4, 6, 8, 10]
    assert select(3, 2, topics=[TOPIC_B]) == [4, 6]
    assert select(1, 100, stop=6, topics=(TOPIC_A,)) == [1, 3, 5]
    assert select(1, 0, topics=[TOPIC_A]) == []
    assert select(1, 100, topics=[TOPIC_A, TOPIC_B]) == list(range(1, 11))
    assert select(1, 100, topics=["other:Topic"]) == []


def test_failed_insert_uses_no_notification_ids(app_recorder: ApplicationRecorder) -> None:
    id1 = uuid4()
    app_recorder.insert_events([stored(id1, 1)])
    with pytest.raises(IntegrityError):
        app_recorder.insert_events([stored(uuid4(), 1), stored(id1, 1)])
    assert app_recorder.max_notification_id() == 1
    assert app_recorder.insert_events([stored(id1, 2)]) == [2]


class ProcessRecorderMachine(RuleBasedStateMachine):
    """Random inserts (some conflicting, some tracked) against a model of the
    notification log and of the tracking records."""

    def __init__(self) -> None:
        super().__init__()
        self.recorder = POPOProcessRecorder()
        self.ids = [uuid4() for _ in range(3)]
        self.log: List[Tuple[UUID, int, str]] = []
        self.tracked: set[Tuple[str, int]] = set()

    @rule(
        batch=st.lists(
            st.tuples(st.integers(0, 2), st.integers(1, 6), st.sampled_from([TOPIC_A, TOPIC_B])),
            max_size=4,
        ),
        tracking=st.none()
        | st.builds(Tracking, st.sampled_from(["up1", "up2"]), st.integers(1, 5)),
    )
    def insert(self, batch: List[Tuple[int, int, str]], tracking: Optional[Tracking]) -> None:
        events = [stored(self.ids[i], v, t) for i, v, t in batch]
        keys = [(e.originator_id, e.originator_version) for e in events]
        recorded = {(i, v) for i, v, _ in self.log}
        conflict = len(set(keys)) < len(keys) or any(k in recorded for k in keys)
        if tracking is not None:
            position = (tracking.application_name, tracking.notification_id)
            conflict = conflict or position in self.tracked
        if conflict:
            with pytest.raises(IntegrityError):
                self.recorder.insert_events(events, tracking=tracking)
        else:
            first = len(self.log) + 1
            ids = self.recorder.insert_events(events, tracking=tracking)
            assert ids == list(range(first, first + len(events)))
            self.log.extend((e.originator_id, e.originator_version, e.topic) for e in events)
            if tracking is not None:
                self.tracked.add(position)

    @rule(
        start=st.integers(-1, 25),
        limit=st.integers(0, 25),
        stop=st.none() | st.integers(-1, 25),
        topics=st.sampled_from([(), (TOPIC_A,), (TOPIC_B,), (TOPIC_A, TOPIC_B)]),
    )
    def select(self, start: int, limit: int, stop: Optional[int], topics: Tuple[str, ...]) -> None:
        expected = [
            (n, entry)
            for n, entry in enumerate(self.log, 1)
            if n >= start and (stop is None or n <= stop) and (not topics or entry[2] in topics)
        ][:limit]
        actual = self.recorder.select_notifications(start, limit, stop, topics)
        assert [(n.id, (n.originator_id, n.originator_version, n.topic)) for n in actual] == (
            expected
        )

    @invariant()
    def recorder_matches_the_model(self) -> None:
        assert self.recorder.max_notification_id() == len(self.log)
        for id_ in self.ids:
            expected = sorted(v for i, v, _ in self.log if i == id_)
            assert [e.originator_version for e in self.recorder.select_events(id_)] == expected
        for name in ("up1", "up2"):
            positions = [n for a, n in self.tracked if a == name]
            assert self.recorder.max_tracking_id(name) == max(positions, default=0)
            for n in range(1, 6):
                assert self.recorder.has_tracking_id(name, n) == ((name, n) in self.tracked)


ProcessRecorderMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=15, deadline=None
)
TestProcessRecorderMachine = ProcessRecorderMachine.TestCase


# --- Tracking ------------------------------------------------------------------------


def test_tracking_is_recorded_with_events() -> None:
    r = POPOProcessRecorder()
    id1 = uuid4()
    assert r.max_tracking_id("upstream") == 0
    assert not r.has_tracking_id("upstream", 1)
    assert r.insert_events([stored(id1, 1)], tracking=Tracking("upstream", 1)) == [1]
    assert r.max_tracking_id("upstream") == 1
    assert r.has_tracking_id("upstream", 1)
    assert r.select_events(id1) == [stored(id1, 1)]
    # Positions are per upstream application.
    assert r.max_tracking_id("other") == 0
    assert not r.has_tracking_id("other", 1)


def test_the_same_position_of_different_upstream_applications_is_not_a_conflict() -> None:
    r = POPOProcessRecorder()
    r.insert_events([stored(uuid4(), 1)], tracking=Tracking("orders", 1))
    r.insert_events([stored(uuid4(), 1)], tracking=Tracking("payments", 1))
    assert (r.max_tracking_id("orders"), r.max_tracking_id("payments")) == (1, 1)
    assert r.max_notification_id() == 2


def test_tracking_without_new_events() -> None:
    r = POPOProcessRecorder()
    assert r.insert_events([], tracking=Tracking("upstream", 4)) == []
    assert r.max_tracking_id("upstream") == 4
    assert r.max_notification_id() == 0


def test_max_tracking_id_is_the_largest_not_the_last() -> None:
    r = POPOProcessRecorder()
    for position in (3, 7, 5):
        r.insert_events([], tracking=Tracking("upstream", position))
    assert r.max_tracking_id("upstream") == 7
    assert [r.has_tracking_id("upstream", i) for i in range(1, 9)] == [
        False, False, True, False, True, False, True, False,
    ]  # fmt: skip


def test_repeated_tracking_raises_integrity_error_and_records_no_events() -> None:
    r = POPOProcessRecorder()
    id1, id2 = uuid4(), uuid4()
    r.insert_events([stored(id1, 1)], tracking=Tracking("upstream", 1))
    before = snapshot(r, [id1, id2])
    with pytest.raises(IntegrityError, match="notification 1 of 'upstream'"):
        r.insert_events([stored(id2, 1), stored(id1, 2)], tracking=Tracking("upstream", 1))
    assert snapshot(r, [id1, id2]) == before
    assert r.max_tracking_id("upstream") == 1
    assert r.select_events(id2) == []


def test_conflicting_events_record_no_tracking() -> None:
    r = POPOProcessRecorder()
    id1 = uuid4()
    r.insert_events([stored(id1, 1)], tracking=Tracking("upstream", 1))
    with pytest.raises(IntegrityError):
        r.insert_events([stored(id1, 1)], tracking=Tracking("upstream", 2))
    assert r.max_tracking_id("upstream") == 1
    assert not r.has_tracking_id("upstream", 2)
    # The same position can be recorded once the conflict is resolved.
    assert r.insert_events([stored(id1, 2)], tracking=Tracking("upstream", 2)) == [2]
    assert r.max_tracking_id("upstream") == 2


# --- Bad input ------------------------------------------------------------------------

BAD_EVENTS = [
    ([stored(uuid4(), 1), "not a stored event"], "Expected a StoredEvent, got str"),
    ([StoredEvent(str(uuid4()), 1, TOPIC_A, b"{}")], "originator_id must be a UUID, got str"),  # type: ignore[arg-type]
    ([StoredEvent(uuid4(), "1", TOPIC_A, b"{}")], "originator_version must be an int, got str"),  # type: ignore[arg-type]
    ([StoredEvent(uuid4(), True, TOPIC_A, b"{}")], "originator_version must be an int, got bool"),
    ([StoredEvent(uuid4(), 1.0, TOPIC_A, b"{}")], "originator_version must be an int, got float"),  # type: ignore[arg-type]
    ([StoredEvent(uuid4(), 1, None, b"{}")], "topic must be a str, got NoneType"),  # type: ignore[arg-type]
    ([StoredEvent(uuid4(), 1, TOPIC_A, "{}")], "state must be bytes, got str"),  # type: ignore[arg-type]
    (stored(uuid4(), 1), "stored_events must be a sequence .* of StoredEvent, got StoredEvent"),
    (iter([stored(uuid4(), 1)]), "stored_events must be a sequence"),
]


@pytest.mark.parametrize("events, message", BAD_EVENTS)
def test_bad_stored_events_raise_interface_error_and_record_nothing(
    recorder: AggregateRecorder, events: Any, message: str
) -> None:
    id1 = uuid4()
    recorder.insert_events([stored(id1, 1)])
    before = snapshot(recorder, [id1])
    with pytest.raises(InterfaceError, match=message):
        recorder.insert_events(events)
    assert snapshot(recorder, [id1]) == before


@pytest.mark.parametrize(
    "kwargs, exc, message",
    [
        ({"originator_id": "abc"}, InterfaceError, "originator_id must be a UUID, got str"),
        ({"gt": "1"}, InterfaceError, "gt must be an int, got str"),
        ({"lte": 2.0}, InterfaceError, "lte must be an int, got float"),
        ({"limit": "3"}, InterfaceError, "limit must be an int"),
        ({"limit": -1}, DataError, "limit must not be negative, got -1"),
    ],
)
def test_bad_select_events_arguments(
    recorder: AggregateRecorder, kwargs: Dict[str, Any], exc: type[Exception], message: str
) -> None:
    kwargs.setdefault("originator_id", uuid4())
    with pytest.raises(exc, match=message):
        recorder.select_events(**kwargs)


@pytest.mark.parametrize(
    "args, exc, message",
    [
        (("1", 10), InterfaceError, "start must be an int, got str"),
        ((1, None), InterfaceError, "limit must be an int, got NoneType"),
        ((1, -2), DataError, "limit must not be negative"),
        ((1, 10, "5"), InterfaceError, "stop must be an int"),
        ((1, 10, None, TOPIC_A), InterfaceError, "topics must be a sequence of str"),
        ((1, 10, None, [1]), InterfaceError, "topics must be a sequence of str"),
    ],
)
def test_bad_select_notifications_arguments(
    app_recorder: ApplicationRecorder, args: Tuple[Any, ...], exc: type[Exception], message: str
) -> None:
    with pytest.raises(exc, match=message):
        app_recorder.select_notifications(*args)


@pytest.mark.parametrize(
    "tracking, message",
    [
        (("upstream", 1), "tracking must be a Tracking, got tuple"),
        (Tracking(1, 1), "tracking.application_name must be a str"),  # type: ignore[arg-type]
        (Tracking("upstream", "1"), "tracking.notification_id must be an int"),  # type: ignore[arg-type]
    ],
)
def test_bad_tracking_raises_interface_error_and_records_nothing(
    tracking: Any, message: str
) -> None:
    r = POPOProcessRecorder()
    id1 = uuid4()
    with pytest.raises(InterfaceError, match=message):
        r.insert_events([stored(id1, 1)], tracking=tracking)
    assert r.select_events(id1) == []
    assert r.max_notification_id() == 0
    assert r.max_tracking_id("upstream") == 0


def test_bad_tracking_query_arguments() -> None:
    r = POPOProcessRecorder()
    with pytest.raises(InterfaceError, match="application_name must be a str"):
        r.max_tracking_id(None)  # type: ignore[arg-type]
    with pytest.raises(InterfaceError, match="notification_id must be an int"):
        r.has_tracking_id("upstream", "1")  # type: ignore[arg-type]


def test_closed_recorder_refuses_use_and_close_is_idempotent(recorder: AggregateRecorder) -> None:
    id1 = uuid4()
    recorder.insert_events([stored(id1, 1)])
    recorder.close()
    recorder.close()
    name = type(recorder).__name__
    with pytest.raises(InterfaceError, match=f"{name} is closed"):
        recorder.insert_events([stored(id1, 2)])
    with pytest.raises(InterfaceError, match="is closed"):
        recorder.select_events(id1)
    if isinstance(recorder, ApplicationRecorder):
        with pytest.raises(InterfaceError, match="is closed"):
            recorder.select_notifications(1, 10)
        with pytest.raises(InterfaceError, match="is closed"):
            recorder.max_notification_id()
    if isinstance(recorder, ProcessRecorder):
        with pytest.raises(InterfaceError, match="is closed"):
            recorder.max_tracking_id("upstream")
        with pytest.raises(InterfaceError, match="is closed"):
            recorder.has_tracking_id("upstream", 1)


# --- Concurrency ----------------------------------------------------------------------


def test_concurrent_writers_never_interleave_and_a_tailing_reader_misses_nothing() -> None:
    r = POPOProcessRecorder()
    writers, batches, batch_size = 6, 60, 4
    start = threading.Barrier(writers + 1)
    done = threading.Event()
    results: Dict[int, List[Tuple[List[StoredEvent], List[int]]]] = {}
    conflicts: List[int] = []
    errors: List[BaseException] = []
    shared_id = uuid4()  # every writer also competes for versions of one aggregate

    def write(n: int) -> None:
        try:
            start.wait()
            own = uuid4()
            mine: List[Tuple[List[StoredEvent], List[int]]] = []
            for b in range(batches):
                events = [stored(own, b * batch_size + i) for i in range(batch_size)]
                ids = r.insert_events(events, tracking=Tracking(f"up{n}", b + 1))
                assert ids is not None
                mine.append((events, list(ids)))
                try:
                    r.insert_events([stored(shared_id, b)])
                except IntegrityError:
                    conflicts.append(b)
            results[n] = mine
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    seen: List[Notification] = []

    def tail() -> None:
        try:
            start.wait()
            while True:
                finished = done.is_set()
                new = r.select_notifications(len(seen) + 1, 50)
                # Resuming from the last position read never skips an ID.
                for n in new:
                    assert n.id == len(seen) + 1, (n.id, len(seen))
                    seen.append(n)
                if finished and not new:
                    return
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    reader = threading.Thread(target=tail)
    for t in [*threads, reader]:
        t.start()
    for t in threads:
        t.join()
    done.set()
    reader.join()
    assert not errors, errors

    total = writers * batches * batch_size + writers * batches - len(conflicts)
    assert r.max_notification_id() == total == len(seen)
    assert len(r.select_events(shared_id)) == batches  # exactly one winner per version
    assert len(conflicts) == (writers - 1) * batches
    for n, mine in results.items():
        assert r.max_tracking_id(f"up{n}") == batches
        for events, ids in mine:
            # Each batch got consecutive IDs, and the log holds its events at them.
            assert ids == list(range(ids[0], ids[0] + batch_size))
            assert [
                (s.originator_id, s.originator_version) for s in seen[ids[0] - 1 : ids[-1]]
            ] == [(e.originator_id, e.originator_version) for e in events]


def test_interleaved_originators_in_one_batch() -> None:
    # The conflict check looks up each originator once per run of its events;
    # runs that alternate between aggregates must still be checked in full.
    recorder = POPOApplicationRecorder()
    a, b = uuid4(), uuid4()
    with pytest.raises(IntegrityError, match="given twice in one batch"):
        recorder.insert_events([stored(a, 1), stored(b, 1), stored(a, 2), stored(a, 1)])
    assert recorder.max_notification_id() == 0
    assert recorder.select_events(a) == [] and recorder.select_events(b) == []

    ids = recorder.insert_events([stored(a, 1), stored(b, 1), stored(a, 2), stored(b, 2)])
    assert ids == [1, 2, 3, 4]
    assert [s.originator_version for s in recorder.select_events(a)] == [1, 2]
    assert [s.originator_version for s in recorder.select_events(b)] == [1, 2]
    with pytest.raises(IntegrityError, match="already recorded"):
        recorder.insert_events([stored(b, 3), stored(a, 3), stored(b, 2)])
    assert recorder.max_notification_id() == 4
