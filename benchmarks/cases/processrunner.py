"""ProcessRunner: follower throughput by page size, failover time, end-to-end latency.

- throughput: the leader records ``BENCH_RUNNER_NOTIFICATIONS`` (20,000)
  notifications first; a ProcessRunner's follower then catches up, timed
  from start to the last tracking record, with pages of 100 notifications
  per transaction and with one notification per transaction.
- failover: two replicas of the follower run as subprocesses (this module
  run as a script); the active one is killed (SIGKILL), the leader saves a
  command, and the time from the kill until a standby has processed that
  command is measured; median of 10 (milliseconds), ``PROCESSING_LEASE_INTERVAL``
  the default, 1 s. The killed replica is replaced by a new one, and the
  next round waits until it runs: the time a standby takes to start (a
  second or more on a loaded machine) is not failover.
- latency: one follower subprocess; leader save returned to the follower's
  tracking record committed (the same transaction as its new event), p50 of
  200 (milliseconds; includes a 1 ms poll).
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
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


def replica() -> None:
    """Run the follower until SIGTERM: ``python -m benchmarks.cases.processrunner``
    with the store's settings in the environment. Prints ``started`` once its
    consumers run (a standby has tried the lease by then), and ``lease`` with
    the time (``time.time()``) whenever it takes one."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    output = threading.Lock()

    def say(line: str) -> None:
        with output:  # whole lines: the consumer's thread says "lease" too
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    with ProcessRunner(system, apps=["Receipts"], on_lease=lambda *_: say(f"lease {time.time()}")):
        say("started")
        stopping.wait()


class _Replica:
    def __init__(self, system_env: Dict[str, str]) -> None:
        process_env = {**os.environ, **system_env, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "benchmarks.cases.processrunner"]
        self.process = subprocess.Popen(command, env=process_env, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.stdout = self.process.stdout
        # Wait until it runs: the time a standby takes to start is not failover.
        line = self.stdout.readline()
        while line.startswith("lease "):
            line = self.stdout.readline()
        if line != "started\n":
            self.stop()
            raise RuntimeError(f"a replica did not start: {line!r}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)


@contextmanager
def _replicas(system_env: Dict[str, str], count: int) -> Iterator[List[_Replica]]:
    replicas: List[_Replica] = []
    try:
        for _ in range(count):
            replicas.append(_Replica(system_env))
        yield replicas
    finally:
        for r in replicas:
            r.stop()


def _processed(receipts: Receipts, notification_id: int) -> float:
    while receipts.process_recorder.max_tracking_id("Shipping") < notification_id:
        time.sleep(0.001)
    return time.perf_counter()


def _save(shipping: Shipping) -> Tuple[int, float]:
    shipping.save(Shipment(origin="here"))
    return shipping.recorder.max_notification_id(), time.perf_counter()


def failover_times(backend: str, env: Dict[str, str], rounds: int = 10) -> List[float]:
    """Seconds from ``kill -9`` of the active replica to the standby having
    processed a notification saved right after, for each of ``rounds``."""
    times: List[float] = []
    with _store(backend, env) as system_env:
        shipping, receipts = Shipping(env=system_env), Receipts(env=system_env)
        lease = receipts.process_recorder.lease("Receipts", "Shipping")
        with _replicas(system_env, 2) as replicas:
            for _ in range(rounds):
                _processed(receipts, _save(shipping)[0])  # somebody holds the lease
                pid = int((lease.holder() or "").rpartition(":")[2])
                active = next(r for r in replicas if r.process.pid == pid)
                killed = time.perf_counter()
                os.kill(pid, signal.SIGKILL)
                notification_id, _ = _save(shipping)
                times.append(_processed(receipts, notification_id) - killed)
                active.process.wait()
                replicas.remove(active)
                replicas.append(_Replica(system_env))
        lease.close()
        shipping.close()
        receipts.close()
    return times


@case("runner: failover after kill -9, median", backends=("sqlite", "postgres"),
      unit="ms", repeat=1)  # fmt: skip
def failover(backend: str, env: Dict[str, str]) -> Tuple[float, float]:
    return statistics.median(failover_times(backend, env)) * 1000, 1.0


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


if __name__ == "__main__":
    replica()
