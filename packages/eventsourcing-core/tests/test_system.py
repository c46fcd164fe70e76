"""The system chapter: followers, leaders, process applications, system
definitions and both runners, on every installed backend.

Multi-threaded tests wait on a condition that the followers signal after
each recorded notification (never a fixed sleep), with a generous timeout
that only matters when something is broken.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Type
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import pytest

from eventsourcing.application import AggregateNotFound, Application, ProcessingEvent, Recording
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.domain import Aggregate, DomainEvent, event
from eventsourcing.system import (
    Follower,
    Leader,
    MultiThreadedRunner,
    MultiThreadedRunnerThread,
    NotificationLogReader,
    ProcessApplication,
    ProcessEvent,
    Promptable,
    Runner,
    RunnerAlreadyStarted,
    SingleThreadedRunner,
    System,
)
from eventsourcing.utils import get_topic, resolve_topic

WAIT_TIMEOUT = 60.0

# -- the domain model ---------------------------------------------------------


class World(Aggregate):
    def __init__(self, title: str) -> None:
        self.title = title
        self.history: List[str] = []

    @event("SomethingHappened")
    def make_it_so(self, what: str) -> None:
        self.history.append(what)


class Counter(Aggregate):
    def __init__(self, what: str) -> None:
        self.what = what
        self.count = 0

    @staticmethod
    def create_id(what: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/counters/{what}")

    @event("Incremented")
    def increment(self) -> None:
        self.count += 1


class Chronicle(Aggregate):
    """One per world: the things a historian noted about it."""

    def __init__(self, world_id: UUID) -> None:
        self.world_id = world_id
        self.notes: List[str] = []

    @staticmethod
    def create_id(world_id: UUID) -> UUID:
        return uuid5(NAMESPACE_URL, f"/chronicles/{world_id}")

    @event("Noted")
    def note(self, what: str) -> None:
        self.notes.append(what)


class Report(Aggregate):
    """Tallies what two upstream applications did."""

    ID = uuid5(NAMESPACE_URL, "/reports/main")

    def __init__(self) -> None:
        self.increments = 0
        self.notes = 0

    @staticmethod
    def create_id() -> UUID:
        return Report.ID

    @event("IncrementSeen")
    def see_increment(self) -> None:
        self.increments += 1

    @event("NoteSeen")
    def see_note(self) -> None:
        self.notes += 1


# -- the applications -----------------------------------------------------------

PROGRESS = threading.Condition()
"""Notified whenever a follower records a processed notification (or fails)."""


class Signalling(Follower[Any]):
    """Lets tests wait until a follower has processed up to a position."""

    def record(self, processing_event: ProcessingEvent) -> List[Recording]:
        recordings = super().record(processing_event)
        with PROGRESS:
            PROGRESS.notify_all()
        return recordings


class Worlds(Application[World]):
    def create_world(self, title: str) -> UUID:
        world = World(title)
        self.save(world)
        return world.id

    def make_it_so(self, world_id: UUID, what: str) -> None:
        world = self.repository.get(world_id)
        world.make_it_so(what)
        self.save(world)


class Counters(Signalling, ProcessApplication[Counter]):
    @singledispatchmethod
    def policy(self, domain_event: DomainEvent, process_event: ProcessEvent) -> None:
        """Other events are of no interest."""

    @policy.register
    def _(self, domain_event: World.SomethingHappened, process_event: ProcessEvent) -> None:
        try:
            counter = self.repository.get(Counter.create_id(domain_event.what))
        except AggregateNotFound:
            counter = Counter(domain_event.what)
        counter.increment()
        process_event.save(counter)

    def get_count(self, what: str) -> int:
        try:
            return self.repository.get(Counter.create_id(what)).count
        except AggregateNotFound:
            return 0


class Historians(Signalling, ProcessApplication[Chronicle]):
    @singledispatchmethod
    def policy(self, domain_event: DomainEvent, process_event: ProcessEvent) -> None:
        pass

    @policy.register(World.SomethingHappened)
    def _(self, domain_event: Any, process_event: ProcessEvent) -> None:
        world_id = domain_event.originator_id
        try:
            chronicle = self.repository.get(Chronicle.create_id(world_id))
        except AggregateNotFound:
            chronicle = Chronicle(world_id)
        chronicle.note(domain_event.what)
        process_event.save(chronicle)

    def notes(self, world_id: UUID) -> List[str]:
        return list(self.repository.get(Chronicle.create_id(world_id)).notes)


class Reports(Signalling, ProcessApplication[Report]):
    """Follows two leaders (Counters and Historians)."""

    def policy(self, domain_event: DomainEvent, process_event: ProcessEvent) -> None:
        if not isinstance(domain_event, (Counter.Incremented, Chronicle.Noted)):
            return
        try:
            report = self.repository.get(Report.ID)
        except AggregateNotFound:
            report = Report()
        if isinstance(domain_event, Counter.Incremented):
            report.see_increment()
        else:
            report.see_note()
        process_event.save(report)

    def tallies(self) -> tuple[int, int]:
        try:
            report = self.repository.get(Report.ID)
        except AggregateNotFound:
            return 0, 0
        return report.increments, report.notes


# -- environments and waiting ---------------------------------------------------


def system_env(
    store_env: Dict[str, str], backend: str, tmp_path: Path, *apps: Type[Application[Any]]
) -> Dict[str, str]:
    """The store's environment, with a database file of its own per application
    on SQLite (PostgreSQL tables are already named after each application)."""
    env = dict(store_env)
    if backend == "sqlite":
        for cls in apps:
            env[f"{cls.name.upper()}_SQLITE_DBNAME"] = str(tmp_path / f"{cls.name}.sqlite")
    return env


def wait_until_processed(
    runner: Runner, follower: Follower[Any], *leaders: Application[Any]
) -> None:
    """Wait until ``follower`` tracked each leader's last notification (or a thread failed)."""

    def caught_up() -> bool:
        return all(
            follower.process_recorder.max_tracking_id(leader.name)
            >= leader.recorder.max_notification_id()
            for leader in leaders
        )

    def done() -> bool:
        if isinstance(runner, MultiThreadedRunner) and runner.has_errors.is_set():
            return True
        return caught_up()

    with PROGRESS:
        finished = PROGRESS.wait_for(done, timeout=WAIT_TIMEOUT)
    if isinstance(runner, MultiThreadedRunner) and runner.errors:
        raise runner.errors[0]
    assert finished and caught_up(), f"{follower.name} did not catch up in {WAIT_TIMEOUT}s"


