"""Page reads of the notification log stay ordered index scans on tables not yet analyzed.

A new table that was just filled has no statistics until autovacuum gets to
it; with both bounds, or a topic filter, the planner then guessed that few
rows match and read (and sorted) everything after the start of the page.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import Factory, PostgresApplicationRecorder

ROWS = 20_000


def _plan(
    admin: psycopg.Connection[Any],
    recorder: PostgresApplicationRecorder,
    start: int,
    limit: int,
    stop: Optional[int] = None,
    topics: Sequence[str] = (),
) -> str:
    """The plan of the statement ``select_notifications`` sends for these arguments."""
    sent: List[str] = []
    original = psycopg.Connection.execute

    def execute(self: psycopg.Connection[Any], query: Any, params: Any = None, **kw: Any) -> Any:
        if self is not admin and isinstance(query, bytes) and b"notification_id >=" in query:
            rows = original(admin, b"EXPLAIN " + query, params).fetchall()
            sent.append("\n".join(row[0] for row in rows))
        return original(self, query, params, **kw)

    psycopg.Connection.execute = execute  # type: ignore[method-assign]
    try:
        recorder.select_notifications(start, limit, stop=stop, topics=topics)
    finally:
        psycopg.Connection.execute = original  # type: ignore[method-assign]
    assert sent, "select_notifications sent no page query"
    return sent[-1]


@pytest.mark.parametrize(
    "stop, topics",
    [(ROWS, ()), (None, ("topic-a",)), (None, ("topic-a", "topic-b"))],
    ids=["stop", "one topic", "two topics"],
)
def test_a_page_of_an_unanalyzed_table_is_read_in_index_order(
    pg_env: Dict[str, str], admin: psycopg.Connection[Any], stop: Optional[int], topics: Any
) -> None:
    with Factory("", pg_env) as f:
        recorder = f.application_recorder()
        assert isinstance(recorder, PostgresApplicationRecorder)
        table = sql.Identifier(pg_env["POSTGRES_SCHEMA"], "stored_events")
        admin.execute(sql.SQL("ALTER TABLE {} SET (autovacuum_enabled = false)").format(table))
        recorder.insert_events([StoredEvent(uuid4(), 1, "topic-a", b"{}") for _ in range(ROWS)])
        plan = _plan(admin, recorder, 100, 500, stop=stop, topics=topics)
        assert "Index Scan" in plan and "Sort" not in plan and "Bitmap" not in plan, plan
        # And the page is what it should be.
        page = recorder.select_notifications(100, 500, stop=stop, topics=topics)
        assert [n.id for n in page] == list(range(100, 600))


def test_stop_is_applied_to_a_page_with_gaps(factory: Factory) -> None:
    recorder = factory.application_recorder()
    ids = recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"{}") for _ in range(10)])
    assert ids == list(range(1, 11))
    assert [n.id for n in recorder.select_notifications(3, 100, stop=6)] == [3, 4, 5, 6]
    assert [n.id for n in recorder.select_notifications(3, 2, stop=6)] == [3, 4]
    assert recorder.select_notifications(7, 10, stop=6) == []
    assert [n.id for n in recorder.select_notifications(10, 5, stop=50)] == [10]
