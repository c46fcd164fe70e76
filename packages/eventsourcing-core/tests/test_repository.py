"""The repository's aggregate cache (AGGREGATE_CACHE_MAXSIZE): callers never
see stale or unsaved state. Every test runs on every installed backend."""

from __future__ import annotations

import threading
from copy import deepcopy
from typing import Callable, Dict, Iterator, List, Optional
from uuid import UUID

import pytest

from eventsourcing.application import AggregateCache, AggregateNotFound, Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError


class Tally(Aggregate):
    def __init__(self) -> None:
        self.marks: List[str] = []

    @event("Marked")
    def mark(self, by: str) -> None:
        self.marks.append(by)


class Tallies(Application[Tally]):
    def start(self) -> UUID:
        tally = Tally()
        self.save(tally)
        return tally.id

    def mark(self, tally_id: UUID, by: str) -> int:
        tally = self.repository.get(tally_id)
        tally.mark(by)
        self.save(tally)
        return tally.version


OpenApp = Callable[..., Tallies]


@pytest.fixture
def open_app(store_env: Dict[str, str]) -> Iterator[OpenApp]:
    apps: List[Tallies] = []

    def open_(env: Optional[Dict[str, str]] = None) -> Tallies:
        app = Tallies(env={**store_env, **(env or {})})
        apps.append(app)
        return app

    yield open_
    for app in reversed(apps):
        app.close()


CACHED = {"AGGREGATE_CACHE_MAXSIZE": "2"}


def test_no_cache_unless_configured(open_app: OpenApp) -> None:
    assert open_app().repository.cache is None
    assert open_app({"AGGREGATE_CACHE_MAXSIZE": "0"}).repository.cache is None
    assert open_app(CACHED).repository.cache is not None


def test_cached_get_returns_a_private_copy(open_app: OpenApp) -> None:
    app = open_app(CACHED)
    tally_id = app.start()
    first = app.repository.get(tally_id)
    first.mark("unsaved")  # changed but never saved
    second = app.repository.get(tally_id)
    assert second is not first
    assert second.marks == [] and second.version == 1


def test_caller_that_saved_gets_what_it_saved(open_app: OpenApp) -> None:
    app = open_app(CACHED)
    tally_id = app.start()
    for i in range(5):
        assert app.mark(tally_id, f"m{i}") == i + 2
        tally = app.repository.get(tally_id)
        assert tally.version == i + 2
        assert tally.marks == [f"m{j}" for j in range(i + 1)]


def test_aggregate_changed_after_save_does_not_change_the_cache(
    open_app: OpenApp,
) -> None:
    app = open_app(CACHED)
    tally = Tally()
    app.save(tally)
    tally.mark("after save, never saved")
    assert app.repository.get(tally.id).marks == []


def test_cache_fast_forwards_over_events_recorded_elsewhere(open_app: OpenApp) -> None:
    app = open_app(CACHED)
    tally_id = app.start()
    assert app.repository.get(tally_id).version == 1  # now cached
    # Another writer: events put in the store without this repository knowing.
    elsewhere = app.repository.get(tally_id)
    elsewhere.mark("elsewhere")
    app.events.put(elsewhere.collect_events())

    tally = app.repository.get(tally_id)
    assert tally.version == 2 and tally.marks == ["elsewhere"]


def test_cache_without_fast_forward_trusts_its_own_saves(open_app: OpenApp) -> None:
    app = open_app({**CACHED, "AGGREGATE_CACHE_FASTFORWARD": "n"})
    tally_id = app.start()
    elsewhere = app.repository.get(tally_id)
    elsewhere.mark("elsewhere")
    app.events.put(elsewhere.collect_events())
    # Not fast-forwarded: the cached version is returned...
    assert app.repository.get(tally_id).version == 1
    # ...until a save through this application conflicts, which evicts it.
    with pytest.raises(IntegrityError):
        app.mark(tally_id, "here")
    assert app.repository.get(tally_id).marks == ["elsewhere"]
    assert app.mark(tally_id, "here") == 3