def notify_progress(app_name: str, error: BaseException) -> None:
    with PROGRESS:
        PROGRESS.notify_all()


def make_runner(runner_cls: Type[Runner], system: System, env: Dict[str, str]) -> Runner:
    if runner_cls is MultiThreadedRunner:
        return MultiThreadedRunner(system, env=env, on_error=notify_progress)
    return runner_cls(system, env=env)


@pytest.fixture(params=[SingleThreadedRunner, MultiThreadedRunner])
def runner_cls(request: pytest.FixtureRequest) -> Type[Runner]:
    cls: Type[Runner] = request.param
    return cls


@pytest.fixture
def started(runner_cls: Type[Runner]) -> Iterator[List[Runner]]:
    """Runners a test started; stopped afterwards (their errors re-raised)."""
    runners: List[Runner] = []
    yield runners
    for runner in runners:
        runner.stop()


# -- the chapter's example ------------------------------------------------------


def test_worlds_and_counters(
    runner_cls: Type[Runner],
    backend: str,
    store_env: Dict[str, str],
    tmp_path: Path,
    started: List[Runner],
) -> None:
    system = System(pipes=[[Worlds, Counters]])
    env = system_env(store_env, backend, tmp_path, Worlds, Counters)
    runner = make_runner(runner_cls, system, env)
    runner.start()
    started.append(runner)
    worlds = runner.get(Worlds)
    counters = runner.get(Counters)
    assert isinstance(worlds, Leader) and isinstance(counters, Follower)

    def settle() -> None:
        if runner_cls is MultiThreadedRunner:
            wait_until_processed(runner, counters, worlds)

    world_ids = [worlds.create_world(f"world {i}") for i in range(3)]
    settle()
    assert [counters.get_count(w) for w in ("dinosaurs", "trucks", "internet")] == [0, 0, 0]

    for world_id in world_ids:
        worlds.make_it_so(world_id, "dinosaurs")
    settle()
    assert [counters.get_count(w) for w in ("dinosaurs", "trucks", "internet")] == [3, 0, 0]

    for world_id in world_ids[:2]:
        worlds.make_it_so(world_id, "trucks")
    worlds.make_it_so(world_ids[0], "internet")
    settle()
    assert [counters.get_count(w) for w in ("dinosaurs", "trucks", "internet")] == [3, 2, 1]

    # Every upstream notification was tracked, the created events included.
    last = worlds.recorder.max_notification_id()
    assert counters.process_recorder.max_tracking_id("Worlds") == last
    assert all(
        counters.process_recorder.has_tracking_id("Worlds", n.id)
        for n in worlds.log.select(1, worlds.log_section_size)
    )
    # Exactly one Incremented event per happening: versions are 1 + count.
    assert counters.repository.get(Counter.create_id("dinosaurs")).version == 4


