"""Partitions with real processes: 2 partitions x 2 replicas of a follower,
started with ``eventsourcing run --partitions 2 --partition K``, the active
process of a random partition killed (SIGKILL) several times while the
leader saves commands touching many aggregates. Every notification is
processed exactly once, each aggregate's in order, and never by two
processes of one partition at once. A process with another N is refused.

``PARTITION_FAILOVER_COMMANDS`` (default 2,000) sets how many commands are
saved, on ``PARTITION_FAILOVER_AGGREGATES`` (default 200) aggregates.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from partition_system import Counters, Mirror, Mirrors
from processing_system import Acquisition, Leases

from eventsourcing.partition import Partition

HERE = Path(__file__).parent
COMMAND = str(Path(sys.executable).parent / "eventsourcing")
TARGET = "partition_system:system"
COMMANDS = int(os.environ.get("PARTITION_FAILOVER_COMMANDS", "2000"))
AGGREGATES = int(os.environ.get("PARTITION_FAILOVER_AGGREGATES", "200"))
PARTITIONS = 2
KILLS = 4
TIMEOUT = 120.0


@pytest.fixture
def env(store_env: Dict[str, str], tmp_path: Path) -> Dict[str, str]:
    env = dict(store_env)
    if env["PERSISTENCE_MODULE"] == "sqlite":
        del env["SQLITE_DBNAME"]
        for name in ("COUNTERS", "MIRRORS", "LEASES"):
            env[f"{name}_SQLITE_DBNAME"] = str(tmp_path / f"{name.lower()}.sqlite")
        env["SQLITE_SUBSCRIPTION_POLL_INTERVAL"] = "0.05"
    env["PROCESSING_LEASE_INTERVAL"] = "0.1"
    env["PROCESSING_BATCH_SIZE"] = "20"
    env["REPLICA_LOG_DIR"] = str(tmp_path)
    return env


def process_env(env: Dict[str, str]) -> Dict[str, str]:
    return {
        **os.environ,
        **env,
        "RECORD_LEASES": "1",
        "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path]),
    }


def start_replica(env: Dict[str, str], partition: int) -> subprocess.Popen[str]:
    args = ["--app", "Mirrors", "--partitions", str(PARTITIONS), "--partition", str(partition)]
    path = Path(env["REPLICA_LOG_DIR"]) / f"replica-{partition}-{time.monotonic_ns()}.log"
    with open(path, "w") as log:
        process = subprocess.Popen(
            [COMMAND, "run", TARGET, *args],
            env=process_env(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    deadline = time.monotonic() + TIMEOUT
    while f":{process.pid} runs" not in path.read_text():  # its SIGTERM handler is set
        assert process.poll() is None, path.read_text()
        assert time.monotonic() < deadline, "a replica did not start"
        time.sleep(0.02)
    return process


def acquisitions(leases: Leases, tracking_name: str) -> List[Acquisition]:
    found = []
    for notification in leases.recorder.select_notifications(1, 10_000):
        acquisition = leases.repository.get(notification.originator_id)
        if acquisition.leader == tracking_name:
            found.append(acquisition)
    return sorted(found, key=lambda a: a.at)


def wait_for_holder(leases: Leases, tracking_name: str, known: int) -> Acquisition:
    """The process that took ``tracking_name``'s lease after the ``known`` first ones."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        found = acquisitions(leases, tracking_name)
        if len(found) > known:
            return found[-1]
        assert time.monotonic() < deadline, f"no replica took the lease of {tracking_name}"
        time.sleep(0.02)


