"""Benchmark harness: cases register themselves, ``run.py`` times them.

A case is a function ``(backend: str, env: dict[str, str]) -> int`` that
performs some work and returns how many operations (events, notifications) it
did. The harness times each call, repeats it, and reports operations per
second. Benchmarks are never assertions in the test suite.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterable

CaseFunction = Callable[[str, dict[str, str]], int]


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
) -> Callable[[CaseFunction], CaseFunction]:
    """Register a benchmark case under ``name`` for the given backends."""

    def decorator(func: CaseFunction) -> CaseFunction:
        if name in CASES:
            raise ValueError(f"Benchmark case {name!r} is registered twice")
        CASES[name] = Case(name, func, tuple(backends), unit, repeat)
        return func

    return decorator
