"""``eventsourcing copy --to-env FILE``: move a whole store to another store.

The copy keeps every notification ID (gaps included), tracking record and
snapshot, so the application and its followers cannot tell it from the
original. Stored state keeps its bytes, unless the target's cipher differs
(another key, or none): then it is decrypted and encrypted again. Events
are copied up to the source's last notification ID when the copy starts.
Afterwards both stores are read and compared: counts, and a checksum per
aggregate (each page is read back from the target once committed, while
the next pages are copied). ``--resume`` continues an interrupted copy, after
checking that the target holds exactly the start of the source.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import (
    Callable,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
    TypeVar,
    cast,
)
from uuid import UUID

from eventsourcing.cli.command import Command, CommandError, Context
from eventsourcing.cli.settings import Store, optional_table, redact, settings
from eventsourcing.copying import (
    EventScanning,
    NotificationInserting,
    TrackingCopying,
    missing_capabilities,
)
from eventsourcing.persistence import (
    Compressor,
    Notification,
    PersistenceError,
    ProgrammingError,
    StoredEvent,
    Tracking,
    make_notification,
    make_stored_event,
)
from eventsourcing.popo import Factory as PopoFactory
from eventsourcing.utils import ConfigurationError, TopicError

__all__ = ["CopyCommand"]

# Events per insert_notifications call (one transaction each): COPY pays off
# from thousands of rows, and an interrupted copy loses at most one page.
# Measured on 1,000,000 events SQLite -> PostgreSQL (load 7 to 9, one run
# each): 5,000 per page 33.5 s, 10,000 25.0 s and 18.2 s, 20,000 29.3 s and
# 29.8 s (and the client used 10 to 11 s of CPU instead of 7.5).
_PAGE = 10_000

Key = Tuple[UUID, int]
T = TypeVar("T")
K = TypeVar("K")


class Checksums:
    """A digest per aggregate of its events (ID, version, topic, state), in order."""

    def __init__(self) -> None:
        self.digests: Dict[UUID, hashlib.blake2b] = {}
        self.events = 0

    def add(self, page: Sequence[Notification], states: Sequence[bytes]) -> None:
        """Add a page of notifications whose states (as compared) are ``states``."""
        digests = self.digests
        topics: Dict[str, bytes] = {}
        for n, state in zip(page, states, strict=True):
            digest = digests.get(n.originator_id)
            if digest is None:
                digest = digests[n.originator_id] = hashlib.blake2b(digest_size=16)
            topic = topics.get(n.topic)
            if topic is None:
                topic = topics[n.topic] = n.topic.encode()
            digest.update(b"%d %d %s " % (n.id, n.originator_version, topic))
            digest.update(state)
        self.events += len(page)

    def differences(self, other: Checksums) -> List[UUID]:
        ids = set(self.digests) | set(other.digests)
        return sorted(
            (i for i in ids if _hex(self.digests.get(i)) != _hex(other.digests.get(i))),
            key=str,
        )


def _hex(digest: Optional[hashlib.blake2b]) -> Optional[str]:
    return None if digest is None else digest.hexdigest()


class Copy:
    """One copy from ``source`` to ``target`` (both open)."""

    def __init__(self, source: Store, target: Store, context: Context) -> None:
        self.source = source
        self.target = target
        self.context = context
        self.reencrypt = source.cipher_identity != target.cipher_identity
        self.source_sums = Checksums()
        # The target's events as read back: the prefix a resumed copy found,
        # then each page once committed (see copy_events).
        self.target_sums = Checksums()

    # -- state -----------------------------------------------------------------

    def source_states(self, page: Sequence[StoredEvent]) -> List[bytes]:
        """What the checksums compare: the states, decrypted if the cipher changes."""
        cipher = self.source.cipher
        if self.reencrypt and cipher is not None:
            return [cipher.decrypt(n.state) for n in page]
        return [n.state for n in page]

    def target_states(self, page: Sequence[StoredEvent]) -> List[bytes]:
        cipher = self.target.cipher
        if self.reencrypt and cipher is not None:
            return [cipher.decrypt(n.state) for n in page]
        return [n.state for n in page]

    def converted(self, plain: bytes) -> bytes:
        """The target's bytes for a state (``plain`` is from :meth:`source_states`)."""
        cipher = self.target.cipher
        return cipher.encrypt(plain) if self.reencrypt and cipher is not None else plain

    # -- steps -----------------------------------------------------------------

    def check_prefix(self, target_last: int) -> None:
        """Refuse to resume unless the target holds exactly the source's first events."""
        theirs = _flat(self._summed(self.target.notifications(1, stop=target_last, page=_PAGE)))
        for page in self.source.notifications(1, stop=target_last, page=_PAGE):
            plain = self.source_states(page)
            self.source_sums.add(page, plain)
            for ours, ours_state in zip(page, plain, strict=True):
                copied = next(theirs, None)
                if copied is None or not _same(
                    ours, copied, ours_state, self.target_states([copied])[0]
                ):
                    raise CommandError(
                        "--resume refused: the target is not a copy of the start of the "
                        f"source (notification {ours.id} of the source differs or is missing)"
                    )
        extra = next(theirs, None)
        if extra is not None:
            raise CommandError(
                "--resume refused: the target is not a copy of the start of the source "
                f"(it has notification {extra.id}, which the source does not have)"
            )

    def _summed(self, pages: Iterator[List[Notification]]) -> Iterator[List[Notification]]:
        """``pages`` of the target, added to its checksums as they are read."""
        for page in pages:
            self.target_sums.add(page, self.target_states(page))
            yield page

    def _read_back(self, first: int, last: int) -> None:
        """Add the target's notifications ``first`` to ``last`` to its checksums."""
        for _ in self._summed(self.target.notifications(first, stop=last, page=_PAGE)):
            pass

    def copy_events(self, start: int, stop: int) -> int:
        """Copy notifications ``start`` to ``stop``; return how many there were.

        Each page is inserted by a second thread while the next is read and
        prepared: the target's server works while this process does (the
        driver releases the GIL while it waits). Pages go in one at a time,
        in order, so an interruption leaves the target a prefix of the source.
        Once a page is committed, a third thread reads its range of IDs back
        from the target, for the verification (in order, on a connection of
        its own, while the next pages go in): the pages it reads are still in
        the server's cache, and the reading overlaps the copying. Measured on
        1,000,000 events, SQLite to PostgreSQL, alternating runs (2 CPUs
        shared, load 7 to 8): reading back after the copy 26.0 s and 29.9 s
        in all, while copying 23.4 s and 25.2 s.
        """
        progress = self.context.progress("copy events", total=stop - start + 1)
        insert = cast(NotificationInserting, self.target.recorder).insert_notifications
        count = 0
        # IDs start..stop are covered by the read-back ranges, gaps included.
        read_from = start
        with (
            ThreadPoolExecutor(1, thread_name_prefix="eventsourcing-copy") as inserter,
            ThreadPoolExecutor(1, thread_name_prefix="eventsourcing-copy-verify") as reader,
        ):
            pending: Optional[Future[None]] = None
            pending_range: Tuple[int, int] = (start, start - 1)
            read_backs: List[Future[None]] = []
            try:
                for page in self.source.notifications(start, stop=stop, page=_PAGE):
                    plain = self.source_states(page)
                    self.source_sums.add(page, plain)
                    copies: Sequence[Notification] = page
                    if self.reencrypt:
                        copies = [
                            make_notification(
                                n.originator_id,
                                n.originator_version,
                                n.topic,
                                self.converted(state),
                                n.id,
                            )
                            for n, state in zip(page, plain, strict=True)
                        ]
                    if pending is not None:
                        pending.result()
                        read_backs.append(reader.submit(self._read_back, *pending_range))
                    pending = inserter.submit(insert, copies)
                    pending_range = (read_from, page[-1].id)
                    read_from = page[-1].id + 1
                    count += len(page)
                    progress.advance(len(page), page[-1].id - start + 1)
                if pending is not None:
                    pending.result()
                    read_backs.append(reader.submit(self._read_back, *pending_range))
                if read_from <= stop:  # no source events there: nor should the target have
                    read_backs.append(reader.submit(self._read_back, read_from, stop))
                for read_back in read_backs:
                    read_back.result()
            finally:
                progress.close()
        return count

    def copy_tracking(self) -> Tuple[int, int]:
        """Insert the source's tracking records the target lacks; (copied, total)."""
        existing = set(_all_tracking(self.target))
        total = 0
        copied = 0
        batch: List[Tracking] = []
        for record in _all_tracking(self.source):
            total += 1
            if record not in existing:
                batch.append(record)
            if len(batch) >= _PAGE:
                cast(TrackingCopying, self.target.recorder).insert_tracking(batch)
                copied, batch = copied + len(batch), []
        if batch:
            cast(TrackingCopying, self.target.recorder).insert_tracking(batch)
            copied += len(batch)
        return copied, total

    def copy_snapshots(self) -> Tuple[int, int]:
        """Insert the source's snapshots the target lacks; (copied, total)."""
        existing: Set[Key] = {_key(s) for s in _all_snapshots(self.target)}
        total = 0
        copied = 0
        batch: List[StoredEvent] = []
        for s in _all_snapshots(self.source):
            total += 1
            if _key(s) not in existing:
                state = self.converted(self.source_states([s])[0])
                batch.append(
                    make_stored_event(s.originator_id, s.originator_version, s.topic, state)
                )
            if len(batch) >= _PAGE:
                self.target.snapshots.insert_events(batch)
                copied, batch = copied + len(batch), []
        if batch:
            self.target.snapshots.insert_events(batch)
            copied += len(batch)
        return copied, total

    def verify(self, stop: int) -> List[str]:
        """Compare what was read back from the target with what was read from
        the source; problems, if any."""
        target_sums = self.target_sums
        problems = []
        if target_sums.events != self.source_sums.events:
            problems.append(
                f"the target has {target_sums.events:,} events up to notification ID "
                f"{stop}, the source {self.source_sums.events:,}"
            )
        different = self.source_sums.differences(target_sums)
        if different:
            shown = ", ".join(str(i) for i in different[:10])
            more = f" and {len(different) - 10:,} more" if len(different) > 10 else ""
            problems.append(f"the events of {len(different):,} aggregates differ: {shown}{more}")
        return problems