def test_single_threaded_runner_processes_before_the_save_returns(
    store_env: Dict[str, str], backend: str, tmp_path: Path
) -> None:
    runner = SingleThreadedRunner(
        System(pipes=[[Worlds, Counters]]),
        env=system_env(store_env, backend, tmp_path, Worlds, Counters),
    )
    runner.start()
    try:
        worlds, counters = runner.get(Worlds), runner.get(Counters)
        world_id = worlds.create_world("earth")
        for i in range(1, 4):
            worlds.make_it_so(world_id, "volcanoes")
            assert counters.get_count("volcanoes") == i
    finally:
        runner.stop()


def test_single_threaded_runner_queues_prompts_received_while_prompting(
    store_env: Dict[str, str], backend: str, tmp_path: Path
) -> None:
    # A follower's new events prompt the runner while it is still prompting:
    # the prompt is queued and handled after the current pull, not nested in it.
    recorded_by: List[str] = []

    class LoggedCounters(Counters):
        def record(self, processing_event: ProcessingEvent) -> List[Recording]:
            recorded_by.append(self.name)
            return super().record(processing_event)

    class LoggedReports(Reports):
        def record(self, processing_event: ProcessingEvent) -> List[Recording]:
            recorded_by.append(self.name)
            return super().record(processing_event)

    apps = (Worlds, LoggedCounters, LoggedReports)
    runner = SingleThreadedRunner(
        System(pipes=[list(apps)]), env=system_env(store_env, backend, tmp_path, *apps)
    )
    runner.start()
    try:
        world = World("earth")
        world.make_it_so("rain")
        world.make_it_so("snow")
        runner.get(Worlds).save(world)  # three notifications at once
        assert recorded_by == ["LoggedCounters"] * 3 + ["LoggedReports"] * 4
        assert runner.get(LoggedReports).tallies() == (2, 0)
    finally:
        runner.stop()


# -- several pipes -----------------------------------------------------------------

MANY_PIPES = [
    [Worlds, Counters, Reports],
    [Worlds, Historians, Reports],
]


def test_system_definition_with_several_pipes() -> None:
    system = System(pipes=MANY_PIPES)
    assert list(system.nodes) == ["Worlds", "Counters", "Reports", "Historians"]
    assert system.edges == [
        ("Worlds", "Counters"),
        ("Counters", "Reports"),
        ("Worlds", "Historians"),
        ("Historians", "Reports"),
    ]
    assert system.leads == {
        "Worlds": ["Counters", "Historians"],
        "Counters": ["Reports"],
        "Historians": ["Reports"],
    }
    assert system.follows == {
        "Counters": ["Worlds"],
        "Reports": ["Counters", "Historians"],
        "Historians": ["Worlds"],
    }
    assert system.leaders == ["Worlds", "Counters", "Historians"]
    assert system.followers == ["Counters", "Reports", "Historians"]
    assert system.processors == ["Counters", "Historians"]
    assert system.leaders_only == ["Worlds"]
    # Nodes map names to topics, as in 9.1.
    assert system.nodes["Counters"] == f"{__name__}:Counters"
    # A plain application at the head of a pipe is made a leader, still of its class.
    worlds_cls = system.leader_cls("Worlds")
    assert issubclass(worlds_cls, Leader) and issubclass(worlds_cls, Worlds)
    assert worlds_cls.name == "Worlds" and system.get_app_cls("Worlds") is worlds_cls
    assert system.follower_cls("Reports") is Reports
    assert system.leader_cls("Reports") is Reports  # a process application leads anyway
    with pytest.raises(TypeError, match="'Worlds' does not follow"):
        system.follower_cls("Worlds")
    with pytest.raises(KeyError, match="No application named 'Nowhere'"):
        system.get_app_cls("Nowhere")


