"""Fixtures for reading what a backend really wrote, below its recorders.

Recorders return what they stored, but "no plaintext at rest" is a claim about
the database itself, so for SQLite the file (and its WAL) is read as bytes and
for PostgreSQL every ``bytea`` value in the test's schema is selected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import pytest

RawContents = Callable[[], Optional[bytes]]


def _sqlite_contents(dbname: str) -> bytes:
    chunks = []
    for suffix in ("", "-wal", "-journal"):
        path = Path(dbname + suffix)
        if path.exists():
            chunks.append(path.read_bytes())
    return b"".join(chunks)


def _postgres_contents(env: dict[str, str]) -> bytes:
    import psycopg
    from psycopg import sql

    schema = env["POSTGRES_SCHEMA"]
    chunks: list[bytes] = []
    with psycopg.connect(
        host=env["POSTGRES_HOST"],
        port=int(env["POSTGRES_PORT"]),
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
        dbname=env["POSTGRES_DBNAME"],
        autocommit=True,
    ) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND data_type = 'bytea'",
            (schema,),
        ).fetchall()
        for table, column in columns:
            query = sql.SQL("SELECT {} FROM {}").format(
                sql.Identifier(column), sql.Identifier(schema, table)
            )
            for (value,) in conn.execute(query):
                if value is not None:
                    chunks.append(bytes(value))
    return b"\x00".join(chunks)


@pytest.fixture
def raw_contents(store_env: dict[str, str]) -> RawContents:
    """Return a function giving the bytes the backend stored (None for popo)."""
    backend = store_env["PERSISTENCE_MODULE"]

    def contents() -> Optional[bytes]:
        if backend == "sqlite":
            return _sqlite_contents(store_env["SQLITE_DBNAME"])
        if backend == "postgres":
            return _postgres_contents(store_env)
        return None

    return contents
