"""Rows of the events table as notifications, at the least cost per row.

Reading a log makes one :class:`~eventsourcing.persistence.Notification` per
row, so the Python work per row is most of what ``select_notifications`` adds
to the driver's own (the floor ``hatch run bench --case "floor: notifications
/ select"``). Measured on CPython 3.11, a log of 10,000 rows read in pages of
500, each trick is kept for what it buys:

- the notifications are made with core's ``make_notification`` rather than
  the class: 0.83x of one plain ``SELECT`` rather than 0.68x;
- the originator ID of a row is the previous row's when the text is equal
  (a log holds runs of one aggregate's events), else looked up by its text:
  7.3 ms rather than 7.6 ms a read;
- :func:`uuid_from_text` parses 32 hexadecimal digits without
  ``UUID.__init__``'s handling of other forms: 0.40 µs rather than 0.65 µs,
  once per originator per page; a log of 10,000 aggregates' first events
  (a UUID for every row) is read in 14.6 ms rather than 15.9 ms.

What is left, per row: the driver's fetch (0.42 µs, less than one plain
``SELECT`` of every row takes) and the notification (0.25 µs). A notification
keeps its fields in slots, so the cyclic garbage collector has one object per
row to track and almost never runs during a read.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence
from uuid import UUID, SafeUUID

from eventsourcing.persistence import Notification, make_notification

__all__ = ["notifications", "uuid_from_text"]

_new = object.__new__
_set_attribute = object.__setattr__
_UNKNOWN = SafeUUID.unknown  # (an Enum member: looked up once, not per call)
_NO_TEXT = object()  # the text before the first row's: not even None (NULL)


def _uuid_from_hex(text: str) -> UUID:
    """``UUID(text)``; for 32 hexadecimal digits, set as ``UUID.__init__`` would."""
    if len(text) == 32 and text.isalnum():
        try:
            value = int(text, 16)
        except ValueError:
            pass
        else:
            new = _new(UUID)
            _set_attribute(new, "int", value)
            _set_attribute(new, "is_safe", _UNKNOWN)
            return new
    return UUID(text)  # other forms, and its error for what is not a UUID


def _choose_uuid_from_text() -> Callable[[str], UUID]:
    try:
        sample = "0123456789abcdef0123456789ABCDEF"
        made, expected = _uuid_from_hex(sample), UUID(sample)
        if (made, hash(made), str(made), made.is_safe) == (
            expected,
            hash(expected),
            str(expected),
            expected.is_safe,
        ):
            return _uuid_from_hex
    except Exception:  # pragma: no cover - a Python whose UUID has other internals
        pass
    return UUID  # pragma: no cover


uuid_from_text: Callable[[str], UUID] = _choose_uuid_from_text()
"""``UUID(text)`` for an originator ID read back from the table."""


def notifications(rows: Sequence[Sequence[Any]]) -> List[Notification]:
    """Notifications from rows of ``(rowid, originator_id, originator_version, topic, state)``."""
    result: List[Notification] = []
    append = result.append
    uuids: Dict[str, UUID] = {}
    last_text: object = _NO_TEXT
    originator_id: Optional[UUID] = None
    for nid, text, version, topic, state in rows:
        if text != last_text:
            last_text = text
            originator_id = uuids.get(text)
            if originator_id is None:
                originator_id = uuids[text] = uuid_from_text(text)
        append(make_notification(originator_id, version, topic, state, nid))  # type: ignore[arg-type]
    return result