def test_several_pipes_follower_of_two_leaders_and_leader_of_two_followers(
    runner_cls: Type[Runner],
    backend: str,
    store_env: Dict[str, str],
    tmp_path: Path,
    started: List[Runner],
) -> None:
    system = System(pipes=MANY_PIPES)
    env = system_env(store_env, backend, tmp_path, Worlds, Counters, Historians, Reports)
    runner = make_runner(runner_cls, system, env)
    runner.start()
    started.append(runner)
    worlds = runner.get(Worlds)
    counters, historians, reports = (
        runner.get(Counters),
        runner.get(Historians),
        runner.get(Reports),
    )

    earth, mars = worlds.create_world("earth"), worlds.create_world("mars")
    happenings = [(earth, "rain"), (mars, "dust"), (earth, "rain"), (earth, "snow"), (mars, "rain")]
    for world_id, what in happenings:
        worlds.make_it_so(world_id, what)

    if runner_cls is MultiThreadedRunner:
        wait_until_processed(runner, counters, worlds)
        wait_until_processed(runner, historians, worlds)
        wait_until_processed(runner, reports, counters, historians)

    assert counters.get_count("rain") == 3
    assert historians.notes(earth) == ["rain", "rain", "snow"]
    assert historians.notes(mars) == ["dust", "rain"]
    # Reports saw each Incremented (from Counters) and each Noted (from Historians) once.
    assert reports.tallies() == (len(happenings), len(happenings))
    assert reports.process_recorder.max_tracking_id("Counters") == (
        counters.recorder.max_notification_id()
    )
    assert reports.process_recorder.max_tracking_id("Historians") == (
        historians.recorder.max_notification_id()
    )


# -- errors are surfaced, never swallowed -------------------------------------------


class Fault(Exception):
    pass


class FragileCounters(Counters):
    """Counters whose policy fails (after changing a counter) while ``fail_on`` is set."""

    name = "Counters"
    fail_on: Optional[str] = None

    def policy(self, domain_event: DomainEvent, process_event: ProcessEvent) -> None:
        super().policy(domain_event, process_event)  # changes and saves a counter
        what = getattr(domain_event, "what", None)
        if what is not None and what == type(self).fail_on:
            raise Fault(f"cannot count {what}")


@pytest.fixture
def fragile() -> Iterator[Type[FragileCounters]]:
    FragileCounters.fail_on = "meteors"
    yield FragileCounters
    FragileCounters.fail_on = None


def test_single_threaded_policy_error_reaches_the_caller_and_records_nothing(
    backend: str, store_env: Dict[str, str], tmp_path: Path, fragile: Type[FragileCounters]
) -> None:
    env = system_env(store_env, backend, tmp_path, Worlds, fragile)
    runner = SingleThreadedRunner(System(pipes=[[Worlds, fragile]]), env=env)
    runner.start()
    try:
        worlds, counters = runner.get(Worlds), runner.get(fragile)
        world_id = worlds.create_world("earth")
        worlds.make_it_so(world_id, "rain")
        tracked = counters.process_recorder.max_tracking_id("Worlds")
        events_before = counters.recorder.max_notification_id()

        with pytest.raises(Fault, match="cannot count meteors"):
            worlds.make_it_so(world_id, "meteors")

        # The leader's event was recorded; the follower recorded nothing of it.
        assert worlds.repository.get(world_id).history == ["rain", "meteors"]
        assert counters.process_recorder.max_tracking_id("Worlds") == tracked
        assert counters.recorder.max_notification_id() == events_before
        assert counters.get_count("meteors") == 0

        # Fixed: the next prompt processes the failed notification, then the new one.
        fragile.fail_on = None
        worlds.make_it_so(world_id, "rain")
        assert counters.get_count("meteors") == 1
        assert counters.get_count("rain") == 2
        assert counters.process_recorder.max_tracking_id("Worlds") == (
            worlds.recorder.max_notification_id()
        )
    finally:
        runner.stop()


