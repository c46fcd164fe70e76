"""The SQLite factory's settings, and the errors users see when something is wrong."""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path
from typing import Dict
from uuid import uuid4

import pytest

from eventsourcing.persistence import (
    InfrastructureFactory,
    InterfaceError,
    OperationalError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.sqlite import (
    Factory,
    SQLiteApplicationRecorder,
    SQLiteDatastore,
    SQLiteProcessRecorder,
)
from eventsourcing.utils import ConfigurationError


def construct(env: Dict[str, str], application_name: str = "") -> Factory:
    factory = InfrastructureFactory.construct(
        application_name, env={"PERSISTENCE_MODULE": "sqlite", **env}
    )
    assert isinstance(factory, Factory)
    return factory


def stored(version: int = 1) -> StoredEvent:
    return StoredEvent(uuid4(), version, "m:T", b"{}")


def test_selected_by_name_and_by_topic(tmp_path: Path) -> None:
    db = str(tmp_path / "a.sqlite")
    for value in ("sqlite", "eventsourcing.sqlite:Factory", "eventsourcing.sqlite"):
        factory = InfrastructureFactory.construct(
            env={"INFRASTRUCTURE_FACTORY": value, "SQLITE_DBNAME": db}
        )
        assert isinstance(factory, Factory)
        factory.close()


@pytest.mark.parametrize("env", [{}, {"SQLITE_DBNAME": ""}, {"SQLITE_DBNAME": "  "}])
def test_missing_dbname_is_a_clear_error(env: Dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="SQLITE_DBNAME is required"):
        construct(env)


def test_missing_dbname_error_names_the_prefixed_variable_too() -> None:
    with pytest.raises(ConfigurationError, match="or WORLDS_SQLITE_DBNAME for application"):
        construct({}, application_name="Worlds")


def test_application_prefixed_settings_take_precedence(tmp_path: Path) -> None:
    mine, other = str(tmp_path / "mine.sqlite"), str(tmp_path / "other.sqlite")
    factory = construct(
        {"SQLITE_DBNAME": other, "WORLDS_SQLITE_DBNAME": mine, "WORLDS_SQLITE_LOCK_TIMEOUT": "2"},
        application_name="Worlds",
    )
    assert factory.db_name == mine
    assert factory.lock_timeout == 2.0
    factory.close()


@pytest.mark.parametrize("value", ["soon", "-1"])
def test_invalid_lock_timeout_names_the_variable(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigurationError, match=f"SQLITE_LOCK_TIMEOUT='{value}'"):
        construct({"SQLITE_DBNAME": str(tmp_path / "a.sqlite"), "SQLITE_LOCK_TIMEOUT": value})


def test_invalid_create_table_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="CREATE_TABLE='maybe'"):
        construct({"SQLITE_DBNAME": str(tmp_path / "a.sqlite"), "CREATE_TABLE": "maybe"})


def test_create_table_false_refuses_a_missing_file_without_creating_it(tmp_path: Path) -> None:
    db = tmp_path / "mistyped.sqlite"
    with pytest.raises(ProgrammingError, match=r"mistyped.sqlite.*does not exist.*SQLITE_DBNAME"):
        construct({"SQLITE_DBNAME": str(db), "CREATE_TABLE": "false"})
    assert not db.exists()


def test_create_table_false_uses_existing_tables_and_names_missing_ones(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "a.sqlite")
    sqlite3.connect(db).close()  # an empty database: no tables
    factory = construct({"SQLITE_DBNAME": db, "CREATE_TABLE": "false"})
    recorder = factory.application_recorder()
    with pytest.raises(ProgrammingError, match=r"stored_events.*CREATE_TABLE"):
        recorder.insert_events([stored()])
    with pytest.raises(ProgrammingError, match="stored_events"):
        recorder.select_notifications(1, 10)
    factory.close()

    construct({"SQLITE_DBNAME": db}).application_recorder().insert_events([stored()])
    factory = construct({"SQLITE_DBNAME": db, "CREATE_TABLE": "no"})
    assert factory.application_recorder().max_notification_id() == 1
    factory.close()


