"""A database file as eventsourcing 9.1 left it: read, extended, same format.

The file is built here with plain SQL: 9.1's table definitions, and rows as
9.1 writes them: ``originator_id`` as ``UUID.hex`` (32 digits, no dashes),
state as the JSON of 9.1's transcoder (``json`` defaults, custom types as
``{"_type_": ..., "_data_": ...}``). An application of this
library then reads the aggregates, changes them, and the rows it writes back
must be in the same format, so that 9.1 could read them in turn.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List, Tuple
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import Factory, SQLiteProcessRecorder

# eventsourcing 9.1's SQLite table definitions, verbatim in substance.
SCHEMA_9_1 = [
    "CREATE TABLE IF NOT EXISTS stored_events ("
    "originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB, "
    "PRIMARY KEY (originator_id, originator_version))",
    "CREATE TABLE IF NOT EXISTS stored_snapshots ("
    "originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB, "
    "PRIMARY KEY (originator_id, originator_version)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS tracking ("
    "application_name text, notification_id int, "
    "PRIMARY KEY (application_name, notification_id)) WITHOUT ROWID",
]


class Kennel(Aggregate):
    def __init__(self, name: str) -> None:
        self.name = name
        self.dogs: List[str] = []

    @event("DogAdmitted")
    def admit(self, dog: str) -> None:
        self.dogs.append(dog)


class Kennels(Application[Kennel]):
    def admit(self, kennel_id: UUID, dog: str) -> None:
        kennel = self.repository.get(kennel_id)
        kennel.admit(dog)
        self.save(kennel)


TOPIC_KENNEL = f"{__name__}:Kennel"
TOPIC_CREATED = f"{__name__}:Kennel.Created"
TOPIC_ADMITTED = f"{__name__}:Kennel.DogAdmitted"
TOPIC_SNAPSHOT = "eventsourcing.domain:Snapshot"


def iso(when: datetime) -> Dict[str, str]:
    return {"_type_": "datetime_iso", "_data_": when.isoformat()}


def state_9_1(state: Dict[str, Any]) -> bytes:
    """Bytes as 9.1's JSON transcoder writes them."""
    return json.dumps(state).encode("utf8")


def build_9_1_file(path: str) -> Tuple[UUID, UUID, datetime]:
    """Two kennels (one with a snapshot) and a tracking record, as 9.1 stored them."""
    first, second = uuid4(), uuid4()
    t0 = datetime(2021, 7, 1, 12, 0, tzinfo=timezone.utc)

    def at(seconds: int) -> Dict[str, str]:
        return iso(t0 + timedelta(seconds=seconds))

    def created(seconds: int, name: str) -> Dict[str, Any]:
        return {"timestamp": at(seconds), "originator_topic": TOPIC_KENNEL, "name": name}

    rows = [
        (first, 1, TOPIC_CREATED, created(0, "North")),
        (first, 2, TOPIC_ADMITTED, {"timestamp": at(1), "dog": "Fido"}),
        (second, 1, TOPIC_CREATED, created(2, "South")),
        (first, 3, TOPIC_ADMITTED, {"timestamp": at(3), "dog": "Rex"}),
    ]
    snapshot_state = {
        "timestamp": iso(t0 + timedelta(seconds=4)),
        "topic": TOPIC_KENNEL,
        "state": {
            "_created_on": iso(t0),
            "_modified_on": iso(t0 + timedelta(seconds=1)),
            "name": "North",
            "dogs": ["Fido"],
        },
    }
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    for statement in SCHEMA_9_1:
        conn.execute(statement)
    conn.executemany(
        "INSERT INTO stored_events VALUES (?, ?, ?, ?)",
        [(o.hex, v, t, state_9_1(s)) for o, v, t, s in rows],
    )
    conn.execute(
        "INSERT INTO stored_snapshots VALUES (?, ?, ?, ?)",
        (first.hex, 2, TOPIC_SNAPSHOT, state_9_1(snapshot_state)),
    )
    conn.execute("INSERT INTO tracking VALUES (?, ?)", ("Upstream", 7))
    conn.commit()
    conn.close()
    return first, second, t0


