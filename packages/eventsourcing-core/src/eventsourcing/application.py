"""Applications: an event-sourced domain model with a repository and a log.

An :class:`Application` brings the domain model and the persistence ports
together. Its command methods change aggregates and :meth:`~Application.save`
them; its query methods read aggregates from the :class:`Repository`; its
:class:`LocalNotificationLog` presents everything it ever recorded, in order,
so that other applications can follow it.

Saving is split into steps that a process application (``eventsourcing.system``)
reuses to record its new events atomically with a tracking record:

1. a :class:`ProcessingEvent` collects the pending events of aggregates
   (and, for a process application, carries a :class:`Tracking` object);
2. :meth:`Application.record` puts all of them in ONE atomic insert through
   :meth:`EventStore.put <eventsourcing.persistence.EventStore.put>` (which
   maps them, inserts them and returns the recordings), the same door
   snapshots go through;
3. :meth:`Application.take_snapshots` takes automatic snapshots;
4. :meth:`Application.notify` is told about the new events.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from copy import deepcopy
from dataclasses import dataclass
from typing import (
    Any,
    Callable,
    ClassVar,
    Dict,
    Generic,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
)
from uuid import UUID

from eventsourcing.domain import (
    Aggregate,
    DomainEvent,
    Snapshot,
    TAggregate,
    mutate_returns_the_aggregate,
)
from eventsourcing.persistence import (
    ApplicationRecorder,
    EventStore,
    InfrastructureFactory,
    IntegrityError,
    JSONTranscoder,  # noqa: F401 (importable from here, as in 9.1)
    Mapper,
    Notification,
    Recorder,
    Recording,
    Tracking,
    Transcoder,
)
from eventsourcing.plugins import transcodings as plugin_transcodings
from eventsourcing.subscription import Subscription
from eventsourcing.utils import CloseOnExit, ConfigurationError, EventSourcingError

__all__ = [
    "AggregateNotFound",
    "Application",
    "ApplicationSubscription",
    "BaseApplication",
    "LocalNotificationLog",
    "NotificationLog",
    "ProcessEvent",
    "ProcessingEvent",
    "ProjectorFunctionType",
    "Recording",
    "Repository",
    "Section",
    "SnapshottingNotEnabled",
    "TAggregate",
    "TApplication",
    "mutate_aggregate",
]


T = TypeVar("T")

# A function that evolves a projection (an aggregate, or None) by events.
ProjectorFunctionType = Callable[[Optional[T], Iterable[DomainEvent]], Optional[T]]


def mutate_aggregate(aggregate: Optional[T], domain_events: Iterable[DomainEvent]) -> Optional[T]:
    """Apply ``domain_events`` in order to ``aggregate`` (None before it exists).

    The projector function of eventsourcing 9.1: each event's ``mutate()``
    returns the aggregate for the next one.
    """
    for domain_event in domain_events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


class AggregateNotFound(EventSourcingError):
    """Raised when a repository has no events (or snapshot) for an aggregate ID."""


class SnapshottingNotEnabled(ConfigurationError, AssertionError):
    """Raised by ``take_snapshot()`` when the application has no snapshot store.

    A configuration error (the remedy is a setting), and an ``AssertionError``
    as eventsourcing 9.1 raised here.
    """


# ---------------------------------------------------------------------------
# Repository
# ---------------------------------------------------------------------------


class AggregateCache:
    """A thread-safe LRU cache of aggregates, keyed by aggregate ID.

    Holds private copies: callers get copies and put copies, so that an
    aggregate changed but not saved by a caller never reaches the cache.
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self.maxsize = maxsize
        self._items: OrderedDict[UUID, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, aggregate_id: UUID) -> Optional[Any]:
        with self._lock:
            aggregate = self._items.get(aggregate_id)
            if aggregate is not None:
                self._items.move_to_end(aggregate_id)
            return aggregate

    def put(self, aggregate: Any) -> None:
        """Keep ``aggregate`` unless a later version of it is already cached.

        Saves by several threads can finish in any order; the version check
        stops an earlier version from replacing a later one.
        """
        with self._lock:
            cached = self._items.get(aggregate.id)
            if cached is not None and cached.version >= aggregate.version:
                self._items.move_to_end(aggregate.id)
                return
            self._items[aggregate.id] = aggregate
            self._items.move_to_end(aggregate.id)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def evict(self, aggregate_id: UUID) -> None:
        with self._lock:
            self._items.pop(aggregate_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class Repository(Generic[TAggregate]):
    """Reconstructs aggregates from their events, starting from a snapshot
    when one is available, and optionally from a cache of recent aggregates.
    """

    def __init__(
        self,
        event_store: EventStore[Any],
        snapshot_store: Optional[EventStore[Any]] = None,
        cache_maxsize: Optional[int] = None,
        fastforward: bool = True,
    ) -> None:
        self.event_store = event_store
        self.snapshot_store = snapshot_store
        self.cache: Optional[AggregateCache] = (
            AggregateCache(cache_maxsize) if cache_maxsize else None
        )
        self.fastforward = fastforward

    def get(
        self,
        aggregate_id: UUID,
        version: Optional[int] = None,
        projector_func: ProjectorFunctionType[TAggregate] = mutate_aggregate,
    ) -> TAggregate:
        """Return the aggregate, at ``version`` if given (or the latest version
        at or below it); raise :class:`AggregateNotFound` if there is none.

        ``projector_func`` (as in 9.1) evolves the aggregate, or the snapshot's
        state, by the events after it; another function than the default
        bypasses the cache, which holds what the default made.
        """
        cache = cache_for(self.cache, projector_func, version)
        if cache is not None:
            cached = cache.get(aggregate_id)
            if cached is not None:
                aggregate: TAggregate = deepcopy(cached)
                if not self.fastforward:
                    return aggregate
                new_events = self.event_store.get(aggregate_id, gt=aggregate.version)
                return fastforward(cache, cached, aggregate, new_events)
        found = self._reconstruct(aggregate_id, version, projector_func)
        return reconstructed(cache, aggregate_id, version, found)

    def __contains__(self, aggregate_id: UUID) -> bool:
        try:
            self.get(aggregate_id)
        except AggregateNotFound:
            return False
        return True

    def _reconstruct(
        self,
        aggregate_id: UUID,
        version: Optional[int],
        projector_func: ProjectorFunctionType[TAggregate],
    ) -> Optional[TAggregate]:
        aggregate: Optional[TAggregate] = None
        gt: Optional[int] = None
        if self.snapshot_store is not None:
            for snapshot in self.snapshot_store.get(aggregate_id, lte=version, desc=True, limit=1):
                aggregate = snapshot.mutate(None)
                gt = snapshot.originator_version
        events = self.event_store.get(aggregate_id, gt=gt, lte=version)
        return projector_func(aggregate, events)


# The steps of Repository.get that do no I/O, shared with the async repository.


def cache_for(
    cache: Optional[AggregateCache], projector_func: Callable[..., Any], version: Optional[int]
) -> Optional[AggregateCache]:
    """The cache to use for a get: only the default projector's latest versions are cached."""
    if cache is None or version is not None or projector_func is not mutate_aggregate:
        return None
    return cache


def fastforward(
    cache: AggregateCache,
    cached: Any,
    aggregate: TAggregate,
    new_events: Iterable[DomainEvent],
) -> TAggregate:
    """Bring a copy of a cached aggregate up to date with the events recorded since."""
    advanced = mutate_aggregate(aggregate, new_events)
    if advanced is None:
        # A later event discarded it (its mutate() returned None).
        cache.evict(cached.id)
        raise AggregateNotFound(f"Aggregate {cached.id} not found")
    if advanced.version > cached.version:
        cache.put(deepcopy(advanced))
        return advanced
    return aggregate


def reconstructed(
    cache: Optional[AggregateCache],
    aggregate_id: UUID,
    version: Optional[int],
    aggregate: Optional[TAggregate],
) -> TAggregate:
    """The reconstructed aggregate, cached; :class:`AggregateNotFound` for None."""
    if aggregate is None:
        at = "" if version is None else f" at version {version}"
        raise AggregateNotFound(f"Aggregate {aggregate_id} not found{at}")
    if cache is not None:
        cache.put(deepcopy(aggregate))
    return aggregate


# ---------------------------------------------------------------------------
# Notification log
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """A section of a notification log.

    ``id`` is ``"first,last"``: the IDs of the first and last notifications in
    ``items`` (``None`` when empty). ``next_id`` is the ID to request next, or
    ``None`` when the section was not full (the reader has caught up).
    """

    id: Optional[str]
    items: List[Notification]
    next_id: Optional[str]


class NotificationLog(ABC):
    """Presents the notifications of an application, in sections."""

    @abstractmethod
    def __getitem__(self, section_id: str) -> Section:
        """Return the section for ``section_id`` (``"first,last"``)."""

    @abstractmethod
    def select(
        self,
        start: int,
        limit: int,
        stop: Optional[int] = None,
        topics: Sequence[str] = (),
    ) -> List[Notification]:
        """Return up to ``limit`` notifications from ID ``start`` (to ``stop``)."""


def parse_section_id(section_id: str) -> tuple[int, int]:
    """Return ``(first, last)`` from ``"first,last"``; raise ValueError if malformed.

    Any two integers are a well-formed ID, as in eventsourcing 9.1: a first
    below 1 reads from the start, a last below the first selects nothing.
    """
    try:
        first_str, last_str = section_id.split(",")
        return int(first_str), int(last_str)
    except (AttributeError, ValueError):
        raise ValueError(
            f"Invalid section ID {section_id!r}: expected two integers separated "
            "by a comma, such as '1,10'"
        ) from None


def format_section_id(first: int, last: int) -> str:
    return f"{first},{last}"


def section_request(section_id: str, section_size: int) -> tuple[int, int]:
    """The first notification ID and the number of notifications to read for a section."""
    first, last = parse_section_id(section_id)
    first = max(first, 1)
    return first, min(last - first + 1, section_size)


def section_of(items: List[Notification], limit: int) -> Section:
    """The section of the notifications read for a request of ``limit`` of them."""
    if not items:
        return Section(id=None, items=[], next_id=None)
    section_id = format_section_id(items[0].id, items[-1].id)
    next_id: Optional[str] = None
    if len(items) == limit:
        next_first = items[-1].id + 1
        next_id = format_section_id(next_first, next_first + limit - 1)
    return Section(id=section_id, items=items, next_id=next_id)


def check_select_limit(limit: int, section_size: int) -> None:
    if limit > section_size:
        # eventsourcing 9.1's words, which callers' tests may match.
        raise ValueError(f"Requested limit {limit} greater than section size {section_size}")


class LocalNotificationLog(NotificationLog):
    """Notification log read directly from an application recorder."""

    DEFAULT_SECTION_SIZE = 10

    def __init__(
        self, recorder: ApplicationRecorder, section_size: int = DEFAULT_SECTION_SIZE
    ) -> None:
        if not isinstance(section_size, int) or section_size < 1:
            raise ValueError(f"section_size must be an int >= 1, got {section_size!r}")
        self.recorder = recorder
        self.section_size = section_size

    def __getitem__(self, requested_section_id: str) -> Section:
        """Return at most ``section_size`` notifications from the requested first ID.

        The returned section's ID describes what it actually holds, which can
        differ from the request: fewer notifications may exist, and gaps in the
        IDs can make the last ID larger than the one requested.
        """
        first, limit = section_request(requested_section_id, self.section_size)
        items = self.recorder.select_notifications(first, limit) if limit > 0 else []
        return section_of(items, limit)

    def select(
        self,
        start: int,
        limit: int,
        stop: Optional[int] = None,
        topics: Sequence[str] = (),
    ) -> List[Notification]:
        """Return up to ``limit`` (at most ``section_size``) notifications."""
        check_select_limit(limit, self.section_size)
        return self.recorder.select_notifications(start, limit, stop=stop, topics=topics)

    # 9.1 had the formatting of section IDs here.
    format_section_id = staticmethod(format_section_id)


# ---------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------


class ProcessingEvent:
    """The new events of one unit of work, recorded atomically.

    ``tracking`` (set by process applications) is the position in an upstream
    log that this unit of work processed; it is recorded in the same insert.
    """

    def __init__(self, tracking: Optional[Tracking] = None) -> None:
        self.tracking = tracking
        # The positions of a page of notifications processed together
        # (recorded with ``trackings=``, see ProcessRecorder).
        self.trackings: List[Tracking] = []
        self.events: List[DomainEvent] = []
        self.aggregates: Dict[UUID, Aggregate] = {}
        self.saved_kwargs: Dict[str, Any] = {}
        self._collected: List[Tuple[Any, List[DomainEvent]]] = []

    def collect_events(self, *objs: Any, **kwargs: Any) -> None:
        """Collect pending events of aggregates (``None`` is skipped; a domain
        event is taken as it is)."""
        for obj in objs:
            if obj is None:
                continue
            collect = getattr(obj, "collect_events", None)
            if collect is not None:
                collected = list(collect())
                self.events.extend(collected)
                self.aggregates[obj.id] = obj
                self._collected.append((obj, collected))
            else:
                self.events.append(obj)
        self.saved_kwargs.update(kwargs)

    def restore_pending_events(self) -> None:
        """Give the collected events back to their aggregates.

        Called when recording failed, so that the events are not lost with
        the failed save: saving the aggregates again retries them.
        """
        for aggregate, events in reversed(self._collected):
            pending = getattr(aggregate, "pending_events", None)
            if isinstance(pending, list) and events:
                pending[:0] = events
        self._collected.clear()

    # 9.1's ProcessEvent.save(): a policy "saves" aggregates to the process event.
    save = collect_events


class ProcessEvent(ProcessingEvent):
    """The outcome of processing one notification: new events and its tracking.

    A policy calls :meth:`save` (or ``collect_events``) with the aggregates it
    changed; their pending events are collected in the order of those calls
    and recorded atomically with :attr:`tracking`.
    """


# ---------------------------------------------------------------------------
# Application
# ---------------------------------------------------------------------------


class BaseApplication(ABC, Generic[TAggregate]):
    """What sync and async applications share: settings, factory, mapper, and
    the steps of saving that do no I/O (see :mod:`eventsourcing.asyncio`).

    Configuration is read from a mapping built, lowest precedence first, from
    the class attribute ``env``, the class attributes ``is_snapshotting_enabled``
    and ``snapshotting_intervals`` (which imply ``IS_SNAPSHOTTING_ENABLED=y``),
    ``os.environ``, and the ``env`` argument. A key prefixed with the
    application's name in upper case (``WORLDS_PERSISTENCE_MODULE``) wins over
    the plain key wherever it comes from.
    """

    name: ClassVar[str] = "Application"
    env: Mapping[str, str] = {}
    is_snapshotting_enabled: ClassVar[bool] = False
    snapshotting_intervals: ClassVar[Optional[Mapping[Type[Aggregate], int]]] = None
    snapshot_class: ClassVar[Type[Snapshot]] = Snapshot
    log_section_size: ClassVar[int] = LocalNotificationLog.DEFAULT_SECTION_SIZE

    AGGREGATE_CACHE_MAXSIZE: ClassVar[str] = "AGGREGATE_CACHE_MAXSIZE"
    AGGREGATE_CACHE_FASTFORWARD: ClassVar[str] = "AGGREGATE_CACHE_FASTFORWARD"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__

    def __init__(self, env: Optional[Mapping[str, str]] = None) -> None:
        self._check_snapshotting_intervals()
        # Instance attribute shadows the class attribute: the effective settings.
        self.env = self.construct_env(env)
        self._closed = False
        self.factory = self.construct_factory()
        try:
            self.mapper = self.construct_mapper()
            self.construct_persistence()
        except BaseException:
            self.abandon()
            raise

    @abstractmethod
    def construct_persistence(self) -> None:
        """Construct the recorder, stores, repository and log (sync or async)."""

    @abstractmethod
    def abandon(self) -> None:
        """Release what a failed construction made (never waits for I/O to be awaited)."""

    # -- construction (each step can be overridden) -------------------------

    def construct_env(self, env: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
        """Merge the configuration sources, lowest precedence first."""
        cls = type(self)
        merged: Dict[str, str] = dict(cls.env)
        if cls.is_snapshotting_enabled or cls.snapshotting_intervals:
            merged[InfrastructureFactory.IS_SNAPSHOTTING_ENABLED] = "y"
        merged.update(os.environ)
        if env is not None:
            merged.update(env)
        return merged

    def construct_factory(self) -> InfrastructureFactory:
        return InfrastructureFactory.construct(application_name=self.name, env=self.env)

    def construct_mapper(self, application_name: str = "") -> Mapper[Any]:
        return self.factory.mapper(
            transcoder=self.construct_transcoder(),
            application_name=application_name or self.name,
        )

    def construct_transcoder(self) -> Transcoder:
        """The configured transcoder (``TRANSCODER_TOPIC``, default
        :class:`JSONTranscoder`) with every plugin's transcodings, then the
        application's."""
        transcoder = self.factory.transcoder(self.name)
        for transcoding in plugin_transcodings():
            transcoder.register(transcoding)
        self.register_transcodings(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: Transcoder) -> None:
        """Extend to register transcodings for the application's own value types.

        The installed plugins' transcodings (UUID, Decimal, datetime, ...) are
        already registered when this is called.
        """

    def cache_settings(self) -> Tuple[Optional[int], bool]:
        """The aggregate cache's size (None or 0: no cache) and whether it fast-forwards."""
        maxsize = self.factory.getenv_int(self.AGGREGATE_CACHE_MAXSIZE, minimum=0)
        fastforward = self.factory.getenv_bool(self.AGGREGATE_CACHE_FASTFORWARD, default=True)
        return maxsize, fastforward

    def _check_snapshotting_intervals(self) -> None:
        intervals = type(self).snapshotting_intervals
        if not intervals:
            return
        for aggregate_class, interval in intervals.items():
            if not isinstance(interval, int) or isinstance(interval, bool) or interval < 1:
                raise ConfigurationError(
                    f"{type(self).__name__}.snapshotting_intervals[{aggregate_class!r}]"
                    f"={interval!r} is not valid: expected an integer >= 1"
                )

    # -- the steps of saving that do no I/O ------------------------------------

    @staticmethod
    def insert_kwargs(processing_event: ProcessingEvent) -> Optional[Dict[str, Any]]:
        """The keyword arguments of the insert of ``processing_event`` (None: nothing to record)."""
        trackings = processing_event.trackings
        if not processing_event.events and processing_event.tracking is None and not trackings:
            return None
        kwargs = dict(processing_event.saved_kwargs)
        if processing_event.tracking is not None:
            kwargs["tracking"] = processing_event.tracking
        if trackings:
            kwargs["trackings"] = trackings
        return kwargs

    @staticmethod
    def forget_conflicting(cache: Optional[AggregateCache], pe: ProcessingEvent) -> None:
        """After a conflict: the cached versions may be behind what another writer recorded."""
        if cache is not None:
            for aggregate_id in pe.aggregates:
                cache.evict(aggregate_id)

    @staticmethod
    def refresh_cache(cache: Optional[AggregateCache], pe: ProcessingEvent) -> None:
        """After recording: cache the aggregates whose events were just recorded."""
        if cache is None:
            return
        # Only an aggregate whose events were just recorded is known to be
        # current: an unchanged one passed along may be a stale copy.
        last_events = {e.originator_id: e for e in pe.events}
        for aggregate in pe.aggregates.values():
            last_event = last_events.get(aggregate.id)
            if last_event is None:
                continue
            if mutate_returns_the_aggregate(type(last_event)):
                cache.put(deepcopy(aggregate))
            else:
                # An overridden mutate() may discard the aggregate (return
                # None), which the object saved does not show: reread it.
                cache.evict(aggregate.id)

    def aggregates_to_snapshot(self, processing_event: ProcessingEvent) -> List[Aggregate]:
        """The saved aggregates due an automatic snapshot (``snapshotting_intervals``).

        One is due when the saved events reached a multiple of its class's interval.
        """
        intervals = type(self).snapshotting_intervals
        if not intervals:
            return []
        due = []
        last_events = {e.originator_id: e for e in processing_event.events}
        for aggregate in processing_event.aggregates.values():
            interval = intervals.get(type(aggregate))
            if not interval:
                continue
            last_event = last_events.get(aggregate.id)
            if last_event is not None and not mutate_returns_the_aggregate(type(last_event)):
                # Its overridden mutate() may have discarded the aggregate
                # (returned None): a snapshot would bring it back.
                continue
            previous = self._version_before(processing_event, aggregate)
            if aggregate.version // interval > previous // interval:
                due.append(aggregate)
        return due

    @staticmethod
    def _version_before(processing_event: ProcessingEvent, aggregate: Aggregate) -> int:
        versions = [
            e.originator_version for e in processing_event.events if e.originator_id == aggregate.id
        ]
        return (min(versions) - 1) if versions else aggregate.version

    def check_snapshotting(self, snapshots: object) -> None:
        """Refuse to take a snapshot when there is no snapshot store (``snapshots`` is None)."""
        if snapshots is None:
            # 9.1's words, which programs' tests compare.
            raise SnapshottingNotEnabled(
                "Can't take snapshot without snapshots store. Please set environment "
                "variable IS_SNAPSHOTTING_ENABLED to a true value (e.g. 'y'), or set "
                "'is_snapshotting_enabled' on application class, or set "
                "'snapshotting_intervals' on application class."
            )


class Application(CloseOnExit, BaseApplication[TAggregate]):
    """Base class for event-sourced applications.

    Configuration is read from a mapping built, lowest precedence first, from
    the class attribute ``env``, the class attributes ``is_snapshotting_enabled``
    and ``snapshotting_intervals`` (which imply ``IS_SNAPSHOTTING_ENABLED=y``),
    ``os.environ``, and the ``env`` argument. A key prefixed with the
    application's name in upper case (``WORLDS_PERSISTENCE_MODULE``) wins over
    the plain key wherever it comes from.
    """

    def construct_persistence(self) -> None:
        self.recorder = self.construct_recorder()
        self.events = self.construct_event_store()
        self.snapshots = self.construct_snapshot_store()
        self.repository = self.construct_repository()
        self.log = self.construct_notification_log()

    def abandon(self) -> None:
        self.close()

    def construct_recorder(self) -> ApplicationRecorder:
        return self.factory.application_recorder()

    def construct_event_store(self) -> EventStore[Any]:
        return self.factory.event_store(mapper=self.mapper, recorder=self.recorder)

    def construct_snapshot_store(self) -> Optional[EventStore[Any]]:
        if not self.factory.is_snapshotting_enabled():
            return None
        recorder = self.factory.aggregate_recorder(purpose="snapshots")
        return self.factory.event_store(mapper=self.mapper, recorder=recorder)

    def construct_repository(self) -> Repository[TAggregate]:
        maxsize, fastforward = self.cache_settings()
        return Repository(
            event_store=self.events,
            snapshot_store=self.snapshots,
            cache_maxsize=maxsize,
            fastforward=fastforward,
        )

    def construct_notification_log(self) -> LocalNotificationLog:
        return LocalNotificationLog(self.recorder, section_size=self.log_section_size)

    # -- saving ---------------------------------------------------------------

    def save(self, *aggregates: Any, **kwargs: Any) -> List[Recording]:
        """Record the pending events of all ``aggregates`` in one atomic insert.

        Either every event is recorded or none is (a conflict raises
        :class:`~eventsourcing.persistence.IntegrityError`, a
        ``RecordConflictError``), and then the events are pending on their
        aggregates again, so a save that failed for a passing reason (a lost
        connection) can be retried. Returns what was recorded.
        """
        processing_event = ProcessingEvent()
        processing_event.collect_events(*aggregates, **kwargs)
        try:
            recordings = self.record(processing_event)
        except BaseException:
            processing_event.restore_pending_events()
            raise
        self.take_snapshots(processing_event)
        self.notify(processing_event.events)
        return recordings

    def record(self, processing_event: ProcessingEvent) -> List[Recording]:
        """Put the events (and tracking, if any) of ``processing_event`` in one
        atomic insert, through :meth:`EventStore.put`, then refresh the
        aggregate cache.

        The one place where an application writes events: process applications
        pass a :class:`ProcessingEvent` with ``tracking`` set, and their
        recorder stores that tracking record atomically with the events.
        """
        kwargs = self.insert_kwargs(processing_event)
        if kwargs is None:
            return []
        cache = self.repository.cache
        try:
            recordings = self.events.put(processing_event.events, **kwargs)
        except IntegrityError:
            self.forget_conflicting(cache, processing_event)
            raise
        self.refresh_cache(cache, processing_event)
        return recordings

    def take_snapshots(self, processing_event: ProcessingEvent) -> None:
        """Take automatic snapshots (``snapshotting_intervals``) of saved aggregates.

        A snapshot is taken of an aggregate's saved state when the saved
        events reached a multiple of its class's interval.
        """
        if self.snapshots is None:
            return
        for aggregate in self.aggregates_to_snapshot(processing_event):
            self._put_snapshot(aggregate)

    def subscribe(
        self, gt: Optional[int] = None, topics: Sequence[str] = ()
    ) -> ApplicationSubscription:
        """Iterate over ``(domain_event, tracking)`` for the events recorded after
        notification ``gt``, then for new ones as they are committed, until the
        subscription is stopped (or its ``with`` block ends). ``topics`` (event
        topics, ``module:QualName``) selects only those events."""
        return ApplicationSubscription(self, gt=gt, topics=topics)

    def notify(self, new_events: List[DomainEvent]) -> None:
        """Called after new events were recorded; does nothing here.

        Override to act on new events (a leader prompts its followers).
        """

    def take_snapshot(self, aggregate_id: UUID, version: Optional[int] = None) -> None:
        """Snapshot the recorded state of an aggregate (at ``version`` if given).

        Takes the ID rather than an aggregate object so that only recorded
        state, never unsaved changes, can be snapshotted.
        """
        self.check_snapshotting(self.snapshots)
        aggregate = self.repository.get(aggregate_id, version=version)
        self._put_snapshot(aggregate)

    def _put_snapshot(self, aggregate: Aggregate) -> None:
        assert self.snapshots is not None
        snapshot = self.snapshot_class.take(aggregate)
        try:
            self.snapshots.put([snapshot])
        except IntegrityError:
            # A snapshot of this version exists already: the same state.
            pass

    # -- resources ------------------------------------------------------------

    def close(self) -> None:
        """Release the connections, pools and files held by this application."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        recorders: List[Recorder] = []
        for name in ("recorder", "snapshots"):
            obj = getattr(self, name, None)
            if isinstance(obj, EventStore):
                recorders.append(obj.recorder)
            elif isinstance(obj, Recorder):
                recorders.append(obj)
        try:
            for recorder in recorders:
                recorder.close()
        finally:
            self.factory.close()


TApplication = TypeVar("TApplication", bound=Application[Any])


class ApplicationSubscription(CloseOnExit):
    """An application's events after a position, each with its :class:`Tracking`:
    the recorded ones, then live ones as they are committed (see
    :meth:`Application.subscribe`). Stop it from any thread with :meth:`stop`.
    """

    def __init__(
        self, app: Application[Any], gt: Optional[int] = None, topics: Sequence[str] = ()
    ) -> None:
        self.name = app.name
        self.mapper = app.mapper
        self.subscription: Subscription = app.recorder.subscribe(gt=gt, topics=topics)

    def __iter__(self) -> ApplicationSubscription:
        return self

    def __next__(self) -> Tuple[Any, Tracking]:
        return self._convert(next(self.subscription))

    def next_page(self) -> List[Tuple[Any, Tracking]]:
        """Block until there are new events; return those read (at most a page),
        or ``[]`` once stopped. Lets a consumer process a page in one transaction."""
        return tracked_events(self.mapper, self.name, self.subscription.next_page())

    @property
    def page_size(self) -> int:
        """The most notifications read at once (see :meth:`next_page`)."""
        return self.subscription.page_size

    @page_size.setter
    def page_size(self, value: int) -> None:
        self.subscription.page_size = value

    def _convert(self, notification: Notification) -> Tuple[Any, Tracking]:
        return tracked_event(self.mapper, self.name, notification)

    def stop(self) -> None:
        """End the iteration (from any thread); a blocked ``next()`` returns promptly."""
        self.subscription.stop()

    def close(self) -> None:
        """Stop, and release the connection the subscription may hold."""
        self.subscription.close()


def tracked_event(
    mapper: Mapper[Any], application_name: str, notification: Notification
) -> Tuple[Any, Tracking]:
    """What a subscription yields for a notification: its domain event and position."""
    return mapper.to_domain_event(notification), Tracking(application_name, notification.id)


def tracked_events(
    mapper: Mapper[Any], application_name: str, notifications: Sequence[Notification]
) -> List[Tuple[Any, Tracking]]:
    """:func:`tracked_event` of each of a page of notifications, converted with one
    ``to_domain_events()`` call (cheaper than one event at a time)."""
    domain_events = mapper.to_domain_events(notifications)
    return [
        (e, Tracking(application_name, n.id))
        for e, n in zip(domain_events, notifications, strict=True)
    ]
