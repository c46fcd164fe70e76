"""The application chapter: commands, queries, repository versions, the
notification log of an application, snapshotting, transcodings, compression,
saving, closing. Every test runs on every installed backend."""

from __future__ import annotations

import zlib
from datetime import date
from decimal import Decimal
from typing import Any, Callable, Dict, Iterator, List, Optional
from uuid import UUID

import pytest

from eventsourcing.application import (
    AggregateNotFound,
    Application,
    ProcessingEvent,
    Recording,
)
from eventsourcing.domain import Aggregate, Snapshot, event
from eventsourcing.persistence import (
    EventStore,
    IntegrityError,
    Notification,
    PersistenceError,
    Tracking,
    Transcoder,
    Transcoding,
)

# -- the domain model used here ---------------------------------------------


class Planet(Aggregate):
    def __init__(self) -> None:
        self.chronicle: List[str] = []

    @event("EraBegan")
    def begin_era(self, era: str) -> None:
        self.chronicle.append(era)


class Planets(Application[Planet]):
    def found_planet(self) -> UUID:
        planet = Planet()
        self.save(planet)
        return planet.id

    def begin_era(self, planet_id: UUID, era: str) -> None:
        planet = self.repository.get(planet_id)
        planet.begin_era(era)
        self.save(planet)

    def chronicle_of(self, planet_id: UUID) -> List[str]:
        return list(self.repository.get(planet_id).chronicle)


ERAS = ("ice age", "bronze age", "steam age")

OpenApp = Callable[..., Any]


@pytest.fixture
def open_app(store_env: Dict[str, str]) -> Iterator[OpenApp]:
    """Construct applications on the test's isolated store; close them afterwards."""
    apps: List[Application[Any]] = []

    def open_(cls: type = Planets, env: Optional[Dict[str, str]] = None) -> Any:
        app = cls(env={**store_env, **(env or {})})
        apps.append(app)
        return app

    yield open_
    for app in reversed(apps):
        app.close()


def chronicled_planet(app: Planets) -> UUID:
    planet_id = app.found_planet()
    for era in ERAS:
        app.begin_era(planet_id, era)
    return planet_id


# -- commands and queries -----------------------------------------------------


def test_commands_change_and_queries_present_application_state(open_app: OpenApp) -> None:
    app = open_app()
    planet_id = chronicled_planet(app)
    assert app.chronicle_of(planet_id) == list(ERAS)


def test_application_name_defaults_to_class_name_and_can_be_set() -> None:
    class Moons(Application[Any]):
        name = "Satellites"

    assert Planets.name == "Planets"
    assert Moons.name == "Satellites"
    assert Application.name == "Application"


def test_repository_returns_each_version_and_the_latest_beyond_it(
    open_app: OpenApp,
) -> None:
    app = open_app()
    planet_id = chronicled_planet(app)

    latest = app.repository.get(planet_id)
    assert latest.version == 4 and latest.chronicle == list(ERAS)
    for version in (1, 2, 3, 4):
        planet = app.repository.get(planet_id, version=version)
        assert planet.version == version
        assert planet.chronicle == list(ERAS[: version - 1])
    beyond = app.repository.get(planet_id, version=99)
    assert beyond.version == 4 and beyond.chronicle == list(ERAS)


def test_repository_raises_aggregate_not_found_naming_the_id(open_app: OpenApp) -> None:
    app = open_app()
    missing = Planet().id  # created but never saved
    with pytest.raises(AggregateNotFound, match=str(missing)):
        app.repository.get(missing)
    assert missing not in app.repository


# -- the application's notification log -----------------------------------


