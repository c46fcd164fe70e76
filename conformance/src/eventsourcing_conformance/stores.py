"""Fresh, isolated stores per test, for every backend this project ships.

Test suites (this project's and third parties') ask for an environment mapping
that selects a backend and points it at a store nobody else uses:

- ``popo``: nothing to isolate, each factory has its own memory;
- ``sqlite``: a new database file under the test's temporary directory;
- ``postgres``: a new schema (``POSTGRES_SCHEMA``), dropped afterwards.

PostgreSQL tests never pass silently without a server: when it cannot be
reached they fail if ``CI`` is true, and otherwise skip. The skip reason is
short; why the server cannot be used and how to enable the tests is said once,
at the end of the report (:mod:`eventsourcing_conformance.pytest_plugin`).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from eventsourcing.plugins import install_command

__all__ = [
    "ENABLE_POSTGRES_HINT",
    "POSTGRES_DEFAULTS",
    "POSTGRES_SKIP_REASON",
    "isolated_env",
    "postgres_settings",
    "postgres_skip_mark",
    "postgres_unavailable_reason",
    "require_postgres",
]

POSTGRES_DEFAULTS = {
    "POSTGRES_HOST": "127.0.0.1",
    "POSTGRES_PORT": "5432",
    "POSTGRES_USER": "postgres",
    "POSTGRES_PASSWORD": "",
    "POSTGRES_DBNAME": "eventsourcing_test",
}

ENABLE_POSTGRES_HINT = (
    "To run PostgreSQL tests, start a server and set POSTGRES_HOST, POSTGRES_PORT, "
    "POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DBNAME (defaults: "
    "127.0.0.1:5432, user postgres, database eventsourcing_test, which must exist)."
)
POSTGRES_SKIP_REASON = "needs PostgreSQL, which is unavailable (why: see the end of the report)"

_reason_cache: dict[str, str | None] = {}


def postgres_settings() -> dict[str, str]:
    """The POSTGRES_* settings tests use: the process environment, else defaults."""
    return {k: os.environ.get(k, v) for k, v in POSTGRES_DEFAULTS.items()}


def _connect_kwargs() -> dict[str, str | int]:
    s = postgres_settings()
    return {
        "host": s["POSTGRES_HOST"],
        "port": int(s["POSTGRES_PORT"]),
        "user": s["POSTGRES_USER"],
        "password": s["POSTGRES_PASSWORD"],
        "dbname": s["POSTGRES_DBNAME"],
        "connect_timeout": 5,
    }


def postgres_unavailable_reason() -> str | None:
    """Why PostgreSQL tests cannot run here, or None if they can."""
    key = repr(sorted(postgres_settings().items()))
    if key in _reason_cache:
        return _reason_cache[key]
    reason: str | None
    try:
        import psycopg
    except ImportError:
        reason = f"psycopg is not installed ({install_command('eventsourcing-postgres')})"
    else:
        try:
            with psycopg.connect(**_connect_kwargs()) as conn:  # type: ignore[arg-type]
                conn.execute("SELECT 1")
            reason = None
        except Exception as e:
            reason = f"cannot connect to PostgreSQL: {e}".strip()
    _reason_cache[key] = reason
    return reason


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_postgres() -> None:
    """Skip (or, when CI is true, fail) the calling test if PostgreSQL is unavailable."""
    reason = postgres_unavailable_reason()
    if reason is None:
        return
    if _in_ci():
        pytest.fail(f"PostgreSQL is required in CI: {reason}", pytrace=False)
    pytest.skip(POSTGRES_SKIP_REASON)


def postgres_skip_mark() -> pytest.MarkDecorator | None:
    """A skip mark for tests that need PostgreSQL, or None if they are to run.

    None when the server is reachable, and in CI, where such tests run and
    fail (:func:`require_postgres`).
    """
    if _in_ci() or postgres_unavailable_reason() is None:
        return None
    return pytest.mark.skip(reason=POSTGRES_SKIP_REASON)


@contextlib.contextmanager
def _postgres_schema() -> Iterator[str]:
    import psycopg

    schema = f"es_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(**_connect_kwargs(), autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        with psycopg.connect(**_connect_kwargs(), autocommit=True) as conn:  # type: ignore[arg-type]
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextlib.contextmanager
def isolated_env(backend: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Yield an environment selecting ``backend`` with a store of its own.

    Unknown backend names are selected as they are (``PERSISTENCE_MODULE``), so
    third-party backends that need no isolation work unchanged.
    """
    env = {"PERSISTENCE_MODULE": backend}
    if backend == "sqlite":
        env["SQLITE_DBNAME"] = str(tmp_path / f"store-{uuid.uuid4().hex[:8]}.sqlite")
        yield env
    elif backend == "postgres":
        require_postgres()
        env.update(postgres_settings())
        with _postgres_schema() as schema:
            env["POSTGRES_SCHEMA"] = schema
            yield env
    else:
        yield env
