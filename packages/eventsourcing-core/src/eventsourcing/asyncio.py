"""Async applications: the same domain model and mapping, with awaitable I/O.

:class:`AsyncApplication` is :class:`~eventsourcing.application.Application`
for asyncio programs (FastAPI, Starlette, aiohttp): the same aggregates and
``@event`` methods (synchronous: they touch no I/O), the same settings,
transcoder, mapper, cipher and compressor, the same plugin selection. Only
what touches the database is awaited::

    async with Bank() as app:
        account = Account(...)
        await app.save(account)
        account = await app.repository.get(account.id)
        section = await app.log["1,10"]
        async for domain_event, tracking in app.subscribe(gt=0): ...

The recorders are the async ports of :mod:`eventsourcing.asyncports`,
constructed by the persistence module's factory: by default its sync
recorders in the core's thread-offloading adapter
(:mod:`eventsourcing.asyncadapter`); PostgreSQL has native async recorders.

A save takes the one write path of the sync application (collect pending
events, map on demand, one atomic insert, recordings, cache, snapshots); the
steps that do no I/O are the sync application's own
(:class:`~eventsourcing.application.BaseApplication`).
"""

from __future__ import annotations

import asyncio
from copy import deepcopy
from types import TracebackType
from typing import (
    Any,
    Generic,
    List,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
)
from uuid import UUID

from eventsourcing.application import (
    AggregateCache,
    AggregateNotFound,
    BaseApplication,
    LocalNotificationLog,
    ProcessingEvent,
    ProjectorFunctionType,
    Section,
    cache_for,
    check_select_limit,
    fastforward,
    mutate_aggregate,
    reconstructed,
    section_of,
    section_request,
    tracked_event,
    tracked_events,
)
from eventsourcing.asyncadapter import (
    ThreadedAggregateRecorder,
    ThreadedApplicationRecorder,
    ThreadedProcessRecorder,
)
from eventsourcing.asyncports import (
    AsyncAggregateRecorder,
    AsyncApplicationRecorder,
    AsyncProcessRecorder,
    AsyncRecorder,
    AsyncSubscription,
)
from eventsourcing.domain import Aggregate, DomainEvent, TAggregate
from eventsourcing.persistence import (
    IntegrityError,
    Mapper,
    Notification,
    Recording,
    Tracking,
    map_on_demand,
    recordings,
)

__all__ = [
    "AsyncAggregateRecorder",
    "AsyncApplication",
    "AsyncApplicationRecorder",
    "AsyncApplicationSubscription",
    "AsyncEventStore",
    "AsyncLocalNotificationLog",
    "AsyncProcessRecorder",
    "AsyncRecorder",
    "AsyncRepository",
    "AsyncSubscription",
    "ThreadedAggregateRecorder",
    "ThreadedApplicationRecorder",
    "ThreadedProcessRecorder",
]

TDomainEvent = TypeVar("TDomainEvent")
T = TypeVar("T")


class AsyncEventStore(Generic[TDomainEvent]):
    """:class:`~eventsourcing.persistence.EventStore` over an async recorder.

    :meth:`put` is the async application's one door for writing, as
    ``EventStore.put`` is the sync one's, with the same helpers: events are
    mapped on demand while the recorder consumes them (in the worker thread,
    with the thread-offloading adapter), and the same recordings returned.
    """

    def __init__(self, mapper: Mapper[TDomainEvent], recorder: AsyncAggregateRecorder) -> None:
        self.mapper = mapper
        self.recorder = recorder

    async def put(self, events: Sequence[TDomainEvent], **kwargs: Any) -> List[Recording]:
        """Map ``events``, record them in one atomic insert, return what was recorded."""
        events, stored_events = map_on_demand(self.mapper, events)
        ids = await self.recorder.insert_events(stored_events, **kwargs)
        return recordings(events, stored_events, ids)

    async def get(
        self,
        originator_id: UUID,
        gt: Optional[int] = None,
        lte: Optional[int] = None,
        desc: bool = False,
        limit: Optional[int] = None,
    ) -> List[TDomainEvent]:
        """The domain events of one aggregate sequence (a list: they were all read)."""
        stored = await self.recorder.select_events(
            originator_id, gt=gt, lte=lte, desc=desc, limit=limit
        )
        return self.mapper.to_domain_events(stored)


