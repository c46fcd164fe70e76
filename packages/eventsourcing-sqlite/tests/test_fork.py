"""A forked child does not inherit locks held by the parent's other threads."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, List
from uuid import uuid4

import pytest

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_a_parent_thread_opens_a_connection_can_save(
    tmp_path: Path,
) -> None:
    datastore = SQLiteDatastore(str(tmp_path / "forked.sqlite"))
    recorder = SQLiteApplicationRecorder(datastore)
    recorder.create_table()
    holding, release = threading.Event(), threading.Event()

    def open_slowly() -> None:
        # As a thread opening its connection does (for up to the lock timeout
        # when another process holds the file).
        with datastore._guard:
            holding.set()
            release.wait()

    holder = threading.Thread(target=open_slowly)
    holder.start()
    holding.wait()
    try:
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            code = 1
            try:
                result: List[Any] = []
                save = threading.Thread(
                    target=lambda: result.append(
                        recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"child")])
                    ),
                    daemon=True,
                )
                save.start()
                save.join(timeout=20)
                code = 3 if save.is_alive() else 0 if result == [[1]] else 2
            finally:
                os._exit(code)
    finally:
        release.set()
        holder.join()
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert [n.state for n in recorder.select_notifications(1, 10)] == [b"child"]
    datastore.close()
