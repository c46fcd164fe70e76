"""Event-driven systems: applications that follow and lead each other.

A :class:`Follower` pulls the notifications of the applications it follows
and passes each domain event to its :meth:`~Follower.policy`. What the
policy saves to the :class:`ProcessEvent` is recorded in ONE atomic insert
together with a :class:`~eventsourcing.persistence.Tracking` record of the
notification it came from, so each upstream notification is processed
exactly once: a follower resumes after the highest tracked notification,
and a policy that raises records nothing (its notification is processed
again next time).

A :class:`Leader` prompts its followers when it has recorded new events. A
:class:`System` says who follows whom (``pipes``), and a runner builds and
connects the applications: :class:`SingleThreadedRunner` processes prompts
synchronously, in the thread that saved; :class:`MultiThreadedRunner` gives
each follower a thread of its own.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Tuple,
    Type,
    TypeVar,
    cast,
)

from eventsourcing.application import (
    Application,
    NotificationLog,
    ProcessEvent,
    TAggregate,
)
from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import (
    IntegrityError,
    Mapper,
    Notification,
    ProcessRecorder,
    Tracking,
)
from eventsourcing.utils import EventSourcingError, get_topic

__all__ = [
    "ErrorHandler",
    "Follower",
    "Leader",
    "MultiThreadedRunner",
    "MultiThreadedRunnerThread",
    "NotificationLogReader",
    "ProcessApplication",
    "ProcessEvent",
    "Promptable",
    "Runner",
    "RunnerAlreadyStarted",
    "SingleThreadedRunner",
    "System",
]

A = TypeVar("A", bound=Application[Any])

ErrorHandler = Callable[[str, BaseException], None]
"""Called as ``on_error(application_name, error)`` by a failing runner thread."""


# ---------------------------------------------------------------------------
# Reading notification logs
# ---------------------------------------------------------------------------


class NotificationLogReader:
    """Iterates over the notifications of a log, fetching them a page at a time."""

    DEFAULT_SECTION_SIZE = 10

    def __init__(
        self, notification_log: NotificationLog, section_size: int = DEFAULT_SECTION_SIZE
    ) -> None:
        if not isinstance(section_size, int) or isinstance(section_size, bool) or section_size < 1:
            raise ValueError(f"section_size must be an int >= 1, got {section_size!r}")
        self.notification_log = notification_log
        self.section_size = section_size

    def read(self, *, start: int) -> Iterator[Notification]:
        """Yield notifications from ID ``start``, following the log's linked sections.

        Works with any :class:`~eventsourcing.application.NotificationLog`,
        including one presented over a serialised interface that only offers
        sections.
        """
        _check_start(start)
        section_id: Optional[str] = f"{start},{start + self.section_size - 1}"
        while section_id is not None:
            section = self.notification_log[section_id]
            yield from section.items
            section_id = section.next_id

    def select(self, *, start: int) -> Iterator[Notification]:
        """Yield notifications from ID ``start``, selecting a page at a time.

        Cheaper than :meth:`read` for a local log: each page is one query
        from the position after the last notification of the previous page.
        """
        _check_start(start)
        limit = self.section_size
        while True:
            notifications = self.notification_log.select(start, limit)
            yield from notifications
            if len(notifications) < limit:
                return
            start = notifications[-1].id + 1


def _check_start(start: Any) -> None:
    if not isinstance(start, int) or isinstance(start, bool) or start < 1:
        raise ValueError(f"start must be a notification ID (an int >= 1), got {start!r}")


# ---------------------------------------------------------------------------
# Followers and leaders
# ---------------------------------------------------------------------------


class Promptable(ABC):
    """Something that can be told a leader has new notifications."""

    @abstractmethod
    def receive_prompt(self, leader_name: str) -> None:
        """Note that the application named ``leader_name`` recorded new events."""


class Follower(Application[TAggregate]):
    """An application that processes the notifications of other applications.

    Uses a process recorder, so that the events its :meth:`policy` generates
    and the position of the processed notification are recorded together.
    """

    pull_section_size: int = 10
    """How many notifications are selected from an upstream log at a time."""

    def __init__(self, env: Optional[Mapping[str, str]] = None) -> None:
        self.readers: Dict[str, Tuple[NotificationLogReader, Mapper[Any]]] = {}
        self._processing = threading.RLock()
        super().__init__(env)

    def construct_recorder(self) -> ProcessRecorder:
        return self.factory.process_recorder()

    @property
    def process_recorder(self) -> ProcessRecorder:
        """The application's recorder, typed as the process recorder it is."""
        return cast(ProcessRecorder, self.recorder)

    def follow(self, name: str, log: NotificationLog) -> None:
        """Start following the application called ``name`` through ``log``.

        Its notifications are decoded with this application's transcodings
        and a mapper configured for ``name`` (so ``{NAME}_CIPHER_KEY`` and the
        like apply to the upstream events).
        """
        reader = NotificationLogReader(log, section_size=self.pull_section_size)
        mapper = self.construct_mapper(name)
        self.readers[name] = (reader, mapper)

    def pull_and_process(self, name: str, *, stopping: Optional[threading.Event] = None) -> None:
        """Process every notification of ``name`` not processed yet, in order.

        Starts after the highest notification ID tracked for ``name``. Each
        notification is processed by :meth:`policy` and recorded before the
        next is read; an exception from the policy (or from recording)
        propagates, and nothing of that notification is recorded. Returns
        early, between two notifications, once ``stopping`` is set.

        If another instance of this application (sharing its database)
        recorded the same notification first, the insert conflicts and
        nothing of this attempt is kept: processing goes on after the
        position now tracked. Any other conflict propagates.
        """
        try:
            reader, mapper = self.readers[name]
        except KeyError:
            following = ", ".join(repr(n) for n in self.readers) or "nothing"
            raise ValueError(
                f"{self.name!r} does not follow {name!r} (it follows {following})"
            ) from None
        recorder = self.process_recorder
        with self._processing:
            start: Optional[int] = recorder.max_tracking_id(name) + 1
            while start is not None:
                position, start = start, None
                for notification in reader.select(start=position):
                    if stopping is not None and stopping.is_set():
                        return
                    domain_event = mapper.to_domain_event(notification)
                    process_event = ProcessEvent(Tracking(name, notification.id))
                    self.policy(domain_event, process_event)
                    try:
                        self.record(process_event)
                    except IntegrityError:
                        if not recorder.has_tracking_id(name, notification.id):
                            raise
                        start = recorder.max_tracking_id(name) + 1  # processed elsewhere
                        break
                    self.take_snapshots(process_event)
                    self.notify(process_event.events)

    @abstractmethod
    def policy(self, domain_event: DomainEvent, process_event: ProcessEvent) -> None:
        """Respond to ``domain_event`` by changing aggregates.

        Save changed aggregates with ``process_event.save(...)``, not with the
        application's ``save()``: that is what makes the new events and the
        tracking record one atomic insert. Often a
        :class:`~eventsourcing.dispatch.singledispatchmethod`.
        """


