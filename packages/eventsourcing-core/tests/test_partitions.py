"""Partitions of a follower in this process, on the durable backends: each
partition processes its aggregates' notifications, in order, exactly once,
tracks its own position, and a changed number of partitions is refused."""

from __future__ import annotations

import sys
import time
import zlib
from pathlib import Path
from typing import Callable, Dict, List
from uuid import UUID, uuid4

import pytest

from eventsourcing.copying import TrackingCopying
from eventsourcing.partition import Partition, PartitionMismatch, tracked_positions
from eventsourcing.persistence import Notification
from eventsourcing.processrunner import ProcessRunner
from eventsourcing.utils import ConfigurationError

sys.path.insert(0, str(Path(__file__).parent))
from partition_system import Counters, Mirror, Mirrors, system

TIMEOUT = 30.0


@pytest.fixture
def env(store_env: Dict[str, str], tmp_path: Path) -> Dict[str, str]:
    env = dict(store_env)
    if env["PERSISTENCE_MODULE"] == "popo":
        pytest.skip("each POPO application object has a store of its own")
    if env["PERSISTENCE_MODULE"] == "sqlite":
        del env["SQLITE_DBNAME"]
        env["COUNTERS_SQLITE_DBNAME"] = str(tmp_path / "counters.sqlite")
        env["MIRRORS_SQLITE_DBNAME"] = str(tmp_path / "mirrors.sqlite")
    env["PROCESSING_LEASE_INTERVAL"] = "0.05"
    return env


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def save_counters(counters: Counters, aggregates: int, increments: int) -> List[UUID]:
    ids = [counters.create() for _ in range(aggregates)]
    for i in range(increments):
        counters.increment(ids[i % aggregates])
    return ids


def test_membership_is_crc32_of_the_id_bytes_modulo_n() -> None:
    # Fixed values: the same in every process and Python version.
    originator_id = UUID("12345678-1234-5678-1234-567812345678")
    assert zlib.crc32(b"123456789") == 0xCBF43926  # the standard CRC-32 check value
    assert zlib.crc32(originator_id.bytes) == 1773289872  # 0 modulo 4, 2 modulo 5
    assert [Partition(k, 4).contains(originator_id) for k in range(4)] == [
        True,
        False,
        False,
        False,
    ]
    assert [Partition(k, 5).contains(originator_id) for k in range(5)].index(True) == 2
    assert Partition().contains(originator_id)
    assert Partition(1, 4).tracking_name("Counters") == "Counters#1/4"
    assert Partition(0, 1).tracking_name("Counters") == "Counters"


def test_batches_carry_up_to_size_of_the_partitions_own_notifications() -> None:
    partition = Partition(0, 2)
    ids = [uuid4() for _ in range(40)]
    page = [
        Notification(originator_id=i, originator_version=1, topic="t", state=b"", id=n)
        for n, i in enumerate(ids, 1)
    ]
    batches = list(partition.batches(page, 3))
    assert [n for batch in batches for n in batch] == page
    own = [sum(partition.contains(n.originator_id) for n in batch) for batch in batches]
    assert all(count <= 3 for count in own) and all(count == 3 for count in own[:-1])
    assert [len(b) for b in Partition().batches(page, 7)] == [7, 7, 7, 7, 7, 5]


def test_bad_partitions_name_what_is_wrong(env: Dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="partitions must be an integer >= 1"):
        ProcessRunner(system, env=env, partitions=0)
    with pytest.raises(ConfigurationError, match=r"partition must be .* from 0 to 1"):
        ProcessRunner(system, env=env, partitions=2, partition=2)
    runner = ProcessRunner(system, env={**env, "PROCESSING_PARTITIONS": "2"}, apps=["Mirrors"])
    with pytest.raises(ConfigurationError, match="say which one this process runs"):
        runner.start()


