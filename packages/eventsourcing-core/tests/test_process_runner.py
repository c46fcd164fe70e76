"""ProcessRunner in this process, on every installed backend: followers consume
their leaders through the database, a page per transaction, exactly once."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Iterator

import pytest

from eventsourcing.lease import lease_key
from eventsourcing.system import FollowerFailed, ProcessRunner
from eventsourcing.utils import ConfigurationError

sys.path.insert(0, str(Path(__file__).parent))  # subprocesses import it by name too
from processing_system import Commands, Counting, Tally, system

TIMEOUT = 30.0


@pytest.fixture
def env(store_env: Dict[str, str], tmp_path: Path) -> Iterator[Dict[str, str]]:
    env = dict(store_env)
    if env["PERSISTENCE_MODULE"] == "sqlite":
        # One database per application: each has its own log.
        del env["SQLITE_DBNAME"]
        env["COMMANDS_SQLITE_DBNAME"] = str(tmp_path / "commands.sqlite")
        env["COUNTING_SQLITE_DBNAME"] = str(tmp_path / "counting.sqlite")
    yield env


@pytest.fixture
def shared_env(env: Dict[str, str]) -> Dict[str, str]:
    """Stores that several application objects (and processes) share."""
    if env["PERSISTENCE_MODULE"] == "popo":
        pytest.skip("each POPO application object has a store of its own")
    return env


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_processes_every_notification_once_in_pages(env: Dict[str, str]) -> None:
    env["PROCESSING_BATCH_SIZE"] = "7"
    with ProcessRunner(system, env=env) as runner:
        commands = runner.get(Commands)
        counting = runner.get(Counting)
        ids = [commands.make(f"c{i}") for i in range(30)]
        wait_until(lambda: counting.process_recorder.max_tracking_id("Commands") == 30, "30")
        assert counting.total() == 30
        for command_id in ids:
            assert counting.repository.get(Tally.create_id(command_id)).command_id == command_id
    assert not runner.errors


def test_a_page_sees_its_own_uncommitted_changes(shared_env: Dict[str, str]) -> None:
    # Every notification changes the same Total aggregate: without read-your-writes
    # inside the page, the second would create Total again and the page conflict.
    commands = Commands(env=shared_env)
    for i in range(5):
        commands.make(f"c{i}")
    shared_env["PROCESSING_BATCH_SIZE"] = "100"
    with ProcessRunner(system, env=shared_env, apps=["Counting"]) as runner:
        counting = runner.get(Counting)
        wait_until(lambda: counting.process_recorder.max_tracking_id("Commands") == 5, "5")
        assert counting.total() == 5
        # Total created once and counted five times, and five tallies.
        assert counting.recorder.max_notification_id() == 11
    assert not runner.errors
    commands.close()


def test_resumes_after_the_tracked_position(shared_env: Dict[str, str]) -> None:
    commands = Commands(env=shared_env)
    commands.make("a")
    with ProcessRunner(system, env=shared_env, apps=["Counting"]) as runner:
        counting = runner.get(Counting)
        wait_until(lambda: counting.process_recorder.max_tracking_id("Commands") == 1, "1")
    commands.make("b")
    with ProcessRunner(system, env=shared_env, apps=["Counting"]) as runner:
        counting = runner.get(Counting)
        wait_until(lambda: counting.process_recorder.max_tracking_id("Commands") == 2, "2")
        assert counting.total() == 2
    commands.close()


def test_a_failing_policy_stops_the_follower_at_that_notification(
    shared_env: Dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    commands = Commands(env=shared_env)
    for text in ("c1", "c2", "fail3", "c4"):
        commands.make(text)
    shared_env["PROCESSING_BATCH_SIZE"] = "10"
    caplog.set_level(logging.ERROR, logger="eventsourcing.system")
    for _ in range(2):  # restarting resumes at the failing one: never skipped
        runner = ProcessRunner(system, env=shared_env, apps=["Counting"])
        runner.start()
        assert runner.has_errors.wait(TIMEOUT)
        counting = runner.get(Counting)
        # The page was rolled back, then retried one at a time: 1 and 2 recorded.
        assert counting.process_recorder.max_tracking_id("Commands") == 2
        assert counting.total() == 2
        with pytest.raises(FollowerFailed) as raised:
            runner.stop()
        assert raised.value.notification_id == 3
        assert raised.value.leader_name == "Commands"
        assert isinstance(raised.value.__cause__, RuntimeError)
    record = caplog.records[-1]
    assert "notification 3 of 'Commands'" in record.getMessage()
    assert record.exc_info is not None and "refusing 'fail3'" in str(record.exc_info[1])
    commands.close()


def test_one_runner_at_a_time_holds_a_pair(shared_env: Dict[str, str]) -> None:
    shared_env["PROCESSING_LEASE_INTERVAL"] = "0.05"
    acquired: list[str] = []
    first = ProcessRunner(
        system,
        env=shared_env,
        apps=["Counting"],
        on_lease=lambda follower, leader: acquired.append("1"),
    )
    second = ProcessRunner(
        system,
        env=shared_env,
        apps=["Counting"],
        on_lease=lambda follower, leader: acquired.append("2"),
    )
    with first:
        assert first.consumers[0].has_lease.wait(TIMEOUT)
        with second:
            assert not second.consumers[0].has_lease.wait(0.3)
            assert first.consumers[0].lease.holder() is not None
            first.stop()
            assert second.consumers[0].has_lease.wait(TIMEOUT)
    assert acquired == ["1", "2"]


def test_bad_settings_name_what_is_wrong(env: Dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="No application named 'Nope'"):
        ProcessRunner(system, env=env, apps=["Nope"])
    env["PROCESSING_BATCH_SIZE"] = "0"
    runner = ProcessRunner(system, env=env, apps=["Counting"])
    with pytest.raises(ConfigurationError, match="PROCESSING_BATCH_SIZE"):
        runner.start()


def test_lease_key_is_the_first_eight_bytes_of_sha256() -> None:
    import hashlib

    digest = hashlib.sha256(b"Counting\x00Commands").digest()
    assert lease_key("Counting", "Commands") == int.from_bytes(digest[:8], "big", signed=True)


def test_a_failed_page_leaves_nothing_of_it_in_the_aggregate_cache(
    shared_env: Dict[str, str],
) -> None:
    # The page's gets put states with its uncommitted events in the cache; after
    # the rollback, processing one at a time must start from what was recorded.
    shared_env["COUNTING_AGGREGATE_CACHE_MAXSIZE"] = "10"
    shared_env["PROCESSING_BATCH_SIZE"] = "10"
    commands = Commands(env=shared_env)
    for text in ("c1", "c2", "fail3"):
        commands.make(text)
    runner = ProcessRunner(system, env=shared_env, apps=["Counting"])
    runner.start()
    assert runner.has_errors.wait(TIMEOUT)
    with pytest.raises(FollowerFailed):
        runner.stop()
    fresh = Counting(env={**shared_env, "COUNTING_AGGREGATE_CACHE_MAXSIZE": "0"})
    assert fresh.total() == 2
    assert [n.originator_version for n in fresh.recorder.select_notifications(1, 10)] == [
        1,
        2,
        1,
        3,
        1,
    ]
    fresh.close()
    commands.close()
