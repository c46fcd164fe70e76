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
    if not isinstance(name, str) or not _UNQUOTED_LOWER.match(name):
        raise ProgrammingError(
            f"Table name {name!r} is not valid: expected lower-case letters, digits, "
            "'_' or '$', starting with a letter or '_' (application names are "
            "lower-cased to make table names)"
        )
    if len(name.encode("utf8")) > MAX_IDENTIFIER_LENGTH:
        raise ProgrammingError(
            f"Table name {name!r} is too long: PostgreSQL would truncate it to "
            f"{MAX_IDENTIFIER_LENGTH} bytes, so two tables could share one name"
        )
    return name


def validate_schema_name(name: str) -> str:
    """Return ``name`` if it can name a schema (quoted, so case is kept)."""
    if (
        not isinstance(name, str)
        or not name
        or "\x00" in name
        or len(name.encode("utf8")) > MAX_IDENTIFIER_LENGTH
    ):
        raise ProgrammingError(
            f"Schema name {name!r} is not valid: expected 1 to {MAX_IDENTIFIER_LENGTH} "
            "bytes without NUL characters"
        )
    return name
