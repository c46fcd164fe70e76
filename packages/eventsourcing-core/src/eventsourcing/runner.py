"""What every runner of a :class:`~eventsourcing.topology.System` shares:
starting once, finding a running application, keeping the errors of its threads."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Any, List, Mapping, Optional, Type, TypeVar

from eventsourcing.application import Application
from eventsourcing.topology import System
from eventsourcing.utils import EventSourcingError

__all__ = ["A", "Runner", "RunnerAlreadyStarted", "ThreadErrors"]

A = TypeVar("A", bound=Application[Any])


class RunnerAlreadyStarted(EventSourcingError):
    """Raised by :meth:`Runner.start` when the runner was started before."""

    __module__ = "eventsourcing.system"  # where 9.1 defined it: printed and in topics


class Runner(ABC):
    """Builds the applications of a :class:`System` and keeps them connected.

    ``env`` (optional) is given to every application's constructor; prefixed
    keys (``COUNTERS_SQLITE_DBNAME``) configure one application. A runner is
    started once; to resume after :meth:`stop`, start a new runner.
    """

    __module__ = "eventsourcing.system"  # where 9.1 defined it: printed and in topics

    def __init__(self, system: System, env: Optional[Mapping[str, str]] = None) -> None:
        self.system = system
        self.env = env
        self.is_started = False

    @abstractmethod
    def start(self) -> None:
        """Construct and connect the applications; raise
        :class:`RunnerAlreadyStarted` if called before."""
        if self.is_started:
            raise RunnerAlreadyStarted(
                f"{type(self).__name__} has already been started; construct a new runner "
                "to run the system again"
            )
        self.is_started = True

    @abstractmethod
    def stop(self) -> None:
        """Stop processing and close the applications."""

    @abstractmethod
    def get(self, cls: Type[A]) -> A:
        """The running instance of application class ``cls``."""

    def _app(self, apps: Mapping[str, Application[Any]], cls: Type[A]) -> A:
        try:
            app = apps[cls.name]
        except KeyError:
            if not self.is_started:
                raise RuntimeError(f"{type(self).__name__} has not been started") from None
            raise KeyError(f"No application named {cls.name!r} is running") from None
        if not isinstance(app, cls):
            raise TypeError(f"The application named {cls.name!r} is a {type(app).__qualname__}")
        return app


class ThreadErrors:
    """Errors raised in a runner's threads, in the order they happened.

    Shared by the runners that process in threads, so that each keeps the
    same ``errors`` and ``has_errors`` and ``stop()`` can re-raise the first.
    """

    def __init__(self) -> None:
        self.has_errors = threading.Event()
        self._errors: List[BaseException] = []
        self._errors_lock = threading.Lock()

    @property
    def errors(self) -> List[BaseException]:
        """Errors raised in the threads so far, in the order they happened."""
        with self._errors_lock:
            return list(self._errors)

    def _record_error(self, error: BaseException) -> None:
        with self._errors_lock:
            self._errors.append(error)
        self.has_errors.set()
