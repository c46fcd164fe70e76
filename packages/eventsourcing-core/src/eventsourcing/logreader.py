"""Reading an application's notification log a section or a page at a time."""

from __future__ import annotations

from typing import Any, Iterator, Optional

from eventsourcing.application import NotificationLog
from eventsourcing.persistence import Notification

__all__ = ["NotificationLogReader"]


class NotificationLogReader:
    """Iterates over the notifications of a log, fetching them a page at a time."""

    __module__ = "eventsourcing.system"  # where 9.1 defined it: printed and in topics

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
