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


# -- integer column types: 9.1.9 (bigint) and 9.1.3 (integer) ----------------------

DDL_9_1_9 = [statement.replace(" integer ", " bigint ") for statement in DDL_9_1]
DDL_9_1_9[2] = DDL_9_1_9[2].replace("notification_id int,", "notification_id bigint,")


def column_types(admin: psycopg.Connection[Any], schema: str) -> Dict[str, str]:
    rows = admin.execute(
        "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = %s AND column_name IN ('originator_version', 'notification_id')",
        (schema,),
    ).fetchall()
    return dict(rows)


def test_new_tables_have_bigint_columns_as_9_1_9_creates_them(
    pg_env: Dict[str, str], admin: psycopg.Connection[Any]
) -> None:
    with Factory("Ledgers", pg_env) as factory:
        factory.process_recorder()
        factory.aggregate_recorder("snapshots")
    assert column_types(admin, pg_env["POSTGRES_SCHEMA"]) == {
        "ledgers_events.originator_version": "bigint",
        "ledgers_events.notification_id": "bigint",
        "ledgers_snapshots.originator_version": "bigint",
        "ledgers_tracking.notification_id": "bigint",
    }


def make_tables(pg_env: Dict[str, str], admin: psycopg.Connection[Any], ddl: List[str]) -> None:
    admin.execute(
        psycopg.sql.SQL("SET search_path TO {}").format(
            psycopg.sql.Identifier(pg_env["POSTGRES_SCHEMA"])
        )
    )
    for statement in ddl:
        admin.execute(statement)


def test_a_9_1_9_store_accepts_ids_and_versions_beyond_32_bits(
    pg_env: Dict[str, str], admin: psycopg.Connection[Any]
) -> None:
    make_tables(pg_env, admin, DDL_9_1_9)
    big = 2**31 + 5
    ledger_id = uuid4()
    with Factory("Ledgers", {**pg_env, "CREATE_TABLE": "false"}) as factory:
        recorder = factory.process_recorder()
        from eventsourcing.persistence import StoredEvent

        recorder.insert_events(
            [StoredEvent(ledger_id, big, "m:T", b"{}")], tracking=Tracking("Upstream", big)
        )
        assert recorder.max_tracking_id("Upstream") == big
        assert [s.originator_version for s in recorder.select_events(ledger_id)] == [big]
    assert admin.execute("SELECT notification_id FROM ledgers_tracking").fetchall() == [(big,)]


def test_a_9_1_3_store_refuses_ids_beyond_its_integer_column_until_altered(
    legacy: Dict[str, Any], pg_env: Dict[str, str], admin: psycopg.Connection[Any]
) -> None:
    from eventsourcing.persistence import DataError, StoredEvent

    big = 2**31
    with Factory("Ledgers", legacy["env"]) as factory:
        recorder = factory.process_recorder()
        with pytest.raises(
            DataError,
            match=r"notification_id 2147483648 is not an integer in the range of the "
            r"PostgreSQL integer column of ledgers_tracking .*ALTER its notification_id "
            r"column TYPE bigint",
        ):
            recorder.insert_events([], tracking=Tracking("Upstream", big))
        with pytest.raises(DataError, match="range of the PostgreSQL integer column"):
            recorder.insert_events([StoredEvent(uuid4(), big, "m:T", b"{}")])
        assert recorder.max_tracking_id("Upstream") == 41 and recorder.max_notification_id() == 3
    # The upgrade that docs/postgres.md describes.
    admin.execute("ALTER TABLE ledgers_tracking ALTER COLUMN notification_id TYPE bigint")
    admin.execute("ALTER TABLE ledgers_events ALTER COLUMN originator_version TYPE bigint")
    with Factory("Ledgers", legacy["env"]) as factory:
        recorder = factory.process_recorder()
        recorder.insert_events(
            [StoredEvent(uuid4(), big, "m:T", b"{}")], tracking=Tracking("Upstream", big)
        )
        assert recorder.max_tracking_id("Upstream") == big


# -- eventsourcing 9.1.3 and 9.1.9 read and extend a store made here ----------------

SCRATCH_91 = {
    "9.1.3": "/work/scratch/es913/bin/python",
    "9.1.9": "/work/scratch/es919/bin/python",
}

# Run by the 9.1 interpreter: reads what this project wrote, then adds to it.
SCRIPT_91 = """
import sys
from uuid import UUID
from eventsourcing.application import Application
from eventsourcing.persistence import Tracking
sys.path.insert(0, sys.argv[2])
from ledger91 import Ledger  # the same class, importable by both

class Ledgers(Application):
    pass

app = Ledgers()
ledger = app.repository.get(UUID(sys.argv[1]))
assert ledger.owner == "Ada" and ledger.balance == 3, vars(ledger)
ledger.credit(4)
app.save(ledger)
recorder = app.factory.process_recorder()
recorder.insert_events([], tracking=Tracking("Upstream", 8))
assert recorder.max_tracking_id("Upstream") == 8
print(app.recorder.max_notification_id())
"""

LEDGER_MODULE = """
from eventsourcing.domain import Aggregate, event


class Ledger(Aggregate):
    def __init__(self, owner):
        self.owner = owner
        self.balance = 0

    @event("Credited")
    def credit(self, amount):
        self.balance += amount
"""


@pytest.mark.parametrize("version", sorted(SCRATCH_91))
def test_eventsourcing_91_reads_and_extends_a_store_made_here(
    version: str, pg_env: Dict[str, str], tmp_path: Any
) -> None:
    import os
    import subprocess
    import sys

    python = os.environ.get(f"ES{version.replace('.', '')}_PYTHON", SCRATCH_91[version])
    if not os.path.exists(python):
        pytest.skip(
            f"no eventsourcing {version} interpreter at {python}: set"
            f" ES{version.replace('.', '')}_PYTHON to one (python -m venv DIR &&"
            f" DIR/bin/pip install eventsourcing=={version} psycopg2-binary)"
        )
    (tmp_path / "ledger91.py").write_text(LEDGER_MODULE)
    sys.path.insert(0, str(tmp_path))
    try:
        from ledger91 import Ledger as Ledger91  # type: ignore[import-not-found]

        class Ledgers91(Application[Any]):
            name = "Ledgers"

        with Ledgers91(env=pg_env) as app:
            ledger = Ledger91("Ada")
            ledger.credit(3)
            app.save(ledger)
            app.factory.process_recorder().insert_events([], tracking=Tracking("Upstream", 7))
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("ledger91", None)
    # 9.1 has no POSTGRES_SCHEMA: its unqualified table names find the schema
    # through the search path, set for the session by libpq's PGOPTIONS.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "PG"))}
    env.update({k: v for k, v in pg_env.items() if k.startswith("POSTGRES_")})
    env.update(
        INFRASTRUCTURE_FACTORY="eventsourcing.postgres:Factory",
        PGOPTIONS=f"-c search_path={pg_env['POSTGRES_SCHEMA']}",
        CREATE_TABLE="false",
    )
    env.pop("POSTGRES_SCHEMA")
    done = subprocess.run(
        [python, "-c", SCRIPT_91, str(ledger.id), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3"]
    # And this project reads what 9.1 added.
    sys.path.insert(0, str(tmp_path))
    try:
        with Ledgers91(env=pg_env) as app:
            assert app.repository.get(ledger.id).balance == 7
            assert app.factory.process_recorder().max_tracking_id("Upstream") == 8
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("ledger91", None)
