"""PostgreSQL persistence module (psycopg 3, psycopg_pool), registered as ``postgres``.

Reads and extends databases written by eventsourcing 9.1: same tables, same
columns, same stored format.

The classes are imported on first use (PEP 562), from
:mod:`eventsourcing.postgres.api`: the plugin that registers ``postgres``
(:mod:`eventsourcing.postgres.plugin`) is a module of this package, so
importing psycopg here would cost every process that loads plugins (every
application, ``eventsourcing --help``) about 0.25 s of CPU, PostgreSQL
selected or not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from eventsourcing.postgres.api import (
        Factory,
        PostgresAggregateRecorder,
        PostgresApplicationRecorder,
        PostgresDatastore,
        PostgresProcessRecorder,
        PostgresSubscription,
        PostgresTrackingRecorder,
    )

__all__ = [
    "Factory",
    "PostgresAggregateRecorder",
    "PostgresApplicationRecorder",
    "PostgresDatastore",
    "PostgresProcessRecorder",
    "PostgresSubscription",
    "PostgresTrackingRecorder",
]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from eventsourcing.postgres import api  # deferred: see above

    value = getattr(api, name)
    globals()[name] = value
    return value
