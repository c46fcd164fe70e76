"""The write engine of the PostgreSQL recorders: saves, transactions, group commit.

A :class:`Save` is one ``insert_events`` call, recorded all or nothing. A
:class:`Committer` sends saves in one pipelined transaction each and, when
the connection breaks, finds out whether the commit happened before it
sends anything again. A :class:`GroupCommitter` (application and process
recorders) lets saves that arrive while a transaction is in flight wait,
then sends them together in the next one: one commit, and one wait for the
disk, for all of them. A save that fails in a group fails alone: the others
are sent again without it.

The recorder says what a transaction contains, through the small
:class:`Statements` interface; this module decides when it is sent, and
what each caller is told.
"""

from __future__ import annotations

import copy
import os
import threading
import weakref
from typing import (
    Dict,
    Iterator,
    List,
    Optional,
    Protocol,
    Sequence,
    Set,
    Tuple,
    Union,
    cast,
)
from uuid import UUID

import psycopg
from psycopg import pq

from eventsourcing.persistence import (
    IntegrityError,
    OperationalError,
    PersistenceError,
    StoredEvent,
    Tracking,
)
from eventsourcing.postgres.datastore import Connection, PostgresDatastore, is_lost
from eventsourcing.postgres.errors import translate
from eventsourcing.postgres.wire import INT8_OID, Step, StepFailed, decode_int8_array, run_pipeline

__all__ = ["CHUNK", "Committer", "GroupCommitter", "Recorded", "Save", "Statements"]

# Events per INSERT statement. A save of more than one chunk is sent alone
# (never grouped), its chunks produced as they are sent: see Statements.steps.
CHUNK = 500
# Most saves sent together in one transaction.
_MAX_GROUP = 100
# How many times a write whose connection broke is sent, after checking
# that it was not recorded.
_WRITE_ATTEMPTS = 3

# The positions found recorded, those of them that match what was sent (with
# their notification IDs), and the indexes of the saves whose tracking exists.
Recorded = Tuple[Set[Tuple[UUID, int]], Dict[Tuple[UUID, int], Optional[int]], List[int]]


class Save:
    """One call of ``insert_events``: recorded all or nothing, maybe with others."""

    __slots__ = ("outcome", "stored_events", "trackings")

    def __init__(self, stored_events: Sequence[StoredEvent], trackings: Sequence[Tracking]) -> None:
        self.stored_events = stored_events
        self.trackings = trackings
        # The notification IDs, or the exception to raise, once recorded (or not).
        self.outcome: Union[List[int], BaseException, None] = None


class Statements(Protocol):
    """What a recorder tells the engine."""

    @property
    def returns_ids(self) -> bool:
        """Whether the inserts return notification IDs."""

    def steps(self, saves: Sequence[Save]) -> Iterator[Tuple[Optional[int], Step]]:
        """The statements of one transaction of ``saves``, each with the index of
        the save it belongs to (None: the whole transaction's, like BEGIN).

        Generated as they are sent, so that the server starts on the first rows
        of a large save while the next are produced; an exception raised here
        aborts the transaction.
        """

    def find_recorded(self, conn: Connection, saves: Sequence[Save]) -> Recorded:
        """Look for what ``saves`` would have written (after a lost connection)."""


class _SaveFailed(Exception):
    """A transaction was not committed because of one save, or of all of them.

    ``index`` is the position of the failing save (None: not one save's
    fault), ``error`` the exception its caller gets.
    """

    def __init__(self, index: Optional[int], error: PersistenceError) -> None:
        super().__init__(index, error)
        self.index = index
        self.error = error


