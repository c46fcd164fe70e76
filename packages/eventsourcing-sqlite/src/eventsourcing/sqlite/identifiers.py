"""Table names: the only names put into SQL text, so they are checked first."""

from __future__ import annotations

import re

__all__ = ["validate_table_name"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def validate_table_name(name: str) -> str:
    """Return ``name`` if it is a plain SQL identifier; it is put into SQL text."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name) or len(name) > 63:
        raise ValueError(
            f"Invalid SQLite table name {name!r}: expected letters, digits and "
            "underscores, not starting with a digit, at most 63 characters"
        )
    return name
