"""The copying capabilities (:mod:`eventsourcing.copying`) of the PostgreSQL recorders.

Kept apart from the ports (the recorder classes mix these in). Notifications
with given IDs go in with ``COPY ... FROM STDIN (FORMAT BINARY)`` -- the
fastest way into PostgreSQL, measured by ``eventsourcing copy`` -- inside a
transaction that holds the table's ``EXCLUSIVE`` lock, as every insert does,
and that moves the ``notification_id`` sequence past the largest ID copied,
so that events saved later get higher IDs.
"""

from __future__ import annotations

import struct
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple
from uuid import UUID

from psycopg import sql

from eventsourcing.checks import check_int, check_tracking
from eventsourcing.copying import (
    EventScanning,
    NotificationInserting,
    TrackingCopying,
    check_scan_key,
)
from eventsourcing.persistence import (
    InterfaceError,
    Notification,
    StoredEvent,
    Tracking,
    make_stored_event,
)
from eventsourcing.postgres.datastore import Connection, PostgresDatastore

__all__ = ["PostgresEventScanning", "PostgresNotificationInserting", "PostgresTrackingCopying"]

_INT8_MAX = 2**63 - 1


class _PostgresRecorder:
    """What the mixins use of the recorder they are mixed into."""

    datastore: PostgresDatastore
    events_table: sql.Composable
    _check_stored_events: Callable[[Sequence[StoredEvent]], None]
    events_table_name: str
    _integer_column: Callable[[str, str], Tuple[str, int, int]]


class PostgresEventScanning(_PostgresRecorder, EventScanning):
    def scan_stored_events(
        self, after: Optional[Tuple[UUID, int]] = None, limit: int = 1000
    ) -> List[StoredEvent]:
        check_int("limit", limit, minimum=0)
        text = "SELECT originator_id, originator_version, topic, state FROM {}"
        params: List[Any] = []
        if after is not None:
            originator_id, version = check_scan_key(after)
            text += " WHERE (originator_id, originator_version) > (%s, %s)"
            params += [originator_id, version]
        text += " ORDER BY originator_id, originator_version LIMIT %s"
        params.append(limit)
        query = sql.SQL(text).format(self.events_table)

        def select(conn: Connection) -> List[StoredEvent]:
            rows = conn.execute(query, params, binary=True).fetchall()
            return [make_stored_event(*row) for row in rows]

        return self.datastore.read(select)


class PostgresNotificationInserting(_PostgresRecorder, NotificationInserting):
    def insert_notifications(self, notifications: Sequence[Notification]) -> None:
        notifications = list(notifications)
        self._check_stored_events(notifications)
        for n in notifications:
            if not isinstance(n, Notification):
                raise InterfaceError(f"Expected Notification objects, got {n!r}")
            check_int("notification id", n.id, minimum=1)
            if n.id > _INT8_MAX:
                raise InterfaceError(f"notification id {n.id} is out of the bigint range")
        if not notifications:
            return
        table = self.events_table
        copy_statement = sql.SQL(
            "COPY {} (originator_id, originator_version, topic, state, notification_id) "
            "FROM STDIN (FORMAT BINARY)"
        ).format(table)
        advance = sql.SQL(
            "SELECT setval(s, GREATEST(nextval(s), %s)) "
            "FROM (SELECT pg_get_serial_sequence(%s, 'notification_id')::regclass AS s) q"
        )
        largest = max(n.id for n in notifications)

        # originator_version is bigint in new tables, integer in 9.1.3's.
        wide = self._integer_column(self.events_table_name, "originator_version")[0] == "bigint"
        payload = _copy_payload(notifications, wide)
        with self.datastore.connection() as conn:
            with conn.transaction():
                conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table))
                with conn.cursor().copy(copy_statement) as copy:
                    copy.write(payload)
                conn.execute(advance, (largest, table.as_string(conn)))


# PostgreSQL's binary COPY format: a signature, flags and header extension
# length; then per row the field count and each field as length and bytes;
# then -1. Packed here in one pass: measured about twice as fast as
# psycopg's write_row() with per-value dumpers (1,000,000 events).
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_COPY_TRAILER = struct.pack("!h", -1)
# 5 fields; uuid (16 bytes); int4 or int8 version; then the topic's length.
_ROW_START = struct.Struct("!hi16siii")
_WIDE_ROW_START = struct.Struct("!hi16siqi")
_LENGTH = struct.Struct("!i")
# int8 notification ID, after the state.
_ROW_END = struct.Struct("!iq")


def _copy_payload(notifications: Sequence[Notification], wide: bool) -> bytes:
    topics: Dict[str, bytes] = {}
    parts: List[bytes] = [_COPY_HEADER]
    append = parts.append
    row_start = _WIDE_ROW_START.pack if wide else _ROW_START.pack
    width = 8 if wide else 4
    length, row_end = _LENGTH.pack, _ROW_END.pack
    for n in notifications:
        topic = topics.get(n.topic)
        if topic is None:
            topic = topics[n.topic] = n.topic.encode("utf8")
        append(row_start(5, 16, n.originator_id.bytes, width, n.originator_version, len(topic)))
        append(topic)
        append(length(len(n.state)))
        append(n.state)
        append(row_end(8, n.id))
    append(_COPY_TRAILER)
    return b"".join(parts)


class PostgresTrackingCopying(_PostgresRecorder, TrackingCopying):
    tracking_table: sql.Composable

    def select_tracking(
        self, after: Optional[Tracking] = None, limit: int = 1000
    ) -> List[Tracking]:
        check_int("limit", limit, minimum=0)
        text = "SELECT application_name, notification_id FROM {}"
        params: List[Any] = []
        if after is not None:
            check_tracking(after)
            text += " WHERE (application_name, notification_id) > (%s, %s)"
            params += [after.application_name, after.notification_id]
        text += " ORDER BY application_name, notification_id LIMIT %s"
        params.append(limit)
        query = sql.SQL(text).format(self.tracking_table)

        def select(conn: Connection) -> List[Tracking]:
            return [Tracking(r[0], r[1]) for r in conn.execute(query, params).fetchall()]

        return self.datastore.read(select)

    def insert_tracking(self, records: Sequence[Tracking]) -> None:
        rows = []
        for t in records:
            check_tracking(t)
            rows.append((t.application_name, t.notification_id))
        if not rows:
            return
        query = sql.SQL("INSERT INTO {} (application_name, notification_id) VALUES (%s, %s)")
        with self.datastore.connection() as conn:
            with conn.transaction():
                conn.cursor().executemany(query.format(self.tracking_table), rows)