class Committer:
    """Sends each save in a transaction of its own."""

    def __init__(self, datastore: PostgresDatastore, statements: Statements) -> None:
        self.datastore = datastore
        self.statements = statements

    def record(self, save: Save) -> Optional[List[int]]:
        """Record ``save``; return its notification IDs (None if not numbered)."""
        try:
            (ids,) = self._write([save])
        except _SaveFailed as e:
            raise e.error from e.error.__cause__
        if save.stored_events and ids == []:
            # Inserted nothing (see the recorder's steps): a conflict.
            raise _conflict(save, "an event at its position exists already")
        return ids

    def _write(self, saves: List[Save]) -> List[Optional[List[int]]]:
        """Send one transaction; if the connection broke, find out what happened.

        After a broken connection the commit may or may not have happened.
        The old server process is made to end, then the rows are looked for:
        found means recorded (the IDs are returned), absent means not
        recorded, and only then is the transaction sent again.
        """
        attempt = 0
        while True:
            attempt += 1
            pid: Optional[int] = None
            conn: Optional[Connection] = None
            try:
                with self.datastore.connection() as conn:
                    pid = conn.info.backend_pid
                    try:
                        return self._send(conn, saves)
                    except (psycopg.Error, _SaveFailed):
                        raise
                    except BaseException:
                        # Protocol state unknown: never reuse this connection.
                        conn.close()
                        raise
            except OperationalError as e:
                if conn is None or not is_lost(conn):
                    raise
                outcome = self._resolve_unknown_outcome(pid, saves, e)
                if outcome is not None:
                    return outcome
                if attempt >= _WRITE_ATTEMPTS:
                    count = sum(len(save.stored_events) for save in saves)
                    raise OperationalError(
                        f"Not recorded: the connection to PostgreSQL was lost {attempt} "
                        f"times while recording {count} event(s): {e}"
                    ) from e

    def _send(self, conn: Connection, saves: List[Save]) -> List[Optional[List[int]]]:
        """One transaction, in one round trip; the notification IDs of each save."""
        steps, owners = pipeline_of(self.statements, saves)
        try:
            results = run_pipeline(conn, steps)
        except StepFailed as e:
            raise save_failed(e, owners) from None
        return ids_of(self.statements, saves, results, owners)

    def _resolve_unknown_outcome(
        self, pid: Optional[int], saves: List[Save], error: Exception
    ) -> Optional[List[Optional[List[int]]]]:
        """The IDs of each save if the transaction was committed, None if it was not."""
        stored_events = [s for save in saves for s in save.stored_events]
        trackings = [save for save in saves if save.trackings]

        def inspect(conn: Connection) -> Recorded:
            if pid is not None:
                # Until the old session is gone it might still commit.
                conn.execute(
                    "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE pid = %s",
                    (pid,),
                )
            return self.statements.find_recorded(conn, saves)

        try:
            existing, matching, tracked_saves = self.datastore.read(inspect)
        except PersistenceError as e:
            raise OperationalError(
                f"Outcome unknown: the connection to PostgreSQL was lost while recording "
                f"{len(stored_events)} event(s) ({error}), and whether they were recorded "
                f"could not be checked: {e}"
            ) from error
        found, tracked = len(existing), len(tracked_saves)
        if found == 0 and tracked == 0:
            return None
        skipped = _committed_without(saves, existing, matching, tracked_saves)
        if skipped is not None and self.statements.returns_ids:
            # Committed; the saves in ``skipped`` inserted nothing (conflicts).
            return [
                []
                if i in skipped
                else [
                    cast(int, matching[(s.originator_id, s.originator_version)])
                    for s in save.stored_events
                ]
                for i, save in enumerate(saves)
            ]
        if len(matching) == len(stored_events) and tracked == len(trackings):
            if not self.statements.returns_ids:
                return [None] * len(saves)
            return [
                [
                    cast(int, matching[(s.originator_id, s.originator_version)])
                    for s in save.stored_events
                ]
                for save in saves
            ]
        # Not committed. A save whose rows exist conflicts: it is refused, and
        # (in a group) the others are sent again without it.
        conflict = IntegrityError(
            f"The connection to PostgreSQL was lost while recording {len(stored_events)} "
            f"event(s) and {len(trackings)} tracking record(s); afterwards {found} of the "
            f"events existed ({len(matching)} as sent) and {tracked} of the tracking "
            "records: they conflict with what another writer recorded"
        )
        conflict.__cause__ = error
        raise _SaveFailed(
            next(
                i
                for i, save in enumerate(saves)
                if i in tracked_saves
                or any(
                    (s.originator_id, s.originator_version) in existing for s in save.stored_events
                )
            ),
            conflict,
        )


