"""The core's thread-offloading adapter: a sync recorder behind the async ports.

The default of ``InfrastructureFactory.async_*_recorder()`` for every
backend: each call runs the sync recorder's method in a worker thread
(the event loop's default executor, or the one given), so the loop is never
blocked and the backend's own guarantees (locks, group commit, fault
handling) are the sync recorder's. A backend overrides the factory methods
to go native (``eventsourcing.postgres`` does).

A worker thread cannot be interrupted: when the awaiting task is cancelled,
the call still runs to its end in its thread.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Sequence, TypeVar
from uuid import UUID

from eventsourcing.asyncports import (
    AsyncAggregateRecorder,
    AsyncApplicationRecorder,
    AsyncProcessRecorder,
    AsyncSubscription,
)

if TYPE_CHECKING:  # the persistence layer imports this module
    from eventsourcing.persistence import (
        AggregateRecorder,
        ApplicationRecorder,
        Notification,
        ProcessRecorder,
        StoredEvent,
    )
    from eventsourcing.subscription import Subscription

__all__ = [
    "ThreadedAggregateRecorder",
    "ThreadedApplicationRecorder",
    "ThreadedProcessRecorder",
    "ThreadedSubscription",
]

T = TypeVar("T")


async def _in_thread(executor: Optional[Executor], func: Callable[..., T], *args: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, func, *args)


class ThreadedAggregateRecorder(AsyncAggregateRecorder):
    """An :class:`~eventsourcing.persistence.AggregateRecorder`, awaitable.

    ``executor`` runs the calls (default: the running loop's default executor).
    """

    def __init__(self, recorder: AggregateRecorder, executor: Optional[Executor] = None) -> None:
        self.recorder = recorder
        self.executor = executor

    async def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Optional[Sequence[int]]:
        # Events mapped on demand are mapped in the worker thread too.
        insert = functools.partial(self.recorder.insert_events, stored_events, **kwargs)
        return await _in_thread(self.executor, insert)

    async def select_events(
        self,
        originator_id: UUID,
        gt: Optional[int] = None,
        lte: Optional[int] = None,
        desc: bool = False,
        limit: Optional[int] = None,
    ) -> List[StoredEvent]:
        select = self.recorder.select_events
        return await _in_thread(self.executor, select, originator_id, gt, lte, desc, limit)

    async def close(self) -> None:
        await _in_thread(self.executor, self.recorder.close)


class ThreadedApplicationRecorder(ThreadedAggregateRecorder, AsyncApplicationRecorder):
    """An :class:`~eventsourcing.persistence.ApplicationRecorder`, awaitable."""

    recorder: ApplicationRecorder

    def __init__(self, recorder: ApplicationRecorder, executor: Optional[Executor] = None) -> None:
        super().__init__(recorder, executor)

    async def select_notifications(
        self,
        start: int,
        limit: int,
        stop: Optional[int] = None,
        topics: Sequence[str] = (),
    ) -> List[Notification]:
        select = self.recorder.select_notifications
        return await _in_thread(self.executor, select, start, limit, stop, topics)

    async def max_notification_id(self) -> int:
        return await _in_thread(self.executor, self.recorder.max_notification_id)

    def subscribe(
        self, gt: Optional[int] = None, topics: Sequence[str] = ()
    ) -> ThreadedSubscription:
        return ThreadedSubscription(self.recorder.subscribe(gt=gt, topics=topics))


class ThreadedProcessRecorder(ThreadedApplicationRecorder, AsyncProcessRecorder):
    """A :class:`~eventsourcing.persistence.ProcessRecorder`, awaitable."""

    recorder: ProcessRecorder

    def __init__(self, recorder: ProcessRecorder, executor: Optional[Executor] = None) -> None:
        super().__init__(recorder, executor)
        self.max_trackings_per_insert = recorder.max_trackings_per_insert

    async def max_tracking_id(self, application_name: str) -> int:
        return await _in_thread(self.executor, self.recorder.max_tracking_id, application_name)

    async def has_tracking_id(self, application_name: str, notification_id: int) -> bool:
        has = self.recorder.has_tracking_id
        return await _in_thread(self.executor, has, application_name, notification_id)


class ThreadedSubscription(AsyncSubscription):
    """A sync :class:`~eventsourcing.subscription.Subscription`, awaitable.

    Its waits for new events run in a thread of its own, so that a
    subscription waiting for hours never holds a worker of the shared executor.
    """

    def __init__(self, subscription: Subscription) -> None:
        self.subscription = subscription
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="subscription")
        self._page: List[Notification] = []

    async def __anext__(self) -> Notification:
        while not self._page:
            self._page = await self.next_page()
            if not self._page:
                raise StopAsyncIteration
        return self._page.pop(0)

    async def next_page(self) -> List[Notification]:
        if self._page:
            page, self._page = self._page, []
            return page
        return await _in_thread(self._executor, self.subscription.next_page)

    def stop(self) -> None:
        self.subscription.stop()

    async def close(self) -> None:
        self.subscription.stop()
        # The waiting thread returns once stopped; then the recorder's side is closed.
        await _in_thread(self._executor, self.subscription.close)
        self._executor.shutdown(wait=False)
