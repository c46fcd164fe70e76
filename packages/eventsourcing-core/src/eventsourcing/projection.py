"""Projections: materialised views of an application, updated exactly once.

A :class:`Projection` turns an application's domain events into changes of
a view, a :class:`~eventsourcing.persistence.TrackingRecorder` of some
backend with tables of its own. The view writes each change and the
tracking records of the notifications that caused it in one transaction, so
a notification's effect is recorded once however often it is delivered.
A :class:`ProjectionRunner` subscribes to the application from the view's
last tracking record and feeds the projection in a thread.
"""

from __future__ import annotations

import os
import queue
import threading
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Any, Dict, Generic, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar

from eventsourcing.application import Application, ApplicationSubscription
from eventsourcing.persistence import (
    InfrastructureFactory,
    Tracking,
    TrackingRecorder,
    WaitInterruptedError,
)

__all__ = ["Projection", "ProjectionRunner"]

TTrackingRecorder = TypeVar("TTrackingRecorder", bound=TrackingRecorder)

# Most events given to one process_events() call when several pages are ready.
MAX_EVENTS_PER_CALL = 5000
# Most notifications read at once. Catching up, each read costs a round trip
# and, on PostgreSQL, a plan over the rest of the table (an index scan once
# it is analysed; on a new table with topics, a scan and sort of every row
# after the position: 100,000 events read in 1.5 s in pages of 500, 0.6 s in
# pages of 5,000). Measured with the bank projection (100,000 events): server
# CPU 0.53 s with 500, 0.48 s with 2,000; 5,000 kept so many objects alive
# that garbage collection cost more than the reads saved.
PAGE_SIZE = 2000
TApplication = TypeVar("TApplication", bound=Application[Any])
TProjection = TypeVar("TProjection", bound="Projection[Any]")


class Projection(ABC, Generic[TTrackingRecorder]):
    """Processes an application's events into a view.

    ``name`` (default: the class name) prefixes the view's settings
    (``COUNTWORDS_SQLITE_DBNAME``) and names its tables; ``topics``, if
    given, selects the events to process (read from the database, the rest
    never leave it).
    """

    name: str = ""
    topics: Sequence[str] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__

    def __init__(self, view: TTrackingRecorder) -> None:
        self.view = view

    @abstractmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Change the view for ``domain_event``, recording ``tracking`` with the change."""

    def process_events(self, events: Sequence[Tuple[Any, Tracking]]) -> None:
        """Process a page of events, in order.

        Override to write the whole page in one transaction (with every
        tracking record of the page): much faster than one per event.
        """
        for domain_event, tracking in events:
            self.process_event(domain_event, tracking)


class ProjectionRunner(Generic[TApplication, TProjection, TTrackingRecorder]):
    """Runs a projection of an application into a view, in a thread.

    Constructs the application from ``env``; the view with a factory whose
    settings are named after the projection (``{NAME}_...`` keys first, see
    :meth:`InfrastructureFactory.getenv`); then subscribes to the
    application after the view's last tracking record. An error in the
    projection stops the runner (the event is not skipped: it is processed
    again when the runner is started again) and is raised by :meth:`wait`,
    :meth:`run_forever`, :meth:`stop` and ``__exit__``.
    """

    def __init__(
        self,
        *,
        application_class: Type[TApplication],
        projection_class: Type[TProjection],
        view_class: Type[TTrackingRecorder],
        env: Optional[Mapping[str, str]] = None,
    ) -> None:
        self._error: Optional[BaseException] = None
        self._stopped = False
        self.is_interrupted = threading.Event()
        merged: Dict[str, str] = dict(os.environ)
        merged.update(env or {})
        self.factory = InfrastructureFactory.construct(
            application_name=projection_class.name, env=merged
        )
        try:
            self.view: TTrackingRecorder = self.factory.tracking_recorder(view_class)
            self.projection: TProjection = projection_class(view=self.view)
            self.app: TApplication = application_class(env=env)
        except BaseException:
            self.factory.close()
            raise
        try:
            self.subscription: ApplicationSubscription = self.app.subscribe(
                gt=self.view.max_tracking_id(self.app.name), topics=self.projection.topics
            )
        except BaseException:
            self._close_resources()
            raise
        self.subscription.page_size = PAGE_SIZE
        # Two threads, so that reading and decoding the next page overlaps
        # with the projection writing the last one (both mostly wait for the
        # database); at most four pages wait in between.
        self._pages: queue.Queue[Optional[List[Tuple[Any, Tracking]]]] = queue.Queue(maxsize=4)
        self._threads = [
            threading.Thread(target=target, name=f"projection-{projection_class.name}-{role}")
            for role, target in (("reader", self._read), ("processor", self._process))
        ]
        for thread in self._threads:
            thread.daemon = True
            thread.start()

    def _read(self) -> None:
        try:
            while not self.is_interrupted.is_set():
                page = self.subscription.next_page()
                if not page:
                    break
                while not self.is_interrupted.is_set():
                    try:
                        self._pages.put(page, timeout=0.1)
                        break
                    except queue.Full:
                        continue
        except BaseException as e:
            self._fail(e)
        finally:
            self._pages.put(None)  # room for it: the processor takes one, or failed

    def _process(self) -> None:
        try:
            end = False
            while not end:
                page = self._pages.get()
                if page is None or self.is_interrupted.is_set():
                    return
                # Catching up, the reader is ahead: take what it has read too,
                # so the view commits once for several pages.
                while len(page) < MAX_EVENTS_PER_CALL:
                    try:
                        more = self._pages.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        end = True
                        break
                    page.extend(more)
                self.projection.process_events(page)
        except BaseException as e:
            self._fail(e)
        finally:
            self.is_interrupted.set()
            self.subscription.stop()
            # Unblock a reader waiting for room.
            while True:
                try:
                    self._pages.get_nowait()
                except queue.Empty:
                    break

    def _fail(self, error: BaseException) -> None:
        if self._error is None:
            self._error = error
        self.is_interrupted.set()
        self.subscription.stop()

    def wait(self, notification_id: Optional[int], timeout: float = 1.0) -> None:
        """Return once the view has processed ``notification_id``.

        Raises :class:`TimeoutError` after ``timeout`` seconds, or the
        projection's error if it failed meanwhile.
        """
        try:
            self.view.wait(
                self.app.name, notification_id, timeout=timeout, interrupt=self.is_interrupted
            )
        except WaitInterruptedError:
            self._raise_error()
            if not self._stopped:
                raise

    def run_forever(self, timeout: Optional[float] = None) -> None:
        """Block until the runner stops (or ``timeout``); raise the projection's error."""
        if self.is_interrupted.wait(timeout):
            self._raise_error()

    def stop(self) -> None:
        """Stop processing (waiting for the page in progress); raise its error, if any."""
        self._stopped = True
        self.subscription.stop()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()
        self._raise_error()

    def _raise_error(self) -> None:
        # Every call raises it: a failed runner stays failed until replaced.
        if self._error is not None:
            raise self._error

    def _close_resources(self) -> None:
        subscription = getattr(self, "subscription", None)
        try:
            if subscription is not None:
                subscription.__exit__(None, None, None)
        finally:
            try:
                self.app.close()
            finally:
                self.view.close()
                self.factory.close()

    def __enter__(
        self,
    ) -> ProjectionRunner[TApplication, TProjection, TTrackingRecorder]:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc_val: Optional[BaseException],
        exc_tb: Optional[TracebackType],
    ) -> None:
        try:
            self.stop()
        finally:
            self._close_resources()
