"""Large saves by binary COPY (eventsourcing.postgres.bulk).

An application recorder's save of more than one chunk (500 events) is
copied, not inserted: these tests show it still returns the notification IDs
of its own rows, in order, under the table lock; writes a 9.1.3 table's
integer version column; and wakes subscriptions. Conflicts, bad items and
errors in later chunks are in test_large_batches.py, a cut connection in
test_faults.py: both go through it too.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, List
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql

from eventsourcing.persistence import DataError, IntegrityError, StoredEvent
from eventsourcing.postgres import Factory
from eventsourcing.postgres.bulk import CopyingCommitter
from eventsourcing.postgres.recorders import PostgresApplicationRecorder

from .test_subscription import Collector, recorder_with, wait_until_listening

LARGE = 1200


def batch(size: int = LARGE) -> List[StoredEvent]:
    originator_id = uuid4()
    return [StoredEvent(originator_id, v, "t", b"%d" % v) for v in range(1, size + 1)]


def recorder_of(factory: Factory) -> PostgresApplicationRecorder:
    recorder = factory.application_recorder()
    assert isinstance(recorder, PostgresApplicationRecorder)
    assert isinstance(recorder._committer, CopyingCommitter)
    return recorder


def test_a_large_save_waits_for_the_lock_and_returns_only_its_own_ids(
    factory: Factory, admin: psycopg.Connection[Any], pg_env: Dict[str, str]
) -> None:
    recorder = recorder_of(factory)
    assert recorder.insert_events(batch(1)) == [1]
    table = sql.Identifier(pg_env["POSTGRES_SCHEMA"], "stored_events")
    events = batch()
    result: List[Any] = []
    with admin.transaction():
        admin.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table))
        writer = threading.Thread(target=lambda: result.append(recorder.insert_events(events)))
        writer.start()
        deadline = time.monotonic() + 30
        while not admin.execute(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
            (table.as_string(admin),),
        ).fetchone()[0]:
            assert time.monotonic() < deadline, "the large save never waited for the lock"
            time.sleep(0.01)
        # Rows committed while the save waits are not its rows.
        admin.execute(
            sql.SQL(
                "INSERT INTO {} (originator_id, originator_version, topic, state) "
                "VALUES (%s, 1, 't', 'x')"
            ).format(table),
            (uuid4(),),
        )
    writer.join(timeout=60)
    (ids,) = result
    assert ids == list(range(3, 3 + LARGE))
    notifications = recorder.select_notifications(3, LARGE)
    assert [n.id for n in notifications] == ids
    assert [(n.originator_id, n.originator_version, n.state) for n in notifications] == [
        (e.originator_id, e.originator_version, e.state) for e in events
    ]


def test_a_9_1_3_table_with_an_integer_version_column_is_copied_into(
    pg_env: Dict[str, str], admin: psycopg.Connection[Any]
) -> None:
    schema = sql.Identifier(pg_env["POSTGRES_SCHEMA"])
    admin.execute(sql.SQL("SET search_path TO {}").format(schema))
    admin.execute(
        "CREATE TABLE old_events (originator_id uuid NOT NULL, "
        "originator_version integer NOT NULL, topic text, state bytea, "
        "notification_id BIGSERIAL, PRIMARY KEY (originator_id, originator_version))"
    )
    admin.execute("CREATE UNIQUE INDEX ON old_events (notification_id ASC)")
    with Factory("Old", {**pg_env, "CREATE_TABLE": "false"}) as factory:
        recorder = recorder_of(factory)
        events = batch()
        assert recorder.insert_events(events) == list(range(1, LARGE + 1))
        assert recorder.select_events(events[0].originator_id) == events
        too_big = batch()
        too_big[-1] = StoredEvent(too_big[0].originator_id, 2**31, "t", b"")
        with pytest.raises(DataError, match="range of the PostgreSQL integer column"):
            recorder.insert_events(too_big)
        assert recorder.select_events(too_big[0].originator_id) == []
        assert recorder.max_notification_id() == LARGE


def test_a_copied_save_wakes_a_listening_subscription(pg_env: Dict[str, str]) -> None:
    recorder = recorder_with(pg_env, POSTGRES_SUBSCRIPTION_POLL_INTERVAL="10")
    try:
        with recorder.subscribe() as subscription:
            collector = Collector(subscription)
            wait_until_listening(subscription)
            sent = time.monotonic()
            ids = recorder.insert_events(batch())
            assert ids is not None and len(ids) == LARGE
            assert collector.wait_for(ids[-1], timeout=5)
            assert collector.arrived[ids[-1]] - sent < 5.0  # not the 10 s poll
            collector.stop()
    finally:
        recorder.close()


def test_after_a_copied_save_conflicts_the_connection_is_used_as_before(
    pg_env: Dict[str, str],
) -> None:
    one_connection = {**pg_env, "POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "0"}
    with Factory("", one_connection) as factory:
        recorder = recorder_of(factory)
        first = batch(1)
        recorder.insert_events(first)
        assert len(recorder.select_notifications(1, 10)) == 1  # psycopg prepares this one
        conflicting = batch()
        conflicting[-1] = StoredEvent(first[0].originator_id, 1, "t", b"")
        with pytest.raises(IntegrityError):
            recorder.insert_events(conflicting)
        assert recorder.select_events(conflicting[0].originator_id) == []
        # The statements prepared on the connection are still there.
        again = batch(1)
        (notification_id,) = recorder.insert_events(again) or []
        large = batch()
        ids = recorder.insert_events(large)
        assert ids is not None and len(ids) == LARGE and ids[0] > notification_id
        assert [n.id for n in recorder.select_notifications(1, 3 * LARGE)] == [
            1,
            notification_id,
            *ids,
        ]
