"""Writers in parallel: events/s for 1, 2, 4 and 8 writer threads or processes.

Each writer saves one new event per ``insert_events`` (one transaction each,
unless group commit puts concurrent saves in one), into one store, with group
commit on (the default) and off (``SQLITE_GROUP_COMMIT`` /
``POSTGRES_GROUP_COMMIT`` false). The rate counts from the moment every
writer is ready (a barrier) to the last one finishing; with processes, each
writer reports its own wall-clock start and end. ``run.py`` prints the
machine's core count above the table: with fewer cores than writers, they
take turns.

``writers: N ..., grouped / not grouped`` is the ratio of the two rates,
measured alternately (best of six each) so that the machine's drift does
not decide it. With processes, each process has one writer, so its saves are
groups of one: the two settings take the same path and the ratio shows the
cost of grouping that cannot group (none, within the noise). With threads,
concurrent saves share transactions and the ratio shows the gain.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from typing import Any, Dict, List, Tuple
from uuid import uuid4

from benchmarks.cases.recorder import STATE, TOPIC, _factory
from benchmarks.harness import case
from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory, StoredEvent

SAVES = {"sqlite": 100, "postgres": 100}
GROUP_SETTING = {"sqlite": "SQLITE_GROUP_COMMIT", "postgres": "POSTGRES_GROUP_COMMIT"}
# The ratio cases: longer runs and more of them, since a ratio near 1 is
# what they have to show (100 saves a writer, best of 3: 0.87 to 1.14 for
# processes, whose two settings take the same path).
RATIO_SAVES = {"sqlite": 400, "postgres": 400}
RATIO_TRIES = 6


def _saves(recorder: ApplicationRecorder, saves: int, ready: Any) -> Tuple[float, float]:
    """Wait for every writer, then insert ``saves`` one-event saves; when it began and ended."""
    events = [StoredEvent(uuid4(), 1, TOPIC, STATE) for _ in range(saves)]
    ready.wait()
    started = time.time()
    for e in events:
        recorder.insert_events([e])
    return started, time.time()


def _write(env: Dict[str, str], saves: int, ready: Any, times: Any) -> None:
    """One writer: its own factory and recorder, ``saves`` inserts of one event."""
    with InfrastructureFactory.construct(env=env) as factory:
        times.append(_saves(factory.application_recorder(), saves, ready))


def _run(
    backend: str,
    env: Dict[str, str],
    writers: int,
    processes: bool,
    grouped: bool,
    saves: int = 0,
) -> Tuple[int, float]:
    saves = saves or SAVES[backend]
    if backend == "sqlite":
        # A new file each run (PostgreSQL gets a new schema from _factory):
        # a run into the file of the run before it is slower (a bigger file
        # and WAL), which would decide the ratio by the order of the runs.
        folder = os.path.dirname(env["SQLITE_DBNAME"])
        env = {**env, "SQLITE_DBNAME": os.path.join(folder, f"writers-{uuid4().hex}.db")}
    with _factory(backend, env) as factory:
        factory.application_recorder()  # create the table once, untimed
        run_env = dict(factory.env)
        run_env[GROUP_SETTING[backend]] = "true" if grouped else "false"
        if processes:
            context = multiprocessing.get_context("spawn")
            with context.Manager() as manager:
                ready, times = manager.Barrier(writers), manager.list()
                workers: List[Any] = [
                    context.Process(target=_write, args=(run_env, saves, ready, times))
                    for _ in range(writers)
                ]
                _start_and_join(workers)
                spans = list(times)
        else:
            thread_ready = threading.Barrier(writers)
            spans = []
            with InfrastructureFactory.construct(env=run_env) as shared:
                recorder = shared.application_recorder()

                def write() -> None:
                    spans.append(_saves(recorder, saves, thread_ready))

                _start_and_join([threading.Thread(target=write) for _ in range(writers)])
    if len(spans) != writers:
        raise RuntimeError(f"{writers - len(spans)} writer(s) failed")
    return writers * saves, max(e for _, e in spans) - min(s for s, _ in spans)


def _start_and_join(workers: List[Any]) -> None:
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def _register(writers: int, processes: bool, grouped: bool) -> None:
    kind = "processes" if processes else "threads"
    name = f"writers: {writers} {kind}{'' if grouped else ' (no group commit)'}"

    @case(name, backends=("sqlite", "postgres"), repeat=3)
    def run(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
        return _run(backend, env, writers, processes, grouped)


def _register_ratio(writers: int, processes: bool) -> None:
    kind = "processes" if processes else "threads"

    @case(
        f"writers: {writers} {kind}, grouped / not grouped",
        backends=("sqlite", "postgres"),
        unit="ratio",
        repeat=3,
    )
    def run(backend: str, env: Dict[str, str]) -> Tuple[float, float]:
        best = {True: 0.0, False: 0.0}
        for i in range(RATIO_TRIES):
            # Each setting goes first in half of the tries: a run right after
            # another (its processes winding down, its file being written
            # back) is the slower of the two.
            for grouped in (False, True) if i % 2 == 0 else (True, False):
                saves, seconds = _run(
                    backend, env, writers, processes, grouped, RATIO_SAVES[backend]
                )
                best[grouped] = max(best[grouped], saves / seconds)
        return best[True] / best[False], 1.0


for _writers in (1, 2, 4, 8):
    for _processes in (False, True):
        for _grouped in (True, False):
            _register(_writers, _processes, _grouped)
        _register_ratio(_writers, _processes)
