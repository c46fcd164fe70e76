"""Group commit: concurrent saves share a transaction, and fail alone."""

from __future__ import annotations

import threading
from typing import Any, Dict, List
from uuid import uuid4

import psycopg
import psycopg.sql
import pytest

from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent, Tracking
from eventsourcing.postgres import Factory, PostgresApplicationRecorder, PostgresProcessRecorder
from eventsourcing.postgres.commit import GroupCommitter, Save
from eventsourcing.utils import ConfigurationError


def group_committer(recorder: object) -> GroupCommitter:
    committer = getattr(recorder, "_committer", None)
    assert isinstance(committer, GroupCommitter)
    return committer


def event(originator_id: object, version: int) -> StoredEvent:
    return StoredEvent(originator_id, version, "t", b"s")  # type: ignore[arg-type]


def test_a_failing_save_in_a_group_fails_alone(factory: Factory) -> None:
    recorder = factory.process_recorder()
    assert isinstance(recorder, PostgresProcessRecorder)
    existing, a, b, c = uuid4(), uuid4(), uuid4(), uuid4()
    assert recorder.insert_events([event(existing, 1)]) == [1]
    group = [
        Save([event(a, 1)], ()),
        Save([event(existing, 1)], ()),  # conflicts with a stored event
        Save([], [Tracking("up", 1)]),
        Save([event(b, 1)], [Tracking("up", 1)]),  # conflicts with the save before it
        Save([event(c, 1), event(c, 2)], [Tracking("up", 2)]),
    ]
    group_committer(recorder).record_group(group)
    outcomes = [save.outcome for save in group]
    assert isinstance(outcomes[1], IntegrityError)
    assert isinstance(outcomes[3], IntegrityError)
    assert outcomes[2] == []
    first, last = outcomes[0], outcomes[4]
    assert isinstance(first, list) and isinstance(last, list)
    assert len(first) == 1 and len(last) == 2 and first[0] < last[0] < last[1]
    assert [n.originator_id for n in recorder.select_notifications(1, 10)] == [existing, a, c, c]
    assert recorder.select_events(b) == []
    assert recorder.max_tracking_id("up") == 2


def test_saves_of_one_position_in_a_group_use_up_no_notification_ids(factory: Factory) -> None:
    # Sent together, the repeat would fail the transaction, which is sent
    # again without it: each attempt used up IDs (5 here, for 2 events).
    recorder = factory.application_recorder()
    assert isinstance(recorder, PostgresApplicationRecorder)
    a, b = uuid4(), uuid4()
    group = [
        Save([event(a, 1)], ()),
        Save([StoredEvent(a, 1, "t", b"other")], ()),
        Save([event(b, 1)], ()),
        Save([StoredEvent(a, 1, "t", b"third")], ()),
    ]
    group_committer(recorder).record_group(group)
    outcomes = [save.outcome for save in group]
    assert outcomes[0] == [1] and outcomes[2] == [2]
    assert isinstance(outcomes[1], IntegrityError) and isinstance(outcomes[3], IntegrityError)
    assert recorder.max_notification_id() == 2
    assert recorder.select_events(a) == [event(a, 1)]


def test_a_repeat_is_sent_when_what_it_repeats_was_not_recorded(factory: Factory) -> None:
    recorder = factory.application_recorder()
    assert isinstance(recorder, PostgresApplicationRecorder)
    a, existing = uuid4(), uuid4()
    recorder.insert_events([event(existing, 1)])
    group = [
        Save([event(a, 1), event(existing, 1)], ()),  # conflicts: not recorded
        Save([StoredEvent(a, 1, "t", b"repeat")], ()),  # so this one is
    ]
    group_committer(recorder).record_group(group)
    assert isinstance(group[0].outcome, IntegrityError)
    assert isinstance(group[1].outcome, list) and len(group[1].outcome) == 1
    assert recorder.select_events(a) == [StoredEvent(a, 1, "t", b"repeat")]


def test_after_a_conflict_saves_of_recorded_positions_are_refused_unsent(
    factory: Factory,
) -> None:
    # Without the check, each conflicting save costs one more attempt, and
    # the IDs it used up (16 here; 11 with it).
    recorder = factory.application_recorder()
    assert isinstance(recorder, PostgresApplicationRecorder)
    c, d, x, y, z = (uuid4() for _ in range(5))
    assert recorder.insert_events([event(c, 1), event(d, 1)]) == [1, 2]
    group = [Save([event(o, 1), event(o, 2)], ()) for o in (x, c, y, d, z)]
    group_committer(recorder).record_group(group)
    outcomes = [save.outcome for save in group]
    assert isinstance(outcomes[1], IntegrityError) and isinstance(outcomes[3], IntegrityError)
    assert all(isinstance(outcomes[i], list) for i in (0, 2, 4))
    assert recorder.max_notification_id() <= 11
    assert [n.originator_id for n in recorder.select_notifications(1, 10)] == [
        c,
        d,
        x,
        x,
        y,
        y,
        z,
        z,
    ]