def test_application_reads_and_extends_a_9_1_file_in_its_format(tmp_path: Path) -> None:
    path = str(tmp_path / "from-9.1.sqlite")
    first, second, t0 = build_9_1_file(path)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite:Factory",
        "SQLITE_DBNAME": path,
        "CREATE_TABLE": "false",
    }

    with Kennels(env=env) as app:
        north = app.repository.get(first)
        assert (north.name, north.dogs, north.version) == ("North", ["Fido", "Rex"], 3)
        assert north.created_on == t0
        assert north.modified_on == t0 + timedelta(seconds=3)
        south = app.repository.get(second)
        assert (south.name, south.dogs, south.version) == ("South", [], 1)
        assert [n.id for n in app.log.select(1, 10)] == [1, 2, 3, 4]
        app.admit(second, "Bella")
        app.admit(first, "Max")

    # With snapshotting enabled, the 9.1 snapshot is the starting point.
    with Kennels(env={**env, "IS_SNAPSHOTTING_ENABLED": "y"}) as app:
        assert app.snapshots is not None
        [old_snapshot] = app.snapshots.get(first)
        assert old_snapshot.originator_version == 2
        assert old_snapshot.state["dogs"] == ["Fido"]
        assert old_snapshot.state["_modified_on"] == t0 + timedelta(seconds=1)
        north = app.repository.get(first)
        assert north.dogs == ["Fido", "Rex", "Max"]
        assert app.repository.get(first, version=2).dogs == ["Fido"]
        app.take_snapshot(first)

    conn = sqlite3.connect(path)
    new_rows = conn.execute(
        "SELECT rowid, originator_id, originator_version, topic, state, "
        "typeof(originator_id), typeof(state) FROM stored_events WHERE rowid > 4 ORDER BY rowid"
    ).fetchall()
    assert [(r[0], r[1], r[2], r[3]) for r in new_rows] == [
        (5, second.hex, 2, TOPIC_ADMITTED),
        (6, first.hex, 4, TOPIC_ADMITTED),
    ]
    for row, dog in zip(new_rows, ["Bella", "Max"], strict=True):
        assert row[5:] == ("text", "blob")
        state = json.loads(row[4])
        assert list(state) == ["timestamp", "dog"] and state["dog"] == dog
        assert state["timestamp"]["_type_"] == "datetime_iso"
        written = datetime.fromisoformat(state["timestamp"]["_data_"])
        assert written.tzinfo is not None and written.utcoffset() == timedelta(0)
        # Byte for byte what 9.1's transcoder would write for this event.
        assert row[4] == state_9_1({"timestamp": iso(written), "dog": dog})

    snapshot = conn.execute(
        "SELECT originator_id, originator_version, topic, state FROM stored_snapshots "
        "WHERE originator_version = 4"
    ).fetchone()
    assert snapshot[:3] == (first.hex, 4, TOPIC_SNAPSHOT)
    snapshot_state = json.loads(snapshot[3])
    assert list(snapshot_state) == ["timestamp", "topic", "state"]
    assert snapshot_state["topic"] == TOPIC_KENNEL
    assert snapshot_state["state"]["dogs"] == ["Fido", "Rex", "Max"]
    assert snapshot_state["state"]["_created_on"] == iso(t0)
    assert set(snapshot_state["state"]) == {"_created_on", "_modified_on", "name", "dogs"}

    # The schema is still 9.1's: nothing was altered or added.
    tables = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
    assert sorted(tables) == ["stored_events", "stored_snapshots", "tracking"]
    assert [tables["stored_events"], tables["stored_snapshots"], tables["tracking"]] == [
        s.replace("IF NOT EXISTS ", "") for s in SCHEMA_9_1
    ]
    conn.close()


def test_process_recorder_continues_9_1_tracking(tmp_path: Path) -> None:
    path = str(tmp_path / "from-9.1.sqlite")
    first, _, _ = build_9_1_file(path)
    factory = Factory("Downstream", {"SQLITE_DBNAME": path})
    recorder = factory.process_recorder()
    assert isinstance(recorder, SQLiteProcessRecorder)
    assert recorder.max_tracking_id("Upstream") == 7
    assert recorder.has_tracking_id("Upstream", 7)
    events = recorder.select_events(first)
    assert [e.originator_version for e in events] == [1, 2, 3]
    assert recorder.insert_events([], tracking=Tracking("Upstream", 8)) == []
    assert recorder.max_tracking_id("Upstream") == 8
    factory.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT * FROM tracking ORDER BY notification_id").fetchall() == [
        ("Upstream", 7),
        ("Upstream", 8),
    ]
    conn.close()