def test_log_presents_every_recorded_event_as_a_notification(open_app: OpenApp) -> None:
    app = open_app()
    planet_id = chronicled_planet(app)

    section = app.log["1,10"]
    assert section.id == "1,4"
    assert section.next_id is None
    assert [n.id for n in section.items] == [1, 2, 3, 4]
    assert all(isinstance(n, Notification) for n in section.items)
    assert [n.originator_id for n in section.items] == [planet_id] * 4
    assert [n.originator_version for n in section.items] == [1, 2, 3, 4]
    assert section.items[0].topic.endswith("Planet.Created")
    assert all(n.topic.endswith("Planet.EraBegan") for n in section.items[1:])
    for era, notification in zip(ERAS, section.items[1:], strict=True):
        assert era.encode() in notification.state

    created = app.mapper.to_domain_event(section.items[0])
    assert isinstance(created, Planet.Created)
    assert created.originator_id == planet_id
    last = app.mapper.to_domain_event(section.items[3])
    assert isinstance(last, Planet.EraBegan)
    assert last.era == "steam age"


# -- saving ---------------------------------------------------------------------


def test_save_returns_a_recording_of_each_event_with_its_notification(
    open_app: OpenApp,
) -> None:
    app = open_app()
    first, second = Planet(), Planet()
    second.begin_era("ice age")
    recordings = app.save(first, second)

    assert all(isinstance(r, Recording) for r in recordings)
    assert [r.domain_event.originator_id for r in recordings] == [
        first.id,
        second.id,
        second.id,
    ]
    ids = [r.notification.id for r in recordings if r.notification is not None]
    assert len(ids) == 3 and ids == sorted(ids)
    assert app.log.select(ids[0], 3) == [r.notification for r in recordings]
    assert app.recorder.max_notification_id() == ids[-1]


def test_save_without_pending_events_records_nothing(open_app: OpenApp) -> None:
    app = open_app()
    planet = Planet()
    app.save(planet)
    assert app.save(planet) == []
    assert app.save() == []
    assert app.save(None) == []
    assert app.recorder.max_notification_id() == 1


def test_save_of_several_aggregates_is_all_or_nothing(open_app: OpenApp) -> None:
    app = open_app()
    stale_id = app.found_planet()
    stale = app.repository.get(stale_id)
    app.begin_era(stale_id, "ice age")  # now `stale` is one version behind
    stale.begin_era("bronze age")  # conflicts with version 2 recorded above
    newcomer = Planet()

    with pytest.raises(PersistenceError):
        app.save(newcomer, stale)

    # Both aggregates keep their events, ready for another attempt.
    assert [type(e) for e in newcomer.pending_events] == [Planet.Created]
    assert [e.era for e in stale.pending_events] == ["bronze age"]
    with pytest.raises(AggregateNotFound):
        app.repository.get(newcomer.id)
    assert app.chronicle_of(stale_id) == ["ice age"]
    assert app.recorder.max_notification_id() == 2


def test_notify_is_called_with_the_new_events_after_they_are_recorded(
    open_app: OpenApp,
) -> None:
    class Noticing(Planets):
        def __init__(self, env: Optional[Dict[str, str]] = None) -> None:
            super().__init__(env)
            self.noticed: List[Any] = []

        def notify(self, new_events: List[Any]) -> None:
            # Recorded already: the log has them when we are told.
            assert self.recorder.max_notification_id() >= len(new_events)
            self.noticed.append(list(new_events))

    app = open_app(Noticing)
    planet = Planet()
    planet.begin_era("ice age")
    app.save(planet)
    assert [[type(e) for e in batch] for batch in app.noticed] == [
        [Planet.Created, Planet.EraBegan]
    ]


# -- snapshotting ---------------------------------------------------------------


def test_snapshotting_is_not_enabled_by_default(open_app: OpenApp) -> None:
    app = open_app()
    assert app.snapshots is None
    planet_id = app.found_planet()
    with pytest.raises(ValueError, match="IS_SNAPSHOTTING_ENABLED"):
        app.take_snapshot(planet_id)


def test_take_snapshot_stores_the_recorded_state(open_app: OpenApp) -> None:
    app = open_app(env={"IS_SNAPSHOTTING_ENABLED": "y"})
    planet_id = chronicled_planet(app)
    app.take_snapshot(planet_id)

    snapshots = list(app.snapshots.get(planet_id, desc=True, limit=1))
    assert len(snapshots) == 1
    snapshot = snapshots[0]
    assert isinstance(snapshot, Snapshot)
    assert snapshot.originator_id == planet_id
    assert snapshot.originator_version == 4
    assert snapshot.state["chronicle"] == list(ERAS)

    # Taking the same snapshot again is harmless; an earlier version too.
    app.take_snapshot(planet_id)
    app.take_snapshot(planet_id, version=2)
    versions = [s.originator_version for s in app.snapshots.get(planet_id)]
    assert versions == [2, 4]


