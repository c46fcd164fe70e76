"""Total order of notification IDs under concurrent writers.

Writers (threads sharing one recorder, and for multi-process backends,
processes with recorders of their own) insert small batches while a reader
tails the log the way a follower does: it asks for notifications from just
after the last ID it has seen. A notification that becomes visible with an
ID below one already read is one the follower never sees. The check fails
if the reader sees anything twice, out of order, or misses anything.
"""

from __future__ import annotations

import itertools
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import Any, List, Mapping, Optional, Sequence
from uuid import UUID, uuid4

from eventsourcing.persistence import ApplicationRecorder, StoredEvent
from eventsourcing.plugins import resolve_persistence_module
from eventsourcing_conformance.backend import Backend
from eventsourcing_conformance.properties import TOTAL_ORDER, violated

__all__ = ["check_total_order"]

TOPIC = "conformance.events:Written"


def _write(
    recorder: ApplicationRecorder, originator_id: UUID, batches: int, batch_size: int
) -> List[int]:
    ids: List[int] = []
    version = 1
    for _ in range(batches):
        batch = [
            StoredEvent(originator_id, v, TOPIC, v.to_bytes(4, "big"))
            for v in range(version, version + batch_size)
        ]
        version += batch_size
        returned = recorder.insert_events(batch)
        ids.extend(returned or ())
    return ids


def write_in_process(
    factory_topic: str,
    application_name: str,
    env: Mapping[str, str],
    batches: int,
    batch_size: int,
) -> List[int]:
    """Entry point of a writer process: open the store, write, report IDs."""
    factory_cls = resolve_persistence_module(factory_topic)
    with factory_cls(application_name=application_name, env=dict(env)) as factory:
        recorder = factory.application_recorder()
        try:
            return _write(recorder, uuid4(), batches, batch_size)
        finally:
            recorder.close()


class _Reader(threading.Thread):
    """Tails the log, resuming from the last ID it has seen."""

    def __init__(self, recorder: ApplicationRecorder, stop: threading.Event) -> None:
        super().__init__(name="conformance-reader", daemon=True)
        self.recorder = recorder
        self.stop_reading = stop
        self.seen: List[int] = []
        self.error: Optional[BaseException] = None

    def read_page(self) -> int:
        last = self.seen[-1] if self.seen else 0
        page = self.recorder.select_notifications(last + 1, 50)
        self.seen.extend(n.id for n in page)
        return len(page)

    def run(self) -> None:
        try:
            while not self.stop_reading.is_set():
                self.read_page()
            while self.read_page():  # catch up with the last commits
                pass
        except BaseException as e:  # reported by the check, not lost in a thread
            self.error = e


def check_total_order(
    backend: Backend,
    threads: int = 4,
    processes: int = 0,
    batches: int = 100,
    batch_size: int = 2,
) -> None:
    """Fail with a ``total order`` violation unless the tailing reader sees
    every committed notification exactly once, in strictly increasing order."""
    with backend.store() as env, backend.open(env) as factory:
        recorder = factory.application_recorder()
        try:
            _run(backend, env, recorder, threads, processes, batches, batch_size)
        finally:
            recorder.close()


def _run(
    backend: Backend,
    env: Mapping[str, str],
    recorder: ApplicationRecorder,
    threads: int,
    processes: int,
    batches: int,
    batch_size: int,
) -> None:
    stop = threading.Event()
    reader = _Reader(recorder, stop)
    start = threading.Barrier(threads + 1)
    written: List[List[int]] = [[] for _ in range(threads)]
    errors: List[BaseException] = []

    def writer(i: int) -> None:
        try:
            start.wait()
            written[i] = _write(recorder, uuid4(), batches, batch_size)
        except BaseException as e:
            errors.append(e)

    workers = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(threads)]
    pool: Optional[ProcessPoolExecutor] = None
    futures: List[Any] = []
    if processes:
        pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))
    try:
        reader.start()
        if pool is not None:
            futures = [
                pool.submit(
                    write_in_process,
                    backend.factory_topic(),
                    backend.application_name,
                    dict(env),
                    batches,
                    batch_size,
                )
                for _ in range(processes)
            ]
        for w in workers:
            w.start()
        if threads:
            start.wait()
        for w in workers:
            w.join()
        from_processes = [f.result() for f in futures]
    finally:
        stop.set()
        reader.join()
        if pool is not None:
            pool.shutdown()
    if errors:
        raise errors[0]
    if reader.error is not None:
        raise reader.error
    committed = sorted(i for ids in [*written, *from_processes] for i in ids)
    _verify(reader.seen, committed, recorder)


def _verify(seen: Sequence[int], committed: Sequence[int], recorder: ApplicationRecorder) -> None:
    for a, b in itertools.pairwise(seen):
        if b <= a:
            violated(
                TOTAL_ORDER,
                f"the tailing reader read notification {b} after {a}: IDs must be read "
                "exactly once, in strictly increasing order",
            )
    if len(set(committed)) != len(committed):
        violated(TOTAL_ORDER, "insert_events returned the same notification ID twice")
    everything = [n.id for n in recorder.select_notifications(1, len(committed) + 10)]
    if everything != list(committed):
        violated(
            TOTAL_ORDER,
            f"writers were given {len(committed)} notification IDs but the log holds "
            f"{len(everything)} notifications with other IDs",
        )
    missed = sorted(set(committed) - set(seen))
    if missed:
        violated(
            TOTAL_ORDER,
            f"a reader resuming from its last seen ID never saw {len(missed)} committed "
            f"notification(s), e.g. {missed[:5]}: they became visible after a higher ID "
            "had already been read (IDs interleaved across concurrent inserts)",
        )