class AsyncRepository(Generic[TAggregate]):
    """:class:`~eventsourcing.application.Repository`, awaitable: the same
    snapshots, cache and fast-forwarding (the same helpers)."""

    def __init__(
        self,
        event_store: AsyncEventStore[Any],
        snapshot_store: Optional[AsyncEventStore[Any]] = None,
        cache_maxsize: Optional[int] = None,
        fastforward: bool = True,
    ) -> None:
        self.event_store = event_store
        self.snapshot_store = snapshot_store
        self.cache: Optional[AggregateCache] = (
            AggregateCache(cache_maxsize) if cache_maxsize else None
        )
        self.fastforward = fastforward

    async def get(
        self,
        aggregate_id: UUID,
        version: Optional[int] = None,
        projector_func: ProjectorFunctionType[TAggregate] = mutate_aggregate,
    ) -> TAggregate:
        """The aggregate (at ``version``, if given); :class:`AggregateNotFound` if none."""
        cache = cache_for(self.cache, projector_func, version)
        if cache is not None:
            cached = cache.get(aggregate_id)
            if cached is not None:
                aggregate: TAggregate = deepcopy(cached)
                if not self.fastforward:
                    return aggregate
                new_events = await self.event_store.get(aggregate_id, gt=aggregate.version)
                return fastforward(cache, cached, aggregate, new_events)
        found = await self._reconstruct(aggregate_id, version, projector_func)
        return reconstructed(cache, aggregate_id, version, found)

    async def contains(self, aggregate_id: UUID) -> bool:
        """Whether the aggregate exists (``in`` cannot be awaited)."""
        try:
            await self.get(aggregate_id)
        except AggregateNotFound:
            return False
        return True

    async def _reconstruct(
        self,
        aggregate_id: UUID,
        version: Optional[int],
        projector_func: ProjectorFunctionType[TAggregate],
    ) -> Optional[TAggregate]:
        aggregate: Optional[TAggregate] = None
        gt: Optional[int] = None
        if self.snapshot_store is not None:
            snapshots = await self.snapshot_store.get(aggregate_id, lte=version, desc=True, limit=1)
            for snapshot in snapshots:
                aggregate = snapshot.mutate(None)
                gt = snapshot.originator_version
        events = await self.event_store.get(aggregate_id, gt=gt, lte=version)
        return projector_func(aggregate, events)


class AsyncLocalNotificationLog:
    """:class:`~eventsourcing.application.LocalNotificationLog`, awaitable:
    ``await app.log["1,10"]`` gives the same :class:`Section`."""

    def __init__(
        self,
        recorder: AsyncApplicationRecorder,
        section_size: int = LocalNotificationLog.DEFAULT_SECTION_SIZE,
    ) -> None:
        if not isinstance(section_size, int) or section_size < 1:
            raise ValueError(f"section_size must be an int >= 1, got {section_size!r}")
        self.recorder = recorder
        self.section_size = section_size

    async def __getitem__(self, requested_section_id: str) -> Section:
        """At most ``section_size`` notifications from the requested first ID."""
        first, limit = section_request(requested_section_id, self.section_size)
        items = await self.recorder.select_notifications(first, limit) if limit > 0 else []
        return section_of(items, limit)

    async def select(
        self,
        start: int,
        limit: int,
        stop: Optional[int] = None,
        topics: Sequence[str] = (),
    ) -> List[Notification]:
        """Up to ``limit`` (at most ``section_size``) notifications."""
        check_select_limit(limit, self.section_size)
        return await self.recorder.select_notifications(start, limit, stop=stop, topics=topics)


