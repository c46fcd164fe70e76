"""Validation of the schema and table names that go into SQL.

eventsourcing 9.1 wrote table names unquoted, so PostgreSQL folded them to
lower case. Accepting only names that are already valid lower-case unquoted
identifiers makes quoting them (as this package does, with ``psycopg.sql``)
name exactly the same tables 9.1 did, and keeps user text out of SQL.
"""

from __future__ import annotations

import re

from eventsourcing.persistence import ProgrammingError

__all__ = ["MAX_IDENTIFIER_LENGTH", "validate_schema_name", "validate_table_name"]

MAX_IDENTIFIER_LENGTH = 63  # PostgreSQL's NAMEDATALEN - 1, in bytes

_UNQUOTED_LOWER = re.compile(r"[a-z_][a-z0-9_$]*\Z")


def validate_table_name(name: str) -> str:
    """Return ``name`` if it is a lower-case identifier PostgreSQL keeps intact."""
    return _validate("Table", name, " (application names are lower-cased to make table names)")


def validate_schema_name(name: str) -> str:
    """Return ``name`` if it is a lower-case identifier PostgreSQL keeps intact.

    The same rule as for tables: quoted or not, it names the same schema, and
    no text that would need quoting (``x"; DROP TABLE y; --``) is accepted.
    """
    return _validate("Schema", name, "")


def _validate(kind: str, name: str, hint: str) -> str:
    if not isinstance(name, str) or not _UNQUOTED_LOWER.match(name):
        raise ProgrammingError(
            f"{kind} name {name!r} is not valid: expected lower-case letters, digits, "
            f"'_' or '$', starting with a letter or '_'{hint}"
        )
    if len(name.encode("utf8")) > MAX_IDENTIFIER_LENGTH:
        raise ProgrammingError(
            f"{kind} name {name!r} is too long: expected at most {MAX_IDENTIFIER_LENGTH} "
            "bytes, as PostgreSQL would truncate it (two names could then be one)"
        )
    return name
