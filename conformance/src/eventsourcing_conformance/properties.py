"""The properties the suite checks, and the failure that names one of them.

Every check raises :class:`PropertyViolation` with the property's name first
in the message, so a failing run says *what* is broken before *where*.
"""

from __future__ import annotations

from typing import NoReturn

__all__ = [
    "ATOMICITY",
    "BAD_INPUT",
    "DURABILITY",
    "GAPS",
    "ORDERING",
    "PAGING",
    "PROPERTIES",
    "PURPOSE",
    "TOTAL_ORDER",
    "TRACKING",
    "TYPES",
    "UNIQUENESS",
    "PropertyViolation",
    "violated",
]

UNIQUENESS = "uniqueness"
ATOMICITY = "atomicity"
ORDERING = "ordering"
PAGING = "paging"
GAPS = "gaps"
TYPES = "types"
TRACKING = "tracking"
DURABILITY = "durability"
TOTAL_ORDER = "total order"
BAD_INPUT = "bad input"
PURPOSE = "purpose"

PROPERTIES = (
    UNIQUENESS,
    ATOMICITY,
    ORDERING,
    PAGING,
    GAPS,
    TYPES,
    TRACKING,
    DURABILITY,
    TOTAL_ORDER,
    BAD_INPUT,
    PURPOSE,
)


class PropertyViolation(AssertionError):
    """A recorder broke one property of the recorder contract."""

    def __init__(self, prop: str, detail: str) -> None:
        super().__init__(f"{prop} property violated: {detail}")
        self.property = prop
        self.detail = detail


def violated(prop: str, detail: str) -> NoReturn:
    """Fail the running check, naming the broken property."""
    raise PropertyViolation(prop, detail)
