"""Connections to one PostgreSQL database: a pool, sessions settings, retries."""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, TypeVar

import psycopg
import psycopg_pool
from psycopg import sql

from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres.errors import ConnectionLost, translate
from eventsourcing.postgres.identifiers import validate_schema_name, validate_table_name

__all__ = ["Connection", "PostgresDatastore"]

T = TypeVar("T")
Connection = psycopg.Connection[Any]

# Pools a forked child inherited: kept alive so their sockets are never closed.
_inherited_pools: List[psycopg_pool.ConnectionPool[Any]] = []

# A long time, for "no maximum age" (psycopg_pool needs a number).
_FOREVER = 10.0 * 365 * 24 * 3600


class PostgresDatastore:
    """A pool of connections to one database, and the schema the tables live in.

    Connections are in autocommit mode: recorders send their own ``BEGIN`` and
    ``COMMIT`` in the same pipeline as the statements, one round trip per
    write. ``lock_timeout`` and ``idle_in_transaction_session_timeout`` (whole
    seconds, 0 meaning none) are session settings sent at connect time.
    ``group_commit`` false gives application and process recorders one
    transaction per save (see :mod:`eventsourcing.postgres.commit`).
    """

    def __init__(
        self,
        dbname: str,
        host: str,
        port: str | int,
        user: str,
        password: str,
        conn_max_age: Optional[float] = None,
        pre_ping: bool = False,
        lock_timeout: int = 0,
        idle_in_transaction_session_timeout: int = 0,
        schema: str = "public",
        pool_size: int = 5,
        max_overflow: int = 10,
        connect_timeout: float = 30,
        read_attempts: int = 3,
        group_commit: bool = True,
    ) -> None:
        self.dbname = dbname
        self.host = host
        self.port = int(port)
        self.user = user
        self.password = password
        self.conn_max_age = conn_max_age
        self.pre_ping = pre_ping
        self.lock_timeout = lock_timeout
        self.idle_in_transaction_session_timeout = idle_in_transaction_session_timeout
        self.schema = validate_schema_name(schema)
        self.pool_size = pool_size
        self.max_overflow = max_overflow
        self.connect_timeout = connect_timeout
        self.read_attempts = max(1, read_attempts)
        self.group_commit = group_commit
        self._closed = False
        self._lock = threading.Lock()
        options = (
            f"-c lock_timeout={int(lock_timeout) * 1000} "
            f"-c idle_in_transaction_session_timeout="
            f"{int(idle_in_transaction_session_timeout) * 1000}"
        )
        self.connect_kwargs: Dict[str, Any] = {
            "dbname": dbname,
            "host": host,
            "port": self.port,
            "user": user,
            "password": password,
            "connect_timeout": max(1, int(connect_timeout)),
            "options": options,
            # PGAPPNAME (or the DSN) can name the sessions; this is the default.
            "fallback_application_name": "eventsourcing",
            # A server or network that went silent is noticed within about a
            # minute (then reads are retried and writes checked), not hours.
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        }
        self._count_lock = threading.Lock()
        self._in_use = 0
        self._kept = 1
        self.pool = self._make_pool()
        self._opened = False
        self._pid = os.getpid()

    def _make_pool(self) -> psycopg_pool.ConnectionPool[Connection]:
        return psycopg_pool.ConnectionPool(
            conninfo="",
            # Every statement is prepared on first use: the same few run all the time.
            kwargs={**self.connect_kwargs, "autocommit": True, "prepare_threshold": 0},
            # Opened as needed (see _borrowed): a short-lived application
            # pays for the connections it uses, not for the whole pool.
            min_size=1,
            max_size=self.pool_size + self.max_overflow,
            max_lifetime=self.conn_max_age or _FOREVER,
            check=psycopg_pool.ConnectionPool.check_connection if self.pre_ping else None,
            timeout=self.connect_timeout,
            open=False,
            name=f"eventsourcing-{self.dbname}",
        )

    def _after_fork(self) -> None:
        """In a forked child: never touch the parent's sessions, open new ones.

        The inherited connections share their sockets with the parent, so
        they are neither used nor closed here (closing would end the parent's
        sessions); the inherited pool is kept referenced so that it is never
        collected, and a new pool is made for this process.
        """
        _inherited_pools.append(self.pool)
        for conn in list(getattr(self.pool, "_pool", ())):
            _disconnect_quietly(conn)
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._in_use = 0
        self._kept = 1
        self.pool = self._make_pool()
        self._opened = False
        self._pid = os.getpid()

    def table(self, name: str) -> sql.Composable:
        """The schema-qualified, quoted identifier of table ``name``."""
        return sql.Identifier(self.schema, validate_table_name(name))

    def _open(self) -> None:
        with self._lock:
            if self._closed:
                raise InterfaceError("The PostgreSQL datastore is closed")
            if not self._opened:
                self.pool.open(wait=False)
                self._opened = True

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """Lend a pooled connection; errors come out as persistence exceptions.

        A connection that broke is discarded by the pool; a connection older
        than ``conn_max_age`` (or used once, when it is 0) is closed after use.
        """
        if self._pid != os.getpid():
            self._after_fork()
        if not self._opened or self._closed:
            self._open()
        self._borrowed(1)
        try:
            try:
                conn = self.pool.getconn()
            except psycopg_pool.PoolTimeout as e:
                raise self._diagnose_timeout(e) from e
            except psycopg.Error as e:
                raise translate(e) from e
            try:
                yield conn
            except psycopg.Error as e:
                raise translate(e) from e
            finally:
                if self.conn_max_age == 0 and not conn.closed:
                    conn.close()
                self.pool.putconn(conn)
        finally:
            self._borrowed(-1)

    def _borrowed(self, change: int) -> None:
        """Count connections in use; keep as many open, up to ``pool_size``.

        Connections beyond ``pool_size`` (the overflow) are closed by the
        pool once they have been idle for a while.
        """
        with self._count_lock:
            self._in_use += change
            grow = change > 0 and self._kept < min(self._in_use, self.pool_size)
            if grow:
                self._kept = min(self._in_use, self.pool_size)
                kept = self._kept
        if grow:
            self.pool.resize(min_size=kept, max_size=self.pool_size + self.max_overflow)

    def read(self, func: Callable[[Connection], T]) -> T:
        """Run ``func`` on a pooled connection; retry if the connection was lost.

        Reads change nothing, so repeating one on a fresh connection is safe.
        """
        attempt = 0
        while True:
            attempt += 1
            conn: Optional[Connection] = None
            try:
                with self.connection() as conn:
                    return func(conn)
            except OperationalError as e:
                if conn is None or not is_lost(conn) or attempt >= self.read_attempts:
                    if conn is not None and is_lost(conn):
                        raise ConnectionLost(str(e)) from e
                    raise
                self.discard_broken_connections()

    def discard_broken_connections(self) -> None:
        """Check idle pooled connections, replacing those the server dropped."""
        try:
            self.pool.check()
        except psycopg.Error:  # pragma: no cover - check() reports, never raises
            pass

    def _diagnose_timeout(self, error: psycopg_pool.PoolTimeout) -> OperationalError:
        # The pool only says it timed out; a direct attempt says why.
        try:
            with psycopg.connect(**self.connect_kwargs):
                pass
        except psycopg.Error as e:
            return OperationalError(
                f"Cannot connect to PostgreSQL at {self.host}:{self.port} "
                f"(database {self.dbname!r}, user {self.user!r}): {e}".strip()
            )
        return OperationalError(
            f"No pooled connection became free within {self.connect_timeout}s "
            f"(pool size {self.pool_size}, max overflow {self.max_overflow}): {error}"
        )

    def close(self) -> None:
        """Close every pooled connection (idempotent)."""
        if self._pid != os.getpid():
            self._after_fork()
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.pool.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> PostgresDatastore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def is_lost(conn: Connection) -> bool:
    """Whether ``conn`` can no longer be used (dropped by server or network)."""
    return conn.closed or conn.broken


def _disconnect_quietly(conn: Connection) -> None:
    """Point an inherited session's socket at /dev/null in this process.

    Whatever this process later does with the connection object (even
    freeing it, which sends a Terminate message) then reaches nobody, and
    the parent's session is left intact.
    """
    try:
        fd = conn.pgconn.socket
    except psycopg.Error:
        return
    null = os.open(os.devnull, os.O_RDWR)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)
