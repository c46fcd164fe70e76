"""The PostgreSQL recorders: storing, selecting, conflicts, notifications, tracking."""

from __future__ import annotations

import threading
from typing import Any, Dict, List
from uuid import UUID, uuid4

import psycopg
import pytest

from eventsourcing.persistence import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
    StoredEvent,
    Tracking,
)
from eventsourcing.postgres import (
    Factory,
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresProcessRecorder,
)

Admin = psycopg.Connection[Any]
LARGE = 2000


def events(
    originator_id: UUID, *versions: int, topic: str = "shop:Cart.Event"
) -> List[StoredEvent]:
    return [StoredEvent(originator_id, v, topic, f"state {v}".encode()) for v in versions]


def test_aggregate_recorder_selects_by_version_range_order_and_limit(factory: Factory) -> None:
    recorder = factory.aggregate_recorder("snapshots")
    assert isinstance(recorder, PostgresAggregateRecorder)
    cart, other = uuid4(), uuid4()
    assert recorder.insert_events(events(cart, 1, 2, 3, 4, 5)) is None
    recorder.insert_events(events(other, 1))
    assert recorder.select_events(cart) == events(cart, 1, 2, 3, 4, 5)
    assert recorder.select_events(cart, gt=2) == events(cart, 3, 4, 5)
    assert recorder.select_events(cart, lte=2) == events(cart, 1, 2)
    assert recorder.select_events(cart, gt=1, lte=4, desc=True) == events(cart, 4, 3, 2)
    assert recorder.select_events(cart, desc=True, limit=2) == events(cart, 5, 4)
    assert recorder.select_events(cart, gt=1, limit=2) == events(cart, 2, 3)
    assert recorder.select_events(cart, limit=0) == []
    assert recorder.select_events(uuid4()) == []


def test_a_large_batch_of_an_aggregate_recorder_is_atomic(factory: Factory) -> None:
    # Large batches go in several statements: still one transaction.
    recorder = factory.aggregate_recorder("snapshots")
    first, second = uuid4(), uuid4()
    recorder.insert_events(events(first, 1))
    with pytest.raises(IntegrityError):
        recorder.insert_events(events(second, *range(1, LARGE + 1)) + events(first, 1))
    assert recorder.select_events(second) == []
    recorder.insert_events(events(second, *range(1, LARGE + 1)))
    assert len(recorder.select_events(second)) == LARGE


def test_a_conflicting_batch_records_nothing(factory: Factory, admin: Admin) -> None:
    recorder = factory.application_recorder()
    cart = uuid4()
    assert recorder.insert_events(events(cart, 1, 2)) == [1, 2]
    fresh = uuid4()
    with pytest.raises(IntegrityError, match="already exists"):
        recorder.insert_events(events(fresh, 1) + events(cart, 3, 2))
    with pytest.raises(IntegrityError):
        recorder.insert_events(events(fresh, 1, 1))
    assert recorder.select_events(fresh) == []
    assert recorder.select_events(cart) == events(cart, 1, 2)
    assert recorder.max_notification_id() == 2
    # The connection is usable again, and IDs continue (with gaps) after the failures.
    ids = recorder.insert_events(events(cart, 3))
    assert ids is not None and len(ids) == 1 and ids[0] > 2
    assert [n.id for n in recorder.select_notifications(1, 10)] == [1, 2, ids[0]]


def test_notification_ids_are_returned_in_order_and_selected_across_gaps(factory: Factory) -> None:
    recorder = factory.application_recorder()
    first, second = uuid4(), uuid4()
    ids1 = recorder.insert_events(events(first, 1, 2, 3))
    with pytest.raises(IntegrityError):
        recorder.insert_events(events(second, 1) + events(first, 1))  # burns IDs
    ids2 = recorder.insert_events(events(second, 1, 2), tracking=None)
    assert ids1 == [1, 2, 3]
    assert ids2 is not None and ids2[0] > 4 and ids2[1] == ids2[0] + 1
    notifications = recorder.select_notifications(1, 10)
    assert [n.id for n in notifications] == [*ids1, *ids2]
    assert [(n.originator_id, n.originator_version) for n in notifications] == [
        (first, 1),
        (first, 2),
        (first, 3),
        (second, 1),
        (second, 2),
    ]
    assert notifications[3].state == b"state 1" and notifications[3].topic == "shop:Cart.Event"
    assert [n.id for n in recorder.select_notifications(2, 2)] == [2, 3]
    assert [n.id for n in recorder.select_notifications(4, 1)] == [ids2[0]]
    assert [n.id for n in recorder.select_notifications(2, 10, stop=ids2[0])] == [2, 3, ids2[0]]
    assert recorder.select_notifications(ids2[1] + 1, 10) == []
    assert recorder.max_notification_id() == ids2[1]


