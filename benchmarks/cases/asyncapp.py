"""Async applications (eventsourcing.asyncio) against the sync API, on one store each.

``async: 100 tasks x 20 saves``: 100 tasks in one event loop, each making 20
separate saves of one new aggregate (one event each): 2,000 events.
``async baseline: sync N threads``: the same 2,000 saves with the sync API
from 1 and from 8 threads. ``async: one save at a time`` and ``async
baseline: sync one save at a time``: the overhead of the async path for a
single save (1,000 saves in sequence, one task or one thread).
"""

from __future__ import annotations

import asyncio
import threading
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Tuple

from benchmarks.harness import Stopwatch, case, postgres_schema
from eventsourcing.application import Application
from eventsourcing.asyncio import AsyncApplication
from eventsourcing.domain import Aggregate

BACKENDS = ("sqlite", "postgres")
SAVES = 2000


class Account(Aggregate):
    def __init__(self, owner: str) -> None:
        self.owner = owner


class Bank(Application[Account]):
    pass


class AsyncBank(AsyncApplication[Account]):
    name = "Bank"


@contextmanager
def store_env(backend: str, env: Dict[str, str]) -> Iterator[Dict[str, str]]:
    app_env = dict(env)
    if backend == "postgres":
        with postgres_schema(app_env) as schema:
            app_env["POSTGRES_SCHEMA"] = schema
            yield app_env
    else:
        yield app_env


def _async_saves(env: Dict[str, str], tasks: int, each: int) -> Tuple[int, float]:
    async def run() -> Tuple[int, float]:
        async with AsyncBank(env=env) as app:
            await app.save(Account("warm-up"))  # connections, tables

            async def work() -> None:
                for i in range(each):
                    await app.save(Account(f"owner {i}"))

            with Stopwatch() as watch:
                await asyncio.gather(*(work() for _ in range(tasks)))
            assert await app.recorder.max_notification_id() >= tasks * each
        return tasks * each, watch.elapsed

    return asyncio.run(run())


def _sync_saves(env: Dict[str, str], threads: int, each: int) -> Tuple[int, float]:
    errors: List[BaseException] = []
    with Bank(env=env) as app:
        app.save(Account("warm-up"))
        ready = threading.Barrier(threads + 1)

        def work() -> None:
            try:
                ready.wait()
                for i in range(each):
                    app.save(Account(f"owner {i}"))
            except BaseException as e:  # reported after join
                errors.append(e)

        workers = [threading.Thread(target=work) for _ in range(threads)]
        for w in workers:
            w.start()
        with Stopwatch() as watch:
            ready.wait()
            for w in workers:
                w.join()
        if errors:
            raise errors[0]
        assert app.recorder.max_notification_id() >= threads * each
    return threads * each, watch.elapsed


def _measure(backend: str, env: Dict[str, str], func: Any, *args: Any) -> Tuple[int, float]:
    with store_env(backend, env) as app_env:
        result: Tuple[int, float] = func(app_env, *args)
        return result


@case("async: 100 tasks x 20 saves", backends=BACKENDS)
def async_tasks(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    return _measure(backend, env, _async_saves, 100, SAVES // 100)


@case("async baseline: sync 1 thread", backends=BACKENDS)
def sync_one_thread(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    return _measure(backend, env, _sync_saves, 1, SAVES)


@case("async baseline: sync 8 threads", backends=BACKENDS)
def sync_eight_threads(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    return _measure(backend, env, _sync_saves, 8, SAVES // 8)


@case("async: one save at a time", backends=BACKENDS)
def async_sequential(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    return _measure(backend, env, _async_saves, 1, 1000)


@case("async baseline: sync one save at a time", backends=BACKENDS)
def sync_sequential(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    return _measure(backend, env, _sync_saves, 1, 1000)
