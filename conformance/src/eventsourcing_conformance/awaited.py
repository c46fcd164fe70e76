"""The async recorders under the same checks: each call awaited in a private loop.

:func:`awaited` turns a :class:`Backend` into one whose factory's recorders
are the backend's async recorders (``async_aggregate_recorder()`` ...)
behind the sync ports: every call is a coroutine run in an event loop of the
factory's own, in a thread of its own. The suite's property checks then hold
the async recorders to the contract of the sync ones, unchanged; checks
that write from several threads run their saves concurrently in that one
loop (which exercises a native recorder's group commit).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any, Coroutine, List, Optional, Sequence, TypeVar
from uuid import UUID

from eventsourcing.asyncports import (
    AsyncAggregateRecorder,
    AsyncApplicationRecorder,
    AsyncProcessRecorder,
    AsyncRecorder,
)
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    Notification,
    ProcessRecorder,
    StoredEvent,
)
from eventsourcing_conformance.backend import Backend, StoreEnv

__all__ = ["AwaitedBackend", "AwaitedFactory", "awaited"]

T = TypeVar("T")


class _Loop:
    """An event loop running in a thread of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="awaited-recorders", daemon=True
        )
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self.loop.is_closed():
            # The factory was closed: its recorders are to refuse calls, which
            # they do in a loop of the moment.
            return asyncio.run(coro)
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class AwaitedAggregateRecorder(AggregateRecorder):
    """An async aggregate recorder behind the sync port."""

    def __init__(self, recorder: AsyncAggregateRecorder, loop: _Loop) -> None:
        self.recorder = recorder
        self._loop = loop

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Optional[Sequence[int]]:
        return self._loop.run(self.recorder.insert_events(stored_events, **kwargs))

    def select_events(
        self,
        originator_id: UUID,
        gt: Optional[int] = None,
        lte: Optional[int] = None,
        desc: bool = False,
        limit: Optional[int] = None,
    ) -> List[StoredEvent]:
        return self._loop.run(
            self.recorder.select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        )

    def close(self) -> None:
        self._loop.run(self.recorder.close())


class AwaitedApplicationRecorder(AwaitedAggregateRecorder, ApplicationRecorder):
    """An async application recorder behind the sync port."""

    recorder: AsyncApplicationRecorder

    def select_notifications(
        self,
        start: int,
        limit: int,
        stop: Optional[int] = None,
        topics: Sequence[str] = (),
    ) -> List[Notification]:
        return self._loop.run(
            self.recorder.select_notifications(start, limit, stop=stop, topics=topics)
        )

    def max_notification_id(self) -> int:
        return self._loop.run(self.recorder.max_notification_id())


class AwaitedProcessRecorder(AwaitedApplicationRecorder, ProcessRecorder):
    """An async process recorder behind the sync port."""

    recorder: AsyncProcessRecorder

    def __init__(self, recorder: AsyncProcessRecorder, loop: _Loop) -> None:
        super().__init__(recorder, loop)
        self.max_trackings_per_insert = recorder.max_trackings_per_insert

    def max_tracking_id(self, application_name: str) -> int:
        return self._loop.run(self.recorder.max_tracking_id(application_name))

    def has_tracking_id(self, application_name: str, notification_id: int) -> bool:
        return self._loop.run(self.recorder.has_tracking_id(application_name, notification_id))


class AwaitedFactory(InfrastructureFactory):
    """A backend's factory whose recorders are its async recorders, awaited."""

    def __init__(self, factory: InfrastructureFactory) -> None:
        super().__init__(factory.application_name, factory.env)
        self.factory = factory
        self._loop = _Loop()
        self._made: List[AsyncRecorder] = []

    def aggregate_recorder(self, purpose: str = "events") -> AwaitedAggregateRecorder:
        recorder = self.factory.async_aggregate_recorder(purpose)
        self._made.append(recorder)
        return AwaitedAggregateRecorder(recorder, self._loop)

    def application_recorder(self) -> AwaitedApplicationRecorder:
        recorder = self.factory.async_application_recorder()
        self._made.append(recorder)
        return AwaitedApplicationRecorder(recorder, self._loop)

    def process_recorder(self) -> AwaitedProcessRecorder:
        recorder = self.factory.async_process_recorder()
        self._made.append(recorder)
        return AwaitedProcessRecorder(recorder, self._loop)

    def close(self) -> None:
        """Close the recorders made here (in their loop), the factory, then the loop."""
        if self._loop.thread.is_alive():
            try:
                for recorder in self._made:
                    self._loop.run(recorder.close())
                self.factory.close()
            finally:
                self._loop.close()


@dataclass(frozen=True)
class AwaitedBackend(Backend):
    """A backend whose recorders, as the checks see them, are its async ones."""

    def open(self, env: StoreEnv) -> AwaitedFactory:
        return AwaitedFactory(super().open(env))


def awaited(backend: Backend) -> AwaitedBackend:
    """``backend`` with its async recorders under the sync checks."""
    return AwaitedBackend(
        name=backend.name,
        factory=backend.factory,
        new_store=backend.new_store,
        durable=backend.durable,
        multiprocess=backend.multiprocess,
        application_name=backend.application_name,
        described=backend.described,
    )
