"""Rows read back as notifications: the same objects ``Notification(...)`` makes."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any, List, Tuple
from uuid import UUID, uuid4

import pytest

from eventsourcing.persistence import Notification
from eventsourcing.sqlite.rows import notifications, uuid_from_text


def test_notifications_are_those_the_constructor_makes() -> None:
    a, b = uuid4(), uuid4()
    rows: List[Tuple[Any, ...]] = [
        (1, a.hex, 1, "m:A", b"one"),
        (2, a.hex, 2, "m:B", b"two"),
        (5, b.hex, 1, "m:A", b""),
        (6, a.hex, 3, "m:A", b"three"),  # an originator met before, not just before
        (7, str(b), 2, "m:C", b"four"),  # another form of the same UUID
    ]
    made = notifications(rows)
    expected = [
        Notification(a, 1, "m:A", b"one", 1),
        Notification(a, 2, "m:B", b"two", 2),
        Notification(b, 1, "m:A", b"", 5),
        Notification(a, 3, "m:A", b"three", 6),
        Notification(b, 2, "m:C", b"four", 7),
    ]
    assert made == expected
    for n, e in zip(made, expected, strict=True):
        assert type(n) is Notification
        assert dataclasses.astuple(n) == dataclasses.astuple(e)
        assert hash(n) == hash(e) and repr(n) == repr(e)
        assert type(n.originator_id) is UUID
        assert pickle.loads(pickle.dumps(n)) == e
        with pytest.raises(AttributeError):  # still frozen
            n.id = 99  # type: ignore[misc]
    # One UUID object per originator in a page.
    assert made[0].originator_id is made[1].originator_id is made[3].originator_id
    assert notifications([]) == []


@pytest.mark.parametrize(
    "text",
    [
        "0123456789abcdef0123456789abcdef",
        "0123456789ABCDEF0123456789ABCDEF",
        "00000000000000000000000000000000",
        "ffffffffffffffffffffffffffffffff",
        "01234567-89ab-cdef-0123-456789abcdef",
        "{0123456789abcdef0123456789abcdef}",
        "urn:uuid:01234567-89ab-cdef-0123-456789abcdef",
    ],
)
def test_uuid_from_text_is_uuid_of_the_text(text: str) -> None:
    made, expected = uuid_from_text(text), UUID(text)
    assert made == expected and type(made) is UUID
    assert (made.int, made.is_safe, hash(made), str(made)) == (
        expected.int,
        expected.is_safe,
        hash(expected),
        str(expected),
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0123456789abcdef0123456789abcde",  # 31 digits
        "0123456789abcdef0123456789abcdefa",  # 33
        "-0000000000000000000000000000000",  # 32 characters, a sign
        "+0000000000000000000000000000000",
        "0123456789abcdef0123456789abcdeg",
        "0_23456789abcdef0123456789abcdef",
        " 123456789abcdef0123456789abcdef",
    ],
)
def test_uuid_from_text_refuses_what_uuid_refuses_or_agrees(text: str) -> None:
    try:
        expected = UUID(text)
    except ValueError:
        with pytest.raises(ValueError):
            uuid_from_text(text)
    else:  # int() reads signs, underscores and spaces; so does UUID()
        assert uuid_from_text(text) == expected
