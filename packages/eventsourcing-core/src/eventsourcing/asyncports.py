"""Async recorder ports: the recorder contract, awaitable.

The same contract as the sync ports of :mod:`eventsourcing.persistence`
(``AggregateRecorder``, ``ApplicationRecorder``, ``ProcessRecorder``),
method for method, with ``await``: an async application
(:mod:`eventsourcing.asyncio`) maps and checks as the sync one does, and
only the I/O is awaited. Every backend gets these through
:class:`~eventsourcing.persistence.InfrastructureFactory`, whose default
wraps the sync recorders (:mod:`eventsourcing.asyncadapter`); a backend
overrides the factory methods to go native.

This module sits below :mod:`eventsourcing.persistence` (which constructs
the default adapters), so it names the persistence types for annotations only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import TYPE_CHECKING, Any, AsyncIterator, List, Optional, Sequence, Type, TypeVar
from uuid import UUID

if TYPE_CHECKING:  # the persistence layer imports this module
    from eventsourcing.persistence import Notification, StoredEvent

__all__ = [
    "AsyncAggregateRecorder",
    "AsyncApplicationRecorder",
    "AsyncProcessRecorder",
    "AsyncRecorder",
    "AsyncSubscription",
]

TAsyncSubscription = TypeVar("TAsyncSubscription", bound="AsyncSubscription")


class AsyncRecorder(ABC):  # noqa: B024 (a marker base; subclasses add the abstract methods)
    """Abstract base class for async stored event recorders."""

    async def close(self) -> None:  # noqa: B027 (optional to override)
        """Stop this recorder (idempotent); what was recorded is kept.

        As the sync ``Recorder.close()``: never stops a sibling, and what the
        recorders of one factory share is released with the last of them.
        """


class AsyncAggregateRecorder(AsyncRecorder):
    """Records and retrieves the stored events of aggregates.

    ``insert_events`` takes any ``Sequence[StoredEvent]``, possibly mapped on
    demand, exactly as :class:`eventsourcing.persistence.AggregateRecorder`.

    Cancellation: a recorder need not finish an insert whose awaiting task is
    cancelled; :meth:`eventsourcing.asyncio.AsyncApplication.save` shields
    the insert so that its outcome is always known to the caller.
    """

    @abstractmethod
    async def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Optional[Sequence[int]]:
        """Record ``stored_events`` atomically: all of them or none."""

    @abstractmethod
    async def select_events(
        self,
        originator_id: UUID,
        gt: Optional[int] = None,
        lte: Optional[int] = None,
        desc: bool = False,
        limit: Optional[int] = None,
    ) -> List[StoredEvent]:
        """Return the stored events of one aggregate with ``gt < version <= lte``."""


class AsyncApplicationRecorder(AsyncAggregateRecorder):
    """Also records events in a total order, readable as notifications."""

    @abstractmethod
    async def select_notifications(
        self,
        start: int,
        limit: int,
        stop: Optional[int] = None,
        topics: Sequence[str] = (),
    ) -> List[Notification]:
        """Return up to ``limit`` notifications with ``start <= id`` (and ``id <= stop``)."""

    @abstractmethod
    async def max_notification_id(self) -> int:
        """Return the largest notification ID recorded, or 0."""

    @abstractmethod
    def subscribe(self, gt: Optional[int] = None, topics: Sequence[str] = ()) -> AsyncSubscription:
        """The notifications after ``gt``: those recorded, then new ones as they
        are committed, until the subscription is stopped (``async for``)."""


class AsyncProcessRecorder(AsyncApplicationRecorder):
    """Also records, atomically with events, which notification was processed."""

    max_trackings_per_insert: Optional[int] = 1

    @abstractmethod
    async def max_tracking_id(self, application_name: str) -> int:
        """Return the last notification ID processed from ``application_name``, or 0."""

    @abstractmethod
    async def has_tracking_id(self, application_name: str, notification_id: int) -> bool:
        """Return whether that notification of ``application_name`` was processed."""


class AsyncSubscription(AsyncIterator["Notification"]):
    """Notifications after a position, then live ones, until :meth:`stop`.

    ``async with`` closes it at the end of the block.
    """

    def __aiter__(self: TAsyncSubscription) -> TAsyncSubscription:
        return self

    @abstractmethod
    async def __anext__(self) -> Notification:
        """The next notification; waits for one; ``StopAsyncIteration`` once stopped."""

    @abstractmethod
    async def next_page(self) -> List[Notification]:
        """Wait until there are new notifications; return those read, ``[]`` once stopped."""

    @abstractmethod
    def stop(self) -> None:
        """End the iteration (from any thread or task): a waiting ``__anext__`` returns."""

    async def close(self) -> None:
        """Stop and release what the subscription holds."""
        self.stop()

    async def __aenter__(self: TAsyncSubscription) -> TAsyncSubscription:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc_val: Optional[BaseException],
        exc_tb: Optional[TracebackType],
    ) -> None:
        await self.close()