def test_saving_an_unchanged_stale_copy_does_not_cache_it(open_app: OpenApp) -> None:
    # Without fast-forwarding, the cache is trusted: only aggregates whose new
    # events were just recorded are known to be current and may be cached.
    app = open_app({**CACHED, "AGGREGATE_CACHE_FASTFORWARD": "n"})
    tally_id = app.start()
    stale = app.repository.get(tally_id)
    app.mark(tally_id, "a")
    app.start(), app.start()  # the tally leaves the cache (it holds two)
    other = Tally()
    app.save(other, stale)  # the stale copy has no new events
    assert app.repository.get(tally_id).marks == ["a"]


class Ballot(Aggregate):
    """Its last event can discard it: that event's mutate() returns None."""

    class Discarded(Aggregate.Event):
        def mutate(self, aggregate: Optional[Aggregate]) -> Optional[Aggregate]:
            super().mutate(aggregate)
            return None

    def discard(self) -> None:
        self.trigger_event(self.Discarded)


@pytest.mark.parametrize("fastforward", ["y", "n"])
def test_a_discarded_aggregate_is_not_found_through_the_cache(
    open_app: OpenApp, fastforward: str
) -> None:
    # As without a cache: once an event's mutate() returned None, the
    # repository has no aggregate to return.
    app = open_app({**CACHED, "AGGREGATE_CACHE_FASTFORWARD": fastforward})
    cache = app.repository.cache
    assert cache is not None
    ballot = Ballot()
    app.save(ballot)
    assert cache.get(ballot.id) is not None  # saved, so cached
    ballot.discard()
    app.save(ballot)
    with pytest.raises(AggregateNotFound):
        app.repository.get(ballot.id)
    if fastforward == "y":
        # Discarded by another writer, while cached here.
        other = Ballot()
        app.save(other)
        elsewhere = app.repository.get(other.id)
        elsewhere.discard()
        app.events.put(elsewhere.collect_events())
        assert cache.get(other.id) is not None
        with pytest.raises(AggregateNotFound):
            app.repository.get(other.id)


def test_requested_versions_bypass_the_cache(open_app: OpenApp) -> None:
    app = open_app(CACHED)
    tally_id = app.start()
    app.mark(tally_id, "a")
    app.mark(tally_id, "b")
    assert app.repository.get(tally_id, version=2).marks == ["a"]
    assert app.repository.get(tally_id).marks == ["a", "b"]


def test_cache_keeps_only_the_most_recently_used(open_app: OpenApp) -> None:
    app = open_app(CACHED)
    ids = [app.start() for _ in range(3)]
    cache = app.repository.cache
    assert cache is not None
    assert len(cache) == 2
    assert cache.get(ids[0]) is None  # least recently used, evicted
    app.repository.get(ids[0])
    assert cache.get(ids[0]) is not None
    assert cache.get(ids[1]) is None
    # A hit counts as a use: the other one is evicted next.
    app.repository.get(ids[2])
    app.start()
    assert cache.get(ids[2]) is not None
    assert cache.get(ids[0]) is None


def test_cache_never_replaces_a_later_version_with_an_earlier_one() -> None:
    cache = AggregateCache(maxsize=10)
    tally = Tally()
    early = deepcopy(tally)
    tally.mark("x")
    cache.put(tally)
    cache.put(early)
    cached = cache.get(tally.id)
    assert cached is not None and cached.version == 2
    with pytest.raises(ValueError, match="maxsize"):
        AggregateCache(maxsize=0)


def test_concurrent_savers_through_one_cached_application_never_see_stale_state(
    open_app: OpenApp,
) -> None:
    app = open_app(CACHED)
    tally_id = app.start()
    threads_count, marks_each = 4, 10
    start = threading.Barrier(threads_count)
    errors: List[BaseException] = []

    def work(name: str) -> None:
        try:
            start.wait()
            done = 0
            while done < marks_each:
                try:
                    saved_version = app.mark(tally_id, name)
                except IntegrityError:
                    continue  # another thread saved first: reload and retry
                done += 1
                # Whatever others do, this caller never sees less than it saved.
                assert app.repository.get(tally_id).version >= saved_version
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    tally = app.repository.get(tally_id)
    assert tally.version == 1 + threads_count * marks_each
    assert sorted(set(tally.marks)) == [f"t{i}" for i in range(threads_count)]
    assert all(tally.marks.count(f"t{i}") == marks_each for i in range(threads_count))
