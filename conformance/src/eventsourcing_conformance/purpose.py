"""A factory's recorders are kept apart by purpose.

An application saves events with ``application_recorder()`` (or
``process_recorder()``) and snapshots with ``aggregate_recorder("snapshots")``,
from one factory: a snapshot has the same originator ID and version as an
event, so recorders that share a table either refuse snapshots as conflicts
or hand snapshots back as events (and as notifications).
"""

from __future__ import annotations

from typing import Any, List
from uuid import uuid4

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    IntegrityError,
    ProcessRecorder,
    StoredEvent,
)
from eventsourcing_conformance.backend import Backend
from eventsourcing_conformance.kinds import make_recorder
from eventsourcing_conformance.properties import PURPOSE, violated
from eventsourcing_conformance.reads import check_notifications, check_stored_events, event_key

__all__ = ["check_purpose"]

EVENT_TOPIC = "conformance.events:Happened"
SNAPSHOT_TOPIC = "conformance.snapshots:Snapshot"
KIND_CLASSES = {
    "aggregate": AggregateRecorder,
    "application": ApplicationRecorder,
    "process": ProcessRecorder,
}


def check_purpose(backend: Backend, kind: str) -> None:
    """Events through the ``kind`` recorder and snapshots through
    ``aggregate_recorder("snapshots")`` of one factory never mix."""
    with backend.store() as env, backend.open(env) as factory:
        events_recorder: Any = make_recorder(factory, kind)
        snapshots: Any = factory.aggregate_recorder("snapshots")
        try:
            _check(kind, events_recorder, snapshots)
        finally:
            snapshots.close()
            events_recorder.close()


def _check(kind: str, recorder: Any, snapshots: Any) -> None:
    maker = "aggregate_recorder()" if kind == "aggregate" else f"{kind}_recorder()"
    right_kind = isinstance(recorder, KIND_CLASSES[kind])
    if not right_kind:
        violated(
            PURPOSE,
            f"{maker} returned a {type(recorder).__name__}, not a {KIND_CLASSES[kind].__name__}",
        )
    if not isinstance(snapshots, AggregateRecorder):
        violated(PURPOSE, 'aggregate_recorder("snapshots") did not return an AggregateRecorder')
    o = uuid4()
    events = [StoredEvent(o, v, EVENT_TOPIC, b"event") for v in (1, 2, 3)]
    snapshot = StoredEvent(o, 3, SNAPSHOT_TOPIC, b"snapshot")
    recorder.insert_events(events)
    try:
        snapshots.insert_events([snapshot])
    except IntegrityError as e:
        violated(
            PURPOSE,
            f'a snapshot (version 3) recorded with aggregate_recorder("snapshots") conflicts '
            f"with the event of version 3 recorded with {maker}: they share a table ({e})",
        )
    _expect(f"{maker}.select_events()", recorder.select_events(o), events)
    _expect(
        'aggregate_recorder("snapshots").select_events()', snapshots.select_events(o), [snapshot]
    )
    if kind != "aggregate":
        call = f"{maker}.select_notifications(1, 10)"
        notes = recorder.select_notifications(1, 10)
        check_notifications(call, notes)
        topics = [n.topic for n in notes]
        if topics != [EVENT_TOPIC] * 3:
            violated(PURPOSE, f"{call} returned topics {topics}, expected only the 3 events'")


def _expect(call: str, found: Any, expected: List[StoredEvent]) -> None:
    check_stored_events(call, found)
    if [event_key(e) for e in found] != [event_key(e) for e in expected]:
        violated(
            PURPOSE,
            f"{call} returned {[(e.originator_version, e.topic) for e in found]}, expected "
            f"{[(e.originator_version, e.topic) for e in expected]}",
        )
