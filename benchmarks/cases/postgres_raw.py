"""PostgreSQL: the raw driver floor, and this backend's recorder-level rates.

``raw floor: insert+commit`` is what plain psycopg does on a table like the
application recorder's (same columns, primary key, BIGSERIAL notification ID
and its unique index): one INSERT and one COMMIT per transaction, one event
per transaction, on one connection. ``app: create`` does the same work (one
new aggregate, one event, per save) through the whole stack, so the two rates,
measured in the same run, compare the library with the driver. Each case makes
its own schema (dropped afterwards); set-up is inside the timed call, as it is
for the application cases.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Tuple

from benchmarks.harness import Stopwatch, case, postgres_connect_params, postgres_schema
from eventsourcing.persistence import StoredEvent

TOPIC = "benchmarks.cases.application:Account.Created"
STATE = (
    b'{"timestamp": {"_type_": "datetime_iso", "_data_": "2026-01-01T00:00:00.000000+00:00"}, '
    b'"originator_topic": "benchmarks.cases.application:Account", "owner": "owner 1"}'
)


@case("raw floor: insert+commit", backends=("postgres",))
def raw_insert_commit(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    """Plain psycopg: INSERT then COMMIT, one event per transaction."""
    import psycopg
    from psycopg import sql

    count = 1000
    with postgres_schema(env) as schema:
        table = sql.Identifier(schema, "stored_events")
        with psycopg.connect(**postgres_connect_params(env)) as conn:
            conn.execute(
                sql.SQL(
                    "CREATE TABLE {} (originator_id uuid NOT NULL, "
                    "originator_version integer NOT NULL, topic text, state bytea, "
                    "notification_id BIGSERIAL, "
                    "PRIMARY KEY (originator_id, originator_version))"
                ).format(table)
            )
            conn.execute(sql.SQL("CREATE UNIQUE INDEX ON {} (notification_id)").format(table))
            conn.commit()
            insert = sql.SQL(
                "INSERT INTO {} (originator_id, originator_version, topic, state) "
                "VALUES (%s, %s, %s, %s)"
            ).format(table)
            with Stopwatch() as watch:
                for _ in range(count):
                    conn.execute(insert, (uuid.uuid4(), 1, TOPIC, STATE))
                    conn.commit()
    return count, watch.elapsed


@contextmanager
def _recorder(env: Dict[str, str]) -> Iterator[Any]:
    from eventsourcing.postgres import Factory

    with postgres_schema(env) as schema, Factory("", {**env, "POSTGRES_SCHEMA": schema}) as factory:
        yield factory.application_recorder()


def _events(count: int) -> List[StoredEvent]:
    originator_id = uuid.uuid4()
    return [StoredEvent(originator_id, v, TOPIC, STATE) for v in range(1, count + 1)]


@case("postgres recorder: insert 1", backends=("postgres",))
def recorder_insert_one(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    """The application recorder, one event per insert (one transaction each)."""
    count = 1000
    with _recorder(env) as recorder, Stopwatch() as watch:
        for _ in range(count):
            recorder.insert_events(_events(1))
    return count, watch.elapsed


@case("postgres recorder: batch 5000", backends=("postgres",))
def recorder_batch(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    """5,000 events of one aggregate in one insert (one transaction), three times."""
    size, batches = 5000, 3
    watch = Stopwatch()
    with _recorder(env) as recorder:
        for _ in range(batches):
            events = _events(size)
            with watch:
                recorder.insert_events(events)
    return size * batches, watch.elapsed


@case("postgres recorder: notifications read", backends=("postgres",), unit="notifications/s")
def recorder_notifications(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    """10,000 notifications read twenty times, 500 per select (writing them is not timed)."""
    total_events, page, passes = 10000, 500, 20
    with _recorder(env) as recorder:
        for _ in range(total_events // 5000):
            recorder.insert_events(_events(5000))
        total = 0
        watch = Stopwatch()
        for _ in range(passes):
            start = 1
            while True:
                with watch:
                    notifications = recorder.select_notifications(start, page)
                total += len(notifications)
                if len(notifications) < page:
                    break
                start = notifications[-1].id + 1
    assert total == total_events * passes
    return total, watch.elapsed
