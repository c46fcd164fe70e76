"""Exactly-once processing across stops and crashes, on durable stores.

Half the upstream notifications are processed, the runner stops, the leader
records the rest, a follower crashes in the middle of its policy (after it
changed and saved two aggregates to the process event), and a new runner on
the same database finishes the work: every count is exactly right, and every
upstream notification was tracked once.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Type
from uuid import NAMESPACE_URL, UUID, uuid5

import pytest

from eventsourcing.application import AggregateNotFound, Application
from eventsourcing.domain import Aggregate, DomainEvent, event
from eventsourcing.system import (
    MultiThreadedRunner,
    ProcessApplication,
    ProcessEvent,
    Runner,
    SingleThreadedRunner,
    System,
)

WAIT_TIMEOUT = 60.0
CRASH_EXIT_CODE = 37
WHATS = ("rain", "snow", "wind")
HAPPENINGS = 24  # two worlds, alternately; WHATS in turn


class Land(Aggregate):
    def __init__(self, title: str) -> None:
        self.title = title

    @event("Happened")
    def happen(self, what: str) -> None:
        pass


class Tally(Aggregate):
    def __init__(self, what: str) -> None:
        self.what = what
        self.count = 0

    @staticmethod
    def create_id(what: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/tallies/{what}")

    @event("Counted")
    def count_one(self) -> None:
        self.count += 1


class Lands(Application[Land]):
    def found(self, title: str) -> UUID:
        land = Land(title)
        self.save(land)
        return land.id

    def happen(self, land_id: UUID, what: str) -> None:
        land = self.repository.get(land_id)
        land.happen(what)
        self.save(land)


class Crash(Exception):
    pass


class Tallies(ProcessApplication[Tally]):
    """Counts each kind of happening, and all of them (two aggregates a call).

    ``crash_at`` (a Lands notification ID) makes the policy raise after it
    changed both aggregates and saved them to the process event.
    """

    crash_at: Optional[int] = None
    crash_by_exit = False  # end the process (no clean-up at all) instead of raising
    arrived = threading.Condition()

    def policy(self, domain_event: DomainEvent, process_event: ProcessEvent) -> None:
        if not isinstance(domain_event, Land.Happened):
            return
        one = self._tally(domain_event.what)
        total = self._tally("*")
        one.count_one()
        total.count_one()
        process_event.save(one, total)
        assert process_event.tracking is not None
        if process_event.tracking.notification_id == type(self).crash_at:
            if type(self).crash_by_exit:
                os._exit(CRASH_EXIT_CODE)
            raise Crash(f"crashed processing notification {type(self).crash_at}")

    def _tally(self, what: str) -> Tally:
        try:
            return self.repository.get(Tally.create_id(what))
        except AggregateNotFound:
            return Tally(what)

    def record(self, processing_event: Any) -> Any:
        recordings = super().record(processing_event)
        with Tallies.arrived:
            Tallies.arrived.notify_all()
        return recordings

    def count(self, what: str) -> int:
        try:
            return self.repository.get(Tally.create_id(what)).count
        except AggregateNotFound:
            return 0


def expected_counts(happened: List[str]) -> Dict[str, int]:
    counts = {what: happened.count(what) for what in WHATS}
    counts["*"] = len(happened)
    return counts


def counts(tallies: Tallies) -> Dict[str, int]:
    return {what: tallies.count(what) for what in (*WHATS, "*")}


def wait_for(runner: Runner, tallies: Tallies, lands_position: int) -> None:
    assert isinstance(runner, MultiThreadedRunner)

    def done() -> bool:
        return (
            runner.has_errors.is_set()
            or tallies.process_recorder.max_tracking_id("Lands") >= lands_position
        )

    with Tallies.arrived:
        assert Tallies.arrived.wait_for(done, timeout=WAIT_TIMEOUT), "follower did not catch up"


def on_error(app_name: str, error: BaseException) -> None:
    with Tallies.arrived:
        Tallies.arrived.notify_all()


def new_runner(runner_cls: Type[Runner], env: Dict[str, str]) -> Runner:
    system = System(pipes=[[Lands, Tallies]])
    if runner_cls is MultiThreadedRunner:
        return MultiThreadedRunner(system, env=env, on_error=on_error)
    return runner_cls(system, env=env)


@pytest.fixture
def crash_at() -> Any:
    yield
    Tallies.crash_at = None
    Tallies.crash_by_exit = False


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
@pytest.mark.parametrize("runner_cls", [SingleThreadedRunner, MultiThreadedRunner])
def test_resumes_exactly_once_after_stop_and_crash(
    backend: str,
    store_env: Dict[str, str],
    tmp_path: Path,
    runner_cls: Type[Runner],
    crash_at: None,
) -> None:
    env = dict(store_env, AGGREGATE_CACHE_MAXSIZE="100")
    if backend == "sqlite":
        env["LANDS_SQLITE_DBNAME"] = str(tmp_path / "lands.sqlite")
        env["TALLIES_SQLITE_DBNAME"] = str(tmp_path / "tallies.sqlite")
    happened: List[str] = []

    # 1. Half the happenings are processed by a running system, which stops.
    runner = new_runner(runner_cls, env)
    runner.start()
    lands, tallies = runner.get(Lands), runner.get(Tallies)
    land_ids = [lands.found("north"), lands.found("south")]
    for i in range(HAPPENINGS // 2):
        what = WHATS[i % len(WHATS)]
        lands.happen(land_ids[i % 2], what)
        happened.append(what)
    half_way = lands.recorder.max_notification_id()
    if isinstance(runner, MultiThreadedRunner):
        wait_for(runner, tallies, half_way)
    assert counts(tallies) == expected_counts(happened)
    runner.stop()

    # 2. The leader alone records the other half: nobody processes it.
    with Lands(env=env) as lands:
        for i in range(HAPPENINGS // 2, HAPPENINGS):
            what = WHATS[i % len(WHATS)]
            lands.happen(land_ids[i % 2], what)
            happened.append(what)
        last = lands.recorder.max_notification_id()
        upstream = [n.id for n in lands.recorder.select_notifications(1, 1000)]
    assert last > half_way

    # 3. A new runner catches up and crashes in the middle of a policy call.
    unprocessed = [n for n in upstream if n > half_way]
    crash_id = unprocessed[4]
    Tallies.crash_at = crash_id
    runner = new_runner(runner_cls, env)
    if isinstance(runner, SingleThreadedRunner):
        with pytest.raises(Crash):
            runner.start()  # the catch-up happens in start(), in this thread
        tallies = runner.get(Tallies)
    else:
        assert isinstance(runner, MultiThreadedRunner)
        runner.start()
        tallies = runner.get(Tallies)
        wait_for(runner, tallies, last)
        assert runner.has_errors.is_set()
    # Processed up to the crash, nothing of the crashed notification (of either aggregate).
    processed_before_crash = happened[: len(happened) // 2 + 4]
    assert (
        tallies.process_recorder.max_tracking_id("Lands") == upstream[upstream.index(crash_id) - 1]
    )
    assert counts(tallies) == expected_counts(processed_before_crash)
    if isinstance(runner, MultiThreadedRunner):
        with pytest.raises(Crash):
            runner.stop()
    else:
        runner.stop()

    # 4. Restarted with a working policy on the same database: exactly right.
    Tallies.crash_at = None
    runner = new_runner(runner_cls, env)
    runner.start()
    try:
        tallies = runner.get(Tallies)
        if isinstance(runner, MultiThreadedRunner):
            wait_for(runner, tallies, last)
        assert counts(tallies) == expected_counts(happened)
        # No event repeated: each tally's version is one (created) plus its count.
        for what in (*WHATS, "*"):
            tally = tallies.repository.get(Tally.create_id(what))
            assert tally.version == 1 + tally.count
        recorder = tallies.process_recorder
        assert recorder.max_tracking_id("Lands") == last
        assert all(recorder.has_tracking_id("Lands", n) for n in upstream)
        # Two new events per happening, and nothing else, were recorded downstream.
        assert len(recorder.select_notifications(1, 1000)) == 2 * HAPPENINGS + len(WHATS) + 1
    finally:
        runner.stop()


def sqlite_env(store_env: Dict[str, str], tmp_path: Path) -> Dict[str, str]:
    return dict(
        store_env,
        LANDS_SQLITE_DBNAME=str(tmp_path / "lands.sqlite"),
        TALLIES_SQLITE_DBNAME=str(tmp_path / "tallies.sqlite"),
    )


def record_happenings(env: Dict[str, str], count: int) -> List[str]:
    happened = []
    with Lands(env=env) as lands:
        land_id = lands.found("east")
        for i in range(count):
            what = WHATS[i % len(WHATS)]
            lands.happen(land_id, what)
            happened.append(what)
    return happened


def assert_all_processed_once(env: Dict[str, str], happened: List[str]) -> None:
    runner = SingleThreadedRunner(System(pipes=[[Lands, Tallies]]), env=env)
    runner.start()
    try:
        tallies, lands = runner.get(Tallies), runner.get(Lands)
        assert counts(tallies) == expected_counts(happened)
        assert tallies.process_recorder.max_tracking_id("Lands") == (
            lands.recorder.max_notification_id()
        )
        for what in (*WHATS, "*"):
            tally = tallies.repository.get(Tally.create_id(what))
            assert tally.version == 1 + tally.count
    finally:
        runner.stop()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_process_killed_mid_policy_resumes_exactly_once(
    backend: str, store_env: Dict[str, str], tmp_path: Path, crash_at: None
) -> None:
    """The follower's process ends abruptly (os._exit) in the middle of a policy call."""
    env = sqlite_env(store_env, tmp_path)
    happened = record_happenings(env, 20)
    Tallies.crash_at = 12  # Lands' notifications: 1 is the creation, 2.. the happenings
    Tallies.crash_by_exit = True

    def follower_process() -> None:
        runner = SingleThreadedRunner(System(pipes=[[Lands, Tallies]]), env=env)
        runner.start()  # catches up, and the process ends at notification 12
        os._exit(0)

    child = multiprocessing.get_context("fork").Process(target=follower_process)
    child.start()
    child.join(WAIT_TIMEOUT)
    assert child.exitcode == CRASH_EXIT_CODE

    Tallies.crash_at = None
    Tallies.crash_by_exit = False
    with Tallies(env=env) as tallies:
        assert tallies.process_recorder.max_tracking_id("Lands") == 11
        assert counts(tallies) == expected_counts(happened[:10])
    assert_all_processed_once(env, happened)


