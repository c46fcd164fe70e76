"""Rows of the events table as notifications, at the least cost per row.

Reading a log makes one :class:`~eventsourcing.persistence.Notification` per
row, so the Python work per row is most of what ``select_notifications`` adds
to the driver's own (the floor ``hatch run bench --case "floor: notifications
/ select"``). Measured on CPython 3.11, a log of 10,000 rows read in pages of
500, each trick is kept for what it buys:

- the objects are made with ``object.__new__`` and their ``__dict__`` filled
  in the loop, the same attributes in the same order as
  ``Notification.__init__`` writes them, without a call per row: 7.9 ms
  -> 7.2 ms a read (best of 60, alternating; the plain ``SELECT`` 4.7 ms);
- the originator ID of a row is the previous row's when the text is equal
  (a log holds runs of one aggregate's events), else looked up by its text:
  7.3 ms rather than 7.6 ms;
- :func:`uuid_from_text` parses 32 hexadecimal digits without
  ``UUID.__init__``'s handling of other forms: 0.40 µs rather than 0.65 µs,
  once per originator per page; a log of 10,000 aggregates' first events
  (a UUID for every row) is read in 14.6 ms rather than 15.9 ms.

What is left, per row: the driver's fetch (0.42 µs, less than one plain
``SELECT`` of every row takes), the five stores into the split ``__dict__``
(0.12 µs), the loop and the allocation (0.07 µs), and the cyclic garbage
collector's passes over two tracked objects (the notification and its
``__dict__``, which holds a UUID): 0.09 µs. Setting the attributes in the
object's inline values instead (``object.__setattr__``, as the frozen
dataclass's own ``__init__`` does) makes no ``__dict__`` but costs 0.2 µs more.
"""

from __future__ import annotations

from itertools import repeat
from typing import Any, Callable, Dict, List, Optional, Sequence
from uuid import UUID, SafeUUID

from eventsourcing.persistence import Notification

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
    result: List[Notification] = list(map(_new, repeat(Notification, len(rows))))
    uuids: Dict[str, UUID] = {}
    last_text: object = _NO_TEXT
    originator_id: Optional[UUID] = None
    for n, (nid, text, version, topic, state) in zip(result, rows, strict=True):
        if text != last_text:
            last_text = text
            originator_id = uuids.get(text)
            if originator_id is None:
                originator_id = uuids[text] = uuid_from_text(text)
        d = n.__dict__  # as Notification.__init__ (tests compare the two)
        d["originator_id"] = originator_id
        d["originator_version"] = version
        d["topic"] = topic
        d["state"] = state
        d["id"] = nid
    return result