class AsyncApplication(BaseApplication[TAggregate]):
    """An event-sourced application for asyncio programs.

    Constructed as :class:`~eventsourcing.application.Application` is (the
    same ``env`` and class attributes); connections are made when first
    used. Close it with ``await app.close()`` or ``async with app:``.
    """

    def construct_persistence(self) -> None:
        self.recorder = self.construct_recorder()
        self.events = self.construct_event_store()
        self.snapshots = self.construct_snapshot_store()
        self.repository = self.construct_repository()
        self.log = self.construct_notification_log()

    def abandon(self) -> None:
        # Nothing was used yet: the factory releases what its recorders share.
        self._closed = True
        self.factory.close()

    def construct_recorder(self) -> AsyncApplicationRecorder:
        return self.factory.async_application_recorder()

    def construct_event_store(self) -> AsyncEventStore[Any]:
        return AsyncEventStore(mapper=self.mapper, recorder=self.recorder)

    def construct_snapshot_store(self) -> Optional[AsyncEventStore[Any]]:
        if not self.factory.is_snapshotting_enabled():
            return None
        recorder = self.factory.async_aggregate_recorder(purpose="snapshots")
        return AsyncEventStore(mapper=self.mapper, recorder=recorder)

    def construct_repository(self) -> AsyncRepository[TAggregate]:
        maxsize, fastforward = self.cache_settings()
        return AsyncRepository(
            event_store=self.events,
            snapshot_store=self.snapshots,
            cache_maxsize=maxsize,
            fastforward=fastforward,
        )

    def construct_notification_log(self) -> AsyncLocalNotificationLog:
        return AsyncLocalNotificationLog(self.recorder, section_size=self.log_section_size)

    # -- saving ---------------------------------------------------------------

    async def save(self, *aggregates: Any, **kwargs: Any) -> List[Recording]:
        """Record the pending events of all ``aggregates`` in one atomic insert.

        As :meth:`Application.save`: all or nothing, and the events are
        pending again if they were not recorded. If the awaiting task is
        cancelled meanwhile, the insert goes on until its outcome is known
        (recorded, or not), then :class:`asyncio.CancelledError` is raised;
        the pending events are cleared only if they were recorded.
        """
        processing_event = ProcessingEvent()
        processing_event.collect_events(*aggregates, **kwargs)
        recording = asyncio.ensure_future(self.record(processing_event))
        cancelled = await _wait_shielded(recording)
        error = _failure(recording)
        if error is not None:
            processing_event.restore_pending_events()
            if cancelled and not isinstance(error, asyncio.CancelledError):
                raise asyncio.CancelledError() from error
            raise error
        recordings = recording.result()
        if cancelled:
            raise asyncio.CancelledError()
        await self.take_snapshots(processing_event)
        self.notify(processing_event.events)
        return recordings

    async def record(self, processing_event: ProcessingEvent) -> List[Recording]:
        """Put the events (and tracking) of ``processing_event`` in one atomic
        insert, then refresh the aggregate cache (as :meth:`Application.record`)."""
        kwargs = self.insert_kwargs(processing_event)
        if kwargs is None:
            return []
        cache = self.repository.cache
        try:
            recordings = await self.events.put(processing_event.events, **kwargs)
        except IntegrityError:
            self.forget_conflicting(cache, processing_event)
            raise
        self.refresh_cache(cache, processing_event)
        return recordings

    async def take_snapshots(self, processing_event: ProcessingEvent) -> None:
        """Take automatic snapshots (``snapshotting_intervals``) of saved aggregates."""
        if self.snapshots is None:
            return
        for aggregate in self.aggregates_to_snapshot(processing_event):
            await self._put_snapshot(aggregate)

    def notify(self, new_events: List[DomainEvent]) -> None:
        """Called after new events were recorded; does nothing here."""

    async def take_snapshot(self, aggregate_id: UUID, version: Optional[int] = None) -> None:
        """Snapshot the recorded state of an aggregate (at ``version`` if given)."""
        self.check_snapshotting(self.snapshots)
        aggregate = await self.repository.get(aggregate_id, version=version)
        await self._put_snapshot(aggregate)

    async def _put_snapshot(self, aggregate: Aggregate) -> None:
        assert self.snapshots is not None
        snapshot = self.snapshot_class.take(aggregate)
        try:
            await self.snapshots.put([snapshot])
        except IntegrityError:
            # A snapshot of this version exists already: the same state.
            pass

    def subscribe(
        self, gt: Optional[int] = None, topics: Sequence[str] = ()
    ) -> AsyncApplicationSubscription:
        """``async for domain_event, tracking in app.subscribe(gt=...)``: the events
        recorded after notification ``gt``, then new ones as they are committed."""
        return AsyncApplicationSubscription(self, gt=gt, topics=topics)

    # -- resources ------------------------------------------------------------

    async def close(self) -> None:
        """Release the connections, pools and files held by this application."""
        if self._closed:
            return
        self._closed = True
        recorders: List[AsyncRecorder] = [self.recorder]
        if self.snapshots is not None:
            recorders.append(self.snapshots.recorder)
        try:
            for recorder in recorders:
                await recorder.close()
        finally:
            # A sync factory may join threads or close pools: not in the loop.
            await asyncio.get_running_loop().run_in_executor(None, self.factory.close)

    async def __aenter__(self: TAsyncApplication) -> TAsyncApplication:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc_val: Optional[BaseException],
        exc_tb: Optional[TracebackType],
    ) -> None:
        await self.close()