class GroupCommitter(Committer):
    """Sends saves that arrive while a transaction is in flight together, in the next.

    The first of them to find no transaction in flight sends it. A save of
    more than :data:`CHUNK` events is sent alone, so that an error while
    producing a later chunk aborts only its own transaction.
    """

    def __init__(self, datastore: PostgresDatastore, statements: Statements) -> None:
        super().__init__(datastore, statements)
        self._reset()
        _group_committers.add(self)

    def _reset(self) -> None:
        self._condition = threading.Condition()
        self._queue: List[Save] = []
        self._leading = False

    def record(self, save: Save) -> List[int]:
        if len(save.stored_events) > CHUNK:
            return super().record(save) or []
        with self._condition:
            alone = not self._leading and not self._queue
            if alone:
                self._leading = True
            else:
                self._queue.append(save)
        if alone:
            # Nothing to group it with: sent as without group commit, so that
            # grouping costs a lone writer nothing (one writer thread saving
            # to PostgreSQL: 0.98 of the rate without group commit when it
            # went through record_group() as a group of one).
            try:
                return super().record(save) or []
            finally:
                with self._condition:
                    self._leading = False
                    self._condition.notify_all()
        while True:
            with self._condition:
                while save.outcome is None and self._leading:
                    self._condition.wait()
                if save.outcome is not None:
                    break
                self._leading = True
                group = self._queue[:_MAX_GROUP]
                del self._queue[:_MAX_GROUP]
            try:
                self.record_group(group)
            finally:
                with self._condition:
                    self._leading = False
                    self._condition.notify_all()
        if isinstance(save.outcome, BaseException):
            raise save.outcome
        return save.outcome

    def record_group(self, group: List[Save]) -> None:
        """Record ``group`` in one transaction, setting the outcome of each save.

        A transaction that fails because of one save is rolled back and sent
        again without it, and every attempt uses up notification IDs (the
        sequence is not transactional). So conflicts are found before
        sending where that is certain: a save of a position an earlier save
        of the group takes waits for that save's outcome (see
        :func:`_repeats`), and after a first conflict the saves whose
        positions are already recorded are refused without being sent.
        """
        pending = list(group)
        try:
            while pending:
                sending, waiting = _repeats(pending)
                self._record_saves(sending)
                if not waiting:
                    break
                recorded = {
                    position
                    for save in sending
                    if not isinstance(save.outcome, BaseException)
                    for position in _positions(save)
                }
                pending = []
                for save in waiting:
                    if recorded.isdisjoint(_positions(save)):
                        pending.append(save)  # what it repeated was not recorded
                    else:
                        save.outcome = _conflict(save, "another save recorded just before")
        except BaseException as e:
            for save in group:
                if save.outcome is None:
                    save.outcome = e
            raise

    def _record_saves(self, saves: List[Save]) -> None:
        remaining = list(saves)
        checked = False
        while remaining:
            try:
                ids = self._write(remaining)
            except _SaveFailed as e:
                if e.index is None or len(remaining) == 1:
                    for save in remaining:
                        save.outcome = _own_copy(e.error)
                    return
                remaining.pop(e.index).outcome = e.error
                if isinstance(e.error, IntegrityError) and not checked:
                    checked = True
                    remaining = self._refuse_recorded_positions(remaining)
                continue
            except PersistenceError as e:
                for save in remaining:
                    save.outcome = _own_copy(e)
                return
            for save, save_ids in zip(remaining, ids, strict=True):
                if save.stored_events and not save_ids:
                    # Inserted nothing (see the recorder's steps): a conflict.
                    save.outcome = _conflict(save, "an event at its position exists already")
                else:
                    save.outcome = save_ids or []
            return

    def _refuse_recorded_positions(self, saves: List[Save]) -> List[Save]:
        """Refuse the saves whose positions (or tracking) are recorded already; the others."""
        existing, _, tracked = self.datastore.read(
            lambda conn: self.statements.find_recorded(conn, saves)
        )
        others = []
        for i, save in enumerate(saves):
            if i in tracked:
                save.outcome = _conflict(save, "its tracking record exists already")
            elif not existing.isdisjoint(_positions(save)):
                save.outcome = _conflict(save, "events at its positions exist already")
            else:
                others.append(save)
        return others


def pipeline_of(
    statements: Statements, saves: Sequence[Save]
) -> Tuple[Iterator[Step], List[Optional[int]]]:
    """The steps of one transaction recording ``saves``, and (filled as the
    steps are produced) the index of the save each step belongs to."""
    owners: List[Optional[int]] = []

    def steps() -> Iterator[Step]:
        for owner, step in statements.steps(saves):
            owners.append(owner)
            yield step

    return steps(), owners