class Leader(Application[TAggregate]):
    """An application that prompts its followers after recording new events."""

    def __init__(self, env: Optional[Mapping[str, str]] = None) -> None:
        self.followers: List[Promptable] = []
        super().__init__(env)

    def lead(self, follower: Promptable) -> None:
        """Prompt ``follower`` whenever new events are recorded."""
        self.followers.append(follower)

    def notify(self, new_events: List[DomainEvent]) -> None:
        super().notify(new_events)
        if new_events:
            self.prompt_followers()

    def prompt_followers(self) -> None:
        """Tell every follower that this application has new notifications."""
        for follower in self.followers:
            follower.receive_prompt(self.name)


class ProcessApplication(Leader[TAggregate], Follower[TAggregate], ABC):
    """A follower whose own new events are followed in turn: a step of a pipeline."""


# ---------------------------------------------------------------------------
# System definition
# ---------------------------------------------------------------------------


class System:
    """Which applications follow which, defined by ``pipes``.

    Each pipe is a sequence of application classes in which each follows the
    one before it: ``[[Orders, Reservations, Orders]]`` makes Reservations
    follow Orders and Orders follow Reservations. An application may follow
    several leaders and lead several followers. Applications are identified
    by their ``name``.
    """

    def __init__(self, pipes: Iterable[Iterable[Type[Application[Any]]]]) -> None:
        # The classes themselves: classes defined in a function have topics
        # that do not resolve, so nothing here looks a class up by its topic.
        self._classes: Dict[str, Type[Application[Any]]] = {}
        # Name -> topic of the class, as in eventsourcing 9.1.
        self.nodes: Dict[str, str] = {}
        self.edges: List[Tuple[str, str]] = []
        self.follows: Dict[str, List[str]] = {}
        self.leads: Dict[str, List[str]] = {}
        for pipe in pipes:
            previous: Optional[str] = None
            for cls in pipe:
                name = self._add_node(cls)
                if previous is not None and (previous, name) not in self.edges:
                    self.edges.append((previous, name))
                    self.leads.setdefault(previous, []).append(name)
                    self.follows.setdefault(name, []).append(previous)
                previous = name
        self._derived: Dict[str, Type[Application[Any]]] = {}
        # 9.1's checks, in 9.1's words (programs' tests compare them).
        for name, cls in self._classes.items():
            if name in self.follows and not issubclass(cls, Follower):
                raise TypeError(f"Not a follower class: {cls}")
            if (
                name in self.follows
                and name in self.leads
                and not issubclass(cls, ProcessApplication)
            ):
                raise TypeError(f"Not a process application class: {cls}")

    def _add_node(self, cls: Any) -> str:
        if not (isinstance(cls, type) and issubclass(cls, Application)):
            raise TypeError(f"A system's pipes hold Application classes, got {cls!r}")
        name = cls.name
        existing = self._classes.get(name)
        if existing is not None and existing is not cls:
            raise ValueError(
                f"Two applications in the system are named {name!r}: "
                f"{existing.__module__}.{existing.__qualname__} and "
                f"{cls.__module__}.{cls.__qualname__}"
            )
        self._classes[name] = cls
        self.nodes[name] = get_topic(cls)
        return name

    @property
    def leaders(self) -> List[str]:
        """Names of the applications that are followed."""
        return [name for name in self.nodes if name in self.leads]

    @property
    def leaders_only(self) -> List[str]:
        """Names of the applications that are followed and follow none."""
        return [name for name in self.leaders if name not in self.follows]

    @property
    def followers(self) -> List[str]:
        """Names of the applications that follow another."""
        return [name for name in self.nodes if name in self.follows]

    @property
    def processors(self) -> List[str]:
        """Names of the applications that both follow and are followed."""
        return [name for name in self.nodes if name in self.leads and name in self.follows]

    def get_app_cls(self, name: str) -> Type[Application[Any]]:
        """The class to construct for ``name``.

        A leader class that is not a :class:`Leader` (a plain application at
        the head of a pipe) is extended with :class:`Leader`, so that it can
        prompt its followers; the result is a subclass of the given class.
        """
        try:
            cls = self._classes[name]
        except KeyError:
            raise KeyError(f"No application named {name!r} in the system") from None
        if name not in self.leads or issubclass(cls, Leader):
            return cls
        derived = self._derived.get(name)
        if derived is None:
            namespace = {
                "name": cls.name,
                "__module__": cls.__module__,
                "__qualname__": cls.__qualname__,
                "__doc__": cls.__doc__,
            }
            derived = cast(Type[Application[Any]], type(cls.__name__, (Leader, cls), namespace))
            self._derived[name] = derived
        return derived

    def leader_cls(self, name: str) -> Type[Leader[Any]]:
        cls = self.get_app_cls(name)
        if not issubclass(cls, Leader):
            raise TypeError(f"{name!r} is not followed by any application in the system")
        return cls

    def follower_cls(self, name: str) -> Type[Follower[Any]]:
        cls = self.get_app_cls(name)
        if not issubclass(cls, Follower):
            raise TypeError(f"{name!r} does not follow any application in the system")
        return cls