def test_recorders_use_the_tables_of_their_purpose(tmp_path: Path) -> None:
    db = str(tmp_path / "a.sqlite")
    factory = construct({"SQLITE_DBNAME": db})
    snapshots = factory.aggregate_recorder("snapshots")
    events = factory.application_recorder()
    process = factory.process_recorder()
    assert isinstance(events, SQLiteApplicationRecorder)
    assert isinstance(process, SQLiteProcessRecorder)
    assert snapshots.events_table_name == "stored_snapshots"  # type: ignore[attr-defined]
    assert events.events_table_name == "stored_events"
    assert events.datastore is process.datastore is snapshots.datastore  # type: ignore[attr-defined]
    snapshots.insert_events([stored()])
    assert events.max_notification_id() == 0
    with pytest.raises(ProgrammingError, match="Invalid SQLite table name 'stored_a b'"):
        factory.aggregate_recorder("a b")
    factory.close()


def test_file_database_uses_wal(tmp_path: Path) -> None:
    db = str(tmp_path / "a.sqlite")
    construct({"SQLITE_DBNAME": db}).close()
    raw = sqlite3.connect(db)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_lock_timeout_is_an_operational_error_and_nothing_is_recorded(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "a.sqlite")
    factory = construct({"SQLITE_DBNAME": db, "SQLITE_LOCK_TIMEOUT": "0.2"})
    recorder = factory.application_recorder()
    other_process = sqlite3.connect(db, isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="lock"):
            recorder.insert_events([stored()])
        # Readers are not blocked by a writer in WAL mode.
        assert recorder.max_notification_id() == 0
    finally:
        other_process.execute("ROLLBACK")
        other_process.close()
    assert recorder.insert_events([stored()]) == [1]
    factory.close()


@pytest.mark.parametrize("where", ["memory", "file"])
def test_in_process_lock_timeout_is_an_operational_error(tmp_path: Path, where: str) -> None:
    db = ":memory:" if where == "memory" else str(tmp_path / "a.sqlite")
    datastore = SQLiteDatastore(db, lock_timeout=0.1)
    recorder = SQLiteApplicationRecorder(datastore)
    recorder.create_table()
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with datastore.transaction():
            holding.set()
            release.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait()
    try:
        with pytest.raises(OperationalError, match="SQLITE_LOCK_TIMEOUT"):
            recorder.insert_events([stored()])
    finally:
        release.set()
        holder.join()
    assert recorder.insert_events([stored()]) == [1]
    datastore.close()


def test_unopenable_path_is_an_error_naming_it(tmp_path: Path) -> None:
    db = str(tmp_path / "no-such-dir" / "a.sqlite")
    with pytest.raises(OperationalError, match=re.escape(db)):
        construct({"SQLITE_DBNAME": db})


def test_file_that_is_not_a_database_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are not the bytes of an SQLite database" * 100)
    with pytest.raises(OperationalError, match=re.escape(str(path))):
        construct({"SQLITE_DBNAME": str(path)})


def test_closed_factory_is_an_error_naming_the_path(tmp_path: Path) -> None:
    db = str(tmp_path / "a.sqlite")
    factory = construct({"SQLITE_DBNAME": db})
    recorder = factory.application_recorder()
    factory.close()
    factory.close()
    with pytest.raises(InterfaceError, match=re.escape(f"{db!r} is closed")):
        recorder.insert_events([stored()])
    with pytest.raises(InterfaceError, match=re.escape(f"{db!r} is closed")):
        factory.application_recorder()


def test_closing_every_recorder_releases_a_file_database(tmp_path: Path) -> None:
    db = str(tmp_path / "a.sqlite")
    factory = construct({"SQLITE_DBNAME": db})
    first = factory.application_recorder()
    datastore = first.datastore  # type: ignore[attr-defined]
    snapshots = factory.aggregate_recorder("snapshots")
    first.insert_events([stored()])
    first.close()
    assert not datastore.closed
    snapshots.close()
    assert datastore.closed
    # Asking for a recorder again reopens the file.
    assert factory.application_recorder().max_notification_id() == 1
    factory.close()


def test_in_memory_database_lives_until_the_factory_is_closed() -> None:
    factory = construct({"SQLITE_DBNAME": ":memory:"})
    first = factory.application_recorder()
    first.insert_events([stored()])
    first.close()
    assert factory.application_recorder().max_notification_id() == 1
    factory.close()
    # Each factory of ":memory:" has a database of its own.
    other = construct({"SQLITE_DBNAME": ":memory:"})
    assert other.application_recorder().max_notification_id() == 0
    other.close()


