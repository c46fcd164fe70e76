"""Argument checks shared by recorders.

Every backend refuses bad input before anything is written, with the same
exception types (the PEP 249 classes of :mod:`eventsourcing.persistence`) and
the same messages, so callers and the conformance suite see one behaviour.
Backends may keep a faster check for the usual case and call these for
anything unusual; third-party recorders can use them as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, List, Mapping, Optional
from uuid import UUID

from eventsourcing.persistence import DataError, InterfaceError, StoredEvent, Tracking

__all__ = [
    "check_int",
    "check_optional_int",
    "check_stored_event",
    "check_stored_events",
    "check_str",
    "check_tracking",
    "tracking_records",
]


def check_stored_event(s: Any) -> None:
    """Refuse anything but a :class:`StoredEvent` with fields of the right types."""
    if not isinstance(s, StoredEvent):
        raise InterfaceError(f"Expected a StoredEvent, got {type(s).__name__}: {s!r}")
    if not isinstance(s.originator_id, UUID):
        raise InterfaceError(
            f"originator_id must be a UUID, got {type(s.originator_id).__name__}: "
            f"{s.originator_id!r}"
        )
    v = s.originator_version
    if type(v) is not int and (not isinstance(v, int) or isinstance(v, bool)):
        raise InterfaceError(f"originator_version must be an int, got {type(v).__name__}: {v!r}")
    if not isinstance(s.topic, str):
        raise InterfaceError(f"topic must be a str, got {type(s.topic).__name__}: {s.topic!r}")
    if not isinstance(s.state, bytes):
        raise InterfaceError(f"state must be bytes, got {type(s.state).__name__}")


def check_stored_events(stored_events: Sequence[StoredEvent]) -> List[StoredEvent]:
    """Refuse anything but a sequence of well-formed stored events; return them as a list.

    The sequence is read once (its items may be produced lazily, see
    :class:`~eventsourcing.persistence.AggregateRecorder`): use the list.
    """
    if type(stored_events) is list:  # the usual case, without the ABC's isinstance
        events = stored_events
    elif isinstance(stored_events, Sequence):
        events = list(stored_events)
    else:
        raise InterfaceError(
            "stored_events must be a sequence (a list, for example) of StoredEvent, got "
            f"{type(stored_events).__name__}"
        )
    for s in events:
        check_stored_event(s)
    return events


def check_tracking(tracking: Any) -> None:
    """Refuse anything but a :class:`Tracking` with fields of the right types."""
    if not isinstance(tracking, Tracking):
        raise InterfaceError(f"tracking must be a Tracking, got {type(tracking).__name__}")
    check_str("tracking.application_name", tracking.application_name)
    check_int("tracking.notification_id", tracking.notification_id)


def tracking_records(kwargs: Mapping[str, Any]) -> List[Tracking]:
    """The checked tracking records given to ``insert_events`` of a process
    recorder: ``tracking=`` (one) and/or ``trackings=`` (several, a page)."""
    records: List[Tracking] = []
    tracking = kwargs.get("tracking")
    if tracking is not None:
        records.append(tracking)
    trackings = kwargs.get("trackings")
    if trackings is not None:
        if isinstance(trackings, (str, bytes, Tracking)) or not hasattr(trackings, "__iter__"):
            raise InterfaceError(
                f"trackings must be a sequence of Tracking, got {type(trackings).__name__}"
            )
        records.extend(trackings)
    for record in records:
        check_tracking(record)
    return records


def check_int(name: str, value: Any, minimum: Optional[int] = None) -> None:
    """An ``int`` (not a ``bool``), and not below ``minimum`` if one is given."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InterfaceError(f"{name} must be an int, got {type(value).__name__}: {value!r}")
    if minimum is not None and value < minimum:
        raise DataError(f"{name} must not be less than {minimum}, got {value}")


def check_optional_int(name: str, value: Any, minimum: Optional[int] = None) -> None:
    """``None``, or what :func:`check_int` accepts."""
    if value is not None:
        check_int(name, value, minimum)


def check_str(name: str, value: Any) -> None:
    """A ``str``."""
    if not isinstance(value, str):
        raise InterfaceError(f"{name} must be a str, got {type(value).__name__}: {value!r}")