def test_notifications_can_be_filtered_by_topic(factory: Factory) -> None:
    recorder = factory.application_recorder()
    cart = uuid4()
    recorder.insert_events(
        events(cart, 1, topic="shop:Opened")
        + events(cart, 2, 3)
        + events(cart, 4, topic="shop:Closed")
    )
    selected = recorder.select_notifications(1, 10, topics=["shop:Opened", "shop:Closed"])
    assert [n.id for n in selected] == [1, 4]
    assert [n.id for n in recorder.select_notifications(2, 1, topics=["shop:Cart.Event"])] == [2]
    assert recorder.select_notifications(1, 10, topics=["shop:Nothing"]) == []


def test_an_empty_table_has_no_notifications(factory: Factory) -> None:
    recorder = factory.application_recorder()
    assert recorder.max_notification_id() == 0
    assert recorder.select_notifications(1, 10) == []
    assert recorder.insert_events([]) == []


def test_a_large_batch_is_one_atomic_insert(factory: Factory) -> None:
    recorder = factory.application_recorder()
    cart = uuid4()
    batch = events(cart, *range(1, 5001))
    ids = recorder.insert_events(batch)
    assert ids == list(range(1, 5001))
    with pytest.raises(IntegrityError):
        recorder.insert_events(events(uuid4(), *range(1, 5001)) + events(cart, 5000))
    assert recorder.max_notification_id() == 5000
    assert recorder.select_events(cart, gt=4998) == events(cart, 4999, 5000)


def test_tracking_is_recorded_with_the_events_or_not_at_all(factory: Factory) -> None:
    recorder = factory.process_recorder()
    assert isinstance(recorder, PostgresProcessRecorder)
    assert recorder.max_tracking_id("upstream") == 0
    order = uuid4()
    assert recorder.insert_events(events(order, 1), tracking=Tracking("upstream", 7)) == [1]
    assert recorder.max_tracking_id("upstream") == 7
    assert recorder.has_tracking_id("upstream", 7)
    assert not recorder.has_tracking_id("upstream", 6)
    assert not recorder.has_tracking_id("elsewhere", 7)
    # Repeating the tracking record records none of the events.
    with pytest.raises(IntegrityError):
        recorder.insert_events(events(order, 2), tracking=Tracking("upstream", 7))
    assert recorder.select_events(order) == events(order, 1)
    # A conflicting event records no tracking.
    with pytest.raises(IntegrityError):
        recorder.insert_events(events(order, 1), tracking=Tracking("upstream", 8))
    assert not recorder.has_tracking_id("upstream", 8)
    # Tracking alone (an event that led to no new events) is recorded.
    assert recorder.insert_events([], tracking=Tracking("upstream", 9)) == []
    assert recorder.max_tracking_id("upstream") == 9
    assert recorder.insert_events(events(order, 2), tracking=Tracking("other", 1)) == [3]
    assert recorder.max_tracking_id("other") == 1


def test_a_large_batch_and_its_tracking_are_recorded_together_or_not_at_all(
    factory: Factory,
) -> None:
    recorder = factory.process_recorder()
    order = uuid4()
    big = events(order, *range(1, LARGE + 1))
    assert recorder.insert_events(big, tracking=Tracking("up", 1)) == list(range(1, LARGE + 1))
    with pytest.raises(IntegrityError):
        recorder.insert_events(events(uuid4(), *range(1, LARGE + 1)), tracking=Tracking("up", 1))
    with pytest.raises(IntegrityError):
        recorder.insert_events(big, tracking=Tracking("up", 2))
    assert not recorder.has_tracking_id("up", 2)
    assert recorder.max_notification_id() == LARGE
    later = recorder.insert_events(events(order, LARGE + 1))
    assert later is not None and later[0] > LARGE