def test_multi_threaded_policy_error_goes_to_the_hook_and_out_of_stop(
    backend: str, store_env: Dict[str, str], tmp_path: Path, fragile: Type[FragileCounters]
) -> None:
    env = system_env(store_env, backend, tmp_path, Worlds, fragile)
    reported: List[tuple[str, BaseException]] = []
    hook_called = threading.Event()

    def on_error(app_name: str, error: BaseException) -> None:
        reported.append((app_name, error))
        hook_called.set()

    runner = MultiThreadedRunner(System(pipes=[[Worlds, fragile]]), env=env, on_error=on_error)
    runner.start()
    try:
        worlds, counters = runner.get(Worlds), runner.get(fragile)
        world_id = worlds.create_world("earth")
        worlds.make_it_so(world_id, "rain")
        worlds.make_it_so(world_id, "meteors")
        assert hook_called.wait(WAIT_TIMEOUT), "the error hook was not called"
        assert runner.has_errors.is_set()
        thread = runner.threads["Counters"]
        thread.join(WAIT_TIMEOUT)
        assert not thread.is_alive()  # a failed follower stops where it failed
        ((name, error),) = reported
        assert name == "Counters" and isinstance(error, Fault)
        assert runner.errors == [error] and thread.error is error
        # Nothing of the failed notification was recorded.
        meteors = worlds.recorder.max_notification_id()
        assert counters.process_recorder.max_tracking_id("Worlds") == meteors - 1
        assert counters.get_count("rain") == 1 and counters.get_count("meteors") == 0
    finally:
        with pytest.raises(Fault, match="cannot count meteors") as raised:
            runner.stop()
    assert raised.value is reported[0][1]
    assert runner.has_stopped
    runner.stop()  # stopping again does nothing (and raises nothing)


def test_multi_threaded_start_raises_when_a_follower_cannot_be_constructed(
    tmp_path: Path,
) -> None:
    env = {
        "PERSISTENCE_MODULE": "sqlite",
        "SQLITE_DBNAME": str(tmp_path / "w.sqlite"),
        "COUNTERS_SQLITE_DBNAME": str(tmp_path / "no-such-dir" / "c.sqlite"),
    }
    before = set(threading.enumerate())
    runner = MultiThreadedRunner(System(pipes=[[Worlds, Counters]]), env=env)
    with pytest.raises(Exception, match="no-such-dir"):
        runner.start()
    assert set(threading.enumerate()) <= before
    assert not runner.threads["Counters"].is_alive()
    assert runner.errors == []  # raised from start(), not kept for stop()
    runner.stop()


# -- runner life cycle --------------------------------------------------------------


def test_starting_a_started_runner_raises(runner_cls: Type[Runner]) -> None:
    runner = make_runner(runner_cls, System(pipes=[[Worlds, Counters]]), {})
    runner.start()
    try:
        with pytest.raises(RunnerAlreadyStarted):
            runner.start()
    finally:
        runner.stop()
    with pytest.raises(RunnerAlreadyStarted, match="construct a new runner"):
        runner.start()


def test_stop_ends_all_threads(backend: str, store_env: Dict[str, str], tmp_path: Path) -> None:
    before = set(threading.enumerate())
    env = system_env(store_env, backend, tmp_path, Worlds, Counters, Historians, Reports)
    runner = MultiThreadedRunner(System(pipes=MANY_PIPES), env=env)
    runner.start()
    threads = list(runner.threads.values())
    assert sorted(runner.threads) == ["Counters", "Historians", "Reports"]
    assert all(isinstance(t, MultiThreadedRunnerThread) and t.is_alive() for t in threads)
    worlds = runner.get(Worlds)
    worlds.make_it_so(worlds.create_world("earth"), "rain")
    counters, historians = runner.get(Counters), runner.get(Historians)
    wait_until_processed(runner, counters, worlds)
    wait_until_processed(runner, historians, worlds)
    wait_until_processed(runner, runner.get(Reports), counters, historians)

    runner.stop()

    assert not any(t.is_alive() for t in threads)
    assert set(threading.enumerate()) <= before
    with pytest.raises(KeyError, match="No application named 'Worlds' is running"):
        runner.get(Worlds)


def test_get_before_start_and_for_unknown_application(runner_cls: Type[Runner]) -> None:
    runner = make_runner(runner_cls, System(pipes=[[Worlds, Counters]]), {})
    with pytest.raises(RuntimeError, match="has not been started"):
        runner.get(Worlds)
    runner.start()
    try:
        with pytest.raises(KeyError, match="'Historians'"):
            runner.get(Historians)
    finally:
        runner.stop()


# -- system definitions that cannot work ---------------------------------------------


def test_a_plain_application_cannot_follow() -> None:
    with pytest.raises(TypeError, match=r"^Not a follower class: <class .*Worlds.>$"):
        System(pipes=[[Counters, Worlds]])


def test_a_follower_that_leads_must_be_a_process_application() -> None:
    class Relays(Follower[Any]):
        def policy(self, domain_event: DomainEvent, process_event: ProcessEvent) -> None:
            pass

    with pytest.raises(
        TypeError,
        match=r"^Not a process application class: <class .*Relays.>$",
    ):
        System(pipes=[[Worlds, Relays, Counters]])


