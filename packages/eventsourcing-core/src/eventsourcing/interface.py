"""A notification log across a serialised (JSON) boundary.

The service side turns sections and notifications of an application's log
into JSON strings; the client side turns them back into :class:`Section` and
:class:`Notification` objects, so that a follower can read another
application's log through any transport that carries strings (HTTP, queues).
Stored state is bytes (possibly compressed and encrypted), so it travels as
base64 and is returned byte for byte.
"""

from __future__ import annotations

import base64
import binascii
import json
from abc import ABC, abstractmethod
from typing import Any, Dict, Generic, List, Optional, Sequence, TypeVar
from uuid import UUID

from eventsourcing.application import (
    Application,
    NotificationLog,
    Section,
    parse_section_id,
)
from eventsourcing.persistence import Notification

__all__ = [
    "NotificationLogInterface",
    "NotificationLogJSONClient",
    "NotificationLogJSONService",
]

TApplication = TypeVar("TApplication", bound=Application[Any])


class NotificationLogInterface(ABC):
    """Serialised sections and notifications of a notification log."""

    @abstractmethod
    def get_log_section(self, section_id: str) -> str:
        """Return the serialised section for ``section_id`` (``"first,last"``)."""

    @abstractmethod
    def get_notifications(
        self,
        start: int,
        limit: int,
        stop: Optional[int] = None,
        topics: Sequence[str] = (),
    ) -> str:
        """Return a serialised list of up to ``limit`` notifications from ``start``."""


class NotificationLogJSONService(NotificationLogInterface, Generic[TApplication]):
    """Presents an application's notification log as JSON strings."""

    def __init__(self, app: TApplication) -> None:
        self.app = app

    def get_log_section(self, section_id: str) -> str:
        section = self.app.log[section_id]
        return json.dumps(
            {
                "id": section.id,
                "items": [_notification_to_dict(n) for n in section.items],
                "next_id": section.next_id,
            }
        )

    def get_notifications(
        self,
        start: int,
        limit: int,
        stop: Optional[int] = None,
        topics: Sequence[str] = (),
    ) -> str:
        notifications = self.app.log.select(start, limit, stop=stop, topics=topics)
        return json.dumps([_notification_to_dict(n) for n in notifications])


class NotificationLogJSONClient(NotificationLog):
    """A notification log read through a :class:`NotificationLogInterface`."""

    def __init__(self, interface: NotificationLogInterface) -> None:
        self.interface = interface

    def __getitem__(self, section_id: str) -> Section:
        parse_section_id(section_id)  # fail here, not on the far side
        data = _loads(self.interface.get_log_section(section_id), "section")
        if not isinstance(data, dict) or not {"id", "items", "next_id"} <= data.keys():
            raise ValueError(
                f"Malformed section for {section_id!r}: expected an object with "
                f"'id', 'items' and 'next_id', got {data!r:.200}"
            )
        return Section(
            id=data["id"],
            items=_notifications_from_list(data["items"]),
            next_id=data["next_id"],
        )

    def select(
        self,
        start: int,
        limit: int,
        stop: Optional[int] = None,
        topics: Sequence[str] = (),
    ) -> List[Notification]:
        # Pass stop and topics only when given, so that an interface written
        # for get_notifications(start, limit) keeps working.
        options: Dict[str, Any] = {}
        if stop is not None:
            options["stop"] = stop
        if topics:
            options["topics"] = topics
        data = _loads(
            self.interface.get_notifications(start, limit, **options),
            "notifications",
        )
        return _notifications_from_list(data)


def _notification_to_dict(notification: Notification) -> Dict[str, Any]:
    return {
        "id": notification.id,
        "originator_id": str(notification.originator_id),
        "originator_version": notification.originator_version,
        "topic": notification.topic,
        "state": base64.b64encode(notification.state).decode("ascii"),
    }


def _loads(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError) as e:
        raise ValueError(f"Malformed {what} from notification log interface: {e}") from e


def _notifications_from_list(data: Any) -> List[Notification]:
    if not isinstance(data, list):
        raise ValueError(f"Malformed notifications: expected a list, got {data!r:.200}")
    try:
        return [
            Notification(
                id=int(item["id"]),
                originator_id=UUID(item["originator_id"]),
                originator_version=int(item["originator_version"]),
                topic=str(item["topic"]),
                state=base64.b64decode(item["state"], validate=True),
            )
            for item in data
        ]
    except (KeyError, TypeError, ValueError, binascii.Error) as e:
        raise ValueError(f"Malformed notification: {e!r}") from e
