"""Bad input is refused with a PEP 249 exception, alone, and nothing is stored."""

from __future__ import annotations

from typing import Any, Callable
from uuid import uuid4

import pytest

from eventsourcing.persistence import (
    DataError,
    InterfaceError,
    StoredEvent,
    Tracking,
)
from eventsourcing.postgres import Factory

UNENCODABLE = "shop:Cart\ud800"  # a lone surrogate: no UTF-8 encoding exists


def test_an_unencodable_topic_is_a_data_error_and_records_nothing(factory: Factory) -> None:
    # Refused before it joins a group: failing while it was being sent would
    # fail every save sharing its transaction, with a non-PEP 249 exception.
    recorder = factory.application_recorder()
    originator_id = uuid4()
    with pytest.raises(DataError):
        recorder.insert_events(
            [
                StoredEvent(originator_id, 1, "shop:Cart", b"s"),
                StoredEvent(originator_id, 2, UNENCODABLE, b"s"),
            ]
        )
    assert recorder.select_events(originator_id) == []
    assert recorder.insert_events([StoredEvent(originator_id, 1, "shop:Cart", b"s")]) == [1]


def test_an_unencodable_tracking_name_is_a_data_error_and_records_nothing(
    factory: Factory,
) -> None:
    recorder = factory.process_recorder()
    originator_id = uuid4()
    with pytest.raises(DataError):
        recorder.insert_events(
            [StoredEvent(originator_id, 1, "shop:Cart", b"s")],
            tracking=Tracking(UNENCODABLE, 1),
        )
    assert recorder.select_events(originator_id) == []
    assert recorder.max_notification_id() == 0


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda r: r.select_notifications(1, 10, topics="shop:Cart"), InterfaceError),
        (lambda r: r.select_notifications("1", 10), InterfaceError),
        (lambda r: r.select_notifications(1, 10, stop="5"), InterfaceError),
        (lambda r: r.select_notifications(1, -1), DataError),
        (lambda r: r.select_events(uuid4(), gt="1"), InterfaceError),
        (lambda r: r.select_events(uuid4(), lte="1"), InterfaceError),
        (lambda r: r.select_events(uuid4(), limit=-1), DataError),
        (lambda r: r.select_events(str(uuid4())), InterfaceError),
        (lambda r: r.max_tracking_id(1), InterfaceError),
        (lambda r: r.has_tracking_id("up", "1"), InterfaceError),
    ],
)
def test_reads_with_arguments_of_the_wrong_type_are_refused(
    factory: Factory, call: Callable[[Any], Any], error: type[Exception]
) -> None:
    # As the SQLite and POPO recorders do: no silently wrong answer.
    recorder = factory.process_recorder()
    recorder.insert_events([StoredEvent(uuid4(), 1, "shop:Cart", b"s")])
    with pytest.raises(error):
        call(recorder)