def test_system_classes_print_and_have_topics_as_in_9_1() -> None:
    # 9.1 defined them in eventsourcing.system; programs' tests compare the
    # messages that name them, and stored topics name them so.
    with pytest.raises(TypeError) as leader:
        System(pipes=[[Worlds, Leader]])
    assert leader.value.args[0] == "Not a follower class: <class 'eventsourcing.system.Leader'>"
    with pytest.raises(TypeError) as follower:
        System(pipes=[[Worlds, Follower, Counters]])
    assert follower.value.args[0] == (
        "Not a process application class: <class 'eventsourcing.system.Follower'>"
    )
    for cls in (
        Follower,
        Leader,
        ProcessApplication,
        Promptable,
        System,
        Runner,
        RunnerAlreadyStarted,
        SingleThreadedRunner,
        MultiThreadedRunner,
        MultiThreadedRunnerThread,
        NotificationLogReader,
    ):
        topic = get_topic(cls)
        assert topic == f"eventsourcing.system:{cls.__name__}"
        assert resolve_topic(topic) is cls


def test_classes_defined_in_a_function_run_although_their_topics_do_not_resolve(
    backend: str, store_env: Dict[str, str], tmp_path: Path
) -> None:
    class LocalCounters(Counters):
        name = "Counters"

    system = System(pipes=[[Worlds, LocalCounters]])
    assert "<locals>" in system.nodes["Counters"]
    env = system_env(store_env, backend, tmp_path, Worlds, LocalCounters)
    runner = SingleThreadedRunner(system, env=env)
    runner.start()
    try:
        worlds = runner.get(Worlds)
        worlds.make_it_so(worlds.create_world("earth"), "rain")
        assert runner.get(LocalCounters).get_count("rain") == 1
    finally:
        runner.stop()


def test_two_applications_with_one_name_are_refused() -> None:
    class Impostor(Application[Any]):
        name = "Worlds"

    with pytest.raises(ValueError, match="Two applications in the system are named 'Worlds'"):
        System(pipes=[[Worlds, Counters], [Impostor]])


def test_pipes_hold_application_classes() -> None:
    with pytest.raises(TypeError, match="Application classes"):
        System(pipes=[[Worlds, "Counters"]])  # type: ignore[list-item]


def test_a_follower_without_a_policy_cannot_be_constructed() -> None:
    # A misnamed policy must fail at once, as in 9.1, not leave the inherited
    # abstract policy silently tracking every notification as processed.
    class Careless(ProcessApplication[Any]):
        def polcy(self, domain_event: DomainEvent, process_event: ProcessEvent) -> None:
            pass

    class Forgetful(Follower[Any]):
        pass

    for cls in (Careless, Forgetful):
        with pytest.raises(TypeError, match="abstract"):
            cls()


# -- followers and leaders used directly ---------------------------------------------


def test_follower_and_leader_without_a_runner(
    store_env: Dict[str, str], backend: str, tmp_path: Path
) -> None:
    env = system_env(store_env, backend, tmp_path, Worlds, Counters)
    prompts: List[str] = []

    class Listener(Promptable):
        def receive_prompt(self, leader_name: str) -> None:
            prompts.append(leader_name)

    class Leading(Leader[World], Worlds):
        name = "Worlds"

    with Leading(env=env) as worlds, Counters(env=env) as counters:
        worlds.lead(Listener())
        world_id = worlds.create_world("earth")
        worlds.make_it_so(world_id, "rain")
        assert prompts == ["Worlds", "Worlds"]

        with pytest.raises(ValueError, match="'Counters' does not follow 'Worlds'"):
            counters.pull_and_process("Worlds")
        counters.follow("Worlds", worlds.log)
        counters.pull_and_process("Worlds")
        assert counters.get_count("rain") == 1
        counters.pull_and_process("Worlds")  # nothing new: nothing repeated
        assert counters.get_count("rain") == 1
        assert counters.process_recorder.max_tracking_id("Worlds") == 2


