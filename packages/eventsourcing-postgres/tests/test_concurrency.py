"""Total order under concurrency: writer threads and processes, one tailing reader.

Notification IDs must become visible in ID order. If two inserts interleaved
(ID 10 committed after ID 11), a reader resuming after 11 would never see 10:
the reader here resumes from its last ID, exactly as a follower does, so it
sees every notification exactly once only if there is no interleaving.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Dict, List, Tuple
from uuid import UUID, uuid4

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import Factory

WRITER_THREADS = 8
WRITER_PROCESSES = 2
SAVES_PER_WRITER = 40

Written = Tuple[int, UUID, int]


def test_a_tailing_reader_sees_every_notification_once_in_increasing_order(
    pg_env: Dict[str, str],
) -> None:
    writers_env = {**pg_env, "POSTGRES_POOL_SIZE": "4", "POSTGRES_MAX_OVERFLOW": "4"}
    with Factory("", writers_env) as writers_factory, Factory("", pg_env) as reader_factory:
        writer_recorder = writers_factory.application_recorder()
        reader_recorder = reader_factory.application_recorder()

        processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(Path(__file__).with_name("writer_process.py")),
                    str(SAVES_PER_WRITER),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(WRITER_PROCESSES)
        ]
        for process in processes:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(json.dumps(pg_env) + "\n")
            process.stdin.flush()
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"

        written: List[Written] = []
        written_lock = threading.Lock()
        errors: List[BaseException] = []
        start = threading.Barrier(WRITER_THREADS + 1)

        def write() -> None:
            try:
                start.wait()
                mine: List[Written] = []
                for i in range(SAVES_PER_WRITER):
                    originator_id = uuid4()
                    batch = [
                        StoredEvent(originator_id, v, "thread:Event", b"from a thread")
                        for v in range(1, 2 + i % 3)
                    ]
                    ids = writer_recorder.insert_events(batch)
                    assert ids is not None and len(ids) == len(batch)
                    mine.extend(
                        (n, e.originator_id, e.originator_version)
                        for n, e in zip(ids, batch, strict=True)
                    )
                with written_lock:
                    written.extend(mine)
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        seen: List[Written] = []
        writers_done = threading.Event()
        final_id: List[int] = []

        def tail() -> None:
            try:
                last = 0
                while True:
                    batch = reader_recorder.select_notifications(last + 1, 50)
                    for n in batch:
                        seen.append((n.id, n.originator_id, n.originator_version))
                        last = n.id
                    if not batch and writers_done.is_set() and last >= final_id[0]:
                        return
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        reader = threading.Thread(target=tail)
        reader.start()
        threads = [threading.Thread(target=write) for _ in range(WRITER_THREADS)]
        for thread in threads:
            thread.start()
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        start.wait()
        for thread in threads:
            thread.join()
        for process in processes:
            out, _ = process.communicate(timeout=120)
            assert process.returncode == 0
            written.extend((n, UUID(hex=h), v) for n, h, v in json.loads(out))
        assert errors == []
        final_id.append(max(n for n, _, _ in written))
        writers_done.set()
        reader.join()
        assert errors == []

    ids_seen = [n for n, _, _ in seen]
    assert all(a < b for a, b in itertools.pairwise(ids_seen)), "IDs not strictly increasing"
    assert sorted(seen) == sorted(written), "reader missed or repeated notifications"
    expected_events = WRITER_THREADS * sum(1 + i % 3 for i in range(SAVES_PER_WRITER)) + (
        WRITER_PROCESSES * sum(1 + i % 2 for i in range(SAVES_PER_WRITER))
    )
    assert len(seen) == expected_events