def test_repository_starts_from_the_latest_snapshot_at_or_below_the_version(
    open_app: OpenApp,
) -> None:
    app = open_app(env={"IS_SNAPSHOTTING_ENABLED": "y"})
    planet_id = app.found_planet()
    app.begin_era(planet_id, "ice age")
    app.take_snapshot(planet_id)  # version 2
    app.begin_era(planet_id, "bronze age")
    app.begin_era(planet_id, "steam age")

    planet = app.repository.get(planet_id)
    assert planet.chronicle == list(ERAS) and planet.version == 4
    assert app.repository.get(planet_id, version=3).chronicle == list(ERAS[:2])
    # Below the snapshot, the events alone are used.
    assert app.repository.get(planet_id, version=1).chronicle == []


def test_repository_really_uses_snapshots(open_app: OpenApp) -> None:
    """A snapshot whose state differs from the events is what the repository
    returns: proof that the events before it were not replayed."""
    app = open_app(env={"IS_SNAPSHOTTING_ENABLED": "y"})
    planet_id = chronicled_planet(app)
    planet = app.repository.get(planet_id)
    planet.chronicle = ["(from snapshot)"]
    app.snapshots.put([Snapshot.take(planet)])

    assert app.repository.get(planet_id).chronicle == ["(from snapshot)"]
    assert app.repository.get(planet_id, version=3).chronicle == list(ERAS[:2])


class Comet(Aggregate):
    @event("Passed")
    def pass_by(self) -> None:
        pass


class PlanetsSnapshottedEveryTwo(Planets):
    snapshotting_intervals = {Planet: 2}


def test_automatic_snapshots_are_taken_at_the_interval(open_app: OpenApp) -> None:
    app = open_app(PlanetsSnapshottedEveryTwo)
    assert app.snapshots is not None
    planet_id = chronicled_planet(app)  # versions 1..4, one event per save

    versions = [s.originator_version for s in app.snapshots.get(planet_id)]
    assert versions == [2, 4]
    assert all(s.originator_id == planet_id for s in app.snapshots.get(planet_id))
    assert app.chronicle_of(planet_id) == list(ERAS)


def test_automatic_snapshot_when_one_save_passes_the_interval(open_app: OpenApp) -> None:
    app = open_app(PlanetsSnapshottedEveryTwo)
    planet = Planet()
    for era in ERAS:
        planet.begin_era(era)
    app.save(planet)  # versions 1..4 at once

    snapshots = list(app.snapshots.get(planet.id))
    assert [s.originator_version for s in snapshots] == [4]
    assert snapshots[0].state["chronicle"] == list(ERAS)


def test_automatic_snapshots_only_for_the_configured_aggregate_class(
    open_app: OpenApp,
) -> None:
    app = open_app(PlanetsSnapshottedEveryTwo)
    comet = Comet()
    comet.pass_by()
    comet.pass_by()
    app.save(comet)
    assert list(app.snapshots.get(comet.id)) == []


class Supernova(Aggregate):
    """Its last event discards it: that event's mutate() returns None."""

    class Exploded(Aggregate.Event):
        def mutate(self, aggregate: Optional[Aggregate]) -> Optional[Aggregate]:
            super().mutate(aggregate)
            return None

    def explode(self) -> None:
        self.trigger_event(self.Exploded)


def test_no_automatic_snapshot_brings_back_a_discarded_aggregate(open_app: OpenApp) -> None:
    class Observatory(Application[Any]):
        snapshotting_intervals = {Supernova: 2}

    app = open_app(Observatory)
    star = Supernova()
    app.save(star)
    star.explode()  # version 2: at the interval, but there is no aggregate any more
    app.save(star)
    with pytest.raises(AggregateNotFound):
        app.repository.get(star.id)


# -- transcodings, compression and encryption --------------------------------


