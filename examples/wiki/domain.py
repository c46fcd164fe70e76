"""The wiki's domain model: pages, and an index aggregate per page name.

A page is found by its name (its slug) through an :class:`Index` aggregate
whose ID is derived from the name (a version 5 UUID), so looking a name up
is reading one aggregate by a known ID, and two writers claiming the same
name both try to create the same aggregate: one of them fails.
"""

from __future__ import annotations

from typing import Optional
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

__all__ = ["Index", "Page", "page_index_id"]


def page_index_id(slug: str) -> UUID:
    """The ID of the index aggregate for the page name ``slug``."""
    return uuid5(NAMESPACE_URL, f"/wiki/pages/{slug}")


class Page(Aggregate):
    """A wiki page: a title, a body, and the name (slug) it is found by."""

    def __init__(self, title: str, slug: str, body: str = "") -> None:
        self.title = title
        self.slug = slug
        self.body = body

    @event("TitleUpdated")
    def update_title(self, title: str) -> None:
        self.title = title

    @event("SlugUpdated")
    def update_slug(self, slug: str) -> None:
        self.slug = slug

    @event("BodyUpdated")
    def update_body(self, body: str) -> None:
        self.body = body


class Index(Aggregate):
    """Which page has the name ``slug`` now (``ref`` is None once it is free)."""

    def __init__(self, slug: str, ref: Optional[UUID]) -> None:
        self.slug = slug
        self.ref = ref

    @staticmethod
    def create_id(slug: str) -> UUID:
        return page_index_id(slug)

    @event("RefChanged")
    def update_ref(self, ref: Optional[UUID]) -> None:
        self.ref = ref
