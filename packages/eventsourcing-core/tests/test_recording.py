"""Recordings made lazily from stored events behave like eagerly made ones."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import uuid4

from eventsourcing.application import Recording
from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import Notification, StoredEvent


def test_lazy_recording_equals_eager_recording() -> None:
    event = DomainEvent(
        originator_id=uuid4(), originator_version=1, timestamp=datetime.now(timezone.utc)
    )
    stored = StoredEvent(event.originator_id, 1, "topic:Event", b"{}")
    eager = Recording(event, Notification(event.originator_id, 1, "topic:Event", b"{}", 7))
    lazy = Recording._of(event, stored, 7)

    assert lazy.notification == eager.notification
    assert lazy.notification is lazy.notification  # made once
    assert lazy == eager and hash(lazy) == hash(eager)
    assert repr(lazy) == repr(eager)
    assert "notification=Notification(" in repr(lazy)
    assert lazy != Recording._of(event, stored, 8)
    assert Recording(event, None).notification is None