def test_partitions_share_the_work_each_aggregate_in_order(env: Dict[str, str]) -> None:
    env["PROCESSING_BATCH_SIZE"] = "7"
    counters = Counters(env=env)
    ids = save_counters(counters, 20, 100)
    last = counters.recorder.max_notification_id()
    runners = [
        ProcessRunner(system, env=env, apps=["Mirrors"], partitions=2, partition=k)
        for k in range(2)
    ]
    for runner in runners:
        runner.start()
    try:
        recorders = [r.get(Mirrors).process_recorder for r in runners]

        def caught_up(position: int) -> bool:
            return all(
                recorder.max_tracking_id(f"Counters#{k}/2") == position
                for k, recorder in enumerate(recorders)
            )

        wait_until(lambda: caught_up(last), "both partitions")
        counters.increment(ids[0])  # after the catch-up too
        wait_until(lambda: caught_up(last + 1), "both partitions, +1")
    finally:
        for runner in runners:
            runner.stop()
    mirrors = Mirrors(env=env)
    processed = set()
    for counter_id in ids:
        mirror = mirrors.repository.get(Mirror.create_id(counter_id))
        versions = [version for version, _, _ in mirror.seen]
        assert versions == list(range(1, len(versions) + 1))
        assert versions[-1] == counters.repository.get(counter_id).version
        processed.update(notification_id for _, notification_id, _ in mirror.seen)
    assert processed == set(range(1, last + 2))
    # Nothing is tracked under the plain name; both layouts' positions are listed.
    assert mirrors.process_recorder.max_tracking_id("Counters") == 0
    assert tracked_positions(mirrors.process_recorder, "Counters") == {
        Partition(0, 2): last + 1,
        Partition(1, 2): last + 1,
    }
    # Both partitions got work (20 aggregates). Each tracked its own notifications
    # and, of the others', only some (the last of a page), not all.
    assert isinstance(mirrors.process_recorder, TrackingCopying)
    tracked = mirrors.process_recorder.select_tracking(limit=10_000)
    for k in range(2):
        own = {
            n.id
            for n in counters.recorder.select_notifications(1, last + 1)
            if Partition(k, 2).contains(n.originator_id)
        }
        ids_tracked = {
            t.notification_id for t in tracked if t.application_name == f"Counters#{k}/2"
        }
        assert 0 < len(own) < last + 1
        # Which of the others' are tracked depends on where pages end (they
        # may all end on the partition's own notifications): not a strict subset.
        assert own <= ids_tracked < set(range(1, last + 2))
    counters.close()
    mirrors.close()


def test_a_partition_without_work_still_advances(env: Dict[str, str]) -> None:
    counters = Counters(env=env)
    ids = save_counters(counters, 1, 5)
    (idle,) = [k for k in range(4) if not Partition(k, 4).contains(ids[0])][:1]
    with ProcessRunner(system, env=env, apps=["Mirrors"], partitions=4, partition=idle) as runner:
        mirrors = runner.get(Mirrors)
        wait_until(lambda: mirrors.process_recorder.max_tracking_id(f"Counters#{idle}/4") == 6, "6")
        assert mirrors.recorder.max_notification_id() == 0  # nothing processed
    counters.close()


def test_the_partition_can_be_given_in_settings(env: Dict[str, str]) -> None:
    counters = Counters(env=env)
    save_counters(counters, 4, 0)
    env.update(MIRRORS_PROCESSING_PARTITIONS="3", PROCESSING_PARTITION="2")
    with ProcessRunner(system, env=env, apps=["Mirrors"]) as runner:
        assert runner.consumers[0].tracking_name == "Counters#2/3"
        mirrors = runner.get(Mirrors)
        wait_until(lambda: mirrors.process_recorder.max_tracking_id("Counters#2/3") == 4, "4")
    counters.close()


def test_a_changed_number_of_partitions_is_refused(env: Dict[str, str]) -> None:
    counters = Counters(env=env)
    save_counters(counters, 3, 3)
    with ProcessRunner(system, env=env, apps=["Mirrors"], partitions=2, partition=1) as runner:
        mirrors = runner.get(Mirrors)
        wait_until(lambda: mirrors.process_recorder.max_tracking_id("Counters#1/2") == 6, "6")
    for partitions, partition in ((3, 0), (1, 0)):
        runner = ProcessRunner(
            system, env=env, apps=["Mirrors"], partitions=partitions, partition=partition
        )
        with pytest.raises(PartitionMismatch) as raised:
            runner.start()
        assert str(raised.value) == (
            f"'Mirrors' has positions of 'Counters' tracked for another number of "
            f"partitions ('Counters#1/2' at 6): refusing to run with {partitions}; drain "
            "and re-partition first (see 'Partitions' in docs/system.md)"
        )
    # The same N, another partition: accepted.
    with ProcessRunner(system, env=env, apps=["Mirrors"], partitions=2, partition=0) as runner:
        mirrors = runner.get(Mirrors)
        wait_until(lambda: mirrors.process_recorder.max_tracking_id("Counters#0/2") == 6, "6")
    counters.close()


def test_a_standby_checks_the_layout_when_it_takes_the_lease(env: Dict[str, str]) -> None:
    # A standby started before any position existed; a process of another
    # layout then recorded positions: the standby refuses once it holds the lease.
    counters = Counters(env=env)
    mirrors = Mirrors(env=env)
    held = mirrors.process_recorder.lease("Mirrors", "Counters")  # the active one
    assert held.try_acquire()
    standby = ProcessRunner(system, env=env, apps=["Mirrors"])
    standby.start()
    save_counters(counters, 2, 0)
    with ProcessRunner(system, env=env, apps=["Mirrors"], partitions=2, partition=0) as runner:
        recorder = runner.get(Mirrors).process_recorder
        wait_until(lambda: recorder.max_tracking_id("Counters#0/2") == 2, "2")
    assert not standby.consumers[0].has_lease.is_set()
    held.close()
    assert standby.has_errors.wait(TIMEOUT)
    with pytest.raises(PartitionMismatch, match="'Counters#0/2' at 2"):
        standby.stop()
    assert mirrors.process_recorder.max_tracking_id("Counters") == 0
    counters.close()
    mirrors.close()
