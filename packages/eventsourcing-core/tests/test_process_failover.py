"""Failover with real processes: two replicas of a follower, the active one
killed (SIGKILL) several times while the leader saves commands; every command
is processed exactly once, and never by two processes at once.

``PROCESS_FAILOVER_COMMANDS`` (default 300) sets how many commands are saved.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from processing_system import Acquisition, Commands, Counting, Leases, Tally

HERE = Path(__file__).parent
COMMAND = str(Path(sys.executable).parent / "eventsourcing")
COMMANDS = int(os.environ.get("PROCESS_FAILOVER_COMMANDS", "300"))
KILLS = 3
TIMEOUT = 120.0


@pytest.fixture
def env(store_env: Dict[str, str], tmp_path: Path) -> Dict[str, str]:
    env = dict(store_env)
    backend = env["PERSISTENCE_MODULE"]
    if backend == "popo":
        pytest.skip("POPO stores live in one process")
    if backend == "sqlite":
        del env["SQLITE_DBNAME"]
        for name in ("COMMANDS", "COUNTING", "LEASES"):
            env[f"{name}_SQLITE_DBNAME"] = str(tmp_path / f"{name.lower()}.sqlite")
        env["SQLITE_SUBSCRIPTION_POLL_INTERVAL"] = "0.05"
    env["PROCESSING_LEASE_INTERVAL"] = "0.1"
    env["REPLICA_LOG_DIR"] = str(tmp_path)
    env["PROCESSING_BATCH_SIZE"] = "20"
    # Total has an event per command: without a cache each get replays them all.
    env["COUNTING_AGGREGATE_CACHE_MAXSIZE"] = "10"
    return env


def start_replica(env: Dict[str, str], *args: str) -> subprocess.Popen[str]:
    """``eventsourcing run`` of the follower, its lease acquisitions recorded."""
    process_env = {
        **os.environ,
        **env,
        "RECORD_LEASES": "1",
        "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path]),
    }
    path = Path(env["REPLICA_LOG_DIR"]) / f"replica-{time.monotonic_ns()}.log"
    with open(path, "w") as log:
        process = subprocess.Popen(
            [COMMAND, "run", "processing_system:system", "--app", "Counting", *args],
            env=process_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    # Running (its SIGTERM handler installed) before the test goes on.
    deadline = time.monotonic() + TIMEOUT
    while f"{process.pid} runs" not in path.read_text():
        assert process.poll() is None, path.read_text()
        assert time.monotonic() < deadline, "a replica did not start"
        time.sleep(0.02)
    return process


def acquisitions(leases: Leases) -> List[Acquisition]:
    found = []
    for notification in leases.recorder.select_notifications(1, 10_000):
        event = leases.mapper.to_domain_event(notification)
        found.append(leases.repository.get(event.originator_id))
    return found


def wait_for_new_holder(leases: Leases, known: int) -> Acquisition:
    deadline = time.monotonic() + TIMEOUT
    while True:
        found = acquisitions(leases)
        if len(found) > known:
            return found[-1]
        assert time.monotonic() < deadline, "no replica took the lease"
        time.sleep(0.02)


@pytest.mark.slow
def test_failover_keeps_processing_exactly_once(env: Dict[str, str]) -> None:
    commands = Commands(env=env)
    leases = Leases(env=env)
    replicas = [start_replica(env), start_replica(env)]
    try:
        holder = wait_for_new_holder(leases, 0)
        kill_at = {COMMANDS * (k + 1) // (KILLS + 1) for k in range(KILLS)}
        for i in range(COMMANDS):
            commands.make(f"c{i}")
            if i in kill_at:
                known = len(acquisitions(leases))
                active = next(p for p in replicas if p.pid == holder.pid)
                os.kill(active.pid, signal.SIGKILL)
                active.wait()
                replicas.remove(active)
                replicas.append(start_replica(env))
                holder = wait_for_new_holder(leases, known)
        counting = Counting(env=env)
        deadline = time.monotonic() + TIMEOUT
        while counting.process_recorder.max_tracking_id("Commands") < COMMANDS:
            assert time.monotonic() < deadline, "the follower did not catch up"
            time.sleep(0.05)
    finally:
        for process in replicas:
            process.send_signal(signal.SIGTERM)
        for process in replicas:
            process.wait(TIMEOUT)
    logs = "".join(p.read_text() for p in Path(env["REPLICA_LOG_DIR"]).glob("replica-*.log"))
    assert all(p.returncode == 0 for p in replicas), logs

    # Exactly once: one tally per command, and the total counted each once.
    assert counting.total() == COMMANDS
    tally_pids: List[int] = []
    for notification in commands.recorder.select_notifications(1, COMMANDS + 10):
        tally = counting.repository.get(Tally.create_id(notification.originator_id))
        tally_pids.append(tally.pid)
    assert len(tally_pids) == COMMANDS

    # The lease changed hands, and never were two processes active at once:
    # in notification order, each process processed one unbroken run, and the
    # runs come in the order the processes took the lease.
    taken = acquisitions(leases)
    assert len({a.pid for a in taken}) == len(taken) >= KILLS + 1
    runs: List[int] = []
    for pid in tally_pids:
        if not runs or runs[-1] != pid:
            runs.append(pid)
    assert len(runs) == len(set(runs)), f"a process resumed after another took over: {runs}"
    order = [a.pid for a in sorted(taken, key=lambda a: a.at)]
    assert runs == [pid for pid in order if pid in runs]
    for app in (commands, leases, counting):
        app.close()
