"""PostgreSQL: the raw driver floor (recorder-level rates are in ``recorder.py``).

``raw floor: insert+commit`` is what plain psycopg does on a table like the
application recorder's (same columns, primary key, BIGSERIAL notification ID
and its unique index): one INSERT and one COMMIT per transaction, one event
per transaction, on one connection. ``app: create`` does the same work (one
new aggregate, one event, per save) through the whole stack, so the two rates,
measured in the same run, compare the library with the driver. The case makes
its own schema and table (dropped afterwards) and times only the inserts, as
the application cases time only their saves.
"""

from __future__ import annotations

import uuid
from typing import Dict, Tuple

from benchmarks.harness import Stopwatch, case, postgres_connect_params, postgres_schema

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


@case("postgres: app create / raw floor", backends=("postgres",), unit="ratio")
def create_versus_floor(backend: str, env: Dict[str, str]) -> Tuple[float, float]:
    """``app: create`` divided by the raw floor, measured back to back.

    Both are bounded by the server's commit latency, which drifts over a
    benchmark run; measuring them one after the other in each repetition
    compares them under the same conditions.
    """
    from benchmarks.cases.application import create

    raw_count, raw_seconds = raw_insert_commit(backend, env)
    app_count, app_seconds = create(backend, env)
    return (app_count / app_seconds) / (raw_count / raw_seconds), 1.0