# ---------------------------------------------------------------------------
# Runners
# ---------------------------------------------------------------------------


class RunnerAlreadyStarted(EventSourcingError):
    """Raised by :meth:`Runner.start` when the runner was started before."""


class Runner(ABC):
    """Builds the applications of a :class:`System` and keeps them connected.

    ``env`` (optional) is given to every application's constructor; prefixed
    keys (``COUNTERS_SQLITE_DBNAME``) configure one application. A runner is
    started once; to resume after :meth:`stop`, start a new runner.
    """

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


class SingleThreadedRunner(Runner, Promptable):
    """Runs a system in the caller's thread.

    A leader's save returns after every follower downstream of it has
    processed the new events; an exception from a policy propagates to the
    code that saved (and the other prompts pending then are dropped: each
    follower catches up from its tracked position when next prompted).
    """

    def __init__(self, system: System, env: Optional[Mapping[str, str]] = None) -> None:
        super().__init__(system, env)
        self.apps: Dict[str, Application[Any]] = {}
        self._prompted: List[str] = []
        self._is_prompting = False
        self._prompting_lock = threading.Lock()

    def start(self) -> None:
        """Construct the applications, connect them, and let followers catch up
        with what their leaders recorded before (a policy error propagates;
        the runner stays started)."""
        super().start()
        system = self.system
        try:
            for name in system.nodes:
                self.apps[name] = system.get_app_cls(name)(env=self.env)
            for leader_name, follower_name in system.edges:
                leader = cast(Leader[Any], self.apps[leader_name])
                follower = cast(Follower[Any], self.apps[follower_name])
                follower.follow(leader_name, leader.log)
            for leader_name in system.leaders:
                cast(Leader[Any], self.apps[leader_name]).lead(self)
        except BaseException:
            self._close_apps()
            raise
        for leader_name in system.leaders:
            self.receive_prompt(leader_name)

    def receive_prompt(self, leader_name: str) -> None:
        """Have each follower of ``leader_name`` pull and process.

        A prompt received while prompts are being processed (a follower's
        own new events, or a save in another thread) is queued, and is
        processed by the loop already running.
        """
        with self._prompting_lock:
            if leader_name not in self._prompted:
                self._prompted.append(leader_name)
            if self._is_prompting:
                return
            self._is_prompting = True
        try:
            while True:
                with self._prompting_lock:
                    if not self._prompted:
                        self._is_prompting = False
                        return
                    leader_name = self._prompted.pop(0)
                for follower_name in self.system.leads.get(leader_name, ()):
                    follower = cast(Follower[Any], self.apps[follower_name])
                    follower.pull_and_process(leader_name)
        except BaseException:
            with self._prompting_lock:
                self._prompted.clear()
                self._is_prompting = False
            raise

    def stop(self) -> None:
        """Close the applications."""
        self._close_apps()

    def _close_apps(self) -> None:
        apps = list(self.apps.values())
        self.apps.clear()
        for app in reversed(apps):
            app.close()

    def get(self, cls: Type[A]) -> A:
        return self._app(self.apps, cls)


