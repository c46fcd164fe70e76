"""Subscriptions and tracking recorders: the properties every backend must have.

- catch-up: a subscription from ``gt`` yields exactly what
  ``select_notifications`` returns after ``gt`` (with the same topics);
- live delivery: events committed while a subscription waits are yielded,
  in notification order, none twice, none skipped;
- across writer processes: the same, with writers in other processes;
- resume: a new subscription from the last ID yielded continues with no
  duplicate and no gap;
- forced reconnect (for backends with connections, given a way to break
  the subscription's own, see :func:`check_forced_reconnect`): the
  subscription carries on with no duplicate and no gap;
- stop: ``stop()`` from another thread ends a blocked iteration promptly;
- tracking recorder: ``max_tracking_id`` is None before any record, a
  repeated record raises ``IntegrityError``, ``wait`` returns once the
  position is reached and raises ``TimeoutError`` otherwise.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    InterfaceError,
    NotSupportedError,
    StoredEvent,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.plugins import resolve_persistence_module
from eventsourcing.subscription import Subscription
from eventsourcing_conformance.backend import Backend
from eventsourcing_conformance.properties import violated
from eventsourcing_conformance.stores import skip_unless

__all__ = [
    "SUBSCRIPTION",
    "TRACKING_RECORDER",
    "SubscriptionConformance",
    "check_catch_up",
    "check_forced_reconnect",
    "check_live_delivery",
    "check_resume",
    "check_stop_promptly",
    "check_tracking_recorder",
    "check_writer_processes",
]

SUBSCRIPTION = "subscription"
TRACKING_RECORDER = "tracking recorder"

TOPICS = ("conformance.events:A", "conformance.events:B")
# Generous bounds for liveness (a hung subscription fails, never hangs the run).
_LIVENESS_TIMEOUT = 30.0


def _insert(recorder: ApplicationRecorder, topics: Sequence[str]) -> List[int]:
    originator_id = uuid4()
    batch = [StoredEvent(originator_id, v, t, b"{}") for v, t in enumerate(topics, 1)]
    return list(recorder.insert_events(batch) or ())


class _Collector(threading.Thread):
    """Iterates a subscription in a thread until it stops, or ``until`` IDs arrived."""

    def __init__(self, subscription: Subscription, until: Optional[int] = None) -> None:
        super().__init__(name="conformance-subscriber", daemon=True)
        self.subscription = subscription
        self.until = until
        self.ids: List[int] = []
        self.error: Optional[BaseException] = None
        self.started_iterating = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        try:
            self.started_iterating.set()
            for notification in self.subscription:
                self.ids.append(notification.id)
                if self.until is not None and notification.id >= self.until:
                    break
        except BaseException as e:
            self.error = e
        finally:
            self.done.set()

    def finish(self, what: str) -> List[int]:
        if not self.done.wait(_LIVENESS_TIMEOUT):
            self.subscription.stop()
            self.join(_LIVENESS_TIMEOUT)
            violated(SUBSCRIPTION, f"{what}: got {self.ids[-5:]}... then nothing more")
        self.join()
        if self.error is not None:
            raise self.error
        return self.ids


def _finish_after(
    collector: _Collector, recorder: ApplicationRecorder, written: Sequence[int], what: str
) -> None:
    """Let ``collector`` reach the last ID written, then check it got exactly ``written``."""
    collector.until = written[-1]
    _insert(recorder, TOPICS[:1])  # wakes a collector that is already past it
    got = collector.finish(f"{what}: not every event was delivered")
    _check_sequence(got[: len(written)], written, what)


def _check_sequence(got: Sequence[int], expected: Sequence[int], what: str) -> None:
    if list(got) != list(expected):
        missing = sorted(set(expected) - set(got))[:5]
        extra = sorted(set(got) - set(expected))[:5]
        twice = sorted({i for i in got if list(got).count(i) > 1})[:5]
        violated(
            SUBSCRIPTION,
            f"{what}: yielded {len(got)} notifications, expected {len(expected)} "
            f"(missing e.g. {missing}, unexpected e.g. {extra}, twice e.g. {twice}, "
            f"in order: {list(got) == sorted(got)})",
        )


@st.composite
def _histories(draw: Any) -> Tuple[List[List[str]], int, Tuple[str, ...]]:
    batches = draw(st.lists(st.lists(st.sampled_from(TOPICS), min_size=1, max_size=4), max_size=6))
    total = sum(len(b) for b in batches)
    gt = draw(st.integers(min_value=0, max_value=total + 1))
    topics = draw(st.sampled_from([(), TOPICS[:1], TOPICS[1:], TOPICS]))
    return batches, gt, topics


def check_catch_up(backend: Backend, max_examples: int = 15) -> None:
    """What a subscription yields before waiting equals ``select_notifications``."""

    @settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(_histories())
    def run(history: Tuple[List[List[str]], int, Tuple[str, ...]]) -> None:
        batches, gt, topics = history
        with backend.store() as env, backend.open(env) as factory:
            recorder = factory.application_recorder()
            try:
                for batch in batches:
                    _insert(recorder, batch)
                expected = [
                    n.id for n in recorder.select_notifications(gt + 1, 1000, topics=topics)
                ]
                with recorder.subscribe(gt=gt, topics=topics) as subscription:
                    collector = _Collector(subscription, until=expected[-1] if expected else None)
                    if expected:
                        collector.start()
                        got = collector.finish("catch-up did not reach the last notification")
                    else:
                        got = []
                _check_sequence(got, expected, f"catch-up after {gt} with topics {topics}")
            finally:
                recorder.close()

    run()


def check_live_delivery(backend: Backend, batches: int = 30) -> None:
    """Events committed while the subscription waits arrive in order, once each."""
    with backend.store() as env, backend.open(env) as factory:
        recorder = factory.application_recorder()
        try:
            before = _insert(recorder, TOPICS)
            with recorder.subscribe(gt=before[-1]) as subscription:
                written: List[int] = []
                collector = _Collector(subscription, until=None)
                collector.start()
                collector.started_iterating.wait()
                for i in range(batches):
                    written.extend(_insert(recorder, TOPICS[: 1 + i % 2]))
                _finish_after(collector, recorder, written, "live delivery")
        finally:
            recorder.close()


def check_resume(backend: Backend) -> None:
    """Subscribing again after the last ID yielded continues without dup or gap."""
    with backend.store() as env, backend.open(env) as factory:
        recorder = factory.application_recorder()
        try:
            ids = [i for _ in range(10) for i in _insert(recorder, TOPICS)]
            middle = ids[len(ids) // 2]
            got: List[int] = []
            with recorder.subscribe() as subscription:
                for notification in subscription:
                    got.append(notification.id)
                    if notification.id == middle:
                        break
            with recorder.subscribe(gt=got[-1]) as subscription:
                for notification in subscription:
                    got.append(notification.id)
                    if notification.id == ids[-1]:
                        break
            _check_sequence(got, ids, "resuming from the last ID yielded")
        finally:
            recorder.close()


def check_forced_reconnect(
    backend: Backend, disconnect: Callable[[Subscription], None], rounds: int = 3
) -> None:
    """Breaking the subscription's connection (``disconnect``, backend-specific:
    e.g. terminating its server session) while writers write loses and repeats
    nothing: it reconnects and resumes after the last notification it read."""
    with backend.store() as env, backend.open(env) as factory:
        recorder = factory.application_recorder()
        try:
            written: List[int] = []
            with recorder.subscribe() as subscription:
                collector = _Collector(subscription)
                collector.start()
                collector.started_iterating.wait()
                for round_ in range(rounds):
                    for _ in range(10):
                        written.extend(_insert(recorder, TOPICS[: 1 + round_ % 2]))
                    disconnect(subscription)
                for _ in range(10):
                    written.extend(_insert(recorder, TOPICS))
                _finish_after(collector, recorder, written, "across forced reconnects")
        finally:
            recorder.close()


def check_stop_promptly(backend: Backend) -> None:
    """``stop()`` from another thread ends an iteration blocked waiting for events."""
    with backend.store() as env, backend.open(env) as factory:
        recorder = factory.application_recorder()
        try:
            subscription = recorder.subscribe()
            collector = _Collector(subscription)
            collector.start()
            collector.started_iterating.wait()
            subscription.stop()
            if not collector.done.wait(_LIVENESS_TIMEOUT):
                violated(SUBSCRIPTION, "stop() did not end an iteration waiting for events")
            subscription.close()
            if collector.error is not None:
                raise collector.error
        finally:
            recorder.close()


def _write_in_process(
    factory_topic: str, application_name: str, env: Mapping[str, str], batches: int
) -> List[int]:
    factory_cls = resolve_persistence_module(factory_topic)
    with factory_cls(application_name=application_name, env=dict(env)) as factory:
        recorder = factory.application_recorder()
        try:
            return [i for _ in range(batches) for i in _insert(recorder, TOPICS)]
        finally:
            recorder.close()


def check_writer_processes(backend: Backend, processes: int = 2, batches: int = 50) -> None:
    """A subscriber sees every ID committed by writers in other processes, once, in order."""
    with backend.store() as env, backend.open(env) as factory:
        recorder = factory.application_recorder()
        try:
            with recorder.subscribe() as subscription:
                collector = _Collector(subscription)
                collector.start()
                context = multiprocessing.get_context("spawn")
                with ProcessPoolExecutor(processes, mp_context=context) as pool:
                    futures = [
                        pool.submit(
                            _write_in_process,
                            backend.factory_topic(),
                            backend.application_name,
                            dict(env),
                            batches,
                        )
                        for _ in range(processes)
                    ]
                    written = sorted(i for f in futures for i in f.result())
                _finish_after(collector, recorder, written, "writers in other processes")
        finally:
            recorder.close()


def check_tracking_recorder(backend: Backend) -> None:
    """The TrackingRecorder port: None when empty, unique records, wait()."""
    with backend.store() as env, backend.open(env) as factory:
        try:
            view: TrackingRecorder = factory.tracking_recorder()
        except NotSupportedError:
            pytest.skip(f"backend {backend.name!r} does not construct tracking recorders")
        try:
            if view.max_tracking_id("upstream") is not None:
                violated(TRACKING_RECORDER, "max_tracking_id() is not None before any record")
            if view.has_tracking_id("upstream", 1):
                violated(TRACKING_RECORDER, "has_tracking_id() is true before any record")
            if not view.has_tracking_id("upstream", None):
                violated(TRACKING_RECORDER, "has_tracking_id(name, None) is not true")
            for bad in ("upstream", ("upstream", 1), Tracking("upstream", "1")):  # type: ignore[arg-type]
                try:
                    view.insert_tracking(bad)  # type: ignore[arg-type]
                except InterfaceError:
                    pass
                else:
                    violated(TRACKING_RECORDER, f"insert_tracking({bad!r}) did not raise")
            for notification_id in (1, 2, 5):
                view.insert_tracking(Tracking("upstream", notification_id))
            try:
                view.insert_tracking(Tracking("upstream", 2))
            except IntegrityError:
                pass
            else:
                violated(TRACKING_RECORDER, "a repeated tracking record did not raise")
            if view.max_tracking_id("upstream") != 5:
                violated(TRACKING_RECORDER, "max_tracking_id() is not the largest recorded")
            if view.max_tracking_id("other") is not None:
                violated(TRACKING_RECORDER, "max_tracking_id() mixes application names")
            if not view.has_tracking_id("upstream", 4) or view.has_tracking_id("upstream", 6):
                violated(TRACKING_RECORDER, "has_tracking_id() is not max_tracking_id() >= id")
            view.wait("upstream", 5, timeout=_LIVENESS_TIMEOUT)
            try:
                view.wait("upstream", 6, timeout=0.05)
            except TimeoutError:
                pass
            else:
                violated(TRACKING_RECORDER, "wait() for an unrecorded ID did not time out")
            timer = threading.Timer(0.05, view.insert_tracking, (Tracking("upstream", 6),))
            timer.start()
            view.wait("upstream", 6, timeout=_LIVENESS_TIMEOUT)
            timer.join()
        finally:
            view.close()


class SubscriptionConformance:
    """The subscription and tracking recorder properties, as pytest tests."""

    def test_subscription_catch_up(self, conformance_backend: Backend) -> None:
        check_catch_up(conformance_backend)

    def test_subscription_live_delivery(self, conformance_backend: Backend) -> None:
        check_live_delivery(conformance_backend)

    def test_subscription_resume(self, conformance_backend: Backend) -> None:
        check_resume(conformance_backend)

    def test_subscription_stop(self, conformance_backend: Backend) -> None:
        check_stop_promptly(conformance_backend)

    def test_subscription_writer_processes(self, conformance_backend: Backend) -> None:
        skip_unless(conformance_backend, "multiprocess", "subscriptions with writer processes")
        check_writer_processes(conformance_backend)

    def test_tracking_recorder(self, conformance_backend: Backend) -> None:
        check_tracking_recorder(conformance_backend)
