"""Settings of the PostgreSQL persistence module: required, optional, invalid."""

from __future__ import annotations

from typing import Any, Dict
from uuid import uuid4

import psycopg
import pytest

from eventsourcing.persistence import (
    InfrastructureFactory,
    OperationalError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.postgres import Factory, PostgresApplicationRecorder
from eventsourcing.utils import ConfigurationError

REQUIRED = (
    "POSTGRES_DBNAME",
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
)

VALID = {
    "POSTGRES_DBNAME": "eventsourcing_test",
    "POSTGRES_HOST": "127.0.0.1",
    "POSTGRES_PORT": "5432",
    "POSTGRES_USER": "postgres",
    "POSTGRES_PASSWORD": "",
}


@pytest.mark.parametrize("key", REQUIRED)
def test_a_missing_required_setting_is_named(key: str) -> None:
    env = {k: v for k, v in VALID.items() if k != key}
    with pytest.raises(ConfigurationError, match=f"{key} is not set"):
        Factory("", env)


@pytest.mark.parametrize("key", ["POSTGRES_DBNAME", "POSTGRES_HOST", "POSTGRES_USER"])
def test_an_empty_required_setting_is_named(key: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{key} is empty"):
        Factory("", {**VALID, key: " "})


@pytest.mark.parametrize(
    ("key", "value", "accepted"),
    [
        ("POSTGRES_PORT", "fivefour", "a port number from 1 to 65535"),
        ("POSTGRES_PORT", "70000", "a port number from 1 to 65535"),
        ("POSTGRES_CONN_MAX_AGE", "soon", "a number >= 0"),
        ("POSTGRES_CONN_MAX_AGE", "-1", "a number >= 0"),
        ("POSTGRES_PRE_PING", "perhaps", "'y', 'yes'"),
        ("POSTGRES_LOCK_TIMEOUT", "1.5", "an integer >= 0"),
        ("POSTGRES_LOCK_TIMEOUT", "-2", "an integer >= 0"),
        ("POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT", "five", "an integer >= 0"),
        ("POSTGRES_POOL_SIZE", "0", "an integer >= 1"),
        ("POSTGRES_MAX_OVERFLOW", "-1", "an integer >= 0"),
        ("POSTGRES_CONNECT_TIMEOUT", "0", "a number >= 1"),
        ("POSTGRES_READ_TIMEOUT", "-1", "a number >= 0"),
        ("POSTGRES_READ_TIMEOUT", "never", "a number >= 0"),
        ("POSTGRES_SCHEMA", "s" * 64, "at most 63 bytes"),
        ("POSTGRES_SCHEMA", 'x"; DROP TABLE y; --', "lower-case letters, digits"),
        ("POSTGRES_SCHEMA", "Sales", "lower-case letters, digits"),
        ("POSTGRES_SCHEMA", "1st", "starting with a letter or '_'"),
        ("CREATE_TABLE", "sometimes", "'n', 'no'"),
    ],
)
def test_an_invalid_value_names_the_key_the_value_and_what_is_accepted(
    key: str, value: str, accepted: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        Factory("", {**VALID, key: value})
    message = str(info.value)
    assert key in message and repr(value) in message and accepted in message


def test_the_application_prefixed_key_wins() -> None:
    with pytest.raises(ConfigurationError, match="SHOP_POSTGRES_PORT='x'"):
        Factory("Shop", {**VALID, "SHOP_POSTGRES_PORT": "x"})


def test_an_application_name_that_cannot_name_a_table_is_rejected(pg_env: Dict[str, str]) -> None:
    with Factory("Shop Floor", pg_env) as f, pytest.raises(ConfigurationError, match="Shop Floor"):
        f.application_recorder()


def test_a_bad_purpose_is_refused_as_by_sqlite(pg_env: Dict[str, str]) -> None:
    # The same exception type as the SQLite factory's, for the same mistake.
    with Factory("", pg_env) as f, pytest.raises(ProgrammingError, match="'stored_a b'"):
        f.aggregate_recorder("a b")


def test_empty_optional_settings_mean_the_defaults(pg_env: Dict[str, str]) -> None:
    optional = {
        k: ""
        for k in (
            "POSTGRES_CONN_MAX_AGE",
            "POSTGRES_PRE_PING",
            "POSTGRES_LOCK_TIMEOUT",
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT",
            "POSTGRES_POOL_SIZE",
            "POSTGRES_MAX_OVERFLOW",
            "POSTGRES_CONNECT_TIMEOUT",
            "POSTGRES_READ_TIMEOUT",
            "CREATE_TABLE",
        )
    }
    with Factory("", {**pg_env, **optional}) as f:
        d = f.datastore
        assert (d.conn_max_age, d.pre_ping, d.lock_timeout) == (None, False, 0)
        assert (d.pool_size, d.max_overflow, d.connect_timeout) == (5, 10, 30)
        assert d.read_timeout == 30
        assert f.create_table is True


def test_the_module_is_selected_by_name_and_by_the_reference_topic(pg_env: Dict[str, str]) -> None:
    for env in (
        {**pg_env, "PERSISTENCE_MODULE": "postgres"},
        {k: v for k, v in pg_env.items() if k != "PERSISTENCE_MODULE"}
        | {"INFRASTRUCTURE_FACTORY": "eventsourcing.postgres:Factory"},
    ):
        with InfrastructureFactory.construct("", env) as f:
            assert isinstance(f, Factory)
            assert isinstance(f.application_recorder(), PostgresApplicationRecorder)


def session_setting(factory: Factory, name: str) -> str:
    with factory.datastore.connection() as conn:
        row = conn.execute(
            psycopg.sql.SQL("SHOW {}").format(psycopg.sql.Identifier(name))
        ).fetchone()
    assert row is not None
    return str(row[0])


def test_timeouts_are_set_on_every_session(pg_env: Dict[str, str]) -> None:
    env = {
        **pg_env,
        "POSTGRES_LOCK_TIMEOUT": "3",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "7",
    }
    with Factory("", env) as f:
        assert session_setting(f, "lock_timeout") == "3s"
        assert session_setting(f, "idle_in_transaction_session_timeout") == "7s"
    with Factory("", pg_env) as f:
        assert session_setting(f, "lock_timeout") == "0"


def backend_pid(factory: Factory) -> int:
    with factory.datastore.connection() as conn:
        return conn.info.backend_pid


def test_conn_max_age_zero_uses_each_connection_once(pg_env: Dict[str, str]) -> None:
    one = {"POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "0"}
    with Factory("", {**pg_env, **one, "POSTGRES_CONN_MAX_AGE": "0"}) as f:
        assert backend_pid(f) != backend_pid(f)
    with Factory("", {**pg_env, **one}) as f:
        assert backend_pid(f) == backend_pid(f)


def test_pre_ping_replaces_a_connection_the_server_dropped(
    pg_env: Dict[str, str], admin: psycopg.Connection[Any]
) -> None:
    env = {
        **pg_env,
        "POSTGRES_POOL_SIZE": "1",
        "POSTGRES_MAX_OVERFLOW": "0",
        "POSTGRES_PRE_PING": "y",
    }
    with Factory("", env) as f:
        recorder = f.application_recorder()
        pid = backend_pid(f)
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
        assert recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"s")]) == [1]
        assert backend_pid(f) != pid


def test_an_unreachable_server_is_reported_with_the_reason(pg_env: Dict[str, str]) -> None:
    env = {**pg_env, "POSTGRES_PORT": "1", "POSTGRES_CONNECT_TIMEOUT": "1", "CREATE_TABLE": "n"}
    with Factory("", env) as f:
        recorder = f.application_recorder()
        with pytest.raises(
            OperationalError, match=r"Cannot connect to PostgreSQL at 127\.0\.0\.1:1"
        ):
            recorder.max_notification_id()


def test_connections_are_opened_as_needed_and_pool_size_of_them_kept(
    pg_env: Dict[str, str], admin: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    appname = f"es-pool-{uuid4().hex[:12]}"
    monkeypatch.setenv("PGAPPNAME", appname)

    def sessions() -> int:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (appname,)
        ).fetchone()
        return int(row[0]) if row else -1

    env = {**pg_env, "POSTGRES_POOL_SIZE": "4", "POSTGRES_MAX_OVERFLOW": "2", "CREATE_TABLE": "n"}
    with Factory("", env) as f:
        datastore = f.datastore
        assert sessions() == 0
        with datastore.connection():
            pass
        # Not the whole pool (the pool may have started one spare).
        assert sessions() in (1, 2)
        with datastore.connection(), datastore.connection(), datastore.connection():
            with datastore.connection() as fourth:
                fourth.execute("SELECT 1")
                assert 4 <= sessions() <= 6
        # As many as were needed at once, up to the pool size, are kept.
        assert datastore.pool.min_size == 4
        assert datastore.pool.max_size == 6