def test_a_follower_takes_automatic_snapshots_of_what_its_policy_saved(
    store_env: Dict[str, str], backend: str, tmp_path: Path
) -> None:
    class SnapshottingCounters(Counters):
        snapshotting_intervals = {Counter: 2}

    env = system_env(store_env, backend, tmp_path, Worlds, SnapshottingCounters)
    with Worlds(env=env) as worlds, SnapshottingCounters(env=env) as counters:
        world_id = worlds.create_world("earth")
        for _ in range(3):
            worlds.make_it_so(world_id, "rain")
        counters.follow("Worlds", worlds.log)
        counters.pull_and_process("Worlds")
        assert counters.snapshots is not None
        snapshots = list(counters.snapshots.get(Counter.create_id("rain")))
        assert [s.originator_version for s in snapshots] == [2, 4]
        assert snapshots[-1].state["count"] == 3


def test_process_event_collects_in_save_order_with_its_tracking() -> None:
    from eventsourcing.persistence import Tracking

    tracking = Tracking("Worlds", 7)
    process_event = ProcessEvent(tracking)
    first, second = Counter("a"), Counter("b")
    first.increment()
    process_event.save(first)
    second.increment()
    first.increment()
    process_event.save(second, first)
    assert process_event.tracking is tracking
    assert [(e.originator_id, e.originator_version) for e in process_event.events] == [
        (first.id, 1),
        (first.id, 2),
        (second.id, 1),
        (second.id, 2),
        (first.id, 3),
    ]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_applications_of_a_system_have_their_own_postgres_tables(
    backend: str, store_env: Dict[str, str]
) -> None:
    """In one schema, each application's tables are named after it (9.1 names)."""
    import psycopg

    runner = SingleThreadedRunner(System(pipes=MANY_PIPES), env=store_env)
    runner.start()
    try:
        worlds = runner.get(Worlds)
        worlds.make_it_so(worlds.create_world("earth"), "rain")
        assert runner.get(Reports).tallies() == (1, 1)
    finally:
        runner.stop()
    with psycopg.connect(
        host=store_env["POSTGRES_HOST"],
        port=int(store_env["POSTGRES_PORT"]),
        user=store_env["POSTGRES_USER"],
        password=store_env["POSTGRES_PASSWORD"],
        dbname=store_env["POSTGRES_DBNAME"],
    ) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (store_env["POSTGRES_SCHEMA"],),
        ).fetchall()
    assert {row[0] for row in rows} == {
        "worlds_events",
        "counters_events",
        "counters_tracking",
        "historians_events",
        "historians_tracking",
        "reports_events",
        "reports_tracking",
    }


# -- a cycle: two applications following each other ------------------------------

RALLY_LENGTH = 10


class Rally(Aggregate):
    def __init__(self, origin: Optional[UUID] = None) -> None:
        self.origin = origin
        self.hits: List[int] = []

    @staticmethod
    def create_id(origin: Optional[UUID] = None) -> UUID:
        return uuid5(NAMESPACE_URL, f"/rallies/{origin}") if origin else uuid4()

    @event("Hit")
    def hit(self, n: int, origin: UUID) -> None:
        self.hits.append(n)


class Ping(Signalling, ProcessApplication[Rally]):
    def serve(self) -> UUID:
        rally = Rally()
        rally.hit(1, origin=rally.id)
        self.save(rally)
        return rally.id

    def policy(self, domain_event: DomainEvent, process_event: ProcessEvent) -> None:
        if isinstance(domain_event, Rally.Hit) and domain_event.n < RALLY_LENGTH:
            rally = self.repository.get(domain_event.origin)
            rally.hit(domain_event.n + 1, origin=rally.id)
            process_event.save(rally)


class Pong(Signalling, ProcessApplication[Rally]):
    def policy(self, domain_event: DomainEvent, process_event: ProcessEvent) -> None:
        if isinstance(domain_event, Rally.Hit) and domain_event.n < RALLY_LENGTH:
            try:
                rally = self.repository.get(Rally.create_id(domain_event.origin))
            except AggregateNotFound:
                rally = Rally(origin=domain_event.origin)
            rally.hit(domain_event.n + 1, origin=domain_event.origin)
            process_event.save(rally)


