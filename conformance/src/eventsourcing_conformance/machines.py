"""Hypothesis state machines, one per recorder kind, checked against the model.

Each step does something a user of the recorder does (insert a batch, read
events or notifications, record tracking, close and reopen) and compares
every answer with :class:`~eventsourcing_conformance.model.RecorderModel`.
A wrong answer raises :class:`~eventsourcing_conformance.properties.PropertyViolation`
naming the broken property.
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Any, ClassVar, List, Optional, Sequence
from uuid import UUID

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    precondition,
    rule,
    run_state_machine_as_test,
)

from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    Recorder,
    StoredEvent,
    Tracking,
)
from eventsourcing_conformance.backend import Backend
from eventsourcing_conformance.model import RecorderModel
from eventsourcing_conformance.properties import (
    ATOMICITY,
    DURABILITY,
    GAPS,
    ORDERING,
    PAGING,
    TRACKING,
    UNIQUENESS,
    violated,
)
from eventsourcing_conformance.reads import (
    check_bool,
    check_int,
    check_notifications,
    check_stored_events,
    event_key,
    is_prefix,
    notification_key,
    read_label,
)
from eventsourcing_conformance.settings import (
    bounded_shrinking,
    conformance_settings,
    shrink_seconds,
)

__all__ = [
    "AggregateRecorderMachine",
    "ApplicationRecorderMachine",
    "ProcessRecorderMachine",
    "StoreNotIsolated",
    "conformance_settings",
    "run_machine",
]

ORIGINATORS = tuple(UUID(f"00000000-0000-4000-8000-00000000000{i}") for i in (1, 2, 3))
TOPICS = ("conformance.events:Opened", "conformance.events:Credited", "conformance.events:Closed")
UPSTREAMS = ("upstream", "other-upstream")

stored_events = st.builds(
    StoredEvent,
    originator_id=st.sampled_from(ORIGINATORS),
    originator_version=st.integers(1, 6),
    topic=st.sampled_from(TOPICS),
    state=st.binary(max_size=12),
)
batches = st.lists(stored_events, max_size=5)
bounds = st.one_of(st.none(), st.integers(0, 7))
# 0 is a limit like any other: it asks for nothing (never "no limit").
limits = st.one_of(st.none(), st.integers(0, 5))


def _describe(batch: Sequence[StoredEvent]) -> str:
    shown = ", ".join(f"({str(e.originator_id)[-4:]}, v{e.originator_version})" for e in batch[:6])
    more = f", ... {len(batch)} events" if len(batch) > 6 else ""
    return f"[{shown}{more}]"


class StoreNotIsolated(Exception):
    """The backend under test gave the suite a store that was not fresh."""


class AggregateRecorderMachine(RuleBasedStateMachine):
    """Uniqueness, atomicity, ordering and durability of an aggregate recorder."""

    backend: ClassVar[Backend]
    factory: Optional[InfrastructureFactory]
    recorder: Any

    def __init__(self) -> None:
        super().__init__()
        self.model = RecorderModel()
        self.max_id_returned = 0
        self.factory = None
        self.recorder = None
        self._stack = contextlib.ExitStack()
        try:
            self.env = self._stack.enter_context(self.backend.store())
            self._open()
            self.check_store_is_empty()
        except BaseException:
            self.teardown()
            raise

    # -- lifecycle ------------------------------------------------------

    def make_recorder(self, factory: InfrastructureFactory) -> Recorder:
        return factory.aggregate_recorder()

    def _open(self) -> None:
        self.factory = self.backend.open(self.env)
        self.recorder = self.make_recorder(self.factory)

    def _close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None
        if self.factory is not None:
            self.factory.close()
            self.factory = None

    def teardown(self) -> None:
        try:
            self._close()
        finally:
            self._stack.close()

    def check_store_is_empty(self) -> None:
        """Fail fast, and clearly, when the backend's ``new_store`` does not isolate."""
        leftovers = [o for o in ORIGINATORS if self.recorder.select_events(o)]
        if leftovers:
            raise StoreNotIsolated(
                f"backend {self.backend.name!r}: a store from new_store() already holds "
                f"events of {leftovers[0]}; new_store must return a new, empty store "
                "on every call (see 'How a backend makes a fresh, isolated store')"
            )

    # -- comparisons ----------------------------------------------------

    def check_events(self, prop: str, originators: Any, context: str) -> None:
        """Compare each aggregate's events with the model; ``prop`` names what a
        difference breaks, unless it is only one of types or order."""
        for o in sorted(set(originators)):
            call = f"{context}: select_events({o})"
            found = self.recorder.select_events(o)
            check_stored_events(call, found)
            actual = [event_key(e) for e in found]
            expected = [event_key(e) for e in self.model.select_events(o)]
            if actual != expected:
                same_items = sorted(actual) == sorted(expected)
                violated(
                    ORDERING if same_items else prop,
                    f"{call} returned versions {[k[1] for k in actual]}, expected "
                    f"{[k[1] for k in expected]}"
                    + (
                        ""
                        if [k[1] for k in actual] != [k[1] for k in expected]
                        else f" (same versions, different topic or state: got {actual!r:.300}, "
                        f"expected {expected!r:.300})"
                    ),
                )

    def check_everything(self, prop: str, context: str) -> None:
        self.check_events(prop, ORIGINATORS, context)

    # -- inserting ------------------------------------------------------

    def insert(self, batch: List[StoredEvent], tracking: Optional[Tracking] = None) -> None:
        event_conflict = self.model.conflicts(batch)
        tracking_conflict = self.model.tracking_conflicts(tracking)
        expect_failure = event_conflict or tracking_conflict
        what = f"insert_events({_describe(batch)}" + (
            f", tracking={tracking})" if tracking is not None else ")"
        )
        kwargs: dict[str, Any] = {} if tracking is None else {"tracking": tracking}
        affected = {e.originator_id for e in batch}
        try:
            ids = self.recorder.insert_events(batch, **kwargs)
        except IntegrityError as e:
            if not expect_failure:
                violated(UNIQUENESS, f"{what} raised IntegrityError with no conflict: {e}")
            self.after_failed_insert(batch, tracking, event_conflict, what)
            return
        except Exception as e:
            if expect_failure:
                prop = UNIQUENESS if event_conflict else TRACKING
                violated(
                    prop, f"{what} should raise IntegrityError, raised {type(e).__name__}: {e}"
                )
            raise
        if event_conflict:
            violated(UNIQUENESS, f"{what} recorded a batch whose events conflict")
        if tracking_conflict:
            violated(TRACKING, f"{what} accepted a repeated tracking record")
        self.check_returned_ids(batch, ids, what)
        self.model.record(batch, self.notification_ids(batch, ids), tracking)
        self.after_insert(affected, tracking, what)

    def notification_ids(self, batch: Sequence[StoredEvent], ids: Any) -> Optional[Sequence[int]]:
        return None

    def check_returned_ids(self, batch: Sequence[StoredEvent], ids: Any, what: str) -> None:
        pass

    def after_failed_insert(
        self,
        batch: Sequence[StoredEvent],
        tracking: Optional[Tracking],
        event_conflict: bool,
        what: str,
    ) -> None:
        self.check_events(
            ATOMICITY,
            {e.originator_id for e in batch},
            f"after {what} raised IntegrityError, the store changed",
        )

    def after_insert(self, affected: Any, tracking: Optional[Tracking], what: str) -> None:
        self.check_events(ATOMICITY, affected, f"after {what} succeeded")

    # -- rules ----------------------------------------------------------

    @rule(batch=batches)
    def insert_batch(self, batch: List[StoredEvent]) -> None:
        self.insert(batch)

    @rule(
        originator=st.sampled_from(ORIGINATORS),
        gt=bounds,
        lte=bounds,
        desc=st.booleans(),
        limit=limits,
    )
    def select_events(
        self,
        originator: UUID,
        gt: Optional[int],
        lte: Optional[int],
        desc: bool,
        limit: Optional[int],
    ) -> None:
        call = f"select_events({originator}, gt={gt}, lte={lte}, desc={desc}, limit={limit})"
        found = self.recorder.select_events(originator, gt=gt, lte=lte, desc=desc, limit=limit)
        check_stored_events(call, found)
        actual = [event_key(e) for e in found]
        expected = [
            event_key(e)
            for e in self.model.select_events(originator, gt=gt, lte=lte, desc=desc, limit=limit)
        ]
        if actual != expected:
            unlimited = [
                event_key(e)
                for e in self.model.select_events(originator, gt=gt, lte=lte, desc=desc)
            ]
            violated(
                read_label(actual, expected, unlimited if limit is not None else None),
                f"{call} returned versions {[k[1] for k in actual]}, "
                f"expected {[k[1] for k in expected]}",
            )

    @precondition(lambda self: self.backend.durable)
    @rule()
    def close_and_reopen(self) -> None:
        self._close()
        self._open()
        self.check_everything(DURABILITY, "after closing and reopening the store")


