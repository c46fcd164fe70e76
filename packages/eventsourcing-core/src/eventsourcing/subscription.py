"""Subscriptions: read an application's notifications after a position, then wait.

A subscription reads pages with ``select_notifications`` from just after
the last notification it read. When a page comes back empty it waits for a
wake-up (a backend's signal of a commit) or the poll interval, whichever
comes first, then reads again. A wake-up is only a hint: what is yielded
always comes from reading the recorder, so a lost or late wake-up delays an
event and never loses one. Recorders whose inserts become visible in
notification ID order (the recorder contract) make "read after the last
position" miss nothing.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import (
    TYPE_CHECKING,
    Any,
    Deque,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)

from eventsourcing.errors import OperationalError
from eventsourcing.utils import CloseOnExit

if TYPE_CHECKING:  # the persistence layer imports this module
    from eventsourcing.persistence import ApplicationRecorder, Notification

__all__ = [
    "ChangeSignal",
    "SignalledSubscription",
    "Subscription",
    "check_subscription_args",
]

DEFAULT_POLL_INTERVAL = 1.0
DEFAULT_PAGE_SIZE = 500

TSubscription = TypeVar("TSubscription", bound="Subscription")


def check_subscription_args(gt: Any, topics: Any) -> Tuple[int, Tuple[str, ...]]:
    """Return the start position and topics, refusing what cannot be meant."""
    if gt is not None and (not isinstance(gt, int) or isinstance(gt, bool)):
        raise TypeError(f"gt must be an int or None, got {type(gt).__name__}: {gt!r}")
    if gt is not None and gt < 0:
        raise ValueError(f"gt must not be negative (notification IDs start at 1), got {gt}")
    if isinstance(topics, (str, bytes)):
        raise TypeError(f"topics must be a sequence of str, not a single {type(topics).__name__}")
    try:
        topics = tuple(topics)
    except TypeError:
        raise TypeError(
            f"topics must be a sequence of str, got {type(topics).__name__}: {topics!r}"
        ) from None
    for topic in topics:
        if not isinstance(topic, str):
            raise TypeError(f"topics must be str, got {type(topic).__name__}: {topic!r}")
    return gt or 0, topics


class Subscription(CloseOnExit, Iterator["Notification"]):
    """The notifications of a recorder after ``gt``: first those recorded, then
    new ones as they are committed, until :meth:`stop` is called.

    This class polls at ``poll_interval``; a backend with a way to hear of
    commits overrides :meth:`_wait_for_change` (and :meth:`_interrupt`, so
    that :meth:`stop` wakes a waiting iteration).
    """

    def __init__(
        self,
        recorder: ApplicationRecorder,
        gt: Optional[int] = None,
        topics: Sequence[str] = (),
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        self.position, self.topics = check_subscription_args(gt, topics)
        self.recorder = recorder
        self.poll_interval = poll_interval
        self.page_size = page_size
        self._buffer: Deque[Notification] = deque()
        self._stopped = threading.Event()

    # -- iteration --------------------------------------------------------------

    def __iter__(self: TSubscription) -> TSubscription:
        return self

    def __next__(self) -> Notification:
        if not self._buffer:
            self._buffer.extend(self.next_page())
            if not self._buffer:
                raise StopIteration
        return self._buffer.popleft()

    def next_page(self) -> List[Notification]:
        """Block until there are notifications after the position; return those
        read (at most a page), or ``[]`` once stopped."""
        if self._buffer:
            page = list(self._buffer)
            self._buffer.clear()
            return page
        while not self._stopped.is_set():
            token = self._change_token()
            try:
                page = self.recorder.select_notifications(
                    self.position + 1, self.page_size, topics=self.topics
                )
            except OperationalError:
                # Lost connection, restarted server: read again after a while.
                if self._stopped.wait(self.poll_interval):
                    break
                continue
            if page:
                self.position = page[-1].id
                return page
            self._wait_for_change(token, self.poll_interval)
        return []

    # -- waiting (backends override) -------------------------------------------

    def _change_token(self) -> Any:
        """Something to compare after reading, to know whether a commit happened
        since (taken before each read, passed to :meth:`_wait_for_change`)."""
        return None

    def _wait_for_change(self, token: Any, timeout: float) -> None:
        """Return after a commit may have happened since ``token``, after
        ``timeout`` seconds, or once stopped."""
        self._stopped.wait(timeout)

    def _interrupt(self) -> None:
        """Wake :meth:`_wait_for_change` (called by :meth:`stop`, from any thread)."""

    # -- lifecycle --------------------------------------------------------------

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def stop(self) -> None:
        """End the iteration (from any thread); a blocked ``next()`` returns promptly."""
        self._stopped.set()
        self._interrupt()

    def close(self) -> None:
        """Stop, and release what the subscription holds (connections)."""
        self.stop()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


class ChangeSignal:
    """A count of commits and a condition to wait for the next, in one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._condition = threading.Condition(self._lock)
        self._waiting = 0
        self.count = 0

    def notify(self) -> None:
        """Say that something was committed (or that waiters should look again)."""
        # Every save calls this: the plain lock (entered in C) and no
        # notify_all() when nobody waits keep it cheap without subscribers.
        with self._lock:
            self.count += 1
            if self._waiting:
                self._condition.notify_all()

    def wait(self, since: int, timeout: float) -> None:
        """Return once :attr:`count` differs from ``since``, or after ``timeout``."""
        with self._lock:
            if self.count == since:
                self._waiting += 1
                try:
                    self._condition.wait(timeout)
                finally:
                    self._waiting -= 1


class SignalledSubscription(Subscription):
    """Woken by a :class:`ChangeSignal` that writers in this process notify;
    writers in other processes are noticed by polling."""

    def __init__(
        self,
        recorder: ApplicationRecorder,
        signal: ChangeSignal,
        gt: Optional[int] = None,
        topics: Sequence[str] = (),
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        super().__init__(recorder, gt, topics, poll_interval, page_size)
        self.signal = signal

    def _change_token(self) -> Any:
        return self.signal.count

    def _wait_for_change(self, token: Any, timeout: float) -> None:
        if not self._stopped.is_set():
            self.signal.wait(token, timeout)

    def _interrupt(self) -> None:
        self.signal.notify()
