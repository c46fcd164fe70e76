"""The three kinds of recorder a factory makes, and a fresh one of each to test."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, List, Tuple
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
)
from eventsourcing_conformance.backend import Backend, StoreEnv

__all__ = ["RECORDER_KINDS", "fresh_recorder", "make_recorder", "store_state"]

RECORDER_KINDS = ("aggregate", "application", "process")


def make_recorder(factory: InfrastructureFactory, kind: str) -> AggregateRecorder:
    if kind == "aggregate":
        return factory.aggregate_recorder()
    if kind == "application":
        return factory.application_recorder()
    if kind == "process":
        return factory.process_recorder()
    raise ValueError(f"kind must be one of {RECORDER_KINDS}, got {kind!r}")


@contextlib.contextmanager
def fresh_recorder(backend: Backend, kind: str) -> Iterator[Tuple[Any, StoreEnv]]:
    """A recorder of ``kind`` on a new store (and the store's env), closed afterwards."""
    with backend.store() as env, backend.open(env) as factory:
        recorder = make_recorder(factory, kind)
        try:
            yield recorder, env
        finally:
            recorder.close()


def store_state(recorder: Any, originators: List[UUID]) -> Tuple[Any, ...]:
    """Everything a recorder answers about ``originators``: equal before and
    after an operation means the operation changed nothing."""
    events = tuple(
        (e.originator_id, e.originator_version, e.topic, e.state)
        for o in originators
        for e in recorder.select_events(o)
    )
    notifications: Tuple[Any, ...] = ()
    tracking: Tuple[Any, ...] = ()
    if isinstance(recorder, ApplicationRecorder):
        notifications = (
            *(
                (n.id, n.originator_id, n.originator_version)
                for n in recorder.select_notifications(1, 10_000)
            ),
            recorder.max_notification_id(),
        )
    if isinstance(recorder, ProcessRecorder):
        tracking = (recorder.max_tracking_id("upstream"), recorder.has_tracking_id("upstream", 1))
    return events, notifications, tracking