def _same(ours: Notification, theirs: Notification, ours_state: bytes, theirs_state: bytes) -> bool:
    return (
        ours.id == theirs.id
        and ours.originator_id == theirs.originator_id
        and ours.originator_version == theirs.originator_version
        and ours.topic == theirs.topic
        and ours_state == theirs_state
    )


def _flat(pages: Iterator[List[Notification]]) -> Iterator[Notification]:
    for page in pages:
        yield from page


def _key(s: StoredEvent) -> Key:
    return (s.originator_id, s.originator_version)


def _paged(read: Callable[[Optional[K]], List[T]], key: Callable[[T], K]) -> Iterator[T]:
    """Every row of a table read a page at a time (none if the table does not exist)."""
    after: Optional[K] = None
    while True:
        batch = optional_table(partial(read, after))
        yield from batch
        if len(batch) < _PAGE:
            return
        after = key(batch[-1])


def _all_tracking(store: Store) -> Iterator[Tracking]:
    recorder = cast(TrackingCopying, store.recorder)
    return _paged(partial(_select_tracking, recorder), _same_record)


def _select_tracking(recorder: TrackingCopying, after: Optional[Tracking]) -> List[Tracking]:
    return recorder.select_tracking(after, limit=_PAGE)


def _same_record(record: Tracking) -> Tracking:
    return record


