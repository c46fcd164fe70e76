"""One-round-trip transactions over libpq's pipeline mode, with binary parameters.

A save is ``BEGIN``, (``LOCK``), ``INSERT ... RETURNING``, ``COMMIT``: sent
together, followed by one sync, so the client waits for the server once.
Statements are prepared on each connection the first time they are used
there, inside the same pipeline. Parameters are encoded here, in PostgreSQL's
binary format, which avoids the text escaping of ``bytea`` and arrays.
"""

from __future__ import annotations

import asyncio
import hashlib
import select
import struct
import time
import weakref
from dataclasses import dataclass
from typing import (
    Any,
    Generator,
    Iterable,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
    cast,
)
from uuid import UUID

import psycopg
from psycopg import pq
from psycopg.errors import error_from_result

from eventsourcing.postgres.errors import NoAnswer

__all__ = [
    "BYTEA_OID",
    "INT4_OID",
    "INT8_OID",
    "TEXT_OID",
    "UUID_OID",
    "Statement",
    "Step",
    "StepFailed",
    "array_of_bytes",
    "array_of_int8",
    "array_of_text",
    "array_of_uuid",
    "decode_int8_array",
    "encode_int8",
    "rollback",
    "run_pipeline",
    "run_pipeline_async",
]

BYTEA_OID = 17
INT8_OID = 20
INT4_OID = 23
TEXT_OID = 25
UUID_OID = 2950

_OK = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)

T = TypeVar("T")
Connection = psycopg.Connection[Any]
AnyConnection = Union[psycopg.Connection[Any], psycopg.AsyncConnection[Any]]


@dataclass(frozen=True)
class Statement:
    """SQL prepared under a name derived from its text (so recorders share it)."""

    sql: bytes
    name: bytes

    @classmethod
    def from_sql(cls, sql: str) -> Statement:
        encoded = sql.encode("utf8")
        return cls(encoded, b"es_" + hashlib.sha1(encoded).hexdigest()[:20].encode())


class StepFailed(Exception):
    """The server refused a statement of a pipeline; nothing of it was committed.

    ``index`` is the position of the caller's step that failed (None if it
    was a statement being prepared); ``error`` is the driver's exception,
    also the cause. The connection is usable: the transaction was rolled back.
    """

    def __init__(self, index: Optional[int], error: psycopg.Error) -> None:
        super().__init__(index, error)
        self.index = index
        self.error = error


class Step(NamedTuple):
    """One statement of a pipeline and its binary parameters.

    ``waits_for_lock``: the statement may wait for another session's lock,
    which the read timeout does not limit (the lock timeout does). A named
    tuple rather than a frozen dataclass: a save makes several, and a frozen
    dataclass sets each field through ``object.__setattr__``.
    """

    statement: Statement
    params: Optional[Sequence[bytes]] = None
    waits_for_lock: bool = False


# Statements prepared on each connection, forgotten with the connection.
_prepared: weakref.WeakKeyDictionary[AnyConnection, set[bytes]] = weakref.WeakKeyDictionary()


class _Deadlines:
    """When to stop waiting for the server: ``read_timeout`` after each answer.

    The connection's ``read_timeout`` (seconds, 0 for none) limits the wait
    for each answer; while a statement waits for a lock the limit is the
    connection's ``lock_timeout`` plus the read timeout (none when the lock
    timeout is 0: the server answers "lock timeout" itself otherwise).
    """

    __slots__ = ("conn", "lock_timeout", "read_timeout", "until")

    def __init__(self, conn: AnyConnection) -> None:
        self.conn = conn
        self.read_timeout: float = getattr(conn, "read_timeout", 0.0)
        self.lock_timeout: float = getattr(conn, "lock_timeout", 0)
        self.until: Optional[float] = None

    def restart(self, waiting_for_lock: bool = False) -> None:
        if not self.read_timeout or (waiting_for_lock and not self.lock_timeout):
            self.until = None
        else:
            extra = self.lock_timeout if waiting_for_lock else 0
            self.until = time.monotonic() + self.read_timeout + extra

    def remaining(self) -> Optional[float]:
        """Seconds left (raising NoAnswer if none), or None for no limit."""
        if self.until is None:
            return None
        remaining = self.until - time.monotonic()
        if remaining <= 0:
            raise self.no_answer()
        return remaining

    def no_answer(self) -> NoAnswer:
        """The error to raise; the caller discards the connection."""
        info = self.conn.info
        return NoAnswer(
            f"PostgreSQL at {info.host}:{info.port} did not answer within "
            f"{self.read_timeout:g}s (POSTGRES_READ_TIMEOUT); the connection was discarded"
        )


# The pipeline is written once, as generators that yield when they must wait
# for the socket (its descriptor, and whether to wait until it is writable
# too) and are sent back whether it is readable: run_pipeline() waits with
# poll(), run_pipeline_async() in the event loop (psycopg's own design).
_Wait = Tuple[int, bool]
_Gen = Generator[_Wait, bool, T]