def test_a_conflicting_single_event_save_fails_alone_using_up_no_ids(factory: Factory) -> None:
    # The usual save (one aggregate, one new event) inserts nothing if its
    # position is taken: the transaction goes on, and is not sent again.
    recorder = factory.application_recorder()
    assert isinstance(recorder, PostgresApplicationRecorder)
    c, x, y = uuid4(), uuid4(), uuid4()
    assert recorder.insert_events([event(c, 1)]) == [1]
    group = [Save([event(x, 1)], ()), Save([event(c, 1)], ()), Save([event(y, 1)], ())]
    group_committer(recorder).record_group(group)
    assert group[0].outcome == [2] and group[2].outcome == [3]
    assert isinstance(group[1].outcome, IntegrityError)
    assert recorder.max_notification_id() == 3
    with pytest.raises(IntegrityError):
        recorder.insert_events([event(x, 1)])
    assert recorder.insert_events([event(x, 2)]) == [4]


def test_concurrent_saves_of_one_version_record_exactly_one(pg_env: Dict[str, str]) -> None:
    threads_count, rounds = 6, 15
    env = {**pg_env, "POSTGRES_POOL_SIZE": "3"}
    contested = [uuid4() for _ in range(rounds)]
    won: List[int] = []
    lost: List[int] = []
    own_ids: List[int] = []
    errors: List[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads_count)

    with Factory("", env) as f:
        recorder = f.application_recorder()

        def work() -> None:
            try:
                for r in range(rounds):
                    barrier.wait()
                    try:
                        ids = recorder.insert_events([event(contested[r], 1)])
                    except IntegrityError:
                        with lock:
                            lost.append(r)
                    else:
                        assert ids is not None and len(ids) == 1
                        with lock:
                            won.append(r)
                    mine = recorder.insert_events([event(uuid4(), 1), event(uuid4(), 1)])
                    assert mine is not None and len(mine) == 2
                    with lock:
                        own_ids.extend(mine)
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)
                barrier.abort()

        threads = [threading.Thread(target=work) for _ in range(threads_count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sorted(won) == list(range(rounds))
        assert len(lost) == rounds * (threads_count - 1)
        assert len(set(own_ids)) == threads_count * rounds * 2
        notifications = recorder.select_notifications(1, 1000)
        assert len(notifications) == rounds + threads_count * rounds * 2


def test_a_lock_timeout_fails_every_save_of_the_group(
    pg_env: Dict[str, str], admin: psycopg.Connection[Any]
) -> None:
    with Factory("", {**pg_env, "POSTGRES_LOCK_TIMEOUT": "1"}) as f:
        recorder = f.application_recorder()
        assert isinstance(recorder, PostgresApplicationRecorder)
        group = [Save([event(uuid4(), 1)], ()), Save([event(uuid4(), 1)], ())]
        table = psycopg.sql.Identifier(pg_env["POSTGRES_SCHEMA"], "stored_events")
        with admin.transaction():
            admin.execute(psycopg.sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table))
            group_committer(recorder).record_group(group)
        errors = [save.outcome for save in group]
        assert all(isinstance(e, OperationalError) and "lock timeout" in str(e) for e in errors)
        assert errors[0] is not errors[1]  # each save raises its own
        assert recorder.max_notification_id() == 0


def test_without_group_commit_each_save_is_a_transaction_of_its_own(
    pg_env: Dict[str, str],
) -> None:
    threads_count, saves = 4, 10
    barrier = threading.Barrier(threads_count)
    errors: List[BaseException] = []
    with Factory("", {**pg_env, "POSTGRES_GROUP_COMMIT": "false"}) as f:
        recorder = f.application_recorder()
        assert isinstance(recorder, PostgresApplicationRecorder)
        assert not isinstance(recorder._committer, GroupCommitter)

        def work() -> None:
            try:
                barrier.wait()
                for _ in range(saves):
                    ids = recorder.insert_events([event(uuid4(), 1), event(uuid4(), 1)])
                    assert ids is not None and len(ids) == 2
            except BaseException as e:  # reported after join
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(threads_count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        query = psycopg.sql.SQL("SELECT xmin::text FROM {}").format(recorder.events_table)
        rows = recorder.datastore.read(lambda conn: conn.execute(query).fetchall())
    # Rows written by one transaction share its ID (xmin): two rows per transaction.
    assert len(rows) == threads_count * saves * 2
    assert len({row[0] for row in rows}) == threads_count * saves


@pytest.mark.parametrize("group_commit", ["true", "false"])
def test_a_one_event_save_of_a_taken_position_is_refused_with_or_without_group_commit(
    pg_env: Dict[str, str], group_commit: str
) -> None:
    # One-event saves insert "unless taken": nothing inserted must still be
    # an IntegrityError, or an application would take the event as recorded.
    with Factory("", {**pg_env, "POSTGRES_GROUP_COMMIT": group_commit}) as f:
        recorder = f.application_recorder()
        originator_id = uuid4()
        assert recorder.insert_events([event(originator_id, 1)]) == [1]
        with pytest.raises(IntegrityError):
            recorder.insert_events([event(originator_id, 1)])
        assert recorder.max_notification_id() == 1
        assert len(recorder.select_events(originator_id)) == 1


def test_the_group_commit_setting_is_validated(pg_env: Dict[str, str]) -> None:
    with Factory("", pg_env) as f:
        assert isinstance(f.application_recorder()._committer, GroupCommitter)  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match="POSTGRES_GROUP_COMMIT='maybe' is not a valid"):
        Factory("", {**pg_env, "POSTGRES_GROUP_COMMIT": "maybe"})