def test_applications_following_each_other(
    runner_cls: Type[Runner],
    backend: str,
    store_env: Dict[str, str],
    tmp_path: Path,
    started: List[Runner],
) -> None:
    system = System(pipes=[[Ping, Pong, Ping]])
    assert system.follows == {"Pong": ["Ping"], "Ping": ["Pong"]}
    runner = make_runner(runner_cls, system, system_env(store_env, backend, tmp_path, Ping, Pong))
    runner.start()
    started.append(runner)
    ping, pong = runner.get(Ping), runner.get(Pong)
    rallies = [ping.serve(), ping.serve()]
    if isinstance(runner, MultiThreadedRunner):
        # Per rally, each log has a created event and five hits.
        expected = 6 * len(rallies)

        def rallies_over() -> bool:
            return (
                ping.recorder.max_notification_id() == expected
                and pong.recorder.max_notification_id() == expected
                and ping.process_recorder.max_tracking_id("Pong") == expected
                and pong.process_recorder.max_tracking_id("Ping") == expected
            )

        with PROGRESS:
            PROGRESS.wait_for(lambda: rallies_over() or runner.has_errors.is_set(), WAIT_TIMEOUT)
        assert runner.errors == [] and rallies_over()
    for rally_id in rallies:
        assert ping.repository.get(rally_id).hits == [1, 3, 5, 7, 9]
        assert pong.repository.get(Rally.create_id(rally_id)).hits == [2, 4, 6, 8, 10]


def test_concurrent_writers_upstream_every_event_counted_once(
    backend: str, store_env: Dict[str, str], tmp_path: Path
) -> None:
    """Writers in several threads save to the leader while the follower's thread
    processes: the follower never skips a notification that became visible late."""
    env = system_env(store_env, backend, tmp_path, Worlds, Counters)
    runner = MultiThreadedRunner(
        System(pipes=[[Worlds, Counters]]), env=env, on_error=notify_progress
    )
    runner.start()
    try:
        check_concurrent_writers(runner)
    finally:
        runner.stop()


def check_concurrent_writers(runner: MultiThreadedRunner) -> None:
    worlds, counters = runner.get(Worlds), runner.get(Counters)
    writers, each = 4, 15
    barrier = threading.Barrier(writers)
    errors: List[BaseException] = []

    def write(n: int) -> None:
        try:
            world_id = worlds.create_world(f"world {n}")
            barrier.wait()
            for i in range(each):
                worlds.make_it_so(world_id, ("rain", "snow", "wind")[(n + i) % 3])
        except BaseException as e:  # re-raised below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    wait_until_processed(runner, counters, worlds)
    total = sum(counters.get_count(w) for w in ("rain", "snow", "wind"))
    assert total == writers * each
    assert counters.get_count("rain") == counters.get_count("snow") == counters.get_count("wind")


def test_follower_decrypts_upstream_events_with_the_leaders_key(
    backend: str, store_env: Dict[str, str], tmp_path: Path
) -> None:
    cipher = pytest.importorskip("eventsourcing.cipher")
    env = system_env(store_env, backend, tmp_path, Worlds, Counters)
    env.update(
        CIPHER_TOPIC="aes",
        WORLDS_CIPHER_KEY=cipher.AESCipher.create_key(16),
        COUNTERS_CIPHER_KEY=cipher.AESCipher.create_key(32),
    )
    runner = SingleThreadedRunner(System(pipes=[[Worlds, Counters]]), env=env)
    runner.start()
    try:
        worlds, counters = runner.get(Worlds), runner.get(Counters)
        worlds.make_it_so(worlds.create_world("earth"), "dinosaurs")
        assert counters.get_count("dinosaurs") == 1
        stored = worlds.recorder.select_notifications(
            1, 10
        ) + counters.recorder.select_notifications(1, 10)
        assert len(stored) == 4 and not any(b"dinosaurs" in n.state for n in stored)
    finally:
        runner.stop()


def test_single_threaded_runner_with_saves_in_several_threads(
    backend: str, store_env: Dict[str, str], tmp_path: Path
) -> None:
    """A prompt that arrives while another thread processes is processed by it:
    once every save has returned, every event has been counted."""
    env = system_env(store_env, backend, tmp_path, Worlds, Counters)
    runner = SingleThreadedRunner(System(pipes=[[Worlds, Counters]]), env=env)
    runner.start()
    try:
        worlds, counters = runner.get(Worlds), runner.get(Counters)
        writers, each = 3, 10
        barrier = threading.Barrier(writers)
        errors: List[BaseException] = []

        def write() -> None:
            try:
                world_id = worlds.create_world("shared")
                barrier.wait()
                for _ in range(each):
                    worlds.make_it_so(world_id, "storms")
            except BaseException as e:  # asserted below
                errors.append(e)

        threads = [threading.Thread(target=write) for _ in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert counters.get_count("storms") == writers * each
        assert counters.process_recorder.max_tracking_id("Worlds") == (
            worlds.recorder.max_notification_id()
        )
    finally:
        runner.stop()
