"""Large saves: mapped a chunk at a time while the server inserts the previous chunk.

An Application's event store gives the recorder its events mapped on demand;
a save of more than one chunk (500 events) goes in a transaction of its own,
each chunk produced (mapped) and checked just before it is sent. These tests
show it records everything with the right notification IDs, and that an
error in a later chunk (mapping, a bad item, a conflict) records nothing of
the batch and leaves the recorder usable.
"""

from __future__ import annotations

import threading
from datetime import date
from typing import Any, Dict, Iterator, List, Sequence, Union, overload
from uuid import uuid4

import pytest

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, InterfaceError, StoredEvent, Tracking
from eventsourcing.postgres import Factory


class Ledger(Aggregate):
    def __init__(self, name: str) -> None:
        self.name = name
        self.total = 0

    @event("Posted")
    def post(self, amount: Any) -> None:
        self.total = self.total + amount if isinstance(amount, int) else self.total


class Books(Application[Ledger]):
    pass


def ledger_with(events: int) -> Ledger:
    ledger = Ledger(name="big")
    for _ in range(events - 1):
        ledger.post(1)
    return ledger


def test_a_large_batch_is_recorded_whole_with_consecutive_ids(pg_env: Dict[str, str]) -> None:
    with Books(env=pg_env) as app:
        app.save(Ledger(name="first"))
        ledger = ledger_with(1201)
        recordings = app.save(ledger)
        ids = [r.notification.id for r in recordings if r.notification is not None]
        assert len(ids) == 1201
        assert ids == list(range(ids[0], ids[0] + 1201))
        assert ids[0] > 1
        assert app.repository.get(ledger.id).total == 1200
        notifications = app.recorder.select_notifications(ids[0], 2000)
        assert [n.id for n in notifications] == ids
        assert [n.originator_version for n in notifications] == list(range(1, 1202))
        assert all(
            r.notification is not None and r.notification.state == n.state
            for r, n in zip(recordings, notifications, strict=True)
        )


def test_a_mapping_error_in_a_later_chunk_records_nothing(pg_env: Dict[str, str]) -> None:
    with Books(env=pg_env) as app:
        before = app.recorder.max_notification_id()
        ledger = ledger_with(900)
        ledger.post(date(2020, 1, 1))  # no transcoding for date: fails in the 2nd chunk
        for _ in range(300):
            ledger.post(1)
        with pytest.raises(TypeError, match="is not serializable"):
            app.save(ledger)
        assert app.recorder.max_notification_id() == before
        assert app.recorder.select_events(ledger.id) == []
        # The events are pending again, and the recorder still works.
        assert len(ledger.collect_events()) == 1201
        other = ledger_with(700)
        assert len(app.save(other)) == 700
        assert app.repository.get(other.id).version == 700


def test_a_conflict_in_a_later_chunk_records_nothing_of_the_batch(
    pg_env: Dict[str, str],
) -> None:
    with Books(env=pg_env) as app:
        ledger = ledger_with(1200)
        taken = StoredEvent(ledger.id, 1100, "x:Y", b"{}")
        app.recorder.insert_events([taken])
        before = app.recorder.max_notification_id()
        with pytest.raises(IntegrityError):
            app.save(ledger)
        assert app.recorder.max_notification_id() == before
        assert app.recorder.select_events(ledger.id) == [taken]
        assert app.save(Ledger(name="after"))[0].notification is not None


def test_large_and_small_saves_from_several_threads_never_interleave(
    pg_env: Dict[str, str],
) -> None:
    errors: List[BaseException] = []
    with Books(env=pg_env) as app:

        def small() -> None:
            try:
                for _ in range(40):
                    app.save(Ledger(name="small"))
            except BaseException as e:  # surfaced after join
                errors.append(e)

        def large() -> None:
            try:
                for _ in range(3):
                    app.save(ledger_with(1100))
            except BaseException as e:  # surfaced after join
                errors.append(e)

        threads = [threading.Thread(target=small) for _ in range(3)]
        threads.append(threading.Thread(target=large))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        notifications = app.recorder.select_notifications(1, 10_000)
        assert len(notifications) == 3 * 40 + 3 * 1100
        ids = [n.id for n in notifications]
        assert ids == sorted(set(ids))
        # Each large batch is one transaction: its IDs are consecutive.
        by_aggregate: Dict[Any, List[int]] = {}
        for n in notifications:
            by_aggregate.setdefault(n.originator_id, []).append(n.id)
        large_ids = [v for v in by_aggregate.values() if len(v) == 1100]
        assert len(large_ids) == 3
        for batch in large_ids:
            assert batch == list(range(batch[0], batch[0] + 1100))


class Failing(Sequence[StoredEvent]):
    """Stored events produced on demand; producing the one at ``fail_at`` raises."""

    def __init__(self, events: List[StoredEvent], fail_at: int, error: Exception) -> None:
        self.events, self.fail_at, self.error = events, fail_at, error

    def __len__(self) -> int:
        return len(self.events)

    @overload
    def __getitem__(self, index: int) -> StoredEvent: ...

    @overload
    def __getitem__(self, index: slice) -> List[StoredEvent]: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[StoredEvent, List[StoredEvent]]:
        positions = range(len(self))[index]
        if isinstance(positions, int):
            positions = range(positions, positions + 1)
        if self.fail_at in positions:
            raise self.error
        return self.events[index]

    def __iter__(self) -> Iterator[StoredEvent]:
        for i in range(len(self)):
            yield self[i]


@pytest.mark.parametrize("fail_at", [0, 499, 500, 1199])
def test_a_sequence_raising_while_produced_records_nothing(factory: Factory, fail_at: int) -> None:
    recorder = factory.process_recorder()
    originator = uuid4()
    events = [StoredEvent(originator, v, "x:Y", b"{}") for v in range(1, 1201)]
    with pytest.raises(ValueError, match="cannot produce"):
        recorder.insert_events(
            Failing(events, fail_at, ValueError("cannot produce")), tracking=Tracking("up", 1)
        )
    assert recorder.select_events(originator) == []
    assert recorder.max_notification_id() == 0
    assert recorder.max_tracking_id("up") == 0
    # A bad item in a later chunk is refused as it would be in the first.
    bad: Any = list(events)
    bad[900] = "not a stored event"
    with pytest.raises(InterfaceError, match="Expected a StoredEvent"):
        recorder.insert_events(bad)
    assert recorder.max_notification_id() == 0
    ids = recorder.insert_events(events, tracking=Tracking("up", 1))
    assert ids is not None and list(ids) == list(range(ids[0], ids[0] + 1200))
    assert [n.id for n in recorder.select_notifications(1, 2000)] == ids
    assert recorder.max_tracking_id("up") == 1