def test_shared_cache_memory_uri_is_one_database_for_several_datastores() -> None:
    uri = f"file:es-{uuid4().hex}?mode=memory&cache=shared"
    first, second = construct({"SQLITE_DBNAME": uri}), construct({"SQLITE_DBNAME": uri})
    a, b = first.application_recorder(), second.application_recorder()
    assert a.insert_events([stored()]) == [1]
    assert b.insert_events([stored()]) == [2]
    assert [n.id for n in a.select_notifications(1, 10)] == [1, 2]

    # Writers of both datastores are serialised by one lock.
    results = []

    def write(recorder: SQLiteApplicationRecorder) -> None:
        for _ in range(20):
            results.append(recorder.insert_events([stored()]))

    threads = [threading.Thread(target=write, args=(r,)) for r in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(i for ids in results for i in ids) == list(range(3, 43))  # type: ignore[union-attr]
    first.close()
    second.close()


def test_existing_tables_are_not_created_again_under_the_write_lock(tmp_path: Path) -> None:
    db = str(tmp_path / "a.sqlite")
    construct({"SQLITE_DBNAME": db}).process_recorder().insert_events([stored()])
    other_process = sqlite3.connect(db, isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")
    try:
        # Another process is writing: starting up still works, reading too.
        factory = construct({"SQLITE_DBNAME": db, "SQLITE_LOCK_TIMEOUT": "0.1"})
        assert factory.process_recorder().max_notification_id() == 1
        # A missing table still needs the lock, and says so when it cannot get it.
        with pytest.raises(OperationalError, match="lock"):
            factory.aggregate_recorder("snapshots")
    finally:
        other_process.execute("ROLLBACK")
        other_process.close()
    assert factory.aggregate_recorder("snapshots").select_events(uuid4()) == []
    factory.close()


@pytest.mark.parametrize("value", ["soon", "0", "-1"])
def test_invalid_subscription_poll_interval_names_the_variable(tmp_path: Path, value: str) -> None:
    env = {"SQLITE_DBNAME": str(tmp_path / "db.sqlite"), "SQLITE_SUBSCRIPTION_POLL_INTERVAL": value}
    with pytest.raises(ConfigurationError, match=f"SQLITE_SUBSCRIPTION_POLL_INTERVAL='{value}'"):
        Factory(application_name="", env=env)


def test_subscription_poll_interval_is_given_to_subscriptions(tmp_path: Path) -> None:
    env = {"SQLITE_DBNAME": str(tmp_path / "db.sqlite"), "SQLITE_SUBSCRIPTION_POLL_INTERVAL": "2.5"}
    with Factory(application_name="", env=env) as factory:
        recorder = factory.application_recorder()
        with recorder.subscribe() as subscription:
            assert subscription.poll_interval == 2.5


def test_the_factory_topic_is_spelt_as_in_91_also_when_printed(tmp_path: Path) -> None:
    from eventsourcing.application import Application
    from eventsourcing.utils import get_topic

    env = {"PERSISTENCE_MODULE": "sqlite", "SQLITE_DBNAME": str(tmp_path / "a.sqlite")}
    with Application(env=env) as app:
        factory_cls = type(app.factory)
    assert factory_cls is Factory
    assert get_topic(factory_cls) == "eventsourcing.sqlite:Factory"
    assert str(factory_cls) == "<class 'eventsourcing.sqlite.Factory'>"
    assert get_topic(SQLiteApplicationRecorder) == "eventsourcing.sqlite:SQLiteApplicationRecorder"


def test_91_names_of_the_module_and_factory(tmp_path: Path) -> None:
    from eventsourcing.sqlite import SQLITE3_DEFAULT_LOCK_TIMEOUT

    assert SQLITE3_DEFAULT_LOCK_TIMEOUT == 5
    env = {"SQLITE_DBNAME": str(tmp_path / "a.sqlite")}
    assert construct(env).env_create_table() is True
    assert construct({**env, "CREATE_TABLE": "no"}).env_create_table() is False
