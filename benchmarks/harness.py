"""Benchmark harness: cases register themselves, ``run.py`` times them.

A case is a function ``(backend: str, env: dict[str, str])`` that performs
some work and returns how many operations (events, notifications) it did. The
harness times each call, repeats it, and reports operations per second.

A case whose set-up (creating a schema, tables, an application, writing the
events it then reads) would distort the rate returns ``(count, seconds)``
instead, timing only the measured work with a :class:`Stopwatch`.
Benchmarks are never assertions in the test suite.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Callable, Iterable, Iterator, TypeVar, Union

CaseResult = Union[int, "tuple[float, float]"]
CaseFunction = Callable[[str, dict[str, str]], CaseResult]
TCase = TypeVar("TCase", bound=CaseFunction)


class Stopwatch:
    """Accumulates the time spent inside ``with stopwatch:`` blocks."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self._started = 0.0

    def __enter__(self) -> Stopwatch:
        self._started = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.elapsed += time.perf_counter() - self._started


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    func: CaseFunction
    backends: tuple[str, ...]
    unit: str
    repeat: int | None


CASES: dict[str, Case] = {}

ALL_BACKENDS = ("popo", "sqlite", "postgres")


def case(
    name: str,
    backends: Iterable[str] = ALL_BACKENDS,
    unit: str = "events/s",
    repeat: int | None = None,
) -> Callable[[TCase], TCase]:
    """Register a benchmark case under ``name`` for the given backends."""

    def decorator(func: TCase) -> TCase:
        if name in CASES:
            raise ValueError(f"Benchmark case {name!r} is registered twice")
        CASES[name] = Case(name, func, tuple(backends), unit, repeat)
        return func

    return decorator


def postgres_connect_params(env: dict[str, str]) -> dict[str, Any]:
    """psycopg connection arguments from a case's POSTGRES_* settings."""
    return {
        "host": env["POSTGRES_HOST"],
        "port": int(env["POSTGRES_PORT"]),
        "user": env["POSTGRES_USER"],
        "password": env["POSTGRES_PASSWORD"],
        "dbname": env["POSTGRES_DBNAME"],
    }


@contextmanager
def postgres_schema(env: dict[str, str]) -> Iterator[str]:
    """A new schema for one run of a case, dropped afterwards (untimed set-up)."""
    import psycopg
    from psycopg import sql

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    params = postgres_connect_params(env)
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield schema
    finally:
        with psycopg.connect(**params, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