class MultiThreadedRunnerThread(Promptable, threading.Thread):
    """Runs one follower for a :class:`MultiThreadedRunner`.

    Constructs the application in this thread, then waits to be prompted
    and pulls from each leader that prompted it. If the application cannot
    be constructed, or processing raises, the error is kept in
    :attr:`error`, ``on_error`` (if given) is called, and the thread ends:
    the follower stops where it failed and a new runner resumes it there.
    """

    def __init__(
        self,
        app_class: Type[Follower[Any]],
        is_stopping: threading.Event,
        env: Optional[Mapping[str, str]] = None,
        on_error: Optional[ErrorHandler] = None,
    ) -> None:
        super().__init__(name=f"{app_class.name}-follower", daemon=True)
        self.app_class = app_class
        self.is_stopping = is_stopping
        self.env = env
        self.on_error = on_error
        self.app: Optional[Follower[Any]] = None
        self.error: Optional[BaseException] = None
        self.has_started = threading.Event()
        self.has_errored = threading.Event()
        self.is_prompted = threading.Event()
        self._prompted: List[str] = []
        self._prompted_lock = threading.Lock()

    def run(self) -> None:
        try:
            self.app = self.app_class(env=self.env)
        except BaseException as e:
            self._fail(e)
            return
        finally:
            self.has_started.set()
        try:
            while True:
                self.is_prompted.wait()
                if self.is_stopping.is_set():
                    return
                with self._prompted_lock:
                    names, self._prompted = self._prompted, []
                    self.is_prompted.clear()
                for name in names:
                    self.app.pull_and_process(name, stopping=self.is_stopping)
        except BaseException as e:
            self._fail(e)

    def _fail(self, error: BaseException) -> None:
        self.error = error
        self.has_errored.set()
        if self.on_error is not None:
            self.on_error(self.app_class.name, error)

    def receive_prompt(self, leader_name: str) -> None:
        with self._prompted_lock:
            if leader_name not in self._prompted:
                self._prompted.append(leader_name)
            self.is_prompted.set()


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


