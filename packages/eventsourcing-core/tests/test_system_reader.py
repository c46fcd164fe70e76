"""NotificationLogReader: read() follows linked sections, select() selects
pages directly; both yield every notification from a start, in order, across
section boundaries and gaps in the IDs, on every backend and over the JSON
notification log interface."""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Sequence
from uuid import uuid4

import pytest

from eventsourcing.application import Application, NotificationLog, Section
from eventsourcing.domain import Aggregate, event
from eventsourcing.interface import NotificationLogJSONClient, NotificationLogJSONService
from eventsourcing.persistence import IntegrityError, Notification, StoredEvent
from eventsourcing.system import NotificationLogReader


class Diary(Aggregate):
    def __init__(self) -> None:
        self.entries: List[str] = []

    @event("Written")
    def write(self, entry: str) -> None:
        self.entries.append(entry)


class Diaries(Application[Diary]):
    log_section_size = 5


class Spy(NotificationLog):
    """A real log that remembers what was asked of it."""

    def __init__(self, log: NotificationLog) -> None:
        self.log = log
        self.sections: List[str] = []
        self.selects: List[tuple[int, int]] = []

    def __getitem__(self, section_id: str) -> Section:
        self.sections.append(section_id)
        return self.log[section_id]

    def select(
        self,
        start: int,
        limit: int,
        stop: Optional[int] = None,
        topics: Sequence[str] = (),
    ) -> List[Notification]:
        self.selects.append((start, limit))
        return self.log.select(start, limit, stop=stop, topics=topics)


@pytest.fixture
def diaries(store_env: Dict[str, str]) -> Iterator[Diaries]:
    with Diaries(env=store_env) as app:
        for _ in range(3):
            diary = Diary()
            for i in range(6):
                diary.write(f"entry {i}")
            app.save(diary)  # 7 events each: 21 notifications
        yield app


def all_ids(app: Diaries) -> List[int]:
    return [n.id for n in app.recorder.select_notifications(1, 1000)]


def test_read_follows_linked_sections(diaries: Diaries) -> None:
    ids = all_ids(diaries)
    assert len(ids) == 21
    spy = Spy(diaries.log)
    reader = NotificationLogReader(spy, section_size=5)
    assert [n.id for n in reader.read(start=1)] == ids
    # Five sections of five were requested, each linked from the one before.
    assert spy.sections[0] == "1,5" and len(spy.sections) == 5
    assert [n.id for n in reader.read(start=ids[7])] == ids[7:]
    assert list(reader.read(start=ids[-1] + 1)) == []


def test_read_with_sections_larger_than_the_log_offers(diaries: Diaries) -> None:
    reader = NotificationLogReader(diaries.log, section_size=50)
    assert [n.id for n in reader.read(start=1)] == all_ids(diaries)


def test_select_pages_from_the_last_id(diaries: Diaries) -> None:
    ids = all_ids(diaries)
    spy = Spy(diaries.log)
    reader = NotificationLogReader(spy, section_size=4)
    notifications = list(reader.select(start=1))
    assert [n.id for n in notifications] == ids
    assert spy.selects[:2] == [(1, 4), (ids[3] + 1, 4)] and len(spy.selects) == 6
    assert [n.id for n in reader.select(start=ids[10])] == ids[10:]
    # The same notifications as reading sections, state and all.
    assert notifications == list(NotificationLogReader(diaries.log).read(start=1))


def test_select_with_pages_larger_than_the_log_allows(diaries: Diaries) -> None:
    reader = NotificationLogReader(diaries.log, section_size=6)
    with pytest.raises(ValueError, match=r"^Requested limit 6 greater than section size 5$"):
        list(reader.select(start=1))


def test_reader_over_the_json_interface(diaries: Diaries) -> None:
    client = NotificationLogJSONClient(NotificationLogJSONService(diaries))
    reader = NotificationLogReader(client, section_size=5)
    local = list(NotificationLogReader(diaries.log, section_size=5).read(start=1))
    assert list(reader.read(start=1)) == local
    assert list(reader.select(start=1)) == local


def test_reader_across_gaps(diaries: Diaries, backend: str) -> None:
    """A failed insert may use up IDs (PostgreSQL sequences): readers skip the gap."""
    recorder = diaries.recorder
    taken = recorder.select_notifications(1, 1)[0]
    for _ in range(3):
        batch = [
            StoredEvent(uuid4(), 1, taken.topic, taken.state),
            StoredEvent(taken.originator_id, taken.originator_version, taken.topic, taken.state),
        ]
        with pytest.raises(IntegrityError):
            recorder.insert_events(batch)
        diary = Diary()
        diary.write("after a failed insert")
        diaries.save(diary)
    ids = all_ids(diaries)
    if backend == "postgres":
        assert ids[-1] - ids[0] + 1 > len(ids), "expected gaps in the notification IDs"
    for section_size in (1, 2, 5):
        reader = NotificationLogReader(diaries.log, section_size=section_size)
        assert [n.id for n in reader.read(start=1)] == ids
        assert [n.id for n in reader.select(start=1)] == ids


@pytest.mark.parametrize("start", [0, -3, "1", 1.0, True, None])
def test_start_must_be_a_notification_id(start: Any) -> None:
    with Diaries() as app:
        reader = NotificationLogReader(app.log)
        with pytest.raises(ValueError, match="start must be a notification ID"):
            next(reader.read(start=start))
        with pytest.raises(ValueError, match="start must be a notification ID"):
            next(reader.select(start=start))


@pytest.mark.parametrize("size", [0, -1, "10", 2.5])
def test_section_size_must_be_a_positive_int(size: Any) -> None:
    with Diaries() as app, pytest.raises(ValueError, match="section_size must be an int >= 1"):
        NotificationLogReader(app.log, section_size=size)