class Gated(Tallies):
    """Tallies whose policy waits at one notification until a gate opens."""

    name = "Tallies"
    wait_at = 0
    reached = threading.Event()
    gate = threading.Event()

    def policy(self, domain_event: DomainEvent, process_event: ProcessEvent) -> None:
        super().policy(domain_event, process_event)
        assert process_event.tracking is not None
        if process_event.tracking.notification_id == Gated.wait_at:
            Gated.reached.set()
            assert Gated.gate.wait(WAIT_TIMEOUT), "the gate was never opened"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_stop_interrupts_a_backlog_between_notifications(
    backend: str, store_env: Dict[str, str], tmp_path: Path
) -> None:
    env = sqlite_env(store_env, tmp_path) if backend == "sqlite" else store_env
    happened = record_happenings(env, 40)
    Gated.wait_at, Gated.reached, Gated.gate = 6, threading.Event(), threading.Event()
    runner = MultiThreadedRunner(System(pipes=[[Lands, Gated]]), env=env)
    runner.start()
    thread = runner.threads["Tallies"]
    assert Gated.reached.wait(WAIT_TIMEOUT)
    stopper = threading.Thread(target=runner.stop)
    stopper.start()
    assert runner.is_stopping.wait(WAIT_TIMEOUT)
    Gated.gate.set()  # the policy call in progress finishes, and is recorded
    stopper.join(WAIT_TIMEOUT)
    assert not stopper.is_alive() and not thread.is_alive()
    assert runner.errors == []

    with Tallies(env=env) as tallies:
        assert tallies.process_recorder.max_tracking_id("Lands") == 6
        assert counts(tallies) == expected_counts(happened[:5])
    assert_all_processed_once(env, happened)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_competing_instances_of_a_follower_process_each_notification_once(
    backend: str, store_env: Dict[str, str], tmp_path: Path
) -> None:
    """Two instances of one follower on one database (say, during a redeploy):
    the one that records a notification second keeps nothing of its attempt
    and carries on after what the other recorded."""
    env = sqlite_env(store_env, tmp_path) if backend == "sqlite" else store_env
    happened = record_happenings(env, 10)  # Lands notifications 1 (created) to 11
    Gated.wait_at, Gated.reached, Gated.gate = 4, threading.Event(), threading.Event()
    errors: List[BaseException] = []
    with Lands(env=env) as lands, Gated(env=env) as late, Tallies(env=env) as early:
        late.follow("Lands", lands.log)
        early.follow("Lands", lands.log)

        def process_late() -> None:
            try:
                late.pull_and_process("Lands")
            except BaseException as e:  # asserted below
                errors.append(e)

        thread = threading.Thread(target=process_late)
        thread.start()
        assert Gated.reached.wait(WAIT_TIMEOUT)  # late is in its policy for notification 4
        early.pull_and_process("Lands")  # processes 4 to 11 meanwhile
        assert early.process_recorder.max_tracking_id("Lands") == 11
        Gated.gate.set()
        thread.join(WAIT_TIMEOUT)
        assert not thread.is_alive() and errors == []
        assert late.process_recorder.max_tracking_id("Lands") == 11
    assert_all_processed_once(env, happened)