class ApplicationRecorderMachine(AggregateRecorderMachine):
    """Adds notification IDs: positive, increasing, never reused, gaps allowed."""

    def make_recorder(self, factory: InfrastructureFactory) -> Recorder:
        return factory.application_recorder()

    def notification_ids(self, batch: Sequence[StoredEvent], ids: Any) -> Optional[Sequence[int]]:
        return list(ids)

    def check_returned_ids(self, batch: Sequence[StoredEvent], ids: Any, what: str) -> None:
        if ids is None or len(ids) != len(batch):
            violated(
                ORDERING,
                f"{what} returned {ids!r}: expected one notification ID per event ({len(batch)})",
            )
        ids = list(ids)
        for i in ids:
            check_int(f"{what}: a notification ID", i)
        if ids and ids[0] <= self.max_id_returned:
            violated(
                ORDERING,
                f"{what} returned notification ID {ids[0]}, not above ID "
                f"{self.max_id_returned} already returned (IDs must increase, never reused)",
            )
        if any(b <= a for a, b in itertools.pairwise(ids)) or any(i < 1 for i in ids):
            violated(ORDERING, f"{what} returned IDs {ids}: must be positive and increasing")
        if ids:
            self.max_id_returned = ids[-1]

    def check_notifications(self, prop: str, context: str) -> None:
        limit = len(self.model.notifications) + 10
        call = f"{context}: select_notifications(1, {limit})"
        found = self.recorder.select_notifications(1, limit)
        check_notifications(call, found)
        actual = [notification_key(n) for n in found]
        expected = [notification_key(n) for n in self.model.select_notifications(1, limit)]
        if actual != expected:
            violated(
                ORDERING if sorted(actual) == sorted(expected) else prop,
                f"{call} returned IDs {[k[0] for k in actual][:30]}, "
                f"expected {[k[0] for k in expected][:30]}",
            )
        max_id = check_int(f"{context}: max_notification_id()", self.recorder.max_notification_id())
        if max_id != self.model.max_notification_id():
            violated(
                prop,
                f"{context}: max_notification_id() returned {max_id}, expected "
                f"{self.model.max_notification_id()}",
            )

    def after_failed_insert(
        self,
        batch: Sequence[StoredEvent],
        tracking: Optional[Tracking],
        event_conflict: bool,
        what: str,
    ) -> None:
        super().after_failed_insert(batch, tracking, event_conflict, what)
        self.check_notifications(ATOMICITY, f"after {what} raised IntegrityError")

    def after_insert(self, affected: Any, tracking: Optional[Tracking], what: str) -> None:
        super().after_insert(affected, tracking, what)
        self.check_notifications(ATOMICITY, f"after {what} succeeded")

    def check_everything(self, prop: str, context: str) -> None:
        super().check_everything(prop, context)
        self.check_notifications(prop, context)

    @rule(
        start_at=st.integers(0, 10_000),
        limit=st.integers(0, 10),
        stop_at=st.one_of(st.none(), st.integers(0, 10_000)),
        topics=st.lists(st.sampled_from(TOPICS), max_size=2, unique=True),
    )
    def select_notifications(
        self, start_at: int, limit: int, stop_at: Optional[int], topics: List[str]
    ) -> None:
        # Positions are drawn as plain integers and folded onto the IDs in use,
        # so that no drawing happens while the recorder is working (pools' threads).
        top = self.model.max_notification_id() + 2
        start = start_at % (top + 1)
        stop = None if stop_at is None else stop_at % (top + 1)
        call = f"select_notifications(start={start}, limit={limit}, stop={stop}, topics={topics})"
        found = self.recorder.select_notifications(start, limit, stop=stop, topics=topics)
        check_notifications(call, found)
        actual = [notification_key(n) for n in found]
        expected = [
            notification_key(n)
            for n in self.model.select_notifications(start, limit, stop=stop, topics=topics)
        ]
        if actual != expected:
            unlimited = [
                notification_key(n)
                for n in self.model.select_notifications(
                    start, len(self.model.notifications) + 1, stop=stop, topics=topics
                )
            ]
            present = {n.id for n in self.model.notifications}
            hi = expected[-1][0] if expected else self.model.max_notification_id()
            across_gap = any(i not in present for i in range(1, hi + 1))
            paging = bool(actual) and is_prefix(actual, unlimited)
            violated(
                PAGING if paging else GAPS if across_gap else ORDERING,
                f"select_notifications(start={start}, limit={limit}, stop={stop}, "
                f"topics={topics}) returned IDs {[k[0] for k in actual]}, expected "
                f"{[k[0] for k in expected]}"
                + (
                    f" (the store's notification IDs have gaps at or below {hi})"
                    if across_gap and not paging
                    else ""
                ),
            )

    @rule()
    def max_notification_id(self) -> None:
        actual = check_int("max_notification_id()", self.recorder.max_notification_id())
        if actual != self.model.max_notification_id():
            violated(
                ORDERING,
                f"max_notification_id() returned {actual}, expected "
                f"{self.model.max_notification_id()}",
            )