class Mission(Aggregate):
    def __init__(self, launch: date, budget: Decimal) -> None:
        self.launch = launch
        self.budget = budget

    @event("Rescheduled")
    def reschedule(self, launch: date) -> None:
        self.launch = launch


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class Missions(Application[Mission]):
    def register_transcodings(self, transcoder: Transcoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())


def test_application_registers_its_own_transcodings(open_app: OpenApp) -> None:
    app = open_app(Missions)
    mission = Mission(launch=date(2030, 1, 2), budget=Decimal("1.50"))
    mission.reschedule(date(2031, 3, 4))
    app.save(mission)

    copy = app.repository.get(mission.id)
    assert copy.launch == date(2031, 3, 4)
    assert copy.budget == Decimal("1.50")  # a plugin transcoding (decimal_str)
    states = [n.state for n in app.log.select(1, 10)]
    assert b'"_type_": "date_iso"' in states[1]
    assert b'"2031-03-04"' in states[1]


def test_unregistered_type_fails_to_save_and_records_nothing(open_app: OpenApp) -> None:
    app = open_app(Application)
    mission = Mission(launch=date(2030, 1, 2), budget=Decimal("1"))
    with pytest.raises(TypeError, match="date"):
        app.save(mission)
    assert app.recorder.max_notification_id() == 0


def test_plugin_transcodings_come_before_the_application_s(open_app: OpenApp) -> None:
    from eventsourcing.hookspecs import hookimpl
    from eventsourcing.plugins import get_plugin_manager

    class DateAsOrdinal(Transcoding):
        type = date
        name = "date_ordinal"

        def encode(self, obj: date) -> int:
            return obj.toordinal()

        def decode(self, data: int) -> date:
            return date.fromordinal(data)

    class DatePlugin:
        @hookimpl
        def eventsourcing_transcodings(self) -> List[Transcoding]:
            return [DateAsOrdinal()]

    manager = get_plugin_manager()
    manager.register(DatePlugin(), name="test-date-plugin")
    try:
        plain = open_app(Application)
        own = open_app(Missions)
    finally:
        manager.unregister(name="test-date-plugin")

    for app, marker in ((plain, b"date_ordinal"), (own, b"date_iso")):
        mission = Mission(launch=date(2030, 1, 2), budget=Decimal("1"))
        (recording,) = app.save(mission)
        assert recording.notification is not None
        assert marker in recording.notification.state
        assert app.repository.get(mission.id).launch == date(2030, 1, 2)


def test_compression_configured_by_environment(open_app: OpenApp) -> None:
    app = open_app(env={"COMPRESSOR_TOPIC": "zlib"})
    planet_id = chronicled_planet(app)

    stored = app.log.select(1, 4)
    assert b"steam age" not in stored[3].state
    assert b"steam age" in zlib.decompress(stored[3].state)
    assert app.chronicle_of(planet_id) == list(ERAS)
    assert app.mapper.to_domain_event(stored[3]).era == "steam age"


def test_encryption_and_compression_configured_by_environment(
    open_app: OpenApp,
) -> None:
    from eventsourcing.plugins import ciphers

    if "aes" not in ciphers():
        pytest.skip("eventsourcing-crypto (the 'aes' cipher) is not installed")
    from eventsourcing.cipher import AESCipher, DecryptionError

    key = AESCipher.create_key(num_bytes=32)
    app = open_app(
        env={
            "CIPHER_TOPIC": "eventsourcing.cipher:AESCipher",
            "CIPHER_KEY": key,
            "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor",
        }
    )
    planet_id = chronicled_planet(app)

    stored = app.log.select(1, 4)
    assert all(b"age" not in n.state for n in stored)
    plaintext = AESCipher(key).decrypt(stored[3].state)
    assert b"steam age" in zlib.decompress(plaintext)
    assert app.chronicle_of(planet_id) == list(ERAS)

    other_key = open_app(env={"CIPHER_KEY": AESCipher.create_key(num_bytes=16)})
    with pytest.raises(DecryptionError):
        other_key.mapper.to_domain_event(stored[0])


# -- persistence across instances, closing ---------------------------------