def name(k: int) -> str:
    return Partition(k, PARTITIONS).tracking_name("Counters")


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_partitions_with_failover_process_each_aggregate_in_order_once(
    env: Dict[str, str],
) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    counters = Counters(env=env)
    leases = Leases(env=env)
    replicas: Dict[int, List[subprocess.Popen[str]]] = {
        k: [start_replica(env, k), start_replica(env, k)] for k in range(PARTITIONS)
    }
    try:
        holders = {k: wait_for_holder(leases, name(k), 0) for k in range(PARTITIONS)}
        kills = {i: n for n, i in enumerate(rng.sample(range(AGGREGATES, COMMANDS), KILLS))}
        ids = []
        for i in range(COMMANDS):
            if i < AGGREGATES:
                ids.append(counters.create())
            else:
                counters.increment(ids[rng.randrange(AGGREGATES)])
            if i in kills:
                k = kills[i] % PARTITIONS  # each partition loses its active process
                known = len(acquisitions(leases, name(k)))
                active = next(p for p in replicas[k] if p.pid == holders[k].pid)
                os.kill(active.pid, signal.SIGKILL)
                active.wait()
                replicas[k].remove(active)
                replicas[k].append(start_replica(env, k))
                holders[k] = wait_for_holder(leases, name(k), known)
        last = counters.recorder.max_notification_id()
        mirrors = Mirrors(env=env)
        deadline = time.monotonic() + TIMEOUT
        for k in range(PARTITIONS):
            while mirrors.process_recorder.max_tracking_id(name(k)) < last:
                assert time.monotonic() < deadline, f"partition {k} did not catch up (seed {seed})"
                time.sleep(0.05)
    finally:
        running = [p for ps in replicas.values() for p in ps]
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            process.wait(TIMEOUT)
    logs = "".join(p.read_text() for p in Path(env["REPLICA_LOG_DIR"]).glob("replica-*.log"))
    assert all(p.returncode == 0 for p in running), logs

    # Exactly once, in order: each mirror saw its counter's versions 1, 2, ... once.
    processed: Dict[int, List[Tuple[int, int]]] = {k: [] for k in range(PARTITIONS)}
    for counter_id in ids:
        mirror = mirrors.repository.get(Mirror.create_id(counter_id))
        versions = [version for version, _, _ in mirror.seen]
        assert versions == list(range(1, counters.repository.get(counter_id).version + 1))
        (k,) = [k for k in range(PARTITIONS) if Partition(k, PARTITIONS).contains(counter_id)]
        processed[k].extend((notification_id, pid) for _, notification_id, pid in mirror.seen)
    every = sorted(n for pairs in processed.values() for n, _ in pairs)
    assert every == list(range(1, COMMANDS + 1)), f"seed {seed}"

    # For each partition: the lease changed hands, and its notifications were
    # processed by one process at a time, in the order the processes took the lease.
    for k in range(PARTITIONS):
        taken = acquisitions(leases, name(k))
        assert len({a.pid for a in taken}) == len(taken) >= 1 + KILLS // PARTITIONS
        runs: List[int] = []
        for _, pid in sorted(processed[k]):
            if not runs or runs[-1] != pid:
                runs.append(pid)
        assert len(runs) == len(set(runs)), f"partition {k}: a process resumed: {runs}"
        assert runs == [a.pid for a in taken if a.pid in runs], f"partition {k}, seed {seed}"
    for app in (counters, leases, mirrors):
        app.close()


def test_a_process_with_another_number_of_partitions_is_refused(env: Dict[str, str]) -> None:
    if env["PERSISTENCE_MODULE"] == "popo":
        pytest.skip("POPO stores live in one process")
    counters = Counters(env=env)
    counters.create()
    replica = start_replica(env, 1)
    try:
        mirrors = Mirrors(env=env)
        deadline = time.monotonic() + TIMEOUT
        while mirrors.process_recorder.max_tracking_id(name(1)) < 1:
            assert time.monotonic() < deadline and replica.poll() is None
            time.sleep(0.05)
        status = subprocess.run(
            [COMMAND, "status", TARGET, "--app", "Mirrors"],
            env=process_env(env),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert status.returncode == 0, status.stderr
        assert status.stdout.splitlines() == [
            "Mirrors <- Counters#0/2: position 0, leader at 1, lag 1, lease held by -",
            "Mirrors <- Counters#1/2: position 1, leader at 1, lag 0, "
            f"lease held by {os.uname().nodename}:{replica.pid}",
        ]
        for args in (["--partitions", "3", "--partition", "0"], []):
            refused = subprocess.run(
                [COMMAND, "run", TARGET, "--app", "Mirrors", *args],
                env=process_env(env),
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
            )
            assert refused.returncode == 2
            assert refused.stderr.splitlines() == [
                "eventsourcing: error: 'Mirrors' has positions of 'Counters' tracked for "
                "another number of partitions ('Counters#1/2' at 1): refusing to run with "
                f"{args[1] if args else 1}; drain and re-partition first (see 'Partitions' "
                "in docs/system.md)"
            ]
    finally:
        replica.send_signal(signal.SIGTERM)
        assert replica.wait(TIMEOUT) == 0
    counters.close()
    mirrors.close()
