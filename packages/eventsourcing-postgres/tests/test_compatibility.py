"""A database written by eventsourcing 9.1 is read and extended as it is.

The tables are made with 9.1's DDL (unqualified names, found through the
search path, as 9.1 did) and filled by plain SQL with rows in 9.1's stored
format; an Application of this project then reads them and adds to them.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Dict, List
from uuid import UUID, uuid4

import psycopg
import pytest

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import Factory
from eventsourcing.utils import get_topic

DDL_9_1 = [
    "CREATE TABLE IF NOT EXISTS ledgers_events ("
    "originator_id uuid NOT NULL, "
    "originator_version integer NOT NULL, "
    "topic text, "
    "state bytea, "
    "notification_id BIGSERIAL, "
    "PRIMARY KEY (originator_id, originator_version)) "
    "WITH (autovacuum_enabled=false)",
    "CREATE UNIQUE INDEX IF NOT EXISTS ledgers_events_notification_id_idx "
    "ON ledgers_events (notification_id ASC)",
    "CREATE TABLE IF NOT EXISTS ledgers_tracking ("
    "application_name text, "
    "notification_id int, "
    "PRIMARY KEY (application_name, notification_id))",
]


class Ledger(Aggregate):
    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.balance = Decimal("0.00")

    @event("Credited")
    def credit(self, amount: Decimal) -> None:
        self.balance += amount


class Ledgers(Application[Ledger]):
    pass


def state_9_1(**attributes: Any) -> bytes:
    """Stored state as 9.1 wrote it: JSON, default separators, typed values tagged."""
    return json.dumps(attributes).encode("utf8")


def timestamp(second: int) -> Dict[str, str]:
    return {"_type_": "datetime_iso", "_data_": f"2021-06-01T12:00:{second:02d}+00:00"}


def amount(value: str) -> Dict[str, str]:
    return {"_type_": "decimal_str", "_data_": value}


@pytest.fixture
def legacy(pg_env: Dict[str, str], admin: psycopg.Connection[Any]) -> Dict[str, Any]:
    """Tables and rows as eventsourcing 9.1 left them; returns the ledger's ID."""
    admin.execute(
        psycopg.sql.SQL("SET search_path TO {}").format(
            psycopg.sql.Identifier(pg_env["POSTGRES_SCHEMA"])
        )
    )
    for statement in DDL_9_1:
        admin.execute(statement)
    ledger_id = uuid4()
    rows = [
        (
            ledger_id,
            1,
            get_topic(Ledger.Created),
            state_9_1(timestamp=timestamp(1), originator_topic=get_topic(Ledger), owner="Ada"),
        ),
        (
            ledger_id,
            2,
            get_topic(Ledger.Credited),
            state_9_1(timestamp=timestamp(2), amount=amount("10.50")),
        ),
        (
            ledger_id,
            3,
            get_topic(Ledger.Credited),
            state_9_1(timestamp=timestamp(3), amount=amount("4.25")),
        ),
    ]
    with admin.transaction():
        admin.execute("LOCK TABLE ledgers_events IN EXCLUSIVE MODE")
        for row in rows:
            admin.execute(
                "INSERT INTO ledgers_events (originator_id, originator_version, topic, state) "
                "VALUES (%s, %s, %s, %s)",
                row,
            )
        admin.execute("INSERT INTO ledgers_tracking VALUES ('Upstream', 41)")
    return {"ledger_id": ledger_id, "env": {**pg_env, "CREATE_TABLE": "false"}}


def stored(admin: psycopg.Connection[Any]) -> List[tuple[int, UUID, int, str, Dict[str, Any]]]:
    return [
        (nid, oid, version, topic, json.loads(bytes(state)))
        for oid, version, topic, state, nid in admin.execute(
            "SELECT originator_id, originator_version, topic, state, notification_id "
            "FROM ledgers_events ORDER BY notification_id"
        ).fetchall()
    ]


def test_an_application_reads_and_extends_a_9_1_database(
    legacy: Dict[str, Any], admin: psycopg.Connection[Any]
) -> None:
    ledger_id = legacy["ledger_id"]
    with Ledgers(env=legacy["env"]) as app:
        ledger = app.repository.get(ledger_id)
        assert (ledger.owner, ledger.balance, ledger.version) == ("Ada", Decimal("14.75"), 3)
        assert [n.id for n in app.log.select(1, 10)] == [1, 2, 3]
        ledger.credit(Decimal("0.25"))
        second = Ledger("Grace")
        app.save(ledger, second)
        assert app.repository.get(ledger_id).balance == Decimal("15.00")

    rows = stored(admin)
    # Rows written now continue the 9.1 sequence, in the same columns and format.
    assert [(nid, version) for nid, _, version, _, _ in rows] == [
        (1, 1),
        (2, 2),
        (3, 3),
        (4, 4),
        (5, 1),
    ]
    _, oid, _, topic, state = rows[3]
    assert (oid, topic) == (ledger_id, get_topic(Ledger.Credited))
    assert state["amount"] == amount("0.25")
    assert state["timestamp"]["_type_"] == "datetime_iso"
    assert "originator_id" not in state and "originator_version" not in state
    created = rows[4]
    assert created[3] == get_topic(Ledger.Created)
    assert created[4]["owner"] == "Grace" and created[4]["originator_topic"] == get_topic(Ledger)
    # Nothing was created beside 9.1's tables.
    tables = admin.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
    ).fetchall()
    assert tables == [("ledgers_events",), ("ledgers_tracking",)]


def test_a_9_1_tracking_table_is_read_and_extended(
    legacy: Dict[str, Any], admin: psycopg.Connection[Any]
) -> None:
    with Factory("Ledgers", legacy["env"]) as factory:
        recorder = factory.process_recorder()
        assert recorder.max_tracking_id("Upstream") == 41
        assert recorder.max_notification_id() == 3
        recorder.insert_events([], tracking=Tracking("Upstream", 42))
    assert admin.execute("SELECT notification_id FROM ledgers_tracking ORDER BY 1").fetchall() == [
        (41,),
        (42,),
    ]