def run_pipeline(conn: Connection, steps: Iterable[Step]) -> List[pq.abc.PGresult]:
    """Send ``steps`` in one pipeline and return their results, in order.

    Raises :class:`StepFailed` for the first statement the server refused.
    The caller must close the connection if anything else is raised, as its
    protocol state is then unknown. If the server does not answer in time
    (see :class:`_Deadlines`), the connection is closed and
    :class:`~eventsourcing.postgres.errors.NoAnswer` raised.
    """
    deadlines = _Deadlines(conn)
    return _drive(conn, _pipeline(conn, steps, deadlines), deadlines)


async def run_pipeline_async(conn: AnyConnection, steps: Iterable[Step]) -> List[pq.abc.PGresult]:
    """:func:`run_pipeline` on an async connection, waiting in the event loop."""
    deadlines = _Deadlines(conn)
    gen = _pipeline(conn, steps, deadlines)
    try:
        wait = next(gen)
        while True:
            wait = gen.send(await _wait_async(wait, deadlines))
    except StopIteration as e:
        return cast(List[pq.abc.PGresult], e.value)
    except NoAnswer:
        conn.pgconn.finish()
        raise


def rollback(conn: Connection) -> None:
    """Roll back the session's transaction, within the read timeout.

    Not through psycopg's ``execute``: psycopg answers a ``ROLLBACK`` it runs
    with ``DEALLOCATE ALL``, which would drop the statements prepared here.
    """
    deadlines = _Deadlines(conn)
    deadlines.restart()
    _drive(conn, _rollback(conn, deadlines), deadlines)


def _drive(conn: AnyConnection, gen: _Gen[T], deadlines: _Deadlines) -> T:
    try:
        wait = next(gen)
        while True:
            wait = gen.send(_wait(wait, deadlines))
    except StopIteration as e:
        return cast(T, e.value)
    except NoAnswer:
        conn.pgconn.finish()
        raise


def _pipeline(
    conn: AnyConnection, steps: Iterable[Step], deadlines: _Deadlines
) -> _Gen[List[pq.abc.PGresult]]:
    pgconn = conn.pgconn
    prepared = _prepared.setdefault(conn, set())
    # Per sent command: the name it prepares, or None for a caller's step.
    sent: list[Optional[bytes]] = []
    # Indexes in ``sent`` of the steps that may wait for a lock.
    lock_waits: set[int] = set()
    preparing: set[bytes] = set()
    pgconn.enter_pipeline_mode()
    try:
        for step in steps:
            name = step.statement.name
            if name not in prepared and name not in preparing:
                pgconn.send_prepare(name, step.statement.sql)
                preparing.add(name)
                sent.append(name)
            # Only with a read timeout: each flush costs the server a send and
            # the client a wake-up, about 5% of an uncontended one-event save.
            flush = step.waits_for_lock and deadlines.read_timeout
            if flush:
                # The server sends what it has so far, then again once it has
                # the lock: its answers tell the client it is alive, and when
                # the wait for the lock (not limited by the read timeout) ends.
                pgconn.send_flush_request()
                lock_waits.add(len(sent))
            params = step.params
            pgconn.send_query_prepared(
                name,
                params,
                param_formats=None if params is None else [1] * len(params),
                result_format=1,
            )
            if flush:
                pgconn.send_flush_request()
            sent.append(None)
        pgconn.pipeline_sync()
        deadlines.restart()
        yield from _flush(pgconn)
        results: list[pq.abc.PGresult] = []
        failure: Optional[StepFailed] = None
        for index, prepares in enumerate(sent):
            if index in lock_waits:
                deadlines.restart(waiting_for_lock=True)
            # What _next_result() and _expect_end_of_command() do, written out
            # here: a generator per result cost a save 5% more instructions.
            while pgconn.is_busy():
                yield (pgconn.socket, False)
                pgconn.consume_input()
            result = _checked(pgconn, pgconn.get_result())
            if index in lock_waits:
                deadlines.restart()
            status = result.status
            if status == pq.ExecStatus.FATAL_ERROR and failure is None:
                error = error_from_result(result, encoding=conn.info.encoding)
                failure = StepFailed(len(results) if prepares is None else None, error)
            if prepares is None:
                results.append(result)
            elif status == pq.ExecStatus.COMMAND_OK:
                # Prepared statements outlive the transaction, even a failed one.
                prepared.add(prepares)
            while pgconn.is_busy():
                yield (pgconn.socket, False)
                pgconn.consume_input()
            if pgconn.get_result() is not None:
                raise psycopg.OperationalError("unexpected extra result in pipeline")
        sync = yield from _next_result(pgconn)
        if sync.status != pq.ExecStatus.PIPELINE_SYNC:
            raise psycopg.OperationalError(
                f"unexpected result in pipeline: {pq.ExecStatus(sync.status).name}"
            )
    finally:
        if not conn.closed and pgconn.pipeline_status:
            try:
                pgconn.exit_pipeline_mode()
            except psycopg.Error:
                # Results still pending after a failure: the session is unusable.
                pgconn.finish()
    if failure is not None:
        if pgconn.transaction_status != pq.TransactionStatus.IDLE:
            deadlines.restart()
            yield from _rollback(conn, deadlines)
        raise failure from failure.error
    return results


