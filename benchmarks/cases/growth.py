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
  page by page, over the rate for 10,000 (1.0 = flat).
- ``growth: log N peak MiB``: the most memory Python held (tracemalloc) while
  reading it page by page, in MiB: constant if pages are not kept.
- ``growth: save into N / empty``: the rate of saving 1,000 one-event
  aggregates into a store holding N events, over the rate into an empty one.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from typing import Dict, Tuple

from benchmarks.cases.application import Account, Bank, fresh_app
from benchmarks.cases.recorder import _events, _recorder, read_log
from benchmarks.harness import case

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


def _log_rate(backend: str, env: Dict[str, str], size: int, reads: int) -> float:
    """The best rate of ``reads`` reads of a log of ``size`` notifications."""
    with _recorder(backend, env) as recorder:
        _fill(recorder, size)
        best = float("inf")
        for _ in range(reads):
            started = time.perf_counter()
            assert read_log(recorder) == size
            best = min(best, time.perf_counter() - started)
        return size / best


@case(f"growth: log {LOG:,} / log 10k", backends=BACKENDS, unit="ratio", repeat=1)
def log_rate_flat(backend: str, env: Dict[str, str]) -> Tuple[float, float]:
    # Best of several reads each: one read of 10,000 takes some 10 ms, and
    # single reads gave ratios from 0.80 to 1.71 for the same code.
    small = _log_rate(backend, env, 10_000, reads=15)
    big_env = {**env, "SQLITE_DBNAME": env.get("SQLITE_DBNAME", "") + "-big"}
    return _log_rate(backend, big_env, LOG, reads=3 if LOG > 100_000 else 15) / small, 1.0


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