class MultiThreadedRunner(Runner, ThreadErrors):
    """Runs a system with one thread per follower.

    A leader's save returns at once; followers process in their threads.
    Errors are never swallowed: a failing follower's thread ends, calls
    ``on_error(application_name, error)`` if given, adds the error to
    :attr:`errors` (and sets :attr:`has_errors`), and :meth:`stop` raises
    the first error after it has stopped everything.
    """

    thread_class: Type[MultiThreadedRunnerThread] = MultiThreadedRunnerThread

    def __init__(
        self,
        system: System,
        env: Optional[Mapping[str, str]] = None,
        on_error: Optional[ErrorHandler] = None,
    ) -> None:
        super().__init__(system, env)
        self.on_error = on_error
        self.apps: Dict[str, Application[Any]] = {}
        self.threads: Dict[str, MultiThreadedRunnerThread] = {}
        ThreadErrors.__init__(self)
        self.is_stopping = threading.Event()
        self._stopped = False

    def _thread_failed(self, app_name: str, error: BaseException) -> None:
        self._record_error(error)
        if self.on_error is not None:
            self.on_error(app_name, error)

    def start(self) -> None:
        """Start a thread per follower (which constructs its application),
        construct the other applications, connect them, and prompt every
        follower to catch up. Raises the error if an application cannot be
        constructed (after stopping what was started)."""
        super().start()
        system = self.system
        try:
            for name in system.followers:
                thread = self.thread_class(
                    system.follower_cls(name),
                    self.is_stopping,
                    env=self.env,
                    on_error=self._thread_failed,
                )
                self.threads[name] = thread
                thread.start()
            for name in system.nodes:
                if name not in self.threads:
                    self.apps[name] = system.get_app_cls(name)(env=self.env)
            for name, thread in self.threads.items():
                thread.has_started.wait()
                if thread.app is None:
                    assert thread.error is not None
                    raise thread.error
                self.apps[name] = thread.app
            for leader_name, follower_name in system.edges:
                leader = cast(Leader[Any], self.apps[leader_name])
                follower = cast(Follower[Any], self.apps[follower_name])
                follower.follow(leader_name, leader.log)
                leader.lead(self.threads[follower_name])
        except BaseException:
            self._shutdown()
            with self._errors_lock:
                self._errors.clear()
            raise
        for follower_name, thread in self.threads.items():
            for leader_name in system.follows[follower_name]:
                thread.receive_prompt(leader_name)

    def stop(self) -> None:
        """Stop every thread (waiting for a policy call in progress to finish),
        close the applications, then raise the first error a thread had."""
        if self._stopped:
            return
        self._shutdown()
        errors = self.errors
        if errors:
            raise errors[0]

    @property
    def has_stopped(self) -> bool:
        """Whether every follower's thread has ended (stopped or failed)."""
        return all(not thread.is_alive() for thread in self.threads.values())

    def _shutdown(self) -> None:
        self._stopped = True
        self.is_stopping.set()
        for thread in self.threads.values():
            thread.is_prompted.set()
        for thread in self.threads.values():
            if thread.is_alive():
                thread.join()
        apps = list(self.apps.values())
        self.apps.clear()
        for thread in self.threads.values():
            if thread.app is not None and thread.app not in apps:
                apps.append(thread.app)
        for app in reversed(apps):
            app.close()

    def get(self, cls: Type[A]) -> A:
        return self._app(self.apps, cls)
