"""Application throughput on every backend: saving, replaying, reading the log.

Each case builds an application on a store of its own (a fresh SQLite file
from the harness, a fresh PostgreSQL schema here) and returns how many events
(or notifications) it handled, with the time spent on the measured work only:
creating schemas, tables and applications, and writing the events a read case
reads, is not timed.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Tuple, Type

from benchmarks.harness import Stopwatch, case, postgres_schema
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event


class Account(Aggregate):
    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.balance = 0

    @event("Credited")
    def credit(self, amount: int) -> None:
        self.balance += amount


class Bank(Application[Account]):
    log_section_size = 500


def _size(backend: str, in_memory: int, database: int) -> int:
    return in_memory if backend == "popo" else database


@contextmanager
def fresh_app(
    backend: str,
    env: Dict[str, str],
    cls: Type[Bank] = Bank,
    extra: Optional[Dict[str, str]] = None,
) -> Iterator[Bank]:
    """An application on a store nobody else uses, closed afterwards."""
    app_env = {**env, **(extra or {})}
    if backend == "postgres":
        with postgres_schema(app_env) as schema:
            app_env["POSTGRES_SCHEMA"] = schema
            with cls(env=app_env) as app:
                yield app
    else:
        with cls(env=app_env) as app:
            yield app


@case("app: create")
def create(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    count = _size(backend, 5000, 1000)
    with fresh_app(backend, env) as app, Stopwatch() as watch:
        for i in range(count):
            app.save(Account(owner=f"owner {i}"))
    return count, watch.elapsed


@case("app: command")
def command(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    count = _size(backend, 5000, 1000)
    with fresh_app(backend, env) as app:
        account = Account(owner="alice")
        app.save(account)
        with Stopwatch() as watch:
            for _ in range(count):
                account.credit(1)
                app.save(account)
    return count, watch.elapsed


@case("app: replay")
def replay(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    events, gets = 1000, _size(backend, 20, 10)
    with fresh_app(backend, env) as app:
        account = Account(owner="alice")
        for _ in range(events - 1):
            account.credit(1)
        app.save(account)
        with Stopwatch() as watch:
            for _ in range(gets):
                assert app.repository.get(account.id).version == events
    return events * gets, watch.elapsed


@case("app: batch 5000")
def batch(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    """One save of one aggregate with 5,000 new events (the events are made untimed)."""
    size, batches = 5000, 3
    watch = Stopwatch()
    with fresh_app(backend, env) as app:
        for _ in range(batches):
            account = Account(owner="alice")
            for _ in range(size - 1):
                account.credit(1)
            with watch:
                app.save(account)
    return size * batches, watch.elapsed


@case("app: notifications read", unit="notifications/s")
def notifications_read(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    aggregates, events_each, passes = 10, 1000, 3
    with fresh_app(backend, env) as app:
        for _ in range(aggregates):
            account = Account(owner="alice")
            for _ in range(events_each - 1):
                account.credit(1)
            app.save(account)
        total = 0
        page = app.log_section_size
        watch = Stopwatch()
        for _ in range(passes):
            start = 1
            while True:
                with watch:
                    notifications = app.log.select(start, page)
                total += len(notifications)
                if len(notifications) < page:
                    break
                start = notifications[-1].id + 1
    assert total == aggregates * events_each * passes
    return total, watch.elapsed


@case("app: concurrent 4 threads")
def concurrent(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    threads_count = 4
    each = _size(backend, 1000, 250)
    errors: List[BaseException] = []
    with fresh_app(backend, env) as app:
        ready = threading.Barrier(threads_count)

        def work() -> None:
            try:
                ready.wait()
                for i in range(each):
                    account = Account(owner=f"owner {i}")
                    account.credit(1)
                    app.save(account)
            except BaseException as e:  # reported after join
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(threads_count)]
        with Stopwatch() as watch:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        if errors:
            raise errors[0]
        assert app.recorder.max_notification_id() >= threads_count * each * 2
    return threads_count * each * 2, watch.elapsed
