"""SQLITE_GROUP_COMMIT: writes that queue share one transaction, unless it is false."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from eventsourcing.sqlite import Factory
from eventsourcing.sqlite.datastore import SQLiteDatastore
from eventsourcing.utils import ConfigurationError


class CountingDatastore(SQLiteDatastore):
    """A real datastore that counts the write transactions it begins."""

    def __init__(self, db_name: str, group_commit: bool) -> None:
        super().__init__(db_name, group_commit=group_commit)
        self.begun = 0

    def _begin(self, conn: sqlite3.Connection) -> None:
        self.begun += 1
        super()._begin(conn)


def transactions_for_three_writes(path: Path, group_commit: bool) -> int:
    """One write holds the lock while two more queue; how many transactions did all take?"""
    datastore = CountingDatastore(str(path), group_commit=group_commit)
    datastore.write(lambda conn: conn.execute("CREATE TABLE t (x INTEGER)"))
    datastore.begun = 0
    leading, release = threading.Event(), threading.Event()

    def first(conn: sqlite3.Connection) -> None:
        leading.set()
        assert release.wait(10)
        conn.execute("INSERT INTO t VALUES (1)")

    threads = [threading.Thread(target=datastore.write, args=(first,))]
    threads[0].start()
    assert leading.wait(10)
    for x in (2, 3):
        insert = lambda conn, x=x: conn.execute("INSERT INTO t VALUES (?)", (x,))  # noqa: E731
        threads.append(threading.Thread(target=datastore.write, args=(insert,)))
        threads[-1].start()
    deadline = time.monotonic() + 10
    while len(datastore._writes.pending) < 2:  # both queued behind the first
        assert time.monotonic() < deadline
        time.sleep(0.001)
    release.set()
    for t in threads:
        t.join()
    rows = datastore.select("SELECT x FROM t ORDER BY x", [])
    assert [r[0] for r in rows] == [1, 2, 3]
    datastore.close()
    return datastore.begun


def test_queued_writes_share_a_transaction_by_default(tmp_path: Path) -> None:
    assert transactions_for_three_writes(tmp_path / "grouped.db", group_commit=True) == 2


def test_without_group_commit_each_write_has_its_own_transaction(tmp_path: Path) -> None:
    assert transactions_for_three_writes(tmp_path / "single.db", group_commit=False) == 3


def test_the_setting_reaches_the_datastore_and_is_validated(tmp_path: Path) -> None:
    env = {"SQLITE_DBNAME": str(tmp_path / "db.sqlite")}
    with Factory("", env) as factory:
        assert factory.datastore.group_commit is True
    with Factory("", {**env, "SQLITE_GROUP_COMMIT": "false"}) as factory:
        assert factory.datastore.group_commit is False
    with pytest.raises(ConfigurationError, match="SQLITE_GROUP_COMMIT='sometimes' is not a valid"):
        Factory("", {**env, "SQLITE_GROUP_COMMIT": "sometimes"})
