"""Running the followers of a system in one OS process, through the database.

A :class:`ProcessRunner` runs some applications of a :class:`System` in this
process; other processes (on other machines) run the rest, or replicas of
the same. A follower does not wait for in-memory prompts: for each leader it
subscribes to the leader's log in the database, after its own last tracked
position, and processes what it reads a page at a time. The new events and
the tracking records of up to ``PROCESSING_BATCH_SIZE`` notifications are
recorded in one transaction (through :meth:`Application.record`, the one
write path), so each notification is processed exactly once.

For each (follower, leader) pair one process at a time consumes: the one
holding the pair's :class:`~eventsourcing.lease.Lease`; the others wait for
it, ``PROCESSING_LEASE_INTERVAL`` seconds at a time, and take it as soon as
it is free. The holder checks the lease is still its own before committing
each page, and stands by again if not. A process that consumed anyway (a
lease lost after that check) gets an ``IntegrityError`` on tracking,
discards its page and reads again after the position now tracked.

A busy follower is split into partitions (:mod:`eventsourcing.partition`):
a runner with ``partitions=N, partition=K`` processes only the aggregates of
partition K, tracks its position under ``"{leader}#{K}/{N}"`` and holds that
partition's lease, so N processes (each with standbys) share the work.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Type,
    TypeVar,
    cast,
)
from uuid import UUID

from eventsourcing.application import Application, ProcessEvent
from eventsourcing.domain import DomainEvent
from eventsourcing.follower import Follower
from eventsourcing.lease import Lease, holder_label
from eventsourcing.partition import Partition, check_layout
from eventsourcing.persistence import (
    ApplicationRecorder,
    EventStore,
    IntegrityError,
    Mapper,
    Notification,
    Tracking,
)
from eventsourcing.runner import Runner, ThreadErrors
from eventsourcing.topology import System
from eventsourcing.utils import ConfigurationError, EventSourcingError

__all__ = ["FollowerFailed", "PageEventStore", "ProcessRunner"]

A = TypeVar("A", bound=Application[Any])

logger = logging.getLogger("eventsourcing.system")

PROCESSING_BATCH_SIZE = "PROCESSING_BATCH_SIZE"
PROCESSING_LEASE_INTERVAL = "PROCESSING_LEASE_INTERVAL"
DEFAULT_BATCH_SIZE = 100
DEFAULT_LEASE_INTERVAL = 1.0
# How often a page that conflicts with another writer's events (not with
# tracking) is processed again, after re-reading, before the error stops it.
MAX_CONFLICT_RETRIES = 5

LeaseHandler = Callable[[str, str], None]
"""Called as ``on_lease(follower_name, tracking_name)`` once the lease is held
(the tracking name is the leader's name, or ``"{leader}#{K}/{N}"`` for partition K of N)."""


class FollowerFailed(EventSourcingError):
    """A follower stopped: its policy (or recording) failed on a notification."""

    def __init__(self, follower_name: str, leader_name: str, notification_id: int) -> None:
        super().__init__(
            f"{follower_name!r} stopped at notification {notification_id} of {leader_name!r}"
        )
        self.follower_name = follower_name
        self.leader_name = leader_name
        self.notification_id = notification_id


class _PolicyFailed(EventSourcingError):
    def __init__(self, notification_id: int) -> None:
        super().__init__(notification_id)
        self.notification_id = notification_id


class _LeaseLost(EventSourcingError):
    """The lease was found lost before a page was recorded; nothing of it was."""


class PageEventStore(EventStore[Any]):
    """An event store that also gives, to the thread processing a page, the
    events of that page not yet recorded: a policy's ``repository.get()``
    sees what earlier notifications of the same page did."""

    def __init__(self, inner: EventStore[Any]) -> None:
        super().__init__(inner.mapper, inner.recorder)
        self._local = threading.local()

    def begin(self) -> None:
        self._local.pending = {}

    def add(self, events: Sequence[DomainEvent]) -> None:
        pending: Dict[UUID, List[DomainEvent]] = self._local.pending
        for event in events:
            pending.setdefault(event.originator_id, []).append(event)

    def end(self) -> List[UUID]:
        """Forget the page; return the IDs of the aggregates it changed."""
        pending: Optional[Dict[UUID, List[DomainEvent]]] = self._local.pending
        self._local.pending = None
        return list(pending or ())

    def get(
        self,
        originator_id: UUID,
        gt: Optional[int] = None,
        lte: Optional[int] = None,
        desc: bool = False,
        limit: Optional[int] = None,
    ) -> Iterator[Any]:
        pending: Optional[Dict[UUID, List[DomainEvent]]] = getattr(self._local, "pending", None)
        extra = [
            e
            for e in (pending or {}).get(originator_id, ())
            if (gt is None or e.originator_version > gt)
            and (lte is None or e.originator_version <= lte)
        ]
        if not extra:
            return super().get(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        events = [*super().get(originator_id, gt=gt, lte=lte), *extra]
        if desc:
            events.reverse()
        return iter(events[:limit] if limit is not None else events)


class _Consumer(threading.Thread):
    """Consumes one leader for one follower, while holding the pair's lease."""

    def __init__(
        self,
        runner: ProcessRunner,
        follower: Follower[Any],
        leader_name: str,
        leader_recorder: ApplicationRecorder,
        page_store: PageEventStore,
    ) -> None:
        super().__init__(name=f"{follower.name}-consumes-{leader_name}", daemon=True)
        self.runner = runner
        self.follower = follower
        self.leader_name = leader_name
        self.leader_recorder = leader_recorder
        self.page_store = page_store
        self.mapper: Mapper[Any] = follower.construct_mapper(leader_name)
        factory = follower.factory
        self.batch_size = cast(
            int, factory.getenv_int(PROCESSING_BATCH_SIZE, DEFAULT_BATCH_SIZE, minimum=1)
        )
        limit = follower.process_recorder.max_trackings_per_insert
        if limit is not None:
            self.batch_size = min(self.batch_size, limit)
        self.lease_interval = cast(
            float, factory.getenv_float(PROCESSING_LEASE_INTERVAL, DEFAULT_LEASE_INTERVAL, 0.001)
        )
        self.partition = Partition.configure(factory, runner.partitions, runner.partition)
        # Positions and the lease are this partition's own.
        self.tracking_name = self.partition.tracking_name(leader_name)
        self.lease: Lease = follower.process_recorder.lease(follower.name, self.tracking_name)
        self.has_lease = threading.Event()
        self._subscription_lock = threading.Lock()
        self._subscription: Any = None

    def run(self) -> None:
        stopping = self.runner.is_stopping
        try:
            while not stopping.is_set():
                if not self.lease.acquire(self.lease_interval, stopping):
                    continue
                logger.info(
                    "%s holds the lease of %r for %r",
                    holder_label(),
                    self.follower.name,
                    self.tracking_name,
                    extra={"follower": self.follower.name, "tracking_name": self.tracking_name},
                )
                # Checked again now that nobody else runs this partition: a process
                # of another layout may have recorded positions since start().
                check_layout(
                    self.follower.process_recorder,
                    self.follower.name,
                    self.leader_name,
                    self.partition,
                )
                self.has_lease.set()
                if self.runner.on_lease is not None:
                    self.runner.on_lease(self.follower.name, self.tracking_name)
                try:
                    while not stopping.is_set():
                        self._consume()
                except _LeaseLost:
                    # Another process may be active now: back to standing by.
                    logger.warning(
                        "%s lost the lease of %r for %r; standing by",
                        holder_label(),
                        self.follower.name,
                        self.tracking_name,
                    )
                    self.has_lease.clear()
                    self.lease.close()
        except FollowerFailed as e:
            logger.error("%s", e, exc_info=e.__cause__)
            self.runner._record_error(e)
        except BaseException as e:
            logger.exception("%r stopped consuming %r", self.follower.name, self.leader_name)
            self.runner._record_error(e)
        finally:
            self.lease.close()

    def stop(self) -> None:
        self.lease.interrupt()
        with self._subscription_lock:
            if self._subscription is not None:
                self._subscription.stop()

    def _consume(self) -> None:
        """Read from after the tracked position and process pages, until stopped
        or until another process is found to have processed what was read."""
        gt = self.follower.process_recorder.max_tracking_id(self.tracking_name)
        subscription = self.leader_recorder.subscribe(gt=gt)
        with self._subscription_lock:
            self._subscription = subscription
        if self.runner.is_stopping.is_set():
            subscription.stop()
        try:
            while True:
                page = subscription.next_page()
                if not page:
                    return
                for batch in self.partition.batches(page, self.batch_size):
                    if self.runner.is_stopping.is_set():
                        return
                    if not self._process(batch):
                        return  # processed elsewhere: read again
        finally:
            with self._subscription_lock:
                self._subscription = None
            subscription.close()

    def _process(self, batch: List[Notification]) -> bool:
        """Process ``batch`` in one transaction; False if another process had."""
        conflicts = 0
        while True:
            try:
                self._record_page(batch)
                return True
            except _PolicyFailed as e:
                if len(batch) == 1:
                    raise FollowerFailed(
                        self.follower.name, self.leader_name, e.notification_id
                    ) from e.__cause__
                # Find the failing one: what precedes it is recorded, it is reported.
                return all(self._process([n]) for n in batch)
            except IntegrityError as e:
                recorder = self.follower.process_recorder
                if recorder.max_tracking_id(self.tracking_name) >= batch[0].id:
                    return False
                conflicts += 1
                if conflicts > MAX_CONFLICT_RETRIES:
                    raise FollowerFailed(self.follower.name, self.leader_name, batch[0].id) from e
                logger.warning(
                    "%r: page from notification %d of %r conflicted (%s); processing it again",
                    self.follower.name,
                    batch[0].id,
                    self.leader_name,
                    e,
                )

    def _record_page(self, batch: List[Notification]) -> None:
        follower = self.follower
        page = ProcessEvent()
        with follower._processing:
            self.page_store.begin()
            completed = False
            try:
                for notification in batch:
                    tracking = Tracking(self.tracking_name, notification.id)
                    if not self.partition.contains(notification.originator_id):
                        # Another partition's: nothing is recorded for it, except
                        # that the batch's last notification is tracked, so that
                        # the position advances over what was read.
                        if notification is batch[-1]:
                            page.trackings.append(tracking)
                        continue
                    process_event = ProcessEvent(tracking)
                    try:
                        domain_event = self.mapper.to_domain_event(notification)
                        follower.policy(domain_event, process_event)
                    except Exception as e:
                        raise _PolicyFailed(notification.id) from e
                    self.page_store.add(process_event.events)
                    page.events.extend(process_event.events)
                    page.aggregates.update(process_event.aggregates)
                    page.saved_kwargs.update(process_event.saved_kwargs)
                    page.trackings.append(cast(Tracking, process_event.tracking))
                # Checked last before committing: a process whose lease ended
                # (its session died) records nothing more; tracking uniqueness
                # covers what slips between this check and the commit.
                if not self.lease.still_held():
                    raise _LeaseLost()
                completed = True
            finally:
                touched = self.page_store.end()
                cache = follower.repository.cache
                if not completed and cache is not None:
                    # The cache may hold states made with this page's events.
                    for aggregate_id in touched:
                        cache.evict(aggregate_id)
            if len(page.trackings) == 1:
                page.tracking, page.trackings = page.trackings[0], []
            follower.record(page)
        follower.take_snapshots(page)
        follower.notify(page.events)


class ProcessRunner(Runner, ThreadErrors):
    """Runs the applications named ``apps`` (default: all) of a system in this
    process; each follower among them consumes its leaders through the database.

    Leaders not run here are constructed only to read their logs. A follower
    whose policy keeps failing stops (the error is logged with the leader's
    name and the notification ID, kept in :attr:`errors`, and raised by
    :meth:`stop`); a new runner resumes it there. With ``partitions=N,
    partition=K`` (else ``PROCESSING_PARTITIONS``, ``PROCESSING_PARTITION``)
    each follower here processes partition K of N of its leaders' aggregates.
    """

    def __init__(
        self,
        system: System,
        env: Optional[Mapping[str, str]] = None,
        apps: Sequence[str] = (),
        on_lease: Optional[LeaseHandler] = None,
        partitions: Optional[int] = None,
        partition: Optional[int] = None,
    ) -> None:
        super().__init__(system, env)
        if partitions is not None:  # checked here; from env, when the consumers start
            Partition(partition or 0, partitions)
        self.partitions = partitions
        self.partition = partition
        if isinstance(apps, str):
            apps = [apps]
        for name in apps:
            if name not in system.nodes:
                known = ", ".join(system.nodes)
                raise ConfigurationError(
                    f"No application named {name!r} in the system (it has {known})"
                )
        self.app_names: List[str] = list(apps) or list(system.nodes)
        self.on_lease = on_lease
        self.apps: Dict[str, Application[Any]] = {}
        self._readers: Dict[str, Application[Any]] = {}
        self.consumers: List[_Consumer] = []
        ThreadErrors.__init__(self)
        self.is_stopping = threading.Event()
        self._stopped = False

    def start(self) -> None:
        """Construct the applications and start consuming (after the lease)."""
        super().start()
        system = self.system
        try:
            for name in self.app_names:
                self.apps[name] = system.get_app_cls(name)(env=self.env)
            for name in self.app_names:
                if name not in system.follows:
                    continue
                follower = cast(Follower[Any], self.apps[name])
                page_store = PageEventStore(follower.repository.event_store)
                follower.repository.event_store = page_store
                for leader_name in system.follows[name]:
                    leader = self.apps.get(leader_name) or self._reader(leader_name)
                    consumer = _Consumer(self, follower, leader_name, leader.recorder, page_store)
                    check_layout(follower.process_recorder, name, leader_name, consumer.partition)
                    self.consumers.append(consumer)
        except BaseException:
            self._shutdown()
            raise
        for consumer in self.consumers:
            consumer.start()

    def _reader(self, name: str) -> Application[Any]:
        app = self._readers.get(name)
        if app is None:
            app = self._readers[name] = self.system.get_app_cls(name)(env=self.env)
        return app

    def stop(self) -> None:
        """Stop consuming (each page in progress is finished and recorded), close
        the applications, then raise the first error a follower had."""
        if self._stopped:
            return
        self._shutdown()
        errors = self.errors
        if errors:
            raise errors[0]

    def _shutdown(self) -> None:
        self._stopped = True
        self.is_stopping.set()
        for consumer in self.consumers:
            consumer.stop()
        for consumer in self.consumers:
            if consumer.is_alive():
                consumer.join()
        for app in [*self._readers.values(), *self.apps.values()]:
            app.close()

    def get(self, cls: Type[A]) -> A:
        return self._app(self.apps, cls)

    def __enter__(self) -> ProcessRunner:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc_val: Optional[BaseException],
        exc_tb: Optional[TracebackType],
    ) -> None:
        self.stop()
