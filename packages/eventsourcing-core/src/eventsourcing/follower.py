"""Followers and leaders: applications that process each other's events.

A :class:`Follower` pulls the notifications of the applications it follows
and passes each domain event to its :meth:`~Follower.policy`. What the
policy saves to the :class:`~eventsourcing.application.ProcessEvent` is
recorded in ONE atomic insert together with a
:class:`~eventsourcing.persistence.Tracking` record of the notification it
came from, so each upstream notification is processed exactly once: a
follower resumes after the highest tracked notification, and a policy that
raises records nothing (its notification is processed again next time).

A :class:`Leader` prompts its followers when it has recorded new events.
Runners (in this process or across processes) connect them.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Mapping, Optional, Tuple, cast

from eventsourcing.application import (
    Application,
    NotificationLog,
    ProcessEvent,
    TAggregate,
)
from eventsourcing.domain import DomainEvent
from eventsourcing.logreader import NotificationLogReader
from eventsourcing.persistence import (
    IntegrityError,
    Mapper,
    ProcessRecorder,
    Tracking,
)

__all__ = ["Follower", "Leader", "ProcessApplication", "Promptable"]


class Promptable(ABC):
    """Something that can be told a leader has new notifications."""

    __module__ = "eventsourcing.system"  # where 9.1 defined it: printed and in topics

    @abstractmethod
    def receive_prompt(self, leader_name: str) -> None:
        """Note that the application named ``leader_name`` recorded new events."""


class Follower(Application[TAggregate]):
    """An application that processes the notifications of other applications.

    Uses a process recorder, so that the events its :meth:`policy` generates
    and the position of the processed notification are recorded together.
    """

    __module__ = "eventsourcing.system"  # where 9.1 defined it: printed and in topics

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

    __module__ = "eventsourcing.system"  # where 9.1 defined it: printed and in topics

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

    __module__ = "eventsourcing.system"  # where 9.1 defined it: printed and in topics
