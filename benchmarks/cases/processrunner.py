"""ProcessRunner: follower throughput by page size, failover time, end-to-end latency.

- throughput: the leader records ``BENCH_RUNNER_NOTIFICATIONS`` (20,000)
  notifications first; a ProcessRunner's follower then catches up, timed
  from start to the last tracking record, with pages of 100 notifications
  per transaction and with one notification per transaction.
- failover: two replicas of the follower run as ``systemcli run``
  subprocesses; the active one is killed (SIGKILL) right after the leader
  saves a command, and the time until a standby has processed that command
  is measured; median of 10 (seconds). ``PROCESSING_LEASE_INTERVAL`` is the
  default, 1 s.
- latency: one follower subprocess; leader save returned to the follower's
  tracking record committed, p50 of 200 (milliseconds; includes a 1 ms poll).
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

from benchmarks.cases.system import Receipts, Shipment, Shipping, _record_moves, _store
from benchmarks.harness import case
from eventsourcing.system import ProcessRunner, System

NOTIFICATIONS = int(os.environ.get("BENCH_RUNNER_NOTIFICATIONS", "20000"))
ROOT = Path(__file__).resolve().parents[2]

system = System(pipes=[[Shipping, Receipts]])


def _throughput(backend: str, env: Dict[str, str], batch_size: int) -> Tuple[int, float]:
    with _store(backend, env) as system_env:
        with Shipping(env=system_env) as shipping:
            last = _record_moves(shipping, NOTIFICATIONS // 500, 500)
        system_env["PROCESSING_BATCH_SIZE"] = str(batch_size)
        started = time.perf_counter()
        with ProcessRunner(system, env=system_env, apps=["Receipts"]) as runner:
            receipts = runner.get(Receipts)
            while receipts.process_recorder.max_tracking_id("Shipping") < last:
                time.sleep(0.005)
            elapsed = time.perf_counter() - started
    return last, elapsed


@case("runner: follower, pages of 100", backends=("sqlite", "postgres"), unit="notifications/s")
def pages_of_100(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    return _throughput(backend, env, 100)


@case("runner: follower, one per transaction", backends=("sqlite", "postgres"),
      unit="notifications/s", repeat=1)  # fmt: skip
def one_per_transaction(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    return _throughput(backend, env, 1)


@contextmanager
def _replicas(system_env: Dict[str, str], count: int) -> Iterator[List[subprocess.Popen[bytes]]]:
    process_env = {**os.environ, **system_env, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "eventsourcing.systemcli", "run"]
    target = "benchmarks.cases.processrunner:system"
    replicas = [subprocess.Popen([*command, target], env=process_env) for _ in range(count)]
    try:
        yield replicas
    finally:
        for p in replicas:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in replicas:
            p.wait(60)


def _processed(receipts: Receipts, notification_id: int) -> float:
    while receipts.process_recorder.max_tracking_id("Shipping") < notification_id:
        time.sleep(0.001)
    return time.perf_counter()


def _save(shipping: Shipping) -> Tuple[int, float]:
    shipping.save(Shipment(origin="here"))
    return shipping.recorder.max_notification_id(), time.perf_counter()


@case("runner: failover after kill -9, median", backends=("sqlite", "postgres"),
      unit="s", repeat=1)  # fmt: skip
def failover(backend: str, env: Dict[str, str]) -> Tuple[float, float]:
    times: List[float] = []
    with _store(backend, env) as system_env:
        shipping, receipts = Shipping(env=system_env), Receipts(env=system_env)
        lease = receipts.process_recorder.lease("Receipts", "Shipping")
        with _replicas(system_env, 2) as replicas:
            for _ in range(10):
                _processed(receipts, _save(shipping)[0])  # somebody holds the lease
                holder = lease.holder() or ""
                pid = int(holder.rpartition(":")[2])
                active = next(p for p in replicas if p.pid == pid)
                os.kill(pid, signal.SIGKILL)
                notification_id, saved = _save(shipping)
                times.append(_processed(receipts, notification_id) - saved)
                active.wait()
                replicas.remove(active)
                replicas.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "eventsourcing.systemcli", "run",
                         "benchmarks.cases.processrunner:system"],
                        env={**os.environ, **system_env, "PYTHONPATH": str(ROOT)},
                    )
                )  # fmt: skip
        shipping.close()
        receipts.close()
    return statistics.median(times), 1.0


@case("runner: end-to-end latency p50", backends=("sqlite", "postgres"), unit="ms", repeat=1)
def latency(backend: str, env: Dict[str, str]) -> Tuple[float, float]:
    samples: List[float] = []
    with _store(backend, env) as system_env:
        shipping, receipts = Shipping(env=system_env), Receipts(env=system_env)
        if backend == "sqlite":
            system_env["SQLITE_SUBSCRIPTION_POLL_INTERVAL"] = "0.001"
        with _replicas(system_env, 1):
            _processed(receipts, _save(shipping)[0])
            for _ in range(200):
                notification_id, saved = _save(shipping)
                samples.append((_processed(receipts, notification_id) - saved) * 1000)
        shipping.close()
        receipts.close()
    return statistics.median(samples), 1.0
