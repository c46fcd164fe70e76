"""Async applications (eventsourcing.asyncio) on every installed backend:
the same model and stored data as the sync application, cancellation that
records all or nothing, subscriptions, and an event loop that is not blocked."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, List, Optional, Sequence
from uuid import UUID

import pytest

from eventsourcing.application import AggregateNotFound, Application, SnapshottingNotEnabled
from eventsourcing.asyncio import (
    AsyncApplication,
    AsyncApplicationRecorder,
    AsyncEventStore,
    AsyncSubscription,
)
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, Notification, StoredEvent


class Planet(Aggregate):
    @event("Founded")
    def __init__(self, name: str) -> None:
        self.name = name
        self.chronicle: List[str] = []

    @event("EraBegan")
    def begin_era(self, era: str) -> None:
        self.chronicle.append(era)


class Planets(AsyncApplication[Planet]):
    pass


class SyncPlanets(Application[Planet]):
    name = "Planets"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def durable(backend: str) -> None:
    if backend == "popo":
        pytest.skip("in-memory stores belong to one application instance")


# -- the API -------------------------------------------------------------------


def test_save_get_log_and_snapshots_are_awaitable(store_env: Dict[str, str]) -> None:
    async def scenario() -> None:
        env = {**store_env, "IS_SNAPSHOTTING_ENABLED": "y"}
        async with Planets(env=env) as app:
            planet = Planet("earth")
            planet.begin_era("ice age")
            recordings = await app.save(planet)
            assert [r.domain_event.originator_version for r in recordings] == [1, 2]
            assert [r.notification.id for r in recordings if r.notification] == [1, 2]
            assert planet.pending_events == []

            copy = await app.repository.get(planet.id)
            assert (copy.name, copy.chronicle, copy.version) == ("earth", ["ice age"], 2)
            assert (await app.repository.get(planet.id, version=1)).chronicle == []
            assert await app.repository.contains(planet.id)
            with pytest.raises(AggregateNotFound):
                await app.repository.get(UUID(int=1))

            await app.take_snapshot(planet.id)
            assert app.snapshots is not None
            (snapshot,) = await app.snapshots.get(planet.id)
            assert snapshot.originator_version == 2

            section = await app.log["1,10"]
            assert section.id == "1,2" and section.next_id is None
            assert [n.originator_version for n in section.items] == [1, 2]
            assert [n.id for n in await app.log.select(2, 1)] == [2]

    run(scenario())


def test_an_async_application_stores_what_the_sync_one_reads(
    backend: str, store_env: Dict[str, str]
) -> None:
    durable(backend)
    env = {**store_env, "CIPHER_TOPIC": "", "COMPRESSOR_TOPIC": "zlib"}

    async def write() -> UUID:
        async with Planets(env=env) as app:
            planet = Planet("mars")
            planet.begin_era("dust age")
            await app.save(planet)
            return planet.id

    planet_id = run(write())
    with SyncPlanets(env=env) as sync_app:
        assert sync_app.repository.get(planet_id).chronicle == ["dust age"]
        planet = sync_app.repository.get(planet_id)
        planet.begin_era("iron age")
        sync_app.save(planet)

    async def read() -> List[str]:
        async with Planets(env=env) as app:
            return list((await app.repository.get(planet_id)).chronicle)

    assert run(read()) == ["dust age", "iron age"]


def test_a_conflicting_save_records_nothing_and_leaves_the_events_pending(
    store_env: Dict[str, str],
) -> None:
    async def scenario() -> None:
        async with Planets(env={**store_env, "AGGREGATE_CACHE_MAXSIZE": "10"}) as app:
            planet = Planet("venus")
            await app.save(planet)
            first = await app.repository.get(planet.id)
            second = await app.repository.get(planet.id)
            first.begin_era("cloud age")
            second.begin_era("acid age")
            await app.save(first)
            with pytest.raises(IntegrityError):
                await app.save(second)
            assert len(second.pending_events) == 1
            assert (await app.repository.get(planet.id)).chronicle == ["cloud age"]

    run(scenario())


def test_automatic_snapshots_at_the_interval(store_env: Dict[str, str]) -> None:
    class Snapshotting(Planets):
        snapshotting_intervals = {Planet: 2}

    async def scenario() -> None:
        async with Snapshotting(env=store_env) as app:
            planet = Planet("mercury")
            await app.save(planet)
            planet.begin_era("hot age")
            await app.save(planet)
            assert app.snapshots is not None
            assert [s.originator_version for s in await app.snapshots.get(planet.id)] == [2]

    run(scenario())


def test_take_snapshot_without_snapshotting_says_how_to_enable_it(
    store_env: Dict[str, str],
) -> None:
    async def scenario() -> None:
        async with Planets(env=store_env) as app:
            with pytest.raises(SnapshottingNotEnabled, match="IS_SNAPSHOTTING_ENABLED"):
                await app.take_snapshot(UUID(int=1))

    run(scenario())


def test_the_factory_gives_async_recorders_of_the_selected_backend(
    backend: str, store_env: Dict[str, str]
) -> None:
    async def scenario() -> None:
        async with Planets(env=store_env) as app:
            assert isinstance(app.recorder, AsyncApplicationRecorder)
            # PostgreSQL goes native; the others get the core's thread-offloading adapter.
            native = "eventsourcing.postgres.asyncrecorders"
            expected = native if backend == "postgres" else "eventsourcing.asyncadapter"
            assert type(app.recorder).__module__ == expected

    run(scenario())


# -- cancellation ------------------------------------------------------------------


class GatedRecorder(AsyncApplicationRecorder):
    """A real async recorder whose inserts wait at a gate, so that a test can
    cancel a save while its insert is in flight."""

    def __init__(self, recorder: AsyncApplicationRecorder) -> None:
        self.recorder = recorder
        self.reached = asyncio.Event()
        self.gate = asyncio.Event()

    async def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Optional[Sequence[int]]:
        self.reached.set()
        await self.gate.wait()
        return await self.recorder.insert_events(stored_events, **kwargs)

    async def select_events(self, originator_id: UUID, *args: Any, **kwargs: Any) -> Any:
        return await self.recorder.select_events(originator_id, *args, **kwargs)

    async def select_notifications(self, *args: Any, **kwargs: Any) -> List[Notification]:
        return await self.recorder.select_notifications(*args, **kwargs)

    async def max_notification_id(self) -> int:
        return await self.recorder.max_notification_id()

    def subscribe(self, gt: Optional[int] = None, topics: Sequence[str] = ()) -> AsyncSubscription:
        return self.recorder.subscribe(gt=gt, topics=topics)

    async def close(self) -> None:
        await self.recorder.close()


class GatedPlanets(Planets):
    recorder: GatedRecorder

    def construct_recorder(self) -> GatedRecorder:
        return GatedRecorder(super().construct_recorder())


def test_a_save_cancelled_in_flight_is_recorded_then_cancelled(
    store_env: Dict[str, str],
) -> None:
    async def scenario() -> None:
        async with GatedPlanets(env=store_env) as app:
            planet = Planet("jupiter")
            saving = asyncio.ensure_future(app.save(planet))
            await app.recorder.reached.wait()
            saving.cancel()
            await asyncio.sleep(0)  # the cancellation is delivered to the save
            assert not saving.done()  # it waits for the outcome of the insert
            app.recorder.gate.set()
            with pytest.raises(asyncio.CancelledError):
                await saving
            assert planet.pending_events == []  # recorded: nothing is pending
            assert (await app.repository.get(planet.id)).name == "jupiter"

    run(scenario())


def test_a_save_cancelled_in_flight_that_fails_leaves_its_events_pending(
    store_env: Dict[str, str],
) -> None:
    async def scenario() -> None:
        async with GatedPlanets(env=store_env) as app:
            app.recorder.gate.set()
            planet = Planet("saturn")
            await app.save(planet)
            app.recorder.gate.clear()
            app.recorder.reached.clear()
            rival = await app.repository.get(planet.id)
            rival.begin_era("ring age")
            planet.begin_era("moon age")
            saving = asyncio.ensure_future(app.save(planet))
            await app.recorder.reached.wait()
            saving.cancel()
            # Another writer takes version 2 first: the cancelled save conflicts.
            await AsyncEventStore(app.mapper, app.recorder.recorder).put(rival.collect_events())
            app.recorder.gate.set()
            with pytest.raises(asyncio.CancelledError) as raised:
                await saving
            assert isinstance(raised.value.__cause__, IntegrityError)
            assert [e.originator_version for e in planet.pending_events] == [2]
            assert (await app.repository.get(planet.id)).chronicle == ["ring age"]

    run(scenario())


def test_cancelling_saves_at_any_moment_records_all_or_nothing(
    store_env: Dict[str, str],
) -> None:
    """Cancelled after 0..N turns of the loop: whatever the outcome, the
    aggregate's pending events are exactly those not recorded."""

    async def scenario() -> None:
        async with Planets(env=store_env) as app:
            outcomes = set()
            for turns in range(40):
                planet = Planet(f"p{turns}")
                planet.begin_era("first")
                saving = asyncio.ensure_future(app.save(planet))
                for _ in range(turns):
                    await asyncio.sleep(0)
                saving.cancel()
                try:
                    await saving
                    outcomes.add("finished")
                except asyncio.CancelledError:
                    outcomes.add("cancelled")
                recorded = await app.events.get(planet.id)
                pending = planet.pending_events
                assert len(recorded) + len(pending) == 2
                assert len(recorded) in (0, 2)
            assert "cancelled" in outcomes

    run(scenario())


