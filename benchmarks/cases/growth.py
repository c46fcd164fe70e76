"""Cost as stores grow: replaying long histories, reading long logs, saving into full stores.

Sizes are small by default so that a run stays short; ``run.py --full`` uses
the sizes of issue 23 (100,000 events of one aggregate; 1,000,000
notifications; a store already holding 1,000,000 events).

- ``growth: get N events`` / ``growth: get N events (snapshot)``: events/s
  replaying one aggregate without and with a snapshot taken at its last
  version (with one, the rate counts the events the snapshot stands for).
- ``growth: get N events peak MiB``: the most memory Python held (tracemalloc)
  while replaying them: a page of stored events, not the whole history.
- ``growth: log N / log 10k``: the rate of reading a log of N notifications
  page by page, over the rate for 10,000 (1.0 = flat); ``..., plain SELECT``:
  the same for the driver alone reading the same pages.
- ``growth: log N peak MiB``: the most memory Python held (tracemalloc) while
  reading it page by page, in MiB: constant if pages are not kept.
- ``growth: save into N / empty``: the rate of saving 1,000 one-event
  aggregates into a store holding N events, over the rate into an empty one.
"""

from __future__ import annotations

import gc
import os
import sqlite3
import time
import tracemalloc
from contextlib import ExitStack, contextmanager, nullcontext
from functools import partial
from typing import Any, Callable, ContextManager, Dict, Iterator, Tuple

from benchmarks.cases.application import Account, Bank, fresh_app
from benchmarks.cases.recorder import _events, _recorder, read_log
from benchmarks.harness import case, postgres_connect_params

FULL = os.environ.get("BENCH_FULL", "") == "1"
HISTORY = 100_000 if FULL else 10_000
LOG = 1_000_000 if FULL else 100_000
STORE = 1_000_000 if FULL else 100_000
BACKENDS = ("sqlite", "postgres")


class SnapshottingBank(Bank):
    is_snapshotting_enabled = True


def _long_history(app: Bank) -> Account:
    account = Account(owner="alice")
    for _ in range(HISTORY - 1):
        account.credit(1)
    app.save(account)
    return account


