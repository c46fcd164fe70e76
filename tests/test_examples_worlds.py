"""The worlds/counters system on every backend, with both runners."""

from __future__ import annotations

import threading
from typing import Dict, List

from eventsourcing.domain import DomainEvent
from eventsourcing.system import MultiThreadedRunner, SingleThreadedRunner, System
from examples.worlds.application import Counters, Worlds, worlds_system


def system_env(store_env: Dict[str, str]) -> Dict[str, str]:
    """Each application gets its own SQLite file: SQLite tables are not named per app."""
    env = dict(store_env)
    db = env.pop("SQLITE_DBNAME", None)
    if db is not None:
        env["WORLDS_SQLITE_DBNAME"] = db.replace(".sqlite", "-worlds.sqlite")
        env["COUNTERS_SQLITE_DBNAME"] = db.replace(".sqlite", "-counters.sqlite")
    return env


def test_counters_count_what_happens_and_resume_after_a_restart(
    store_env: Dict[str, str], backend: str
) -> None:
    env = system_env(store_env)
    runner = SingleThreadedRunner(worlds_system(), env=env)
    runner.start()
    try:
        worlds = runner.get(Worlds)
        earth = worlds.create_world("earth")
        mars = worlds.create_world("mars")
        for world_id, what in [(earth, "dinosaurs"), (mars, "dust"), (earth, "dinosaurs")]:
            worlds.make_it_so(world_id, what)
        counters = runner.get(Counters)
        assert counters.get_count("dinosaurs") == 2
        assert counters.get_count("dust") == 1
        assert counters.get_count("trucks") == 0
        assert worlds.get_history(earth) == ["dinosaurs", "dinosaurs"]
    finally:
        runner.stop()
    if backend == "popo":
        return  # nothing outlives the applications

    # A new runner on the same stores: nothing is counted twice, new events are counted.
    runner = SingleThreadedRunner(worlds_system(), env=env)
    runner.start()
    try:
        counters = runner.get(Counters)
        assert counters.get_count("dinosaurs") == 2
        runner.get(Worlds).make_it_so(mars, "dinosaurs")
        assert counters.get_count("dinosaurs") == 3
        assert counters.process_recorder.max_tracking_id("Worlds") == 6
    finally:
        runner.stop()


class ObservedCounters(Counters):
    """Counters that say when they have processed a given number of notifications."""

    name = "Counters"
    processed = threading.Event()
    target = 0

    def notify(self, new_events: List[DomainEvent]) -> None:
        super().notify(new_events)
        if self.process_recorder.max_tracking_id("Worlds") >= type(self).target:
            type(self).processed.set()


def test_multithreaded_runner(store_env: Dict[str, str]) -> None:
    ObservedCounters.processed.clear()
    ObservedCounters.target = 11  # one world created, ten things happened
    runner = MultiThreadedRunner(System([[Worlds, ObservedCounters]]), env=system_env(store_env))
    runner.start()
    try:
        worlds = runner.get(Worlds)
        world_id = worlds.create_world("venus")
        for i in range(10):
            worlds.make_it_so(world_id, "storm" if i % 2 else "calm")
        assert ObservedCounters.processed.wait(timeout=30), runner.errors
        counters = runner.get(ObservedCounters)
        assert (counters.get_count("storm"), counters.get_count("calm")) == (5, 5)
    finally:
        runner.stop()
    assert runner.errors == []


def test_a_counter_is_an_aggregate_with_a_name_derived_id() -> None:
    from examples.worlds.domain import Counter

    assert Counter("x").id == Counter.create_id("x") != Counter.create_id("y")


def test_system_definition() -> None:
    system = worlds_system()
    assert system.leads == {"Worlds": ["Counters"]}
    assert system.follows == {"Counters": ["Worlds"]}
