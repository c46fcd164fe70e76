"""PostgreSQL tracking recorder: the base of materialised views in PostgreSQL.

A view subclasses :class:`PostgresTrackingRecorder`, adds its tables to
:meth:`~PostgresTrackingRecorder.construct_create_table_statements`, and
changes them inside :meth:`~PostgresTrackingRecorder.transaction` together
with :meth:`~PostgresTrackingRecorder._insert_tracking` for each
notification the change is made of.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional

from psycopg import sql

from eventsourcing.checks import check_str, check_tracking
from eventsourcing.persistence import DataError, Tracking, TrackingRecorder
from eventsourcing.postgres.datastore import Connection, PostgresDatastore
from eventsourcing.postgres.identifiers import validate_table_name
from eventsourcing.postgres.schema import create_tables, tracking_table_statement

__all__ = ["PostgresTrackingRecorder"]

_INT8_MAX = 2**63 - 1


class PostgresTrackingRecorder(TrackingRecorder):
    """Tracking records in table ``tracking_table_name`` (a view: ``{name}_tracking``)."""

    def __init__(
        self, datastore: PostgresDatastore, tracking_table_name: str = "notification_tracking"
    ) -> None:
        if not isinstance(datastore, PostgresDatastore):
            raise TypeError(f"Expected PostgresDatastore, got {type(datastore).__name__}")
        self.datastore = datastore
        self.tracking_table_name = validate_table_name(tracking_table_name)
        self.tracking_table = datastore.table(self.tracking_table_name)
        # Many notifications of one application in one statement (a page of a view).
        self._insert_tracking_query = sql.SQL(
            "INSERT INTO {} (application_name, notification_id) SELECT %s, unnest(%s::bigint[])"
        ).format(self.tracking_table)
        self._max_tracking_query = sql.SQL(
            "SELECT max(notification_id) FROM {} WHERE application_name = %s"
        ).format(self.tracking_table)

    def construct_create_table_statements(self) -> List[sql.Composed]:
        """Extend with the view's own ``CREATE TABLE IF NOT EXISTS`` statements
        (name tables with :meth:`PostgresDatastore.table`, so they go in the schema)."""
        return [tracking_table_statement(self.tracking_table)]

    def create_table(self) -> None:
        """Create the schema and tables if they do not exist (idempotent)."""
        create_tables(self.datastore, self.construct_create_table_statements())

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A transaction on a pooled connection: committed if the block ends,
        rolled back if it raises (errors come out as persistence exceptions).

        In pipeline mode: ``BEGIN``, the statements and ``COMMIT`` go to the
        server together rather than one round trip each (a view's page: one
        wait for the server instead of four or five). A statement's error is
        raised when its result is needed, at the latest by the commit, and
        rolls the whole transaction back, as without a pipeline.
        """
        with self.datastore.connection() as conn, conn.pipeline(), conn.transaction():
            yield conn

    def _insert_tracking(self, conn: Connection, *trackings: Tracking) -> None:
        """Record ``trackings`` in the open transaction of ``conn`` (one round trip)."""
        for tracking in trackings:
            check_tracking(tracking)
            if not 0 <= tracking.notification_id <= _INT8_MAX:
                raise DataError(
                    f"Tracking notification_id {tracking.notification_id!r} is not an "
                    "integer in the range of the PostgreSQL bigint column"
                )
        ids_of: Dict[str, List[int]] = {}
        for t in trackings:
            ids_of.setdefault(t.application_name, []).append(t.notification_id)
        for application_name, ids in ids_of.items():
            conn.execute(self._insert_tracking_query, (application_name, ids))

    def insert_tracking(self, tracking: Tracking) -> None:
        check_tracking(tracking)
        with self.transaction() as conn:
            self._insert_tracking(conn, tracking)

    def max_tracking_id(self, application_name: str) -> Optional[int]:
        check_str("application_name", application_name)

        def select(conn: Connection) -> Optional[int]:
            row = conn.execute(self._max_tracking_query, (application_name,)).fetchone()
            return None if row is None or row[0] is None else int(row[0])

        return self.datastore.read(select)

    def close(self) -> None:
        """Close the datastore's connections (shared with the factory's other recorders)."""
        self.datastore.close()