@case(f"growth: get {HISTORY:,} events", backends=BACKENDS, repeat=3)
def get_long_history(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    with fresh_app(backend, env) as app:
        account = _long_history(app)
        started = time.perf_counter()
        assert app.repository.get(account.id).version == HISTORY
        return HISTORY, time.perf_counter() - started


@case(f"growth: get {HISTORY:,} events (snapshot)", backends=BACKENDS, repeat=3)
def get_long_history_from_snapshot(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    with fresh_app(backend, env, SnapshottingBank) as app:
        account = _long_history(app)
        app.take_snapshot(account.id)
        started = time.perf_counter()
        assert app.repository.get(account.id).version == HISTORY
        return HISTORY, time.perf_counter() - started


@case(f"growth: get {HISTORY:,} events peak MiB", backends=BACKENDS, unit="MiB", repeat=1)
def get_long_history_peak_memory(backend: str, env: Dict[str, str]) -> Tuple[float, float]:
    """The most memory Python held while replaying: the event store reads a
    page of stored events at a time (``EventStore.page_size``), so this is
    the aggregate plus a page, not the whole history."""
    with fresh_app(backend, env) as app:
        account = _long_history(app)
        tracemalloc.start()
        try:
            assert app.repository.get(account.id).version == HISTORY
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return peak / 2**20, 1.0


def _another_store(env: Dict[str, str], name: str) -> Dict[str, str]:
    """Settings for a second store in the same run (PostgreSQL cases make a schema each)."""
    if "SQLITE_DBNAME" not in env:
        return env
    return {**env, "SQLITE_DBNAME": f"{env['SQLITE_DBNAME']}-{name}"}


def _fill(recorder: object, events: int) -> None:
    for _ in range(events // 5000):
        recorder.insert_events(_events(5000))  # type: ignore[attr-defined]


def _vacuum(backend: str, env: Dict[str, str], recorder: Any) -> None:
    """On PostgreSQL, vacuum the table just filled, as autovacuum soon would.

    Inserting 1,000,000 rows sets autovacuum going on that table, on one of
    this machine's two cores, while the reads were being timed.
    """
    if backend != "postgres":
        return
    import psycopg
    from psycopg import sql

    with psycopg.connect(**postgres_connect_params(env), autocommit=True) as conn:
        conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(recorder.events_table))


Reading = Callable[[Any], ContextManager[Callable[[], int]]]  # recorder -> read()


def _flatness(backend: str, env: Dict[str, str], reading: Reading) -> float:
    """The rate of reading a log of ``LOG`` notifications over that of a log of 10,000.

    Each timed run reads ``LOG`` notifications: the big log once, or the
    small one ``LOG // 10,000`` times, so that both rates pay the same share
    of CPython's full garbage collections. One runs after so many objects
    have outlived the young generations (a page held while the next is
    made), however many reads made them; one read of 10,000 made too few to
    meet one, and the ratio compared the big log's cost of them with
    nothing (0.80-0.87 on PostgreSQL). Both logs are filled (and, on
    PostgreSQL, vacuumed) first, then read in turn, three times each: the
    best of each.
    """
    big_env = {**env, "SQLITE_DBNAME": env.get("SQLITE_DBNAME", "") + "-big"}
    with ExitStack() as stack:
        reads = []
        for size, settings in ((10_000, env), (LOG, big_env)):
            recorder = stack.enter_context(_recorder(backend, settings))
            _fill(recorder, size)
            _vacuum(backend, env, recorder)
            reads.append((size, stack.enter_context(reading(recorder))))
        best = {size: float("inf") for size, _ in reads}
        for _ in range(3):
            for size, read in reads:
                gc.collect()
                started = time.perf_counter()
                for _ in range(LOG // size):
                    assert read() == size
                best[size] = min(best[size], time.perf_counter() - started)
        return best[10_000] / best[LOG]


@case(f"growth: log {LOG:,} / log 10k", backends=BACKENDS, unit="ratio", repeat=1)
def log_rate_flat(backend: str, env: Dict[str, str]) -> Tuple[float, float]:
    return _flatness(backend, env, lambda recorder: nullcontext(lambda: read_log(recorder))), 1.0


@case(f"growth: log {LOG:,} / log 10k, plain SELECT", backends=BACKENDS, unit="ratio", repeat=1)
def log_rate_flat_plain(backend: str, env: Dict[str, str]) -> Tuple[float, float]:
    """The same pages read by the driver alone: what the database adds as the log grows.

    On a PostgreSQL server whose shared buffers are smaller than the table
    (1,000,000 rows take some 270 MB; the default is 128 MB), each read of
    the big log reads its pages in again.
    """
    return _flatness(backend, env, partial(_plain_pages, backend, env)), 1.0


@contextmanager
def _plain_pages(backend: str, env: Dict[str, str], recorder: Any) -> Iterator[Callable[[], int]]:
    """``read_log`` done with one plain ``SELECT`` a page, on a connection of its own."""
    columns = "originator_id, originator_version, topic, state"
    conn: Any
    if backend == "sqlite":
        conn = sqlite3.connect(recorder.datastore.db_name)
        statement: Any = (
            f"SELECT rowid, {columns} FROM {recorder.events_table_name}"
            " WHERE rowid >= ? ORDER BY rowid LIMIT ?"
        )
    else:
        import psycopg
        from psycopg import sql

        conn = psycopg.connect(**postgres_connect_params(env), autocommit=True)
        statement = sql.SQL(
            f"SELECT notification_id, {columns} FROM {{}}"
            " WHERE notification_id >= %s ORDER BY notification_id LIMIT %s"
        ).format(recorder.events_table)

    def read() -> int:
        count, start = 0, 1
        while True:
            rows = conn.execute(statement, (start, 500)).fetchall()
            if not rows:
                return count
            count += len(rows)
            start = rows[-1][0] + 1

    try:
        yield read
    finally:
        conn.close()


@case(f"growth: log {LOG:,} peak MiB", backends=BACKENDS, unit="MiB", repeat=1)
def log_peak_memory(backend: str, env: Dict[str, str]) -> Tuple[float, float]:
    with _recorder(backend, env) as recorder:
        _fill(recorder, LOG)
        tracemalloc.start()
        try:
            assert read_log(recorder) == LOG
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return peak / 2**20, 1.0


def _save_rate(backend: str, env: Dict[str, str], prefill: int) -> float:
    with fresh_app(backend, env) as app:
        _fill(app.recorder, prefill)
        accounts = [Account(owner=f"owner {i}") for i in range(1000)]
        started = time.perf_counter()
        for account in accounts:
            app.save(account)
        return len(accounts) / (time.perf_counter() - started)


@case(f"growth: save into {STORE:,} / empty", backends=BACKENDS, unit="ratio", repeat=1)
def save_rate_flat(backend: str, env: Dict[str, str]) -> Tuple[float, float]:
    empty = _save_rate(backend, env, 0)
    full = _save_rate(
        backend, {**env, "SQLITE_DBNAME": env.get("SQLITE_DBNAME", "") + "-full"}, STORE
    )
    return full / empty, 1.0