def save_failed(e: StepFailed, owners: List[Optional[int]]) -> _SaveFailed:
    """The server refused a step: which save's fault it was, and the error to raise."""
    error = translate(e.error)
    error.__cause__ = e.error
    return _SaveFailed(None if e.index is None else owners[e.index], error)


def ids_of(
    statements: Statements,
    saves: Sequence[Save],
    results: Sequence[pq.abc.PGresult],
    owners: List[Optional[int]],
) -> List[Optional[List[int]]]:
    """The notification IDs of each save, from its steps' results."""
    if not statements.returns_ids:
        return [None] * len(saves)
    ids: List[Optional[List[int]]] = [[] for _ in saves]
    for result, owner in zip(results, owners, strict=True):
        if owner is None or result.ntuples != 1 or result.nfields != 1:
            continue
        value = result.get_value(0, 0)
        save_ids = ids[owner]
        assert save_ids is not None
        if result.ftype(0) == INT8_OID:
            if value:
                save_ids.append(int.from_bytes(value, "big", signed=True))
        else:
            save_ids.extend(decode_int8_array(value))
    return ids


def _committed_without(
    saves: Sequence[Save],
    existing: Set[Tuple[UUID, int]],
    matching: Dict[Tuple[UUID, int], Optional[int]],
    tracked: List[int],
) -> Optional[Set[int]]:
    """Which saves a committed transaction left out, or None if it was not committed.

    Committed: some save is found as sent, and every other one is a single
    event without tracking whose position another writer had taken (such a
    save inserts nothing rather than failing the transaction).
    """
    recorded: Set[int] = set()
    skipped: Set[int] = set()
    for i, save in enumerate(saves):
        keys = [(s.originator_id, s.originator_version) for s in save.stored_events]
        if all(k in matching for k in keys) and (not save.trackings or i in tracked):
            recorded.add(i)
        elif len(keys) == 1 and not save.trackings and keys[0] in existing:
            skipped.add(i)
        else:
            return None
    return skipped if recorded else None


def _positions(save: Save) -> Set[Tuple[object, ...]]:
    """What ``save`` would occupy: its events' positions, and its tracking records."""
    positions: Set[Tuple[object, ...]] = {
        (s.originator_id, s.originator_version) for s in save.stored_events
    }
    for t in save.trackings:
        positions.add((t.application_name, t.notification_id, "tracking"))
    return positions


def _repeats(saves: List[Save]) -> Tuple[List[Save], List[Save]]:
    """The saves to send now, and those of a position an earlier one takes.

    Sent together, the later of two saves of one position would fail the
    transaction; it waits for the earlier one's outcome instead.
    """
    if len(saves) == 1:
        return saves, []  # the usual group when saves do not overlap in time
    sending: List[Save] = []
    waiting: List[Save] = []
    taken: Set[Tuple[object, ...]] = set()
    for save in saves:
        positions = _positions(save)
        (sending if taken.isdisjoint(positions) else waiting).append(save)
        taken |= positions
    return sending, waiting


def _conflict(save: Save, reason: str) -> IntegrityError:
    if save.stored_events:
        first = save.stored_events[0]
        what = (
            f"{len(save.stored_events)} event(s) from {first.originator_id} "
            f"version {first.originator_version}"
        )
    else:
        what = "tracking record(s) " + ", ".join(str(t) for t in save.trackings)
    return IntegrityError(f"Not recorded: {what} conflict(s) with what is recorded: {reason}")


def _own_copy(error: PersistenceError) -> PersistenceError:
    """A copy of ``error`` for one of several saves (each raises its own)."""
    duplicate = copy.copy(error)
    duplicate.__cause__ = error.__cause__
    return duplicate


# Group committers whose state a forked child must not inherit.
_group_committers: weakref.WeakSet[GroupCommitter] = weakref.WeakSet()


def _forget_parent_saves() -> None:
    """In a forked child: the parent's saves in flight, and their leader, are not here.

    Left as inherited, the child would wait for ever for a leader that does
    not exist in it, or send the parent's queued saves a second time.
    """
    for committer in list(_group_committers):
        committer._reset()


if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_forget_parent_saves)