class ProcessRecorderMachine(ApplicationRecorderMachine):
    """Adds tracking: recorded atomically with events, never twice."""

    def make_recorder(self, factory: InfrastructureFactory) -> Recorder:
        return factory.process_recorder()

    def check_tracking(self, prop: str, context: str) -> None:
        for name in UPSTREAMS:
            actual = check_int(
                f"{context}: max_tracking_id({name!r})", self.recorder.max_tracking_id(name)
            )
            if actual != self.model.max_tracking_id(name):
                violated(
                    prop,
                    f"{context}: max_tracking_id({name!r}) returned {actual}, expected "
                    f"{self.model.max_tracking_id(name)}",
                )
            for nid in range(1, 13):
                has = check_bool(
                    f"{context}: has_tracking_id({name!r}, {nid})",
                    self.recorder.has_tracking_id(name, nid),
                )
                if has != self.model.has_tracking_id(name, nid):
                    violated(
                        prop,
                        f"{context}: has_tracking_id({name!r}, {nid}) returned {has!r}",
                    )

    def after_failed_insert(
        self,
        batch: Sequence[StoredEvent],
        tracking: Optional[Tracking],
        event_conflict: bool,
        what: str,
    ) -> None:
        # Valid events refused only because of a repeated tracking record must
        # not be recorded (tracking); a conflicting batch must leave nothing (atomicity).
        prop = TRACKING if tracking is not None and not event_conflict else ATOMICITY
        self.check_events(
            prop,
            {e.originator_id for e in batch},
            f"after {what} raised IntegrityError, the store changed",
        )
        self.check_notifications(prop, f"after {what} raised IntegrityError")
        self.check_tracking(TRACKING, f"after {what} raised IntegrityError")

    def after_insert(self, affected: Any, tracking: Optional[Tracking], what: str) -> None:
        super().after_insert(affected, tracking, what)
        self.check_tracking(TRACKING, f"after {what} succeeded")

    def check_everything(self, prop: str, context: str) -> None:
        super().check_everything(prop, context)
        self.check_tracking(prop, context)

    @rule(
        batch=st.lists(stored_events, max_size=3),
        upstream=st.sampled_from(UPSTREAMS),
        notification_id=st.integers(1, 12),
    )
    def insert_with_tracking(
        self, batch: List[StoredEvent], upstream: str, notification_id: int
    ) -> None:
        self.insert(batch, Tracking(upstream, notification_id))

    @precondition(lambda self: bool(self.model.tracking))
    @rule(
        pick=st.integers(0, 1_000), originator=st.sampled_from(ORIGINATORS), size=st.integers(1, 3)
    )
    def repeat_tracking_with_new_events(self, pick: int, originator: UUID, size: int) -> None:
        """A process that re-processes a notification must record nothing new."""
        tracked = sorted((a, i) for a, ids in self.model.tracking.items() for i in ids)
        upstream, nid = tracked[pick % len(tracked)]
        start = max((v for o, v in self.model.events if o == originator), default=0) + 1
        batch = [
            StoredEvent(originator, v, TOPICS[1], b"again") for v in range(start, start + size)
        ]
        self.insert(batch, Tracking(upstream, nid))

    @rule()
    def read_tracking(self) -> None:
        self.check_tracking(TRACKING, "reading tracking records")


