"""Async connections to one PostgreSQL database: psycopg's ``AsyncConnectionPool``.

The async twin of :class:`~eventsourcing.postgres.datastore.PostgresDatastore`,
made from one (the same connection settings, session settings, schema,
pool size, timeouts and read retries). The pool is opened in the running
event loop when first used, and closed when the last async recorder using
it is closed: an async application is used in one event loop.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable, Optional, TypeVar

import psycopg
import psycopg_pool
from psycopg.abc import PQGen
from psycopg.errors import _WaitTimeout  # as in datastore: the only way to tell a timeout

from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres.datastore import PostgresDatastore
from eventsourcing.postgres.errors import ConnectionLost, NoAnswer, ReadTimeout, translate

__all__ = ["AsyncConnection", "AsyncPostgresDatastore", "is_lost"]

T = TypeVar("T")
RV = TypeVar("RV")


class AsyncConnection(psycopg.AsyncConnection[Any]):
    """An async connection that stops waiting for a server that does not answer.

    As the sync :class:`~eventsourcing.postgres.datastore.TimedConnection`:
    each wait for an answer to a read is limited to ``read_timeout`` seconds
    (0: no limit); then the connection is closed and
    :class:`~eventsourcing.postgres.errors.NoAnswer` raised. The limit is
    psycopg's own wait timeout: nothing is cancelled. Saves are sent by
    :func:`eventsourcing.postgres.wire.run_pipeline_async`, which applies the
    same read timeout and ``lock_timeout`` (the session's) as the sync engine.
    """

    read_timeout: float = 0.0
    lock_timeout: int = 0

    async def wait(
        self, gen: PQGen[RV], interval: float = 0.1, timeout: Optional[float] = None
    ) -> RV:
        if timeout is not None or not self.read_timeout:
            return await super().wait(gen, interval, timeout)
        try:
            return await super().wait(gen, interval, self.read_timeout)
        except _WaitTimeout:
            info = self.info
            error = NoAnswer(
                f"PostgreSQL at {info.host}:{info.port} did not answer within "
                f"{self.read_timeout:g}s (POSTGRES_READ_TIMEOUT); the connection was discarded"
            )
            await self.close()
            raise error from None


def is_lost(conn: AsyncConnection) -> bool:
    """Whether ``conn`` can no longer be used (dropped by server or network)."""
    return conn.closed or conn.broken


class AsyncPostgresDatastore:
    """A pool of async connections with the settings of ``datastore``."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore
        self.read_timeout = datastore.read_timeout
        self.lock_timeout = datastore.lock_timeout
        self.pool: Optional[psycopg_pool.AsyncConnectionPool[AsyncConnection]] = None
        self._users = 0
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def acquire(self) -> None:
        """Count one more recorder using the pool (see :meth:`release`)."""
        self._users += 1

    async def release(self) -> None:
        """One recorder stopped using the pool; the last one closes it."""
        self._users -= 1
        if self._users <= 0:
            await self.close()

    async def _configure(self, conn: AsyncConnection) -> None:
        conn.read_timeout = self.read_timeout
        conn.lock_timeout = self.lock_timeout

    def _open_pool(self) -> psycopg_pool.AsyncConnectionPool[AsyncConnection]:
        if self._closed:
            raise InterfaceError("The async PostgreSQL datastore is closed")
        if self.pool is None:
            d = self.datastore
            self.pool = psycopg_pool.AsyncConnectionPool(
                conninfo="",
                kwargs={**d.connect_kwargs, "autocommit": True, "prepare_threshold": 0},
                connection_class=AsyncConnection,
                configure=self._configure,
                min_size=1,
                max_size=d.pool_size + d.max_overflow,
                max_lifetime=d.conn_max_age or 3600.0 * 24 * 365,
                timeout=d.connect_timeout,
                open=False,
                name=f"eventsourcing-async-{d.dbname}",
            )
        return self.pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """Lend a pooled connection; errors come out as persistence exceptions."""
        pool = self._open_pool()
        try:
            if pool.closed:
                await pool.open(wait=False)
            async with pool.connection() as conn:
                try:
                    yield conn
                finally:
                    if self.datastore.conn_max_age == 0 and not conn.closed:
                        await conn.close()
        except psycopg.Error as e:
            raise translate(e) from e
        except psycopg_pool.PoolTimeout as e:
            raise OperationalError(
                f"No connection to PostgreSQL at {self.datastore.host}:{self.datastore.port} "
                f"within {self.datastore.connect_timeout:g}s (POSTGRES_CONNECT_TIMEOUT): {e}"
            ) from e

    async def read(self, func: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``func`` on a pooled connection; retry if the connection was lost
        (reads change nothing); a read not answered in time is not repeated."""
        attempt = 0
        while True:
            attempt += 1
            conn: Optional[AsyncConnection] = None
            try:
                async with self.connection() as conn:
                    return await func(conn)
            except ReadTimeout:
                raise
            except OperationalError as e:
                attempts = self.datastore.read_attempts
                if conn is None or not is_lost(conn) or attempt >= attempts:
                    if conn is not None and is_lost(conn):
                        raise ConnectionLost(str(e)) from e
                    raise
                if self.pool is not None:
                    await self.pool.check()

    async def close(self) -> None:
        """Close every pooled connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self.pool is not None and not self.pool.closed:
            await self.pool.close()
