"""A forked child does not inherit locks held by the parent's other threads."""

from __future__ import annotations

import os
import threading
import time
import warnings
from pathlib import Path
from typing import Any, List
from uuid import UUID, uuid4

import pytest

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import OperationalError, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore
from eventsourcing.sqlite import commit as sqlite_commit


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


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_an_application_forked_while_a_parent_thread_saves_can_save_in_the_child(
    tmp_path: Path,
) -> None:
    # Forking in the middle of the parent's write transaction used to leave
    # SQLite's in-process lock records saying "this process writes", in a
    # child where nobody ever would finish: every save there timed out.
    env = {
        "PERSISTENCE_MODULE": "sqlite",
        "SQLITE_DBNAME": str(tmp_path / "forked-app.sqlite"),
        "SQLITE_LOCK_TIMEOUT": "2",
    }
    app = Application(env=env)
    stop = threading.Event()
    saving = threading.Event()

    def save_continuously() -> None:
        while not stop.is_set():
            app.save(Note(text="parent"))
            saving.set()

    saver = threading.Thread(target=save_continuously)
    saver.start()
    saving.wait()
    outcomes: List[int] = []
    child_ids: List[UUID] = []
    try:
        for _ in range(8):
            note = Note(text="child")
            child_ids.append(note.id)
            with warnings.catch_warnings():
                # Python 3.12 warns of fork() in a process with threads.
                warnings.simplefilter("ignore", DeprecationWarning)
                child = os.fork()
            if child == 0:  # pragma: no cover - runs in the child
                code = 1
                try:
                    code = _save_in_child(app, note)
                finally:
                    os._exit(code)
            _, status = os.waitpid(child, 0)
            outcomes.append(os.waitstatus_to_exitcode(status))
    finally:
        stop.set()
        saver.join()
    try:
        assert outcomes == [0] * len(outcomes)
        for note_id in child_ids:
            assert app.repository.get(note_id).text == "child"
    finally:
        app.close()


class Note(Aggregate):
    def __init__(self, text: str) -> None:
        self.text = text


def _save_in_child(app: Application, note: Note) -> int:
    errors: List[BaseException] = []

    def save() -> None:
        try:
            app.save(note)
        except BaseException as e:
            errors.append(e)

    thread = threading.Thread(target=save, daemon=True)
    thread.start()
    thread.join(timeout=20)
    if thread.is_alive():
        return 3
    if errors:
        os.write(2, f"child save failed: {errors[0]!r}\n".encode())
        return 2
    return 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_in_the_middle_of_a_write_is_told_at_once_it_cannot_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Here the forking thread itself is writing: fork() cannot wait for it.
    monkeypatch.setattr(sqlite_commit, "_FORK_WAIT", 0.1)
    datastore = SQLiteDatastore(str(tmp_path / "mid-write.sqlite"), lock_timeout=5)
    recorder = SQLiteApplicationRecorder(datastore)
    recorder.create_table()
    with datastore.transaction():
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            code = 1
            try:
                started = time.monotonic()
                try:
                    recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"child")])
                    code = 2
                except OperationalError as e:
                    quick = time.monotonic() - started < 1
                    code = 0 if quick and "forked while" in str(e) else 3
            finally:
                os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The parent is unaffected.
    assert recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"parent")]) == [1]
    datastore.close()