def _all_snapshots(store: Store) -> Iterator[StoredEvent]:
    recorder = cast(EventScanning, store.snapshots)
    return _paged(partial(_scan, recorder), _key)


def _scan(recorder: EventScanning, after: Optional[Key]) -> List[StoredEvent]:
    return recorder.scan_stored_events(after, limit=_PAGE)


def _refuse(source: Store, target: Store) -> None:
    """Refuse, before anything is written, a copy that could not be faithful."""
    for store, role in ((source, "source"), (target, "target")):
        missing = missing_capabilities(store.recorder, store.snapshots)
        if missing:
            raise CommandError(
                f"the {role} ({store.describe()}) cannot take part in a faithful copy: "
                f"its recorders lack {', '.join(missing)}"
            )
    _refuse_compressor(source, target.compressor)


def _refuse_compressor(source: Store, theirs: Optional[Compressor]) -> None:
    ours = source.compressor
    if type(ours) is not type(theirs):
        raise CommandError(
            "copy keeps the stored bytes: the target's compressor "
            f"({type(theirs).__name__ if theirs else 'none'}) must be the source's "
            f"({type(ours).__name__ if ours else 'none'}); check COMPRESSOR_TOPIC"
        )


def _selected_compressor(env: Mapping[str, str], app: str) -> Optional[Compressor]:
    """The compressor that ``env`` selects, without opening its store: the
    selection is the base factory's, the same for every persistence module."""
    return PopoFactory(app, env).compressor()


