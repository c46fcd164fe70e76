"""A factory's datastore is not released while a recorder is being made from it."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, List
from uuid import uuid4

from eventsourcing.persistence import InfrastructureFactory, StoredEvent
from eventsourcing.sqlite import Factory


def test_closing_the_last_recorder_while_another_is_being_made(tmp_path: Path) -> None:
    env = {"PERSISTENCE_MODULE": "sqlite", "SQLITE_DBNAME": str(tmp_path / "a.sqlite")}
    factory = InfrastructureFactory.construct(env=env)
    assert isinstance(factory, Factory)
    first = factory.application_recorder()
    datastore = factory.datastore
    made: List[Any] = []

    def make() -> None:
        try:
            made.append(factory.process_recorder())
        except Exception as e:
            made.append(e)

    maker = threading.Thread(target=make)
    closer = threading.Thread(target=first.close)
    try:
        # The new recorder's tables wait for the write lock, held here.
        with datastore.transaction():
            maker.start()
            queue = datastore._writes.pending
            while not queue and maker.is_alive():
                pass
            closer.start()
            while closer.is_alive() and factory._datastore is not None:
                pass
        maker.join()
        closer.join()
        (recorder,) = made
        assert recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"s")]) == [1]
    finally:
        factory.close()
