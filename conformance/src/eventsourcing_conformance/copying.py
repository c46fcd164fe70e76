"""Checks of the optional copying capabilities (:mod:`eventsourcing.copying`).

A backend need not implement them (``eventsourcing copy`` then refuses it);
where its recorders do, they must keep this contract, which a faithful copy
of a store relies on:

- ``insert_notifications`` records events with exactly the given IDs (gaps
  kept), all or nothing; an ID or ``(originator_id, originator_version)``
  already recorded raises ``IntegrityError``; later ordinary inserts get
  higher IDs;
- ``select_tracking`` pages through every tracking record once, in order;
  ``insert_tracking`` is all or nothing;
- ``scan_stored_events`` pages through every row of a table once, in order.
"""

from __future__ import annotations

from typing import Any, List
from uuid import uuid4

import pytest

from eventsourcing.copying import EventScanning, NotificationInserting, TrackingCopying
from eventsourcing.persistence import IntegrityError, Notification, StoredEvent, Tracking
from eventsourcing_conformance.backend import Backend

__all__ = ["CopyingConformance"]

TOPIC = "conformance.events:Copied"


def _require(recorder: Any, capability: type) -> None:
    if not isinstance(recorder, capability):
        pytest.skip(f"optional capability {capability.__name__} not implemented")


def _rows(notifications: List[Notification]) -> List[Any]:
    return [(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in notifications]


class CopyingConformance:
    """Mixed into :class:`~eventsourcing_conformance.RecorderConformance`."""

    def test_insert_notifications_keeps_ids_and_advances(
        self, conformance_backend: Backend
    ) -> None:
        with conformance_backend.store() as env, conformance_backend.open(env) as factory:
            recorder = factory.process_recorder()
            _require(recorder, NotificationInserting)
            assert isinstance(recorder, NotificationInserting)
            a, b = uuid4(), uuid4()
            given = [
                Notification(a, 1, TOPIC, b"\x00one", 3),
                Notification(a, 2, TOPIC, b"two", 4),
                Notification(b, 1, TOPIC, b"", 9),
            ]
            recorder.insert_notifications(given)
            assert _rows(recorder.select_notifications(1, 10)) == _rows(given)
            assert recorder.max_notification_id() == 9

            before = _rows(recorder.select_notifications(1, 10))
            for conflicting in (
                [Notification(b, 2, TOPIC, b"x", 12), Notification(uuid4(), 1, TOPIC, b"", 4)],
                [Notification(b, 2, TOPIC, b"x", 12), Notification(a, 2, TOPIC, b"", 13)],
            ):
                with pytest.raises(IntegrityError):
                    recorder.insert_notifications(conflicting)
                assert _rows(recorder.select_notifications(1, 10)) == before

            ids = recorder.insert_events([StoredEvent(b, 2, TOPIC, b"later")])
            assert ids is not None and len(ids) == 1 and ids[0] > 9
            assert recorder.select_notifications(10, 10)[0].originator_version == 2

    def test_tracking_records_are_listed_and_inserted(self, conformance_backend: Backend) -> None:
        with conformance_backend.store() as env, conformance_backend.open(env) as factory:
            recorder = factory.process_recorder()
            _require(recorder, TrackingCopying)
            assert isinstance(recorder, TrackingCopying)
            records = [Tracking(name, i) for name in ("up", "upstream") for i in (1, 2, 7)]
            recorder.insert_tracking(records[:4])
            recorder.insert_tracking(records[4:])
            with pytest.raises(IntegrityError):
                recorder.insert_tracking([Tracking("other", 1), records[0]])
            assert recorder.max_tracking_id("other") == 0
            listed: List[Tracking] = []
            page = recorder.select_tracking(limit=4)
            while page:
                listed += page
                page = recorder.select_tracking(page[-1], limit=4)
            assert sorted(listed, key=lambda t: (t.application_name, t.notification_id)) == records
            assert len(set(listed)) == len(records)
            assert recorder.max_tracking_id("upstream") == 7

    def test_scan_visits_every_stored_event_once(self, conformance_backend: Backend) -> None:
        with conformance_backend.store() as env, conformance_backend.open(env) as factory:
            recorder = factory.aggregate_recorder("snapshots")
            _require(recorder, EventScanning)
            assert isinstance(recorder, EventScanning)
            stored = [StoredEvent(uuid4(), v, TOPIC, b"s%d" % v) for v in (1, 5) for _ in range(3)]
            recorder.insert_events(stored)
            seen: List[StoredEvent] = []
            page = recorder.scan_stored_events(limit=2)
            while page:
                seen += page
                last = page[-1]
                page = recorder.scan_stored_events(
                    (last.originator_id, last.originator_version), limit=2
                )
            assert len(seen) == len(stored) and set(seen) == set(stored)
            keys = [(s.originator_id, s.originator_version) for s in seen]
            assert len(set(keys)) == len(keys)
            by_originator = [k[0] for k in keys]
            # Each originator's rows come together, in version order.
            assert all(
                by_originator.index(o) + by_originator.count(o) - 1
                == len(by_originator) - 1 - by_originator[::-1].index(o)
                for o in set(by_originator)
            )
            for o in set(by_originator):
                versions = [v for (i, v) in keys if i == o]
                assert versions == sorted(versions)
