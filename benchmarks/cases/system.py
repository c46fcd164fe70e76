"""System throughput: notifications processed per second by a follower.

The leader records its events first, in large batches (cheap next to the
processing); then a single-threaded runner starts and its follower catches
up: for every notification it decodes the event, runs a policy that creates
an aggregate, and records the new event together with the tracking
record in one transaction. The policy creates one new aggregate per event
and reads none, so the measure is the system's per-notification cost
(decode, policy, encode, one transaction with tracking), not aggregate
reconstruction.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Dict, Iterator, Tuple
from uuid import UUID

from benchmarks.harness import Stopwatch, case, postgres_schema
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, DomainEvent, event
from eventsourcing.system import ProcessApplication, ProcessEvent, SingleThreadedRunner, System

KINDS = 8


class Shipment(Aggregate):
    def __init__(self, origin: str) -> None:
        self.origin = origin

    class Moved(Aggregate.Event["Shipment"]):
        kind: int

    @event(Moved)
    def move(self, kind: int) -> None:
        pass


class Receipt(Aggregate):
    def __init__(self, shipment_id: UUID, kind: int) -> None:
        self.shipment_id = shipment_id
        self.kind = kind


class Shipping(Application[Shipment]):
    log_section_size = 100


class Receipts(ProcessApplication[Receipt]):
    pull_section_size = 100

    def policy(self, domain_event: DomainEvent, process_event: ProcessEvent) -> None:
        if isinstance(domain_event, Shipment.Moved):
            process_event.save(Receipt(domain_event.originator_id, domain_event.kind))


@contextmanager
def _store(backend: str, env: Dict[str, str]) -> Iterator[Dict[str, str]]:
    """The system's environment: a file per application (SQLite), a new schema (PostgreSQL)."""
    system_env = dict(env)
    if backend == "sqlite":
        folder = os.path.dirname(env["SQLITE_DBNAME"])
        for name in ("SHIPPING", "RECEIPTS"):
            system_env[f"{name}_SQLITE_DBNAME"] = os.path.join(folder, f"{name.lower()}.sqlite")
        yield system_env
    elif backend == "postgres":
        with postgres_schema(env) as schema:
            yield dict(system_env, POSTGRES_SCHEMA=schema)
    else:
        yield system_env


@case("system: follower processing", unit="notifications/s")
def follower_processing(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    """Notifications processed per second by a follower catching up.

    On durable backends only the catch-up is timed. In-memory stores live as
    long as their application, so on popo the leader's saves (made while the
    runner runs, each prompting the follower) are timed too.
    """
    batches, batch_size = (10, 500) if backend == "popo" else (4, 500)
    system = System(pipes=[[Shipping, Receipts]])
    watch = Stopwatch()
    with _store(backend, env) as system_env:
        runner = SingleThreadedRunner(system, env=system_env)
        if backend == "popo":
            runner.start()
            shipping = runner.get(Shipping)
            with watch:
                recorded = _record_moves(shipping, batches, batch_size)
        else:
            with Shipping(env=system_env) as shipping:
                recorded = _record_moves(shipping, batches, batch_size)
            with watch:
                runner.start()  # the follower catches up with every notification here
        try:
            receipts = runner.get(Receipts)
            assert receipts.process_recorder.max_tracking_id("Shipping") == recorded
            assert receipts.recorder.max_notification_id() >= batches * (batch_size - 1)
        finally:
            runner.stop()
    return batches * batch_size, watch.elapsed


def _record_moves(shipping: Shipping, batches: int, batch_size: int) -> int:
    """Record ``batches`` shipments of ``batch_size`` events each; return the last ID."""
    for b in range(batches):
        shipment = Shipment(origin=f"port {b}")
        for i in range(batch_size - 1):
            shipment.move(i % KINDS)
        shipping.save(shipment)
    return shipping.recorder.max_notification_id()