def test_a_page_of_tracking_records_is_one_insert_statement(factory: Factory, admin: Admin) -> None:
    # A statement-level trigger counts the INSERT statements on the tracking
    # table: a page of 100 tracking records is one, not 100.
    recorder = factory.process_recorder()
    assert isinstance(recorder, PostgresProcessRecorder)
    table = recorder.tracking_table.as_string(admin)
    counter = f'"{recorder.datastore.schema}".tracking_inserts'
    admin.execute(f"CREATE TABLE {counter} (n int)")
    admin.execute(
        f"CREATE FUNCTION {counter}_count() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN INSERT INTO {counter} VALUES (1); RETURN NULL; END $$"
    )
    admin.execute(
        f"CREATE TRIGGER count_inserts AFTER INSERT ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {counter}_count()"
    )
    page = [Tracking("up", i) for i in range(1, 101)] + [Tracking("other", 1)]
    assert recorder.insert_events(events(uuid4(), 1, 2), trackings=page) == [1, 2]
    assert recorder.max_tracking_id("up") == 100
    assert recorder.has_tracking_id("other", 1)
    assert admin.execute(f"SELECT count(*) FROM {counter}").fetchone() == (1,)
    # One of them recorded already: nothing of the page is.
    with pytest.raises(IntegrityError, match="tracking"):
        recorder.insert_events(
            events(uuid4(), 1), trackings=[Tracking("up", 101), Tracking("up", 50)]
        )
    assert recorder.max_tracking_id("up") == 100


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (StoredEvent("not-a-uuid", 1, "t", b"s"), InterfaceError),  # type: ignore[arg-type]
        (StoredEvent(uuid4(), "1", "t", b"s"), InterfaceError),  # type: ignore[arg-type]
        (StoredEvent(uuid4(), True, "t", b"s"), InterfaceError),
        (StoredEvent(uuid4(), 2**63, "t", b"s"), DataError),
        (StoredEvent(uuid4(), 1, b"t", b"s"), InterfaceError),  # type: ignore[arg-type]
        (StoredEvent(uuid4(), 1, "t", "s"), InterfaceError),  # type: ignore[arg-type]
        ("not a stored event", InterfaceError),
    ],
)
def test_bad_input_raises_a_clear_error_and_records_nothing(
    factory: Factory, bad: Any, error: type[Exception]
) -> None:
    recorder = factory.process_recorder()
    good = events(uuid4(), 1)
    with pytest.raises(error):
        recorder.insert_events([*good, bad])
    assert recorder.max_notification_id() == 0
    with pytest.raises(InterfaceError):
        recorder.insert_events(good, tracking="upstream 1")
    with pytest.raises(DataError):
        recorder.insert_events(good, tracking=Tracking("upstream", 2**63))
    assert recorder.max_notification_id() == 0


def test_a_closed_recorder_raises_interface_error(factory: Factory) -> None:
    recorder = factory.application_recorder()
    recorder.close()
    recorder.close()
    with pytest.raises(InterfaceError, match="closed"):
        recorder.insert_events(events(uuid4(), 1))
    with pytest.raises(InterfaceError, match="closed"):
        recorder.select_notifications(1, 10)


def test_what_was_acknowledged_is_there_after_reopening(pg_env: Dict[str, str]) -> None:
    cart = uuid4()
    with Factory("Shop", pg_env) as first:
        ids = first.process_recorder().insert_events(events(cart, 1, 2), tracking=Tracking("up", 3))
    with Factory("Shop", pg_env) as second:
        recorder = second.process_recorder()
        assert recorder.select_events(cart) == events(cart, 1, 2)
        assert [n.id for n in recorder.select_notifications(1, 10)] == ids
        assert recorder.max_tracking_id("up") == 3


def test_tables_have_the_9_1_9_names_and_columns(pg_env: Dict[str, str], admin: Admin) -> None:
    schema = pg_env["POSTGRES_SCHEMA"]
    with Factory("BankAccounts", pg_env) as f:
        f.process_recorder()
        f.aggregate_recorder("snapshots")
    with Factory("", pg_env) as f:
        f.process_recorder()
    columns = admin.execute(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = %s ORDER BY table_name, ordinal_position",
        (schema,),
    ).fetchall()
    event_columns = [
        ("originator_id", "uuid", "NO"),
        ("originator_version", "bigint", "NO"),
        ("topic", "text", "YES"),
        ("state", "bytea", "YES"),
    ]
    tracking_columns = [("application_name", "text", "NO"), ("notification_id", "bigint", "NO")]
    by_table: Dict[str, List[tuple[str, str, str]]] = {}
    for table, *column in columns:
        by_table.setdefault(table, []).append(tuple(column))  # type: ignore[arg-type]
    assert by_table == {
        "bankaccounts_events": [*event_columns, ("notification_id", "bigint", "NO")],
        "bankaccounts_snapshots": event_columns,
        "bankaccounts_tracking": tracking_columns,
        "stored_events": [*event_columns, ("notification_id", "bigint", "NO")],
        "notification_tracking": tracking_columns,
    }
    indexes = {
        name
        for (name,) in admin.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s", (schema,)
        ).fetchall()
    }
    assert {
        "bankaccounts_events_notification_id_idx",
        "stored_events_notification_id_idx",
    } <= indexes