# -- subscriptions ---------------------------------------------------------------


def test_subscribe_gives_recorded_then_live_events_with_their_tracking(
    store_env: Dict[str, str],
) -> None:
    async def scenario() -> None:
        async with Planets(env=store_env) as app:
            planet = Planet("neptune")
            planet.begin_era("blue age")
            await app.save(planet)
            received: List[Any] = []
            async with app.subscribe(gt=1) as subscription:

                async def consume() -> None:
                    async for domain_event, tracking in subscription:
                        received.append(
                            (
                                type(domain_event).__name__,
                                tracking.application_name,
                                tracking.notification_id,
                            )
                        )
                        if len(received) == 2:
                            subscription.stop()

                consuming = asyncio.ensure_future(consume())
                planet.begin_era("ice age")
                await app.save(planet)
                await asyncio.wait_for(consuming, timeout=10)
            assert received == [("EraBegan", "Planets", 2), ("EraBegan", "Planets", 3)]

    run(scenario())


# -- the event loop is not blocked -----------------------------------------------


@pytest.mark.parametrize("saves", [1000])
def test_the_event_loop_is_never_blocked_for_20ms_during_saves(
    backend: str, store_env: Dict[str, str], saves: int
) -> None:
    """A probe sleeps 1 ms in a loop and measures how late it wakes, while
    10 tasks make ``saves`` saves of new aggregates in all."""
    if backend == "popo":
        pytest.skip("the in-memory recorder does no I/O")

    async def scenario() -> float:
        async with Planets(env=store_env) as app:
            await app.save(Planet("warm-up"))  # connections, tables
            lags: List[float] = []
            done = asyncio.Event()

            async def probe() -> None:
                while not done.is_set():
                    before = time.perf_counter()
                    await asyncio.sleep(0.001)
                    lags.append(time.perf_counter() - before - 0.001)

            async def saver(n: int) -> None:
                for i in range(n):
                    await app.save(Planet(f"planet-{i}"))

            probing = asyncio.ensure_future(probe())
            await asyncio.gather(*(saver(saves // 10) for _ in range(10)))
            done.set()
            await probing
            assert await app.recorder.max_notification_id() == saves + 1
            return max(lags)

    worst = run(scenario())
    assert worst < 0.020, f"the event loop was blocked for {worst * 1000:.1f} ms"
