"""Partitions: one follower's work on a leader split across processes.

Partition K of N processes exactly the notifications whose originator ID
satisfies ``zlib.crc32(originator_id.bytes) % N == K``: every event of an
aggregate goes to one partition, which processes them in notification
order, so each aggregate stays in order while N processes share the work.
CRC-32 of the ID's 16 bytes is the same in every process and Python
version (Python's ``hash`` is not: it is salted per process).

Each partition tracks its own position, under the tracking name
``"{leader}#{K}/{N}"`` (the plain leader name when N = 1, as unpartitioned
followers always did), and has its own lease. Two layouts (different N)
must never run at once: a notification would be processed by one partition
of each. So a follower refuses to start with N while positions are
tracked for another N (:func:`check_layout`); ``docs/system.md`` says how
to drain and re-partition.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple
from uuid import UUID

from eventsourcing.copying import TrackingCopying
from eventsourcing.persistence import (
    InfrastructureFactory,
    Notification,
    ProcessRecorder,
    Tracking,
)
from eventsourcing.utils import ConfigurationError

__all__ = [
    "PROCESSING_PARTITION",
    "PROCESSING_PARTITIONS",
    "Partition",
    "PartitionMismatch",
    "check_layout",
    "tracked_positions",
]

PROCESSING_PARTITIONS = "PROCESSING_PARTITIONS"
PROCESSING_PARTITION = "PROCESSING_PARTITION"

# Larger than any notification ID: seeking after (name, _LAST) finds the next name.
_LAST = 2**63 - 1


class PartitionMismatch(ConfigurationError):
    """Positions are tracked for another number of partitions."""


@dataclass(frozen=True)
class Partition:
    """Partition ``index`` of ``count`` (``Partition(0, 1)``: everything)."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise ConfigurationError(f"partitions must be an integer >= 1, got {self.count!r}")
        if (
            isinstance(self.index, bool)
            or not isinstance(self.index, int)
            or not 0 <= self.index < self.count
        ):
            raise ConfigurationError(
                f"partition must be an integer from 0 to {self.count - 1} "
                f"(partitions={self.count}), got {self.index!r}"
            )

    @classmethod
    def configure(
        cls,
        factory: InfrastructureFactory,
        count: Optional[int] = None,
        index: Optional[int] = None,
    ) -> Partition:
        """The partition given as arguments, else by ``PROCESSING_PARTITIONS``
        and ``PROCESSING_PARTITION`` (prefixed per application, as usual)."""
        if count is None:
            count = factory.getenv_int(PROCESSING_PARTITIONS, 1, minimum=1) or 1
        if index is None:
            index = factory.getenv_int(PROCESSING_PARTITION, None, minimum=0)
        if index is None:
            if count != 1:
                raise ConfigurationError(
                    f"{count} partitions: say which one this process runs "
                    f"(--partition K or {PROCESSING_PARTITION}, 0 <= K < {count})"
                )
            index = 0
        return cls(index, count)

    def contains(self, originator_id: UUID) -> bool:
        """Whether this partition processes the events of ``originator_id``."""
        return self.count == 1 or zlib.crc32(originator_id.bytes) % self.count == self.index

    def batches(self, page: List[Notification], size: int) -> Iterator[List[Notification]]:
        """``page`` cut into consecutive batches of at most ``size`` of this
        partition's notifications each (and the others' between them), so that
        a transaction carries as much of this partition's work as with N = 1:
        each process commits about 1/N as often, not as often as N = 1 does."""
        start = own = 0
        for i, notification in enumerate(page):
            if self.contains(notification.originator_id):
                if own == size:
                    yield page[start:i]
                    start, own = i, 0
                own += 1
        if start < len(page):
            yield page[start:]

    def tracking_name(self, leader_name: str) -> str:
        """The name this partition's positions (and lease) are tracked under."""
        if self.count == 1:
            return leader_name
        return f"{leader_name}#{self.index}/{self.count}"

    def __str__(self) -> str:
        return f"partition {self.index} of {self.count}"


def parse_tracking_name(name: str, leader_name: str) -> Optional[Partition]:
    """The partition whose positions ``name`` holds, if it is one of ``leader_name``'s."""
    if name == leader_name:
        return Partition()
    match = re.fullmatch(re.escape(leader_name) + r"#(\d+)/(\d+)", name)
    if match is None:
        return None
    index, count = int(match.group(1)), int(match.group(2))
    if count < 2 or index >= count:
        return None
    return Partition(index, count)


def tracked_positions(recorder: ProcessRecorder, leader_name: str) -> Dict[Partition, int]:
    """Each partition of ``leader_name`` with a tracked position, and the position.

    Needs the :class:`~eventsourcing.copying.TrackingCopying` capability to
    list tracking names (one indexed query per name: it seeks past each
    name's records). Without it only the unpartitioned name is looked at.
    """
    found: Dict[Partition, int] = {}
    if not isinstance(recorder, TrackingCopying):
        position = recorder.max_tracking_id(leader_name)
        return {Partition(): position} if position else {}
    after: Optional[Tracking] = None
    while True:
        rows = recorder.select_tracking(after=after, limit=1)
        if not rows:
            return found
        name = rows[0].application_name
        partition = parse_tracking_name(name, leader_name)
        if partition is not None:
            found[partition] = recorder.max_tracking_id(name)
        after = Tracking(name, _LAST)


def check_layout(
    recorder: ProcessRecorder, follower_name: str, leader_name: str, partition: Partition
) -> None:
    """Refuse ``partition`` if positions of ``leader_name`` are tracked for another N."""
    others: List[Tuple[str, int]] = sorted(
        (p.tracking_name(leader_name), position)
        for p, position in tracked_positions(recorder, leader_name).items()
        if p.count != partition.count
    )
    if others:
        listed = ", ".join(f"{name!r} at {position}" for name, position in others)
        raise PartitionMismatch(
            f"{follower_name!r} has positions of {leader_name!r} tracked for another number "
            f"of partitions ({listed}): refusing to run with {partition.count}; drain and "
            "re-partition first (see 'Partitions' in docs/system.md)"
        )