def test_a_missing_schema_is_created(pg_env: Dict[str, str], admin: Admin) -> None:
    schema = pg_env["POSTGRES_SCHEMA"] + "_new"
    try:
        with Factory("", {**pg_env, "POSTGRES_SCHEMA": schema}) as f:
            f.application_recorder().insert_events(events(uuid4(), 1))
        assert admin.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = %s", (schema,)
        ).fetchone() == (1,)
    finally:
        admin.execute(
            psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                psycopg.sql.Identifier(schema)
            )
        )


def test_create_table_false_leaves_the_database_alone(pg_env: Dict[str, str], admin: Admin) -> None:
    with Factory("Shop", {**pg_env, "CREATE_TABLE": "no"}) as f:
        recorder = f.application_recorder()
        with pytest.raises(ProgrammingError, match="shop_events"):
            recorder.insert_events(events(uuid4(), 1))
        with pytest.raises(ProgrammingError, match="shop_events"):
            recorder.max_notification_id()
    assert admin.execute(
        "SELECT count(*) FROM pg_tables WHERE schemaname = %s", (pg_env["POSTGRES_SCHEMA"],)
    ).fetchone() == (0,)


@pytest.mark.parametrize(
    "name", ["Shop_events", 'x"; DROP TABLE y; --', "", "1events", "a" * 64, "shop events"]
)
def test_table_names_are_validated(factory: Factory, name: str) -> None:
    with pytest.raises(ProgrammingError, match="Table name"):
        PostgresApplicationRecorder(factory.datastore, name)


def test_statements_stay_prepared_after_failed_transactions(pg_env: Dict[str, str]) -> None:
    # One connection: every statement of every kind is prepared on it once.
    with Factory("", {**pg_env, "POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "0"}) as f:
        recorder = f.process_recorder()
        order = uuid4()
        recorder.insert_events([], tracking=Tracking("up", 1))
        with pytest.raises(IntegrityError):
            recorder.insert_events(events(order, 1), tracking=Tracking("up", 1))
        for i in range(2, 12):
            recorder.insert_events(events(order, i - 1), tracking=Tracking("up", i))
        assert recorder.max_tracking_id("up") == 11
        assert [e.originator_version for e in recorder.select_events(order)] == list(range(1, 11))


def test_readers_are_not_blocked_by_a_writer_holding_the_lock(
    pg_env: Dict[str, str], admin: Admin
) -> None:
    # With a lock timeout, a blocked read would fail rather than hang.
    with Factory("", {**pg_env, "POSTGRES_LOCK_TIMEOUT": "1"}) as f:
        recorder = f.application_recorder()
        recorder.insert_events(events(uuid4(), 1))
        table = psycopg.sql.Identifier(pg_env["POSTGRES_SCHEMA"], "stored_events")
        with admin.transaction():
            admin.execute(psycopg.sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table))
            assert [n.id for n in recorder.select_notifications(1, 10)] == [1]
            assert recorder.max_notification_id() == 1
            with pytest.raises(OperationalError, match="lock timeout"):
                recorder.insert_events(events(uuid4(), 1))
        assert recorder.insert_events(events(uuid4(), 1)) is not None


def test_recorders_can_be_constructed_with_a_datastore_directly(pg_env: Dict[str, str]) -> None:
    with PostgresDatastore(
        dbname=pg_env["POSTGRES_DBNAME"],
        host=pg_env["POSTGRES_HOST"],
        port=pg_env["POSTGRES_PORT"],
        user=pg_env["POSTGRES_USER"],
        password=pg_env["POSTGRES_PASSWORD"],
        schema=pg_env["POSTGRES_SCHEMA"],
        pool_size=1,
    ) as datastore:
        recorder = PostgresProcessRecorder(datastore, "orders_events", "orders_tracking")
        recorder.create_table()
        recorder.create_table()  # idempotent
        assert recorder.insert_events(events(uuid4(), 1), tracking=Tracking("a", 1)) == [1]


def test_concurrent_table_creation_does_not_collide(pg_env: Dict[str, str]) -> None:
    errors: List[BaseException] = []
    barrier = threading.Barrier(4)

    def create() -> None:
        try:
            with Factory("Race", pg_env) as f:
                barrier.wait()
                f.process_recorder()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_sessions_on_descriptors_above_1024_work(pg_env: Dict[str, str]) -> None:
    # select() cannot wait on descriptors numbered 1024 or more; poll() can.
    import os
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        pytest.skip(f"the open files limit ({soft}) is too low to test this")
    fillers = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        with Factory("", {**pg_env, "POSTGRES_POOL_SIZE": "1"}) as f:
            recorder = f.application_recorder()
            with f.datastore.connection() as conn:
                assert conn.pgconn.socket >= 1024
            assert recorder.insert_events(events(uuid4(), 1, 2)) == [1, 2]
            assert len(recorder.select_notifications(1, 10)) == 2
    finally:
        for fd in fillers:
            os.close(fd)
