"""A small reference model of a recorder: the answers a recorder must give.

Kept deliberately naive (lists and sorting) so it is obviously right; the
suite compares every recorder answer with the model's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Set, Tuple
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent, Tracking

__all__ = ["RecorderModel"]


@dataclass
class RecorderModel:
    events: Dict[Tuple[UUID, int], StoredEvent] = field(default_factory=dict)
    notifications: List[Notification] = field(default_factory=list)
    tracking: Dict[str, Set[int]] = field(default_factory=dict)

    def conflicts(self, batch: Sequence[StoredEvent]) -> bool:
        """Whether recording ``batch`` must fail with an IntegrityError."""
        keys = [(e.originator_id, e.originator_version) for e in batch]
        return len(set(keys)) != len(keys) or any(k in self.events for k in keys)

    def tracking_conflicts(self, tracking: Optional[Tracking]) -> bool:
        return tracking is not None and tracking.notification_id in self.tracking.get(
            tracking.application_name, set()
        )

    def record(
        self,
        batch: Sequence[StoredEvent],
        ids: Optional[Sequence[int]] = None,
        tracking: Optional[Tracking] = None,
    ) -> None:
        for i, e in enumerate(batch):
            self.events[(e.originator_id, e.originator_version)] = e
            if ids is not None:
                self.notifications.append(
                    Notification(
                        originator_id=e.originator_id,
                        originator_version=e.originator_version,
                        topic=e.topic,
                        state=e.state,
                        id=ids[i],
                    )
                )
        if tracking is not None:
            self.tracking.setdefault(tracking.application_name, set()).add(tracking.notification_id)

    def select_events(
        self,
        originator_id: UUID,
        gt: Optional[int] = None,
        lte: Optional[int] = None,
        desc: bool = False,
        limit: Optional[int] = None,
    ) -> List[StoredEvent]:
        selected = sorted(
            (
                e
                for (o, v), e in self.events.items()
                if o == originator_id and (gt is None or v > gt) and (lte is None or v <= lte)
            ),
            key=lambda e: e.originator_version,
            reverse=desc,
        )
        return selected if limit is None else selected[:limit]

    def select_notifications(
        self,
        start: int,
        limit: int,
        stop: Optional[int] = None,
        topics: Sequence[str] = (),
    ) -> List[Notification]:
        selected = [
            n
            for n in sorted(self.notifications, key=lambda n: n.id)
            if n.id >= start
            and (stop is None or n.id <= stop)
            and (not topics or n.topic in topics)
        ]
        return selected[:limit]

    def max_notification_id(self) -> int:
        return max((n.id for n in self.notifications), default=0)

    def max_tracking_id(self, application_name: str) -> int:
        return max(self.tracking.get(application_name, ()), default=0)

    def has_tracking_id(self, application_name: str, notification_id: int) -> bool:
        return notification_id in self.tracking.get(application_name, set())