MACHINES: dict[str, type[AggregateRecorderMachine]] = {
    "aggregate": AggregateRecorderMachine,
    "application": ApplicationRecorderMachine,
    "process": ProcessRecorderMachine,
}


PROBE = UUID("00000000-0000-4000-8000-0000000000ff")


def check_isolation(backend: Backend) -> None:
    """Write to one new store, then check that the next new store is empty.

    Done before Hypothesis starts, so a backend whose ``new_store`` hands out
    a shared store gets this message rather than confusing property failures.
    """
    for attempt in (1, 2):
        with backend.store() as env, backend.open(env) as factory:
            recorder = factory.aggregate_recorder()
            try:
                if recorder.select_events(PROBE):
                    raise StoreNotIsolated(
                        f"backend {backend.name!r}: a store from new_store() already holds "
                        "events written to a previous one; new_store must return a new, "
                        "empty store on every call (see 'How a backend makes a fresh, "
                        "isolated store' in the suite's README)"
                    )
                if attempt == 1:
                    recorder.insert_events([StoredEvent(PROBE, 1, TOPICS[0], b"probe")])
            finally:
                recorder.close()


def run_machine(
    kind: str,
    backend: Backend,
    settings_: Optional[settings] = None,
    shrink_for: Optional[float] = None,
) -> None:
    """Run the state machine for one recorder kind against ``backend``.

    Shrinking a failure stops after ``shrink_for`` seconds (default:
    :func:`~eventsourcing_conformance.settings.shrink_seconds`).
    """
    machine = MACHINES[kind]
    check_isolation(backend)
    bound = type(f"{machine.__name__}_{backend.name}", (machine,), {"backend": backend})
    with bounded_shrinking(shrink_seconds(shrink_for)):
        run_state_machine_as_test(bound, settings=settings_ or conformance_settings())