def test_a_new_instance_on_the_same_store_reads_what_was_saved(
    backend: str, open_app: OpenApp
) -> None:
    if backend == "popo":
        pytest.skip("in-memory stores belong to one application instance")
    first = open_app()
    planet_id = chronicled_planet(first)
    first.close()

    second = open_app()
    assert second.chronicle_of(planet_id) == list(ERAS)
    second.begin_era(planet_id, "space age")
    assert second.log["1,10"].id == "1,5"


def test_close_releases_the_store_and_is_idempotent(open_app: OpenApp) -> None:
    app = open_app()
    planet_id = app.found_planet()
    app.close()
    app.close()
    with pytest.raises(PersistenceError):
        app.repository.get(planet_id)


def test_context_manager_closes_the_application(store_env: Dict[str, str]) -> None:
    with Planets(env=store_env) as app:
        planet_id = app.found_planet()
        assert app.chronicle_of(planet_id) == []
    with pytest.raises(PersistenceError):
        app.recorder.max_notification_id()


def test_a_failed_save_loses_no_events_and_can_be_retried(backend: str, open_app: OpenApp) -> None:
    app = open_app()
    planet = Planet()
    planet.begin_era("ice age")
    app.close()  # the store is unavailable for this save
    with pytest.raises(PersistenceError):
        app.save(planet)
    assert [type(e) for e in planet.pending_events] == [Planet.Created, Planet.EraBegan]

    if backend != "popo":  # the store outlives the application
        retry = open_app()
        retry.save(planet)
        assert retry.chronicle_of(planet.id) == ["ice age"]
        assert planet.pending_events == []


def test_a_conflicting_save_leaves_the_events_pending(open_app: OpenApp) -> None:
    app = open_app()
    planet_id = app.found_planet()
    first, second = app.repository.get(planet_id), app.repository.get(planet_id)
    first.begin_era("ice age")
    second.begin_era("bronze age")
    app.save(first)
    with pytest.raises(PersistenceError):
        app.save(second)
    assert [e.era for e in second.pending_events] == ["bronze age"]
    assert app.chronicle_of(planet_id) == ["ice age"]


def test_a_failed_construction_closes_what_it_opened(store_env: Dict[str, str]) -> None:
    opened: List[Any] = []

    class Broken(Planets):
        def construct_repository(self) -> Any:
            opened.append(self.recorder)
            raise RuntimeError("repository cannot be constructed")

    with pytest.raises(RuntimeError, match="repository cannot"):
        Broken(env=store_env)
    (recorder,) = opened
    with pytest.raises(PersistenceError):
        recorder.max_notification_id()


class TrackingPlanets(Planets):
    """Uses the recording hook as a process application does: new events and
    the position of the upstream notification they came from, in one insert."""

    def construct_recorder(self) -> Any:
        return self.factory.process_recorder()

    def process(self, upstream: str, notification_id: int, *planets: Planet) -> List[Recording]:
        processing_event = ProcessingEvent(Tracking(upstream, notification_id))
        processing_event.collect_events(*planets)
        return self.record(processing_event)


def test_record_hook_stores_events_and_tracking_atomically(open_app: OpenApp) -> None:
    app = open_app(TrackingPlanets)
    planet = Planet()
    recordings = app.process("Upstream", 7, planet)
    assert [r.domain_event.originator_id for r in recordings] == [planet.id]
    assert app.recorder.max_tracking_id("Upstream") == 7
    assert app.repository.get(planet.id).version == 1

    # The same upstream position again: neither tracking nor events recorded.
    other = Planet()
    with pytest.raises(IntegrityError):
        app.process("Upstream", 7, other)
    with pytest.raises(AggregateNotFound):
        app.repository.get(other.id)
    assert app.recorder.max_notification_id() == 1

    # Tracking alone (a notification that caused no new events) is recorded too.
    assert app.process("Upstream", 8) == []
    assert app.recorder.max_tracking_id("Upstream") == 8