TAsyncApplication = TypeVar("TAsyncApplication", bound=AsyncApplication[Any])


class AsyncApplicationSubscription:
    """An application's events after a position, each with its :class:`Tracking`:
    the recorded ones, then live ones (see :meth:`AsyncApplication.subscribe`)."""

    def __init__(
        self, app: AsyncApplication[Any], gt: Optional[int] = None, topics: Sequence[str] = ()
    ) -> None:
        self.name = app.name
        self.mapper = app.mapper
        self.subscription: AsyncSubscription = app.recorder.subscribe(gt=gt, topics=topics)

    def __aiter__(self) -> AsyncApplicationSubscription:
        return self

    async def __anext__(self) -> Tuple[Any, Tracking]:
        notification = await self.subscription.__anext__()
        return tracked_event(self.mapper, self.name, notification)

    async def next_page(self) -> List[Tuple[Any, Tracking]]:
        """Wait until there are new events; return those read, or ``[]`` once stopped."""
        return tracked_events(self.mapper, self.name, await self.subscription.next_page())

    def stop(self) -> None:
        """End the iteration: a waiting ``__anext__`` raises ``StopAsyncIteration``."""
        self.subscription.stop()

    async def __aenter__(self) -> AsyncApplicationSubscription:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc_val: Optional[BaseException],
        exc_tb: Optional[TracebackType],
    ) -> None:
        await self.subscription.close()


async def _wait_shielded(task: asyncio.Future[Any]) -> bool:
    """Wait until ``task`` is done, even if the awaiting task is cancelled
    meanwhile; return whether it was (so that the caller raises
    ``CancelledError`` once the outcome is known).

    ``asyncio.wait`` does not cancel what it waits for when the waiting task
    is cancelled: the insert goes on, and is waited for again.
    """
    cancelled = False
    while not task.done():
        try:
            await asyncio.wait((task,))
        except asyncio.CancelledError:
            cancelled = True
    return cancelled


def _failure(task: asyncio.Future[Any]) -> Optional[BaseException]:
    """The exception ``task`` ended with (``CancelledError`` if it was cancelled), or None."""
    if task.cancelled():
        return asyncio.CancelledError()
    return task.exception()
