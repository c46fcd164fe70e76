"""The suite catches each deliberately broken recorder, naming the property.

:class:`FlawedRecorder` is a correct in-memory process recorder unless given
one flaw. With no flaw it passes every check (so a failure below is caused by
the flaw alone); with a flaw, the check for that property fails with a
:class:`PropertyViolation` whose message starts with the property's name.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple
from uuid import UUID

import pytest

from eventsourcing.asyncports import AsyncApplicationRecorder
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
from eventsourcing_conformance.awaited import awaited
from eventsourcing_conformance.badinput import check_bad_input
from eventsourcing_conformance.batches import check_large_batch, check_lazy_batch
from eventsourcing_conformance.concurrency import (
    check_total_order,
    check_total_order_with_conflicts,
)
from eventsourcing_conformance.durability import check_reopened
from eventsourcing_conformance.kinds import RECORDER_KINDS
from eventsourcing_conformance.machines import run_machine
from eventsourcing_conformance.paging import check_empty_store, check_limits_and_bounds
from eventsourcing_conformance.properties import (
    ATOMICITY,
    BAD_INPUT,
    DURABILITY,
    GAPS,
    ORDERING,
    PAGING,
    PURPOSE,
    TOTAL_ORDER,
    TRACKING,
    TYPES,
    UNIQUENESS,
)
from eventsourcing_conformance.purpose import check_purpose
from eventsourcing_conformance.settings import conformance_settings


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

    def _check(self, stored_events: Sequence[StoredEvent], tracking: Any) -> None:
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

    def _conflict(self, events: Sequence[StoredEvent]) -> bool:
        keys = [(e.originator_id, e.originator_version) for e in events]
        conflict = len(set(keys)) != len(keys) or any(k in self.memory.events for k in keys)
        return conflict and self.flaw != "accepts_duplicates"

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Optional[Sequence[int]]:
        tracking = kwargs.get("tracking")
        if self.flaw in ("interleaves_ids", "hands_back_ids"):
            return self._insert_allocating_first(stored_events, tracking)
        if self.flaw in ("partial_large_batch", "partial_lazy_batch"):
            return self._insert_in_chunks(stored_events, tracking)
        events = list(stored_events)  # produced here: nothing is recorded if that raises
        self._check(events, tracking)
        with self.memory.lock:
            return self._commit(events, tracking)

    def _commit(self, events: List[StoredEvent], tracking: Any) -> List[int]:
        """Record events and tracking, or raise IntegrityError (call under the lock)."""
        m = self.memory
        conflict = self._conflict(events)
        if conflict and self.flaw == "non_atomic_batch":
            for e in events:  # one by one, stopping at the conflict
                if (e.originator_id, e.originator_version) in m.events:
                    break
                self._record(e)
        if conflict:
            if self.flaw == "skips_after_gap":
                m.next_id += len(events)  # a failed insert consumes IDs
            raise IntegrityError("conflict")
        if tracking is not None:
            if (tracking.application_name, tracking.notification_id) in m.tracking:
                if self.flaw == "non_atomic_tracking":
                    for e in events:
                        self._record(e)
                raise IntegrityError(f"tracking {tracking} exists")
            m.tracking.add((tracking.application_name, tracking.notification_id))
        return [self._record(e) for e in events]

    def _record(self, e: StoredEvent, nid: Optional[int] = None) -> int:
        m = self.memory
        m.events[(e.originator_id, e.originator_version)] = e
        if nid is None:
            nid = m.next_id
            m.next_id += 1
        m.notifications.append(self._notify(e, nid))
        return nid

    def _insert_in_chunks(self, stored_events: Sequence[StoredEvent], tracking: Any) -> List[int]:
        """Commits each chunk of 500 as it goes, as a backend with a transaction
        per chunk would: a later conflict or producer failure keeps earlier chunks
        (``partial_lazy_batch`` produces a chunk at a time, ``partial_large_batch``
        produces the whole batch first)."""
        ids: List[int] = []
        produced = stored_events if self.flaw == "partial_lazy_batch" else list(stored_events)
        self._check([], tracking)
        for start in range(0, max(len(produced), 1), 500):  # one commit at least
            chunk = list(produced[start : start + 500])
            last = start + 500 >= len(produced)
            self._check(chunk, None)
            with self.memory.lock:
                ids += self._commit(chunk, tracking if last else None)
        return ids

    def _insert_allocating_first(
        self, stored_events: Sequence[StoredEvent], tracking: Any
    ) -> List[int]:
        """Takes notification IDs first and makes them visible at commit, after
        the batch was produced; ``hands_back_ids`` also returns them on failure."""
        m = self.memory
        with m.lock:
            first = m.next_id
            m.next_id += len(stored_events)
        events = list(stored_events)
        self._check(events, tracking)
        with m.lock:
            try:
                if self._conflict(events) or (
                    tracking is not None
                    and (tracking.application_name, tracking.notification_id) in m.tracking
                ):
                    raise IntegrityError("conflict")
            except IntegrityError:
                if self.flaw == "hands_back_ids":
                    m.next_id = first
                raise
            if tracking is not None:
                m.tracking.add((tracking.application_name, tracking.notification_id))
            ids = [self._record(e, nid) for nid, e in enumerate(events, first)]
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
        if limit == 0 and self.flaw == "limit_zero_unbounded":
            limit = None
        if self.flaw == "ignores_limit":
            limit = None
        with self.memory.lock:
            events = [
                e
                for (o, v), e in self.memory.events.items()  # in insertion order
                if o == originator_id and (gt is None or v > gt) and (lte is None or v <= lte)
            ]
        if self.flaw != "insertion_order":
            events.sort(key=lambda e: e.originator_version)
        if self.flaw == "str_originator_ids":
            events = [replace(e, originator_id=str(e.originator_id)) for e in events]  # type: ignore[arg-type]
        if self.flaw == "wrong_desc_limit":
            events = events[:limit] if limit is not None else events
            return events[::-1] if desc else events
        events = events[::-1] if desc else events
        if self.flaw == "page_cap_500" and (limit is None or limit > 500):
            limit = 500
        return events[:limit] if limit is not None else events

    def select_notifications(
        self, start: int, limit: int, stop: Optional[int] = None, topics: Sequence[str] = ()
    ) -> List[Notification]:
        if self.flaw == "page_cap_500":
            limit = min(limit, 500)
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
        if limit == 0 and self.flaw == "limit_zero_unbounded":
            return selected
        return selected[:limit]

    def max_notification_id(self) -> Any:
        with self.memory.lock:
            default = None if self.flaw == "max_id_none_when_empty" else 0
            return max((n.id for n in self.memory.notifications), default=default)

    def max_tracking_id(self, application_name: str) -> int:
        with self.memory.lock:
            return max((i for a, i in self.memory.tracking if a == application_name), default=0)

    def has_tracking_id(self, application_name: str, notification_id: int) -> bool:
        with self.memory.lock:
            return (application_name, notification_id) in self.memory.tracking


class FlawedFactory(InfrastructureFactory):
    def __init__(self, application_name: str, env: Mapping[str, str]) -> None:
        super().__init__(application_name, env)
        self.flaw = env["FLAW"]
        self.store = env["STORE"]

    def memory(self, purpose: str) -> _Memory:
        if self.flaw == "ignores_purpose":
            purpose = "events"  # snapshots go to the events' table
        if self.flaw == "loses_data_on_reopen":
            return _Memory()  # each opening starts empty
        return _STORES.setdefault(f"{self.store}-{purpose}", _Memory())

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        return FlawedRecorder(self.memory(purpose), self.flaw)

    def application_recorder(self) -> ApplicationRecorder:
        return FlawedRecorder(self.memory("events"), self.flaw)

    def process_recorder(self) -> ProcessRecorder:
        return FlawedRecorder(self.memory("events"), self.flaw)


def flawed(flaw: str) -> Backend:
    def new_store() -> Dict[str, str]:
        return {"FLAW": flaw, "STORE": uuid.uuid4().hex}

    return Backend(f"flawed-{flaw}", FlawedFactory, new_store=new_store, durable=True)


def violations(check: Callable[[Backend], None], backend: Backend) -> List[BaseException]:
    """The failures of one check (Hypothesis may group several), none if it passes."""
    try:
        check(backend)
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
    return []


def machine(kind: str) -> Callable[[Backend], None]:
    return lambda b: run_machine(kind, b, conformance_settings(30, derandomize=True, shrink=False))


def each_kind(check: Callable[[Backend, str], None]) -> List[Callable[[Backend], None]]:
    return [lambda b, k=k: check(b, k) for k in RECORDER_KINDS]  # type: ignore[misc]


# Every check of the suite, as RecorderConformance runs them.
ALL_CHECKS: List[Callable[[Backend], None]] = [
    *[machine(k) for k in RECORDER_KINDS],
    *each_kind(check_large_batch),
    *each_kind(check_lazy_batch),
    *each_kind(check_empty_store),
    *each_kind(check_limits_and_bounds),
    *each_kind(check_purpose),
    *each_kind(check_reopened),
    *each_kind(check_bad_input),
    lambda b: check_total_order(b, threads=4),
    check_total_order_with_conflicts,
]

# Each flaw, the property it breaks, and a fixed (not random) check that
# catches it in every run.
CASES: List[Tuple[str, str, Callable[[Backend], None]]] = [
    ("accepts_duplicates", UNIQUENESS, lambda b: check_large_batch(b, "aggregate")),
    ("non_atomic_batch", ATOMICITY, lambda b: check_large_batch(b, "application")),
    ("partial_large_batch", ATOMICITY, lambda b: check_large_batch(b, "application")),
    ("partial_lazy_batch", ATOMICITY, lambda b: check_lazy_batch(b, "application")),
    ("wrong_desc_limit", ORDERING, lambda b: check_limits_and_bounds(b, "aggregate")),
    ("insertion_order", ORDERING, lambda b: check_limits_and_bounds(b, "aggregate")),
    ("limit_zero_unbounded", PAGING, lambda b: check_limits_and_bounds(b, "application")),
    ("ignores_limit", PAGING, lambda b: check_limits_and_bounds(b, "aggregate")),
    ("page_cap_500", PAGING, lambda b: check_large_batch(b, "application")),
    ("skips_after_gap", GAPS, check_total_order_with_conflicts),
    ("str_originator_ids", TYPES, lambda b: check_limits_and_bounds(b, "aggregate")),
    ("max_id_none_when_empty", TYPES, lambda b: check_empty_store(b, "application")),
    ("ignores_purpose", PURPOSE, lambda b: check_purpose(b, "application")),
    ("interleaves_ids", TOTAL_ORDER, check_total_order_with_conflicts),
    ("hands_back_ids", TOTAL_ORDER, check_total_order_with_conflicts),
    ("non_atomic_tracking", TRACKING, lambda b: check_bad_input(b, "process")),
    ("loses_data_on_reopen", DURABILITY, lambda b: check_reopened(b, "application")),
    ("no_validation", BAD_INPUT, lambda b: check_bad_input(b, "application")),
]


def assert_reported_as(prop: str, found: List[BaseException]) -> None:
    assert found, "the suite passed a deliberately broken recorder"
    assert all(isinstance(v, PropertyViolation) for v in found), found
    messages = [str(v) for v in found]
    assert all(m.startswith(f"{prop} property violated: ") for m in messages), messages


@pytest.mark.parametrize(("flaw", "prop", "check"), CASES, ids=[c[0] for c in CASES])
def test_targeted_check_names_the_broken_property(
    flaw: str, prop: str, check: Callable[[Backend], None]
) -> None:
    assert_reported_as(prop, violations(check, flawed(flaw)))


@pytest.mark.parametrize(("flaw", "prop"), [c[:2] for c in CASES], ids=[c[0] for c in CASES])
def test_every_failing_check_names_the_broken_property(flaw: str, prop: str) -> None:
    """No check mislabels a flaw: whichever checks fail, they all name its property."""
    backend = flawed(flaw)
    found = [v for check in ALL_CHECKS for v in violations(check, backend)]
    assert_reported_as(prop, found)


def test_recorder_without_flaw_passes() -> None:
    backend = flawed("none")
    for check in ALL_CHECKS:
        check(backend)


# -- async recorders: the same checks, through eventsourcing_conformance.awaited ----


class PiecemealAsyncRecorder(AsyncApplicationRecorder):
    """A third party's native async recorder over a correct store that inserts
    a save one event at a time: a conflict part-way keeps what came before."""

    def __init__(self, recorder: FlawedRecorder) -> None:
        self.recorder = recorder

    async def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Optional[Sequence[int]]:
        ids: List[int] = []
        for stored_event in stored_events:
            ids += self.recorder.insert_events([stored_event], **kwargs) or []
        return ids

    async def select_events(self, originator_id: UUID, *args: Any, **kwargs: Any) -> Any:
        return self.recorder.select_events(originator_id, *args, **kwargs)

    async def select_notifications(self, *args: Any, **kwargs: Any) -> List[Notification]:
        return self.recorder.select_notifications(*args, **kwargs)

    async def max_notification_id(self) -> int:
        return self.recorder.max_notification_id()

    def subscribe(self, gt: Optional[int] = None, topics: Sequence[str] = ()) -> Any:
        raise NotImplementedError

    async def close(self) -> None:
        self.recorder.close()


class PiecemealAsyncFactory(FlawedFactory):
    def async_application_recorder(self) -> AsyncApplicationRecorder:
        return PiecemealAsyncRecorder(FlawedRecorder(self.memory("events"), "none"))


def test_the_suite_holds_async_recorders_to_the_same_properties() -> None:
    def new_store() -> Dict[str, str]:
        return {"FLAW": "none", "STORE": uuid.uuid4().hex}

    backend = Backend("piecemeal-async", PiecemealAsyncFactory, new_store=new_store)
    check = lambda b: check_large_batch(b, "application")  # noqa: E731
    assert violations(check, backend) == []  # the sync recorders are correct
    assert_reported_as(ATOMICITY, violations(check, awaited(backend)))


def test_the_core_adapter_passes_the_suite_for_a_correct_sync_recorder() -> None:
    backend = awaited(flawed("none"))
    for check in ALL_CHECKS:
        check(backend)
