"""Datastores of one file share its write queue, but not each other's state."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Dict, List, Optional
from uuid import uuid4

from eventsourcing.persistence import InterfaceError, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore


def _recorder(datastore: SQLiteDatastore) -> SQLiteApplicationRecorder:
    recorder = SQLiteApplicationRecorder(datastore)
    recorder.create_table()
    return recorder


def _queued(datastore: SQLiteDatastore, count: int, done: List[threading.Thread]) -> None:
    """Spin until ``count`` writes are queued, or one of ``done`` has finished."""
    queue = datastore._writes.pending
    while len(queue) < count and all(t.is_alive() for t in done):
        pass


def test_a_write_through_a_closed_datastore_neither_happens_nor_fails_others(
    tmp_path: Path,
) -> None:
    db_name = str(tmp_path / "shared.sqlite")
    open_store, closed_store = SQLiteDatastore(db_name), SQLiteDatastore(db_name)
    open_recorder, closed_recorder = _recorder(open_store), _recorder(closed_store)
    closed_store.close()
    outcomes: Dict[str, object] = {}

    def save(name: str, recorder: SQLiteApplicationRecorder) -> None:
        try:
            outcomes[name] = recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"s")])
        except Exception as e:
            outcomes[name] = e

    threads: Dict[str, Optional[threading.Thread]] = {"open": None, "closed": None}
    try:
        # The closed datastore's write arrives while the open one's is queued.
        with open_store.transaction():
            for name, recorder in (("open", open_recorder), ("closed", closed_recorder)):
                t = threading.Thread(target=save, args=(name, recorder))
                threads[name] = t
                t.start()
                _queued(open_store, len([v for v in threads.values() if v]), [t])
        for t in threads.values():
            assert t is not None
            t.join()
        assert isinstance(outcomes["closed"], InterfaceError)
        assert outcomes["open"] == [1]
        assert [n.id for n in open_recorder.select_notifications(1, 10)] == [1]
    finally:
        open_store.close()


def test_a_leader_whose_datastore_was_closed_fails_only_its_own_write(tmp_path: Path) -> None:
    db_name = str(tmp_path / "shared.sqlite")
    open_store, closing_store = SQLiteDatastore(db_name), SQLiteDatastore(db_name)
    open_recorder, closing_recorder = _recorder(open_store), _recorder(closing_store)
    outcomes: Dict[str, object] = {}

    def save(name: str, recorder: SQLiteApplicationRecorder) -> None:
        try:
            outcomes[name] = recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"s")])
        except Exception as e:
            outcomes[name] = e

    leader = threading.Thread(target=save, args=("closing", closing_recorder))
    follower = threading.Thread(target=save, args=("open", open_recorder))
    try:
        with open_store.transaction():
            leader.start()
            _queued(open_store, 1, [leader])
            follower.start()
            _queued(open_store, 2, [follower])
            # Closed while its write waits for the lock (as the collector does).
            closing_store._close_connections()
        leader.join()
        follower.join()
        assert isinstance(outcomes["closing"], InterfaceError)
        assert outcomes["open"] == [1]
    finally:
        open_store.close()
