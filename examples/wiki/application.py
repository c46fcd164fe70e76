"""The wiki application: create, find, edit and rename pages.

Every command that changes a page name saves the page and the index
aggregates together, in one atomic save: a page can never be recorded
under a name whose index does not point to it.
"""

from __future__ import annotations

from typing import Any, Optional
from uuid import UUID

from eventsourcing.application import AggregateNotFound, Application
from examples.wiki.domain import Index, Page, page_index_id

__all__ = ["PageNotFoundError", "SlugTakenError", "Wiki"]


class PageNotFoundError(LookupError):
    """No page has this name."""


class SlugTakenError(Exception):
    """Another page has this name."""


class Wiki(Application[Any]):
    """Pages found by name; names can change."""

    def create_page(self, title: str, slug: str, body: str = "") -> UUID:
        index = self._free_index(slug)
        page = Page(title, slug, body)
        if index is None:
            index = Index(slug, page.id)
        else:
            index.update_ref(page.id)
        self.save(page, index)
        return page.id

    def get_page(self, slug: str) -> Page:
        index = self._index(slug)
        if index is None or index.ref is None:
            raise PageNotFoundError(f"No page is called {slug!r}")
        page: Page = self.repository.get(index.ref)
        return page

    def update_title(self, slug: str, title: str) -> None:
        page = self.get_page(slug)
        page.update_title(title)
        self.save(page)

    def update_body(self, slug: str, body: str) -> None:
        page = self.get_page(slug)
        page.update_body(body)
        self.save(page)

    def rename_page(self, slug: str, new_slug: str) -> None:
        """Give the page called ``slug`` the name ``new_slug``, freeing ``slug``."""
        page = self.get_page(slug)
        if new_slug == slug:
            return
        new_index = self._free_index(new_slug)
        if new_index is None:
            new_index = Index(new_slug, page.id)
        else:
            new_index.update_ref(page.id)
        old_index = self._index(slug)
        assert old_index is not None
        old_index.update_ref(None)
        page.update_slug(new_slug)
        self.save(page, old_index, new_index)

    def _index(self, slug: str) -> Optional[Index]:
        try:
            index: Index = self.repository.get(page_index_id(slug))
        except AggregateNotFound:
            return None
        return index

    def _free_index(self, slug: str) -> Optional[Index]:
        """The index for ``slug`` if it exists and is free; None if it does not exist."""
        index = self._index(slug)
        if index is not None and index.ref is not None:
            raise SlugTakenError(f"The name {slug!r} is taken by page {index.ref}")
        return index