def _rollback(conn: AnyConnection, deadlines: _Deadlines) -> _Gen[None]:
    pgconn = conn.pgconn
    pgconn.send_query(b"ROLLBACK")
    yield from _flush(pgconn)
    result = yield from _next_result(pgconn)
    while (yield from _poll_result(pgconn)) is not None:
        pass
    if result.status not in _OK:
        raise error_from_result(result, encoding=conn.info.encoding)


def _flush(pgconn: pq.abc.PGconn) -> _Gen[None]:
    while pgconn.flush():
        if (yield (pgconn.socket, True)):
            pgconn.consume_input()


def _poll_result(pgconn: pq.abc.PGconn) -> _Gen[Optional[pq.abc.PGresult]]:
    while pgconn.is_busy():
        yield (pgconn.socket, False)
        pgconn.consume_input()
    return pgconn.get_result()


def _next_result(pgconn: pq.abc.PGconn) -> _Gen[pq.abc.PGresult]:
    return _checked(pgconn, (yield from _poll_result(pgconn)))


def _checked(pgconn: pq.abc.PGconn, result: Optional[pq.abc.PGresult]) -> pq.abc.PGresult:
    """``result``, unless the connection ended instead."""
    if result is None:
        raise psycopg.OperationalError("the server closed the connection unexpectedly")
    if result.status == pq.ExecStatus.FATAL_ERROR and pgconn.status != pq.ConnStatus.OK:
        raise error_from_result(result)
    return result


def _wait(wait: _Wait, deadlines: _Deadlines) -> bool:
    """Block (GIL released) until the socket is readable, or writable if asked.

    Returns whether it is readable; raises NoAnswer when the deadline passes
    first. ``poll`` rather than ``select``: it has no limit on descriptor
    numbers.
    """
    fd, writable = wait
    while True:
        remaining = deadlines.remaining()
        if _poll is None:  # pragma: no cover - platforms without poll()
            readable, writable_now, _ = select.select([fd], [fd] if writable else [], [], remaining)
            if readable or writable_now:
                return bool(readable)
            continue
        poller = _poll()
        poller.register(fd, select.POLLIN | (select.POLLOUT if writable else 0))
        events = poller.poll(None if remaining is None else remaining * 1000)
        if events:
            return any(
                mask & (select.POLLIN | select.POLLERR | select.POLLHUP) for _, mask in events
            )


_poll = getattr(select, "poll", None)


async def _wait_async(wait: _Wait, deadlines: _Deadlines) -> bool:
    """:func:`_wait` in the event loop."""
    fd, writable = wait
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[bool] = loop.create_future()

    def answer(readable: bool) -> None:
        if not ready.done():
            ready.set_result(readable)

    loop.add_reader(fd, answer, True)
    if writable:
        loop.add_writer(fd, answer, False)
    try:
        remaining = deadlines.remaining()
        if remaining is None:
            return await ready
        try:
            return await asyncio.wait_for(ready, remaining)
        except asyncio.TimeoutError:
            raise deadlines.no_answer() from None
    finally:
        loop.remove_reader(fd)
        if writable:
            loop.remove_writer(fd)


# -- binary encoding ---------------------------------------------------------

_array_header = struct.Struct("!iiiii").pack
_int4 = struct.Struct("!i").pack
_UUID_ITEM = _int4(16)

# Integers are sent as bigint: the server casts them to an integer column
# on insert (9.1.3's tables) after the recorder checked the column's range.
encode_int8 = struct.Struct("!q").pack


def _array(oid: int, count: int, body: bytes) -> bytes:
    return _array_header(1, 0, oid, count, 1) + body


def array_of_uuid(values: Sequence[UUID]) -> bytes:
    return _array(
        UUID_OID,
        len(values),
        _UUID_ITEM + _UUID_ITEM.join(v.bytes for v in values) if values else b"",
    )


def array_of_int8(values: Sequence[int]) -> bytes:
    n = len(values)
    body = struct.pack("!" + "iq" * n, *[x for v in values for x in (8, v)])
    return _array(INT8_OID, n, body)


def array_of_bytes(values: Sequence[bytes], oid: int = BYTEA_OID) -> bytes:
    parts: list[bytes] = []
    append = parts.append
    for v in values:
        append(_int4(len(v)))
        append(v)
    return _array(oid, len(values), b"".join(parts))


def array_of_text(values: Sequence[str]) -> bytes:
    return array_of_bytes([v.encode("utf8") for v in values], TEXT_OID)


def decode_int8_array(data: Optional[bytes]) -> List[int]:
    """Decode a one-dimensional binary ``bigint[]`` without NULLs."""
    if data is None:
        return []
    ndim = struct.unpack_from("!i", data)[0]
    if ndim == 0:
        return []
    count = struct.unpack_from("!i", data, 12)[0]
    return list(struct.unpack_from("!" + "4xq" * count, data, 20))
