"""A forked child opens its own sessions and leaves the parent's alone."""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Dict, List
from uuid import uuid4

import psycopg
import pytest

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import Factory


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_writes_on_its_own_sessions(
    pg_env: Dict[str, str], admin: psycopg.Connection[Any]
) -> None:
    with Factory("", pg_env) as factory:
        recorder = factory.application_recorder()
        assert recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"parent")]) == [1]
        with factory.datastore.connection() as conn:
            parent_pid = conn.info.backend_pid
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            code = 1
            try:
                ids = recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"child")])
                with factory.datastore.connection() as conn:
                    own_session = conn.info.backend_pid != parent_pid
                factory.close()
                code = 0 if ids == [2] and own_session else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # The parent's sessions still work, and both events are there.
        alive = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (parent_pid,)
        ).fetchone()
        assert alive == (1,)
        for _ in range(4):  # every pooled session of the parent is used again
            assert recorder.max_notification_id() == 2
        assert recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"parent")]) == [3]
        assert [n.state for n in recorder.select_notifications(1, 10)] == [
            b"parent",
            b"child",
            b"parent",
        ]


def _waiting_for_lock(admin: psycopg.Connection[Any], schema: str) -> bool:
    row = admin.execute(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE NOT l.granted AND n.nspname = %s",
        (schema,),
    ).fetchone()
    return bool(row and row[0])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_a_parent_thread_saves_can_save(
    pg_env: Dict[str, str], admin: psycopg.Connection[Any]
) -> None:
    # The parent's save in flight (its thread leads a group) does not exist in
    # the child: the child must not wait for it, nor send the parent's saves.
    schema = pg_env["POSTGRES_SCHEMA"]
    with Factory("", pg_env) as factory:
        recorder = factory.application_recorder()
        table = psycopg.sql.Identifier(schema, "stored_events")
        parent_ids: List[Any] = []
        with admin.transaction():
            admin.execute(psycopg.sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table))
            saving = threading.Thread(
                target=lambda: parent_ids.append(
                    recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"parent")])
                )
            )
            saving.start()
            deadline = time.monotonic() + 30
            while not _waiting_for_lock(admin, schema):  # the parent's save is in flight
                assert time.monotonic() < deadline
            child = os.fork()
            if child == 0:  # pragma: no cover - runs in the child
                code = 1
                try:
                    result: List[Any] = []
                    save = threading.Thread(
                        target=lambda: result.append(
                            recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"child")])
                        ),
                        daemon=True,
                    )
                    save.start()
                    save.join(timeout=20)
                    code = 3 if save.is_alive() else 0 if len(result) == 1 else 2
                finally:
                    os._exit(code)
        saving.join()
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert parent_ids == [[1]]
        assert sorted(n.state for n in recorder.select_notifications(1, 10)) == [
            b"child",
            b"parent",
        ]
