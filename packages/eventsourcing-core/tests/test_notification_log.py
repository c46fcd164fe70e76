"""Notification log sections: IDs, sizes, next IDs, gaps, and selecting.
Every test runs on every installed backend."""

from __future__ import annotations

import sqlite3
from typing import Any, Dict, Iterator, List

import pytest

from eventsourcing.application import Application, LocalNotificationLog, Section
from eventsourcing.domain import Aggregate, event


class Beacon(Aggregate):
    @event("Flashed")
    def flash(self) -> None:
        pass


class Lighthouse(Application[Beacon]):
    def flash_times(self, count: int) -> None:
        beacon = Beacon()  # one event
        for _ in range(count - 1):
            beacon.flash()
        self.save(beacon)


@pytest.fixture
def app(store_env: Dict[str, str]) -> Iterator[Lighthouse]:
    with Lighthouse(env=store_env) as application:
        yield application


def ids(section: Section) -> List[int]:
    return [n.id for n in section.items]


def test_an_empty_log_has_an_empty_section(app: Lighthouse) -> None:
    section = app.log["1,10"]
    assert section == Section(id=None, items=[], next_id=None)


def test_full_sections_link_to_the_next_and_the_last_one_does_not(
    app: Lighthouse,
) -> None:
    app.flash_times(25)
    first = app.log["1,10"]
    assert (first.id, first.next_id, ids(first)) == ("1,10", "11,20", list(range(1, 11)))
    assert first.next_id is not None
    second = app.log[first.next_id]
    assert (second.id, second.next_id) == ("11,20", "21,30")
    assert second.next_id is not None
    last = app.log[second.next_id]
    assert (last.id, last.next_id, ids(last)) == ("21,25", None, list(range(21, 26)))
    assert app.log["26,35"] == Section(id=None, items=[], next_id=None)


def test_sections_never_exceed_the_section_size(app: Lighthouse) -> None:
    app.flash_times(25)
    section = app.log["1,100"]
    assert section.id == "1,10" and section.next_id == "11,20"
    smaller = app.log["3,5"]
    assert (smaller.id, smaller.next_id) == ("3,5", "6,8")


def test_section_size_can_be_set(store_env: Dict[str, str]) -> None:
    class Bigger(Lighthouse):
        log_section_size = 20

    with Bigger(env=store_env) as app:
        app.flash_times(25)
        assert app.log["1,100"].id == "1,20"
        assert app.log.select(1, 20)[-1].id == 20
        with pytest.raises(ValueError, match="section size 20"):
            app.log.select(1, 21)


@pytest.mark.parametrize("bad", ["", "1", "1,", "a,b", "1,2,3", "1.5,3"])
def test_malformed_section_ids_are_rejected(app: Lighthouse, bad: str) -> None:
    with pytest.raises(ValueError, match="section ID"):
        app.log[bad]


def test_a_first_id_below_one_reads_from_the_start_as_in_91(app: Lighthouse) -> None:
    app.flash_times(3)
    assert app.log["0,10"] == app.log["1,10"]
    section = app.log["-3,2"]
    assert ids(section) == [1, 2] and section.id == "1,2" and section.next_id == "3,4"


@pytest.mark.parametrize("reversed_id", ["3,2", "5,4", "1,0"])
def test_a_last_id_below_the_first_is_an_empty_section_as_in_91(
    app: Lighthouse, reversed_id: str
) -> None:
    app.flash_times(6)
    assert app.log[reversed_id] == Section(id=None, items=[], next_id=None)


def test_format_section_id_is_on_the_local_log_as_in_91() -> None:
    assert LocalNotificationLog.format_section_id(11, 20) == "11,20"


def test_select_returns_notifications_from_start_up_to_limit(app: Lighthouse) -> None:
    app.flash_times(12)
    assert [n.id for n in app.log.select(3, 4)] == [3, 4, 5, 6]
    assert [n.id for n in app.log.select(11, 10)] == [11, 12]
    assert [n.id for n in app.log.select(3, 10, stop=5)] == [3, 4, 5]
    with pytest.raises(ValueError, match=r"^Requested limit 11 greater than section size 10$"):
        app.log.select(1, 11)


def test_select_by_topic(app: Lighthouse) -> None:
    app.flash_times(3)
    app.flash_times(2)
    created_topic = app.log.select(1, 1)[0].topic
    assert created_topic != app.log.select(2, 1)[0].topic
    selected = app.log.select(1, 10, topics=[created_topic])
    assert [n.id for n in selected] == [1, 4]


def test_local_log_rejects_a_bad_section_size(app: Lighthouse) -> None:
    with pytest.raises(ValueError, match="section_size"):
        LocalNotificationLog(app.recorder, section_size=0)


def make_gaps(backend: str, env: Dict[str, str], app: Application[Any], gone: List[int]) -> None:
    """Delete notifications from the real store, as failed or rolled back
    inserts leave gaps in the notification IDs of a database."""
    marks = ", ".join(str(i) for i in gone)
    if backend == "sqlite":
        with sqlite3.connect(env["SQLITE_DBNAME"]) as conn:
            conn.execute(f"DELETE FROM stored_events WHERE rowid IN ({marks})")
    elif backend == "postgres":
        import psycopg

        with psycopg.connect(
            host=env["POSTGRES_HOST"],
            port=int(env["POSTGRES_PORT"]),
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"],
            dbname=env["POSTGRES_DBNAME"],
            autocommit=True,
        ) as conn:
            table = f'"{env["POSTGRES_SCHEMA"]}"."{app.name.lower()}_events"'
            conn.execute(f"DELETE FROM {table} WHERE notification_id IN ({marks})")
    else:
        pytest.skip(f"the {backend} recorder numbers notifications without gaps")


def test_sections_are_correct_across_gaps(
    backend: str, store_env: Dict[str, str], app: Lighthouse
) -> None:
    app.flash_times(30)
    make_gaps(backend, store_env, app, [4, 5, 6, 11, 12, 25])
    remaining = [i for i in range(1, 31) if i not in (4, 5, 6, 11, 12, 25)]
    assert [n.id for n in app.recorder.select_notifications(1, 100)] == remaining

    first = app.log["1,10"]
    # Ten notifications, so the last ID is beyond the requested "10".
    assert ids(first) == remaining[:10]
    assert first.id == f"1,{remaining[9]}"
    assert first.next_id == f"{remaining[9] + 1},{remaining[9] + 10}"

    # Following next IDs visits every notification exactly once.
    seen: List[int] = []
    section_id = "1,10"
    while True:
        section = app.log[section_id]
        seen.extend(ids(section))
        if section.next_id is None:
            break
        section_id = section.next_id
    assert seen == remaining
    # A section starting inside a gap begins at the next notification.
    assert app.log["4,13"].id == "7,18"
