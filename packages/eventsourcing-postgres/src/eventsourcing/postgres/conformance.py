"""pytest plugin: how the conformance suite gets a fresh PostgreSQL store.

Registered under the ``pytest11`` entry point, so
``pytest --pyargs eventsourcing_conformance --eventsourcing-backend=postgres``
works wherever ``eventsourcing-postgres`` is installed; pytest loads it, the
backend itself never imports it. Each store is a new schema
(``POSTGRES_SCHEMA``) in the database named by the ``POSTGRES_*`` settings
of the process environment, dropped afterwards.

PostgreSQL tests never pass silently without a server: when it cannot be
reached they fail if ``CI`` is true, and otherwise skip (tests marked
``postgres`` at collection). The skip reason is short; why the server cannot
be used and how to enable the tests is said once, at the end of the report.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generator, Iterator, Optional

import psycopg
import pytest

if TYPE_CHECKING:  # the suite is a test-time dependency, not a runtime one
    from eventsourcing_conformance import Backend

__all__ = [
    "ENABLE_POSTGRES_HINT",
    "POSTGRES_DEFAULTS",
    "POSTGRES_SKIP_REASON",
    "connect",
    "fresh_schema",
    "postgres_settings",
    "postgres_skip_mark",
    "postgres_unavailable_reason",
    "pytest_eventsourcing_backend",
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

_reason_cache: dict[str, Optional[str]] = {}


def postgres_settings() -> dict[str, str]:
    """The POSTGRES_* settings tests use: the process environment, else defaults."""
    return {k: os.environ.get(k, v) for k, v in POSTGRES_DEFAULTS.items()}


def connect(**kwargs: Any) -> psycopg.Connection[Any]:
    """A plain psycopg connection to the test database (``POSTGRES_*`` settings)."""
    s = postgres_settings()
    return psycopg.connect(
        host=s["POSTGRES_HOST"],
        port=int(s["POSTGRES_PORT"]),
        user=s["POSTGRES_USER"],
        password=s["POSTGRES_PASSWORD"],
        dbname=s["POSTGRES_DBNAME"],
        connect_timeout=5,
        **kwargs,
    )


def postgres_unavailable_reason() -> Optional[str]:
    """Why PostgreSQL tests cannot run here, or None if they can (asked once per settings)."""
    key = repr(sorted(postgres_settings().items()))
    if key not in _reason_cache:
        try:
            with connect() as conn:
                conn.execute("SELECT 1")
            _reason_cache[key] = None
        except Exception as e:
            _reason_cache[key] = f"cannot connect to PostgreSQL: {e}".strip()
    return _reason_cache[key]


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


def postgres_skip_mark() -> Optional[pytest.MarkDecorator]:
    """A skip mark for tests that need PostgreSQL, or None if they are to run.

    None when the server is reachable, and in CI, where such tests run and
    fail (:func:`require_postgres`).
    """
    if _in_ci() or postgres_unavailable_reason() is None:
        return None
    return pytest.mark.skip(reason=POSTGRES_SKIP_REASON)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgres: needs the PostgreSQL server (skipped when unreachable)"
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip tests marked ``postgres`` at once when the server is unavailable.

    Skipped by a mark, they are listed one line per file in the short test
    summary (pytest folds them), rather than one line per test.
    """
    needing = [item for item in items if item.get_closest_marker("postgres")]
    mark = postgres_skip_mark() if needing else None
    if mark is not None:
        for item in needing:
            item.add_marker(mark)


# A wrapper that runs first, so its output comes after pytest's own summary
# (the short test summary, where every skip is listed): the last thing read.
@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: Any) -> Generator[None, None, None]:
    """Say once, not per skipped test, why PostgreSQL tests were skipped."""
    yield
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if POSTGRES_SKIP_REASON in str(report.longrepr)
    ]
    if skipped:
        terminalreporter.write_sep("=", "PostgreSQL tests skipped")
        terminalreporter.write_line(
            f"{len(skipped)} skipped: {postgres_unavailable_reason() or 'unknown reason'}"
        )
        terminalreporter.write_line(ENABLE_POSTGRES_HINT)


@contextlib.contextmanager
def fresh_schema() -> Iterator[dict[str, str]]:
    """Settings selecting a new, empty schema, dropped when the block ends."""
    require_postgres()
    schema = f"es_test_{uuid.uuid4().hex[:16]}"
    with connect(autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield {**postgres_settings(), "POSTGRES_SCHEMA": schema}
    finally:
        with connect(autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.hookimpl(optionalhook=True)  # harmless when the suite is not installed
def pytest_eventsourcing_backend(name: str, directory: Path) -> Optional[Backend]:
    if name != "postgres":
        return None
    from eventsourcing_conformance import Backend

    require_postgres()
    return Backend(name, name, new_store=fresh_schema, durable=True, multiprocess=True)
