"""Large and lazily produced batches: all or nothing, however a backend chunks them.

The state machines draw small batches, so these are fixed cases: a batch of
``LARGE`` events is past the chunk sizes backends use (250, 500), and a
conflict at its end, or a producer failing past the first chunk, must leave
the store exactly as it was. ``insert_events`` accepts any
``Sequence[StoredEvent]``, possibly produced lazily while it is consumed (a
large save is mapped as it is inserted); if producing an item raises, that
exception propagates and nothing of the call is recorded.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, List, Optional, Sequence, overload
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking
from eventsourcing_conformance.backend import Backend
from eventsourcing_conformance.kinds import fresh_recorder, store_state
from eventsourcing_conformance.properties import (
    ATOMICITY,
    ORDERING,
    PAGING,
    TRACKING,
    UNIQUENESS,
    violated,
)
from eventsourcing_conformance.reads import (
    check_int,
    check_notifications,
    check_stored_events,
    event_key,
    is_prefix,
)

__all__ = [
    "FAIL_AT",
    "LARGE",
    "LazyBatch",
    "ProducerFailed",
    "check_large_batch",
    "check_lazy_batch",
]

LARGE = 600
FAIL_AT = 550
TOPIC = "conformance.events:Batched"


class ProducerFailed(Exception):
    """Raised by a :class:`LazyBatch` while producing one of its items."""


class LazyBatch(Sequence[StoredEvent]):
    """Events of one aggregate, produced only when asked for, as a mapper
    streaming a large save produces them.

    ``before(i)`` runs before item ``i`` is produced: it may raise (a mapping
    failure) or wait (to hold an insert half-way, for the concurrency checks).
    """

    def __init__(
        self,
        originator_id: UUID,
        first_version: int,
        size: int,
        before: Optional[Callable[[int], None]] = None,
        conflict_at_end: bool = False,
    ) -> None:
        self.originator_id = originator_id
        self.first_version = first_version
        self.size = size + (1 if conflict_at_end else 0)
        self.conflict_at_end = conflict_at_end
        self.before = before

    def __len__(self) -> int:
        return self.size

    def _item(self, i: int) -> StoredEvent:
        if self.before is not None:
            self.before(i)
        if self.conflict_at_end and i == self.size - 1:
            i = 0  # the batch's first event again
        version = self.first_version + i
        return StoredEvent(self.originator_id, version, TOPIC, version.to_bytes(4, "big"))

    @overload
    def __getitem__(self, index: int) -> StoredEvent: ...

    @overload
    def __getitem__(self, index: slice) -> List[StoredEvent]: ...

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self._item(i) for i in range(*index.indices(self.size))]
        if index < 0:
            index += self.size
        if not 0 <= index < self.size:
            raise IndexError(index)
        return self._item(index)

    def __iter__(self) -> Iterator[StoredEvent]:
        for i in range(self.size):
            yield self._item(i)

    def __repr__(self) -> str:
        return f"<lazily produced batch of {self.size} events>"


def _events(originator_id: UUID, first: int, count: int) -> List[StoredEvent]:
    return list(LazyBatch(originator_id, first, count))


def _tracking(kind: str, notification_id: int) -> dict[str, Any]:
    return {"tracking": Tracking("upstream", notification_id)} if kind == "process" else {}


def _store_changed(what: str, before: Any, after: Any) -> None:
    """Fail unless the store answers as before a refused insert."""
    if after == before:
        return
    (events_b, notes_b, tracking_b), (events_a, notes_a, tracking_a) = before, after
    if events_a == events_b and notes_a == notes_b:
        violated(
            TRACKING,
            f"after {what} was refused, its tracking record was recorded: "
            f"(max_tracking_id, has_tracking_id) {tracking_b} became {tracking_a}",
        )
    violated(
        ATOMICITY,
        f"after {what} was refused, the store changed: {len(events_b)} events became "
        f"{len(events_a)}, notifications (with max_notification_id) {len(notes_b)} became "
        f"{len(notes_a)}",
    )


def _refused(recorder: Any, batch: Sequence[StoredEvent], what: str, **kwargs: Any) -> None:
    try:
        recorder.insert_events(batch, **kwargs)
    except IntegrityError:
        return
    except Exception as e:
        violated(UNIQUENESS, f"{what} should raise IntegrityError, raised {type(e).__name__}: {e}")
    violated(UNIQUENESS, f"{what} was recorded, although its last event conflicts")


def check_recorded(
    recorder: Any, originator_id: UUID, expected: Sequence[StoredEvent], what: str
) -> None:
    """Every event of ``originator_id`` reads back, in order, in one unlimited read.

    Fewer events that are a prefix of the right answer, while the rest can be
    read after them, is a page cap (``paging``); anything else missing is
    ``atomicity``.
    """
    call = f"after {what}: select_events({originator_id})"
    found = recorder.select_events(originator_id)
    check_stored_events(call, found)
    actual = [event_key(e) for e in found]
    wanted = [event_key(e) for e in expected]
    if actual == wanted:
        return
    if actual and len(actual) < len(wanted) and is_prefix(actual, wanted):
        rest = recorder.select_events(originator_id, gt=actual[-1][1])
        if [event_key(e) for e in rest] == wanted[len(actual) :]:
            violated(
                PAGING,
                f"{call} with no limit returned the first {len(actual)} of {len(wanted)} "
                "events (the rest are there: a page cap?)",
            )
    label = ORDERING if sorted(actual) == sorted(wanted) else ATOMICITY
    violated(label, f"{call} returned {len(actual)} events, expected all {len(wanted)} in order")


def check_notified(recorder: Any, expected_count: int, what: str) -> None:
    """One large read of notifications returns all of them (no page cap)."""
    call = f"after {what}: select_notifications(1, {expected_count + 10})"
    found = recorder.select_notifications(1, expected_count + 10)
    check_notifications(call, found)
    ids = [n.id for n in found]
    if len(ids) != expected_count or ids != sorted(set(ids)):
        violated(
            PAGING if len(ids) < expected_count and ids == sorted(set(ids)) else ORDERING,
            f"{call} returned {len(ids)} notifications, expected {expected_count} in "
            "ascending order of ID",
        )
    top = check_int(f"after {what}: max_notification_id()", recorder.max_notification_id())
    if ids and top != ids[-1]:
        violated(ORDERING, f"after {what}: max_notification_id() is {top}, not {ids[-1]}")


def check_large_batch(backend: Backend, kind: str) -> None:
    """A conflict at the end of a large batch leaves nothing; a large batch
    without one is recorded entirely and read back in one read."""
    with fresh_recorder(backend, kind) as (recorder, _):
        first, second = uuid4(), uuid4()
        recorder.insert_events(_events(first, 1, 1), **_tracking(kind, 1))
        before = store_state(recorder, [first, second])
        what = f"a batch of {LARGE + 1} events whose last conflicts with a recorded event"
        batch = [*_events(first, 2, LARGE), *_events(first, 1, 1)]
        _refused(recorder, batch, what, **_tracking(kind, 2))
        _store_changed(what, before, store_state(recorder, [first, second]))

        what = f"a batch of {LARGE + 1} events whose last repeats its first"
        batch = [*_events(second, 1, LARGE), *_events(second, 1, 1)]
        _refused(recorder, batch, what, **_tracking(kind, 2))
        _store_changed(what, before, store_state(recorder, [first, second]))

        what = f"insert_events() of {LARGE} events"
        ids = recorder.insert_events(_events(first, 2, LARGE), **_tracking(kind, 2))
        if kind != "aggregate":
            ids = list(ids or ())
            if len(ids) != LARGE or ids != sorted(set(ids)):
                violated(
                    ORDERING,
                    f"{what} returned {len(ids)} IDs, expected {LARGE} increasing IDs",
                )
        check_recorded(recorder, first, _events(first, 1, LARGE + 1), what)
        if kind != "aggregate":
            check_notified(recorder, LARGE + 1, what)


def check_lazy_batch(backend: Backend, kind: str) -> None:
    """A lazily produced batch is recorded entirely; one whose producer raises
    past the first chunk records nothing, and the producer's exception propagates."""

    def fail(i: int) -> None:
        if i == FAIL_AT:
            raise ProducerFailed(f"producing item {i} failed")

    with fresh_recorder(backend, kind) as (recorder, _):
        originator = uuid4()
        recorder.insert_events(_events(originator, 1, 1), **_tracking(kind, 1))
        before = store_state(recorder, [originator])
        what = (
            f"insert_events(a lazily produced batch of {LARGE} events whose item {FAIL_AT} raises)"
        )
        try:
            recorder.insert_events(
                LazyBatch(originator, 2, LARGE, before=fail), **_tracking(kind, 2)
            )
        except ProducerFailed:
            pass
        except Exception as e:
            violated(
                ATOMICITY,
                f"{what} raised {type(e).__name__}: {e}; the producer's exception must "
                "propagate unchanged (insert_events accepts any Sequence[StoredEvent])",
            )
        else:
            violated(ATOMICITY, f"{what} returned normally: the producer's exception was lost")
        _store_changed(what, before, store_state(recorder, [originator]))

        what = f"insert_events(a lazily produced batch of {LARGE} events)"
        recorder.insert_events(LazyBatch(originator, 2, LARGE), **_tracking(kind, 2))
        check_recorded(recorder, originator, _events(originator, 1, LARGE + 1), what)
        if kind != "aggregate":
            check_notified(recorder, LARGE + 1, what)
