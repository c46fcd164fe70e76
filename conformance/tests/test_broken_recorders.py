"""The suite catches each deliberately broken recorder, naming the property.

:class:`FlawedRecorder` is a correct in-memory process recorder unless given
one flaw. With no flaw it passes every check (so a failure below is caused by
the flaw alone); with a flaw, the check for that property fails with a
:class:`PropertyViolation` whose message starts with the property's name.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple
from uuid import UUID

import pytest

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    IntegrityError,
    InterfaceError,
    Notification,
    ProcessRecorder,
    StoredEvent,
    Tracking,
)
from eventsourcing_conformance import Backend, PropertyViolation
from eventsourcing_conformance.badinput import check_bad_input
from eventsourcing_conformance.concurrency import check_total_order
from eventsourcing_conformance.machines import conformance_settings, run_machine
from eventsourcing_conformance.properties import (
    ATOMICITY,
    BAD_INPUT,
    DURABILITY,
    GAPS,
    ORDERING,
    TOTAL_ORDER,
    TRACKING,
    UNIQUENESS,
)


class _Memory:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: Dict[Tuple[UUID, int], StoredEvent] = {}
        self.notifications: List[Notification] = []
        self.tracking: Set[Tuple[str, int]] = set()
        self.next_id = 1


_STORES: Dict[str, _Memory] = {}


class FlawedRecorder(ProcessRecorder):
    def __init__(self, memory: _Memory, flaw: str) -> None:
        self.memory = memory
        self.flaw = flaw
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def _check(self, stored_events: List[StoredEvent], tracking: Any) -> None:
        if self.closed:
            raise InterfaceError("recorder is closed")
        if self.flaw == "no_validation":
            return
        for e in stored_events:
            if not (
                isinstance(e, StoredEvent)
                and isinstance(e.originator_id, UUID)
                and type(e.originator_version) is int
                and isinstance(e.topic, str)
                and isinstance(e.state, bytes)
            ):
                raise InterfaceError(f"not a valid stored event: {e!r}")
        if tracking is not None and not isinstance(tracking, Tracking):
            raise InterfaceError(f"not a Tracking: {tracking!r}")

    def _notify(self, e: StoredEvent, nid: int) -> Notification:
        return Notification(e.originator_id, e.originator_version, e.topic, e.state, nid)

    def insert_events(
        self, stored_events: List[StoredEvent], **kwargs: Any
    ) -> Optional[Sequence[int]]:
        tracking = kwargs.get("tracking")
        self._check(stored_events, tracking)
        if self.flaw == "interleaves_ids":
            return self._insert_interleaving(stored_events)
        m = self.memory
        with m.lock:
            keys = [(e.originator_id, e.originator_version) for e in stored_events]
            conflict = len(set(keys)) != len(keys) or any(k in m.events for k in keys)
            if self.flaw == "accepts_duplicates":
                conflict = False
            if conflict and self.flaw == "non_atomic_batch":
                for e in stored_events:  # one by one, stopping at the conflict
                    if (e.originator_id, e.originator_version) in m.events:
                        break
                    self._record(e)
            if conflict:
                if self.flaw == "skips_after_gap":
                    m.next_id += len(stored_events)  # a failed insert consumes IDs
                raise IntegrityError(f"conflict in {keys}")
            if tracking is not None:
                if (tracking.application_name, tracking.notification_id) in m.tracking:
                    if self.flaw == "non_atomic_tracking":
                        for e in stored_events:
                            self._record(e)
                    raise IntegrityError(f"tracking {tracking} exists")
                m.tracking.add((tracking.application_name, tracking.notification_id))
            return [self._record(e) for e in stored_events]

    def _record(self, e: StoredEvent) -> int:
        m = self.memory
        m.events[(e.originator_id, e.originator_version)] = e
        nid = m.next_id
        m.next_id += 1
        m.notifications.append(self._notify(e, nid))
        return nid

    def _insert_interleaving(self, stored_events: List[StoredEvent]) -> List[int]:
        m = self.memory
        with m.lock:  # IDs are allocated in one critical section...
            ids = list(range(m.next_id, m.next_id + len(stored_events)))
            m.next_id += len(stored_events)
        time.sleep(0.0005)  # ...and published in another, after simulated commit latency
        with m.lock:
            for e, nid in zip(stored_events, ids, strict=True):
                m.events[(e.originator_id, e.originator_version)] = e
                m.notifications.append(self._notify(e, nid))
            m.notifications.sort(key=lambda n: n.id)
        return ids

    def select_events(
        self,
        originator_id: UUID,
        gt: Optional[int] = None,
        lte: Optional[int] = None,
        desc: bool = False,
        limit: Optional[int] = None,
    ) -> List[StoredEvent]:
        if self.closed:
            raise InterfaceError("recorder is closed")
        with self.memory.lock:
            events = sorted(
                (
                    e
                    for (o, v), e in self.memory.events.items()
                    if o == originator_id and (gt is None or v > gt) and (lte is None or v <= lte)
                ),
                key=lambda e: e.originator_version,
            )
        if self.flaw == "wrong_desc_limit":
            events = events[:limit] if limit is not None else events
            return events[::-1] if desc else events
        events = events[::-1] if desc else events
        return events[:limit] if limit is not None else events

    def select_notifications(
        self, start: int, limit: int, stop: Optional[int] = None, topics: Sequence[str] = ()
    ) -> List[Notification]:
        with self.memory.lock:
            if self.flaw == "skips_after_gap":  # assumes IDs are the list index + 1
                candidates = self.memory.notifications[max(start, 1) - 1 :]
            else:
                candidates = [n for n in self.memory.notifications if n.id >= start]
            selected = [
                n
                for n in candidates
                if (stop is None or n.id <= stop) and (not topics or n.topic in topics)
            ]
        return selected[:limit]

    def max_notification_id(self) -> int:
        with self.memory.lock:
            return max((n.id for n in self.memory.notifications), default=0)

    def max_tracking_id(self, application_name: str) -> int:
        with self.memory.lock:
            return max((i for a, i in self.memory.tracking if a == application_name), default=0)

    def has_tracking_id(self, application_name: str, notification_id: int) -> bool:
        with self.memory.lock:
            return (application_name, notification_id) in self.memory.tracking


class FlawedFactory(InfrastructureFactory):
    def __init__(self, application_name: str, env: Mapping[str, str]) -> None:
        super().__init__(application_name, env)
        flaw = env["FLAW"]
        if flaw == "loses_data_on_reopen":
            self.memory = _Memory()  # each opening starts empty
        else:
            self.memory = _STORES.setdefault(env["STORE"], _Memory())
        self.flaw = flaw

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        return FlawedRecorder(self.memory, self.flaw)

    def application_recorder(self) -> ApplicationRecorder:
        return FlawedRecorder(self.memory, self.flaw)

    def process_recorder(self) -> ProcessRecorder:
        return FlawedRecorder(self.memory, self.flaw)


def flawed(flaw: str) -> Backend:
    def new_store() -> Dict[str, str]:
        return {"FLAW": flaw, "STORE": uuid.uuid4().hex}

    return Backend(f"flawed-{flaw}", FlawedFactory, new_store=new_store, durable=True)


def violations(check: Callable[[], None]) -> List[BaseException]:
    """Run a check that must fail; return the failures (Hypothesis may group them)."""
    try:
        check()
    except BaseException as e:
        leaves: List[BaseException] = []
        pending = [e]
        while pending:
            exc = pending.pop()
            nested = getattr(exc, "exceptions", None)
            if nested:
                pending.extend(nested)
            else:
                leaves.append(exc)
        return leaves
    pytest.fail("the suite passed a deliberately broken recorder")


def machine(kind: str, backend: Backend, examples: int = 30) -> Callable[[], None]:
    return lambda: run_machine(
        kind, backend, conformance_settings(examples, derandomize=True, shrink=False)
    )


def total_order_within_attempts(backend: Backend, attempts: int) -> None:
    """Interleaving is a race: a single run exposes it with high, not certain,
    probability (about 39 runs in 40 for this recorder), so allow a few runs."""
    for _ in range(attempts):
        check_total_order(backend, threads=4)  # the first violation ends the loop


CASES = [
    ("accepts_duplicates", UNIQUENESS, lambda b: machine("aggregate", b)),
    ("non_atomic_batch", ATOMICITY, lambda b: machine("application", b)),
    # Found only by a select_events(desc=True, limit=...) rule step on an
    # aggregate with several events: 30 derandomized examples may draw none.
    ("wrong_desc_limit", ORDERING, lambda b: machine("aggregate", b, examples=100)),
    ("skips_after_gap", GAPS, lambda b: machine("application", b)),
    ("interleaves_ids", TOTAL_ORDER, lambda b: lambda: total_order_within_attempts(b, 3)),
    ("non_atomic_tracking", TRACKING, lambda b: machine("process", b)),
    ("loses_data_on_reopen", DURABILITY, lambda b: machine("application", b)),
    ("no_validation", BAD_INPUT, lambda b: lambda: check_bad_input(b, "application")),
]


@pytest.mark.parametrize(("flaw", "prop", "check"), CASES, ids=[c[0] for c in CASES])
def test_suite_names_the_broken_property(
    flaw: str, prop: str, check: Callable[[Backend], Callable[[], None]]
) -> None:
    found = violations(check(flawed(flaw)))
    assert all(isinstance(v, PropertyViolation) for v in found), found
    messages = [str(v) for v in found]
    assert all(m.startswith(f"{prop} property violated: ") for m in messages), messages


@pytest.mark.parametrize("kind", ["aggregate", "application", "process"])
def test_recorder_without_flaw_passes(kind: str) -> None:
    backend = flawed("none")
    run_machine(kind, backend, conformance_settings(30, derandomize=True, shrink=False))
    check_bad_input(backend, kind)
    check_total_order(backend, threads=4)
