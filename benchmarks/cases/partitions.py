"""Partitions: a follower's throughput with its work split across N processes.

The leader records ``BENCH_PARTITION_NOTIFICATIONS`` (20,000) notifications
on 2,000 aggregates (10 each) first. For N = 1, 2 and 4, the bench holds
the N partitions' leases, starts N ``eventsourcing run ... --partitions N
--partition K`` processes (standbys, until they are up: start-up is not
timed), then releases the leases; timed from the release to every
partition's position reaching the last notification (the standbys try the
lease every 5 ms). Each process reads every notification and processes
(decodes, runs the policy on, records) only its partition's; pages of 100
(``PROCESSING_BATCH_SIZE``, the default).

What limits it: the processes share the machine's cores with PostgreSQL;
every partition reads every notification; and the partitions' commits are
serialized by the follower's events table lock (one notification log), so
only the Python side of the work (about 0.5 CPU-seconds per 20,000
notifications here, with this cheap policy) is spread across processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

from benchmarks.cases.processrunner import ROOT
from benchmarks.cases.system import Receipts, Shipment, Shipping, _store
from benchmarks.harness import case
from eventsourcing.partition import Partition

NOTIFICATIONS = int(os.environ.get("BENCH_PARTITION_NOTIFICATIONS", "20000"))
EVENTS_PER_AGGREGATE = 10
AGGREGATES_PER_SAVE = 50
TIMEOUT = 600.0
COMMAND = str(Path(sys.executable).parent / "eventsourcing")
TARGET = "benchmarks.cases.processrunner:system"


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _record(shipping: Shipping) -> int:
    shipments: List[Shipment] = []
    for s in range(NOTIFICATIONS // EVENTS_PER_AGGREGATE):
        shipment = Shipment(origin=f"port {s}")
        for i in range(EVENTS_PER_AGGREGATE - 1):
            shipment.move(i)
        shipments.append(shipment)
        if len(shipments) == AGGREGATES_PER_SAVE:
            shipping.save(*shipments)
            shipments = []
    if shipments:
        shipping.save(*shipments)
    return shipping.recorder.max_notification_id()


def _throughput(backend: str, env: Dict[str, str], n: int) -> Tuple[int, float]:
    with _store(backend, env) as system_env, tempfile.TemporaryDirectory() as logs:
        system_env["PROCESSING_LEASE_INTERVAL"] = "0.005"
        process_env = {**os.environ, **system_env, "PYTHONPATH": str(ROOT)}
        shipping, receipts = Shipping(env=system_env), Receipts(env=system_env)
        last = _record(shipping)
        recorder = receipts.process_recorder
        names = [Partition(k, n).tracking_name("Shipping") for k in range(n)]
        # The gate: this process holds every partition's lease while the
        # partition processes start (they wait as standbys), then lets go.
        leases = [recorder.lease("Receipts", name) for name in names]
        assert all(lease.try_acquire() for lease in leases)
        args = ["--app", "Receipts", "--partitions", str(n)]
        paths = [Path(logs) / f"{k}.log" for k in range(n)]
        processes = []
        for k, path in enumerate(paths):
            with open(path, "w") as log:
                command = [COMMAND, "run", TARGET, *args, "--partition", str(k)]
                processes.append(subprocess.Popen(command, env=process_env, stderr=log))
        try:
            _wait(
                lambda: all(
                    f":{p.pid} runs" in paths[k].read_text() for k, p in enumerate(processes)
                ),
                "the partition processes",
            )
            started = time.perf_counter()
            for lease in leases:
                lease.close()
            _wait(
                lambda: all(recorder.max_tracking_id(name) >= last for name in names),
                "the partitions",
            )
            elapsed = time.perf_counter() - started
        finally:
            for p in processes:
                p.send_signal(signal.SIGTERM)
            for p in processes:
                p.wait(60)
            for lease in leases:
                lease.close()
            shipping.close()
            receipts.close()
    return last, elapsed


def _register(n: int) -> None:
    name = f"runner: follower in {n} partition process{'es' if n > 1 else ''}"

    @case(name, backends=("postgres", "sqlite"), unit="notifications/s")
    def partitions(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
        return _throughput(backend, env, n)


for _n in (1, 2, 4):
    _register(_n)
