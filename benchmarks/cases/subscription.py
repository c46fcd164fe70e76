"""Subscriptions and projections: live latency, catch-up rate, projection rate.

- live latency: a writer process saves at a steady pace; this process
  subscribes and notes when each event is yielded. Latency is from the
  writer's save returning (committed) to the subscriber yielding the event,
  both read from the system-wide monotonic clock. Reported in microseconds,
  the 50th and 99th percentiles (``repeat=1``: one run is 2,000 samples).
- catch-up: a recorder-level subscription reading recorded notifications,
  next to ``select_notifications`` reading the same pages in a loop.
- projection: the bank example's owner-balances projection over 100,000
  recorded events, one transaction per page, from start to caught up.
- app create without NOTIFY: next to ``app: create``, what NOTIFY costs writers.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from typing import Dict, List, Tuple

from benchmarks.cases.application import Account, Bank, create, fresh_app
from benchmarks.harness import Stopwatch, case, postgres_schema
from eventsourcing.projection import ProjectionRunner
from examples.bank.application import BankAccounts
from examples.bank.domain import Account as BankAccount
from examples.bank.projection import VIEWS, OwnerBalances

SAMPLES = int(os.environ.get("BENCH_LATENCY_SAMPLES", "2000"))
RATE = 200.0  # saves per second


def _write_paced(env: Dict[str, str], count: int, rate: float) -> List[Tuple[int, float]]:
    """In a writer process: save ``count`` new aggregates at ``rate`` per second;
    return (notification ID, monotonic time the save returned) of each."""
    stamps: List[Tuple[int, float]] = []
    with Bank(env=env) as app:
        start = time.monotonic()
        for i in range(count):
            pause = start + i / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            (recording,) = app.save(Account(owner="w"))
            assert recording.notification is not None
            stamps.append((recording.notification.id, time.monotonic()))
    return stamps


def _latencies(backend: str, env: Dict[str, str]) -> List[float]:
    """Microseconds from commit (writer process) to yield (this process)."""
    with fresh_app(backend, env) as app:
        app_env = dict(app.env)
        arrived: Dict[int, float] = {}
        done = threading.Event()
        with app.subscribe(gt=app.recorder.max_notification_id()) as subscription:

            def consume() -> None:
                for _, tracking in subscription:
                    arrived[tracking.notification_id] = time.monotonic()
                    if len(arrived) == SAMPLES:
                        done.set()
                        return

            thread = threading.Thread(target=consume, daemon=True)
            thread.start()
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(1, mp_context=context) as pool:
                stamps = pool.submit(_write_paced, app_env, SAMPLES, RATE).result()
            done.wait(60)
            subscription.stop()
            thread.join()
    return [(arrived[i] - committed) * 1e6 for i, committed in stamps if i in arrived]


def _percentile(values: List[float], fraction: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


@case("subscription: live latency p50", backends=("sqlite", "postgres"), unit="us", repeat=1)
def latency_p50(backend: str, env: Dict[str, str]) -> Tuple[float, float]:
    return _percentile(_latencies(backend, env), 0.50), 1.0


@case("subscription: live latency p99", backends=("sqlite", "postgres"), unit="us", repeat=1)
def latency_p99(backend: str, env: Dict[str, str]) -> Tuple[float, float]:
    return _percentile(_latencies(backend, env), 0.99), 1.0


@case("app: create (no NOTIFY)", backends=("postgres",))
def create_without_notify(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    return create(backend, {**env, "POSTGRES_SUBSCRIPTION_NOTIFY": "false"})


@case("app: create NOTIFY on/off", backends=("postgres",), unit="ratio")
def create_notify_ratio(backend: str, env: Dict[str, str]) -> Tuple[float, float]:
    """Rate with NOTIFY over rate without, measured alternately (less noise than two cases)."""
    rates: Dict[bool, List[float]] = {True: [], False: []}
    for round_ in range(4):
        for notify in (True, False) if round_ % 2 else (False, True):
            count, seconds = create(
                backend, {**env, "POSTGRES_SUBSCRIPTION_NOTIFY": "true" if notify else "false"}
            )
            rates[notify].append(count / seconds)
    return statistics.median(rates[True]) / statistics.median(rates[False]), 1.0


def _recorded(app: Bank, aggregates: int = 10, events_each: int = 1000) -> int:
    for _ in range(aggregates):
        account = Account(owner="alice")
        for _ in range(events_each - 1):
            account.credit(1)
        app.save(account)
    return aggregates * events_each


PAGE = 500


@case("recorder: catch-up subscription", unit="notifications/s")
def catch_up(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    with fresh_app(backend, env) as app:
        total = _recorded(app)
        last = app.recorder.max_notification_id()
        with Stopwatch() as watch, app.recorder.subscribe() as subscription:
            subscription.page_size = PAGE
            for notification in subscription:
                if notification.id == last:
                    break
    return total, watch.elapsed


@case("recorder: select_notifications pages", unit="notifications/s")
def select_pages(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    with fresh_app(backend, env) as app:
        total = _recorded(app)
        read = 0
        with Stopwatch() as watch:
            start = 1
            while True:
                page = app.recorder.select_notifications(start, PAGE)
                read += len(page)
                if len(page) < PAGE:
                    break
                start = page[-1].id + 1
    assert read == total
    return total, watch.elapsed


@case("recorder: catch-up / select ratio", unit="ratio")
def catch_up_ratio(backend: str, env: Dict[str, str]) -> Tuple[float, float]:
    """Catch-up rate over select_notifications rate, on one store, measured alternately."""
    rates: Dict[str, List[float]] = {"subscription": [], "select": []}
    with fresh_app(backend, env) as app:
        total = _recorded(app)
        last = app.recorder.max_notification_id()
        for _ in range(5):
            with Stopwatch() as watch, app.recorder.subscribe() as subscription:
                for notification in subscription:
                    if notification.id == last:
                        break
            rates["subscription"].append(total / watch.elapsed)
            with Stopwatch() as watch:
                start = 1
                while page := app.recorder.select_notifications(start, PAGE):
                    start = page[-1].id + 1
            rates["select"].append(total / watch.elapsed)
    subscription_rate = statistics.median(rates["subscription"])
    return subscription_rate / statistics.median(rates["select"]), 1.0


PROJECTED = int(os.environ.get("BENCH_PROJECTION_EVENTS", "100000"))


@case("projection: owner balances", backends=("sqlite", "postgres"), repeat=1)
def projection(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    """Events projected per second, from starting the runner to caught up."""
    if backend == "postgres":
        with postgres_schema(env) as schema:
            return _project(backend, {**env, "POSTGRES_SCHEMA": schema})
    return _project(backend, env)


def _project(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    accounts, each = 100, PROJECTED // 100
    with BankAccounts(env=env) as bank:
        for i in range(accounts):
            account = BankAccount(f"owner {i % 10}", "owner@example.com")
            for _ in range(each - 1):
                account.deposit(Decimal("1.00"))
            bank.save(account)
        last = bank.recorder.max_notification_id()
    with Stopwatch() as watch:
        with ProjectionRunner(
            application_class=BankAccounts,
            projection_class=OwnerBalances,
            view_class=VIEWS[backend],
            env=env,
        ) as runner:
            runner.wait(last, timeout=600)
            expected = Decimal(accounts // 10 * (each - 1))
            assert runner.view.balance_of("owner 0") == expected
    return accounts * each, watch.elapsed
