"""Creating tables: shared by the recorders and the tracking recorders (views)."""

from __future__ import annotations

from typing import Sequence

from psycopg import sql

from eventsourcing.postgres.datastore import Connection, PostgresDatastore

__all__ = ["create_tables", "tracking_table_statement"]

# Key of the advisory lock that serialises table creation across processes.
_DDL_LOCK_KEY = 0x6576656E74  # "event"


def create_tables(datastore: PostgresDatastore, statements: Sequence[sql.Composed]) -> None:
    """Create the datastore's schema (if missing), then run ``statements``, in
    one transaction."""
    schema = datastore.schema

    def create(conn: Connection) -> None:
        with conn.transaction():
            # Concurrent "IF NOT EXISTS" can still collide in the catalogue.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK_KEY,))
            exists = conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            for statement in statements:
                conn.execute(statement)

    datastore.read(create)


def tracking_table_statement(table: sql.Composable) -> sql.Composed:
    """The tracking table of eventsourcing 9.1's layout (``bigint`` IDs, as 9.1.9 makes it)."""
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {} ("
        "application_name text, "
        "notification_id bigint, "
        "PRIMARY KEY (application_name, notification_id))"
    ).format(table)
