"""Checks every read makes: the types of what comes back, and which property
a wrong answer breaks.

A wrong answer is labelled by what is wrong with it, not by the step that
read it: wrong types are ``types``; the right items in the wrong order are
``ordering``; a prefix of the right answer, longer or shorter than asked for
(a limit ignored, a page cap), is ``paging``.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing_conformance.properties import ORDERING, PAGING, TYPES, violated

__all__ = [
    "check_bool",
    "check_int",
    "check_notifications",
    "check_stored_events",
    "event_key",
    "is_prefix",
    "notification_key",
    "read_label",
]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _wrong_fields(item: Any, with_id: bool) -> list[str]:
    expected: Tuple[Tuple[str, Any], ...] = (
        ("originator_id", UUID),
        ("originator_version", int),
        ("topic", str),
        ("state", bytes),
    )
    if with_id:
        expected += (("id", int),)
    wrong = []
    for name, kind in expected:
        value = getattr(item, name, None)
        ok = _is_int(value) if kind is int else isinstance(value, kind)
        if not ok:
            wrong.append(f"{name} is {type(value).__name__} {value!r:.40}, not {kind.__name__}")
    return wrong


def _check_items(call: str, items: Any, kind: type, with_id: bool) -> None:
    if not isinstance(items, list):
        violated(TYPES, f"{call} returned {type(items).__name__}, not a list")
    for item in items:
        if not isinstance(item, kind):
            violated(TYPES, f"{call} returned a {type(item).__name__}, not a {kind.__name__}")
        wrong = _wrong_fields(item, with_id)
        if wrong:
            violated(TYPES, f"{call} returned a {kind.__name__} whose {'; '.join(wrong)}")


def check_stored_events(call: str, events: Any) -> None:
    """Fail with ``types`` unless ``events`` is a list of well-typed StoredEvents."""
    _check_items(call, events, StoredEvent, with_id=False)


def check_notifications(call: str, notifications: Any) -> None:
    """Fail with ``types`` unless ``notifications`` is a list of well-typed Notifications."""
    _check_items(call, notifications, Notification, with_id=True)


def check_int(call: str, value: Any) -> int:
    if not _is_int(value):
        violated(TYPES, f"{call} returned {type(value).__name__} {value!r}, not an int")
    return int(value)


def check_bool(call: str, value: Any) -> bool:
    if not isinstance(value, bool):
        violated(TYPES, f"{call} returned {type(value).__name__} {value!r}, not a bool")
    return value


def event_key(e: StoredEvent) -> Tuple[Any, ...]:
    return (e.originator_id, e.originator_version, e.topic, e.state)


def notification_key(n: Notification) -> Tuple[Any, ...]:
    return (n.id, n.originator_id, n.originator_version, n.topic, n.state)


def is_prefix(actual: Sequence[Any], of: Sequence[Any]) -> bool:
    return len(actual) <= len(of) and list(of[: len(actual)]) == list(actual)


def read_label(
    actual: Sequence[Any], expected: Sequence[Any], unlimited: Optional[Sequence[Any]]
) -> str:
    """The property a wrong read breaks (keys compared, types already checked).

    Only a non-empty answer can be a page: nothing at all, where something
    was expected, is missing data.

    ``unlimited`` is the right answer had no limit applied (None if none was).
    """
    if actual and unlimited is not None and is_prefix(actual, unlimited):
        return PAGING  # a limit ignored, or 0 taken for "no limit"
    if actual and len(actual) < len(expected) and is_prefix(actual, expected):
        return PAGING  # cut short: a page cap
    return ORDERING