class CopyCommand(Command):
    name = "copy"
    help = (
        "copy the store (events with their notification IDs, tracking records, "
        "snapshots) to the store that FILE's settings select"
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--to-env",
            required=True,
            metavar="FILE",
            help="settings of the target store (KEY=VALUE lines, over the environment)",
        )
        parser.add_argument(
            "--resume",
            action="store_true",
            help="continue an interrupted copy into a target that holds its start",
        )

    def run(self, args: argparse.Namespace, context: Context) -> int:
        target_env = settings(args.to_env)
        try:
            return self._copy(args, context, target_env)
        except (ConfigurationError, TopicError, PersistenceError) as e:
            # The target's secrets are not among the settings the command redacts.
            raise CommandError(redact(str(e), target_env, context.env)) from e

    def _copy(self, args: argparse.Namespace, context: Context, target_env: Dict[str, str]) -> int:
        app = context.app()
        started = time.monotonic()
        with Store(context.env, app) as source:
            stop = source.max_notification_id()
            # Look at the target without creating anything, then open it to write.
            probe, last = _target(target_env, app, args.to_env)
            if probe is not None:
                with probe:
                    _refuse(source, probe)
                    occupied = last or any(
                        next(iter(rows), None) is not None
                        for rows in (_all_tracking(probe), _all_snapshots(probe))
                    )
                    if occupied and not args.resume:
                        raise CommandError(
                            f"the target ({probe.describe()}) is not empty: copy only into "
                            "an empty store, or give --resume to continue an interrupted copy"
                        )
            else:
                _refuse_compressor(source, _selected_compressor(target_env, app))
            with Store(target_env, app, writable=True) as target:
                if probe is None:
                    # No database yet (a new SQLite file): empty, and only now
                    # created, so its capabilities are checked only now.
                    _refuse(source, target)
                copy = Copy(source, target, context)
                if last:
                    copy.check_prefix(last)
                events = copy.copy_events(last + 1, stop) if stop > last else 0
                tracking, tracking_total = copy.copy_tracking()
                snapshots, snapshots_total = copy.copy_snapshots()
                problems = copy.verify(stop)
                if _count(_all_tracking(target)) != tracking_total:
                    problems.append("the target's tracking records differ in number")
                if _count(_all_snapshots(target)) != snapshots_total:
                    problems.append("the target's snapshots differ in number")
                elapsed = time.monotonic() - started
                out = context.out
                out.write(
                    f"copied {events:,} events (notification IDs up to {stop}), "
                    f"{tracking:,} tracking records and {snapshots:,} snapshots from the "
                    f"{source.describe()} to the {target.describe()}"
                    + (" (re-encrypted)" if copy.reencrypt else "")
                    + f" in {elapsed:.1f}s\n"
                )
                if problems:
                    for problem in problems:
                        out.write(f"copy verification failed: {problem}\n")
                    return 1
                out.write(
                    f"verified: {copy.source_sums.events:,} events of "
                    f"{len(copy.source_sums.digests):,} aggregates match (a checksum per "
                    f"aggregate), {tracking_total:,} tracking records, "
                    f"{snapshots_total:,} snapshots\n"
                )
        return 0


def _target(env: Dict[str, str], app: str, path: str) -> Tuple[Optional[Store], int]:
    """The target store, opened read-only, and its last notification ID (0 when
    it has no events table); ``None`` when its database does not exist yet (a
    read-only store is not created: ProgrammingError). Errors say that they
    are about the target."""
    try:
        store = Store(env, app)
    except ProgrammingError:
        return None, 0
    except (CommandError, ConfigurationError, TopicError, PersistenceError) as e:
        raise CommandError(f"target store (--to-env {path}): {e}") from e
    try:
        last = optional_table(lambda: [store.recorder.max_notification_id()])
    except PersistenceError as e:
        store.close()
        raise CommandError(f"target store (--to-env {path}): {e}") from e
    return store, last[0] if last else 0


def _count(items: Iterator[object]) -> int:
    return sum(1 for _ in items)
