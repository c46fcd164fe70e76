"""What the recorders of one factory share, and when it is released.

Every backend closes in the same way: a recorder's ``close()`` stops that
recorder (its methods then raise
:class:`~eventsourcing.persistence.InterfaceError`) and never a sibling; the
connections, pool or file its factory's recorders share are released when
the last of them is closed, or when the factory is closed, whichever comes
first. :class:`Shared` keeps that count for a backend's factory.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Generic, List, Optional, Protocol, TypeVar

from eventsourcing.persistence import InterfaceError

__all__ = ["ClosingRecorder", "Shared"]

T = TypeVar("T")


class ClosingRecorder(Protocol):
    """A recorder that calls ``on_close`` (if set) once, when it is closed."""

    on_close: Optional[Callable[[Any], None]]

    def create_table(self) -> None: ...

    def close(self) -> None: ...


R = TypeVar("R", bound=ClosingRecorder)


class Shared(Generic[T]):
    """A resource shared by the recorders of one factory: opened when first
    needed, released when the last recorder using it is closed (unless
    ``keep`` says it must live as long as the factory, like an in-memory
    database), or when the factory is closed."""

    def __init__(
        self,
        name: str,
        open_resource: Callable[[], T],
        release: Callable[[T], None],
        is_closed: Callable[[T], bool],
        keep: Callable[[T], bool] = lambda resource: False,
    ) -> None:
        self._name = name
        self._open = open_resource
        self._release = release
        self._is_closed = is_closed
        self._keep = keep
        self._lock = threading.Lock()
        self._resource: Optional[T] = None
        self._recorders: List[ClosingRecorder] = []
        self._closed = False

    def get(self) -> T:
        """The resource, opened again if it was released (or closed by someone else)."""
        with self._lock:
            return self._get()

    def _get(self) -> T:
        if self._closed:
            raise InterfaceError(f"{self._name} is closed")
        if self._resource is None or self._is_closed(self._resource):
            self._resource = self._open()
        return self._resource

    def recorder(self, make: Callable[[T], R], create_table: bool) -> R:
        """Make a recorder that uses the resource, counted as open until it is
        closed, and create its tables if ``create_table`` (``CREATE_TABLE``)."""
        # Counted before it is returned (and before its tables are made), so
        # that closing the last other recorder meanwhile keeps the resource.
        with self._lock:
            recorder = make(self._get())
            self._recorders.append(recorder)
        recorder.on_close = self._recorder_closed
        if create_table:
            try:
                recorder.create_table()
            except BaseException:
                recorder.close()
                raise
        return recorder

    def _recorder_closed(self, recorder: ClosingRecorder) -> None:
        with self._lock:
            if recorder in self._recorders:
                self._recorders.remove(recorder)
            resource = self._resource
            if self._recorders or resource is None or self._keep(resource):
                return
            self._resource = None
        self._release(resource)

    def close(self) -> None:
        """Release the resource: the recorders using it stop working (idempotent)."""
        with self._lock:
            self._closed = True
            resource, self._resource = self._resource, None
            self._recorders.clear()
        if resource is not None:
            self._release(resource)