class CountingEventStore(EventStore[Any]):
    """An event store that notes every write: saves, tracking and snapshots alike."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.puts: List[Any] = []

    def put(self, events: Any, **kwargs: Any) -> List[Recording]:
        recordings = super().put(events, **kwargs)
        self.puts.append(([e.originator_version for e in events], kwargs, recordings))
        return recordings


class CountedPlanets(TrackingPlanets):
    is_snapshotting_enabled = True

    def construct_event_store(self) -> EventStore[Any]:
        return CountingEventStore(mapper=self.mapper, recorder=self.recorder)

    def construct_snapshot_store(self) -> Optional[EventStore[Any]]:
        store = super().construct_snapshot_store()
        assert store is not None
        return CountingEventStore(mapper=store.mapper, recorder=store.recorder)


def test_every_write_goes_through_the_event_store_put(open_app: OpenApp) -> None:
    app = open_app(CountedPlanets)
    planet = Planet()
    planet.begin_era("ice age")
    saved = app.save(planet)
    planet.begin_era("steam age")
    processed = app.process("Upstream", 3, planet)
    app.take_snapshot(planet.id)
    assert app.events.puts == [
        ([1, 2], {}, saved),
        ([3], {"tracking": Tracking("Upstream", 3)}, processed),
    ]
    assert app.recorder.max_tracking_id("Upstream") == 3
    ((versions, kwargs, recordings),) = app.snapshots.puts
    assert versions == [3] and kwargs == {}
    assert [r.notification for r in recordings] == [None]


# Names eventsourcing 9.1.9 exported from this module.


def test_mutate_aggregate_projects_events_in_order_as_in_91() -> None:
    from eventsourcing.application import mutate_aggregate

    planet = Planet()
    planet.begin_era("ice age")
    planet.begin_era("bronze age")
    events = planet.collect_events()
    projected = mutate_aggregate(None, events)
    assert isinstance(projected, Planet)
    assert projected.id == planet.id and projected.version == planet.version == 3
    assert projected.chronicle == ["ice age", "bronze age"]
    # From a later state, only the later events.
    partial = mutate_aggregate(None, events[:2])
    assert partial is not None and partial.chronicle == ["ice age"]
    resumed = mutate_aggregate(partial, events[2:])
    assert resumed is not None and resumed.chronicle == projected.chronicle
    assert mutate_aggregate(projected, []) is projected


def test_process_event_is_importable_from_the_application_module_as_in_91() -> None:
    from eventsourcing.application import ProcessEvent, ProcessingEvent
    from eventsourcing.persistence import Tracking
    from eventsourcing.system import ProcessEvent as SystemProcessEvent

    assert SystemProcessEvent is ProcessEvent and issubclass(ProcessEvent, ProcessingEvent)
    planet = Planet()
    process_event = ProcessEvent(Tracking("Upstream", 3))
    process_event.save(planet)
    assert [type(e) for e in process_event.events] == [Planet.Created]
    assert process_event.tracking == Tracking("Upstream", 3)


def test_take_snapshot_without_a_snapshot_store_raises_as_in_91() -> None:
    from eventsourcing.application import SnapshottingNotEnabled
    from eventsourcing.utils import ConfigurationError

    with Planets() as app:
        planet_id = app.found_planet()
        with pytest.raises(AssertionError, match=r"^Can't take snapshot without snapshots store"):
            app.take_snapshot(planet_id)
    assert issubclass(SnapshottingNotEnabled, ConfigurationError)


def test_repository_get_takes_a_projector_function_as_in_91() -> None:
    seen: List[int] = []

    def projector(aggregate: Optional[Planet], events: Any) -> Optional[Planet]:
        for domain_event in events:
            seen.append(domain_event.originator_version)
            aggregate = domain_event.mutate(aggregate)
        return aggregate

    with Planets(env={"AGGREGATE_CACHE_MAXSIZE": "10"}) as app:
        planet_id = app.found_planet()
        app.begin_era(planet_id, "ice age")
        assert app.repository.cache is not None
        app.repository.get(planet_id)  # cached
        planet = app.repository.get(planet_id, projector_func=projector)
        assert planet.chronicle == ["ice age"] and seen == [1, 2]
        # Every call projects (the cache holds what the default function made).
        app.repository.get(planet_id, projector_func=projector)
        assert seen == [1, 2, 1, 2]
