"""The wiki example on every backend: renamable pages, index aggregates, atomic saves."""

from __future__ import annotations

from typing import Dict, Iterator

import pytest

from eventsourcing.application import AggregateNotFound
from eventsourcing.persistence import IntegrityError
from examples.wiki.application import PageNotFoundError, SlugTakenError, Wiki
from examples.wiki.domain import Index, Page, page_index_id


@pytest.fixture
def app(store_env: Dict[str, str]) -> Iterator[Wiki]:
    with Wiki(env=store_env) as wiki:
        yield wiki


def test_pages_are_found_by_name_and_can_be_renamed(
    app: Wiki, store_env: Dict[str, str], backend: str
) -> None:
    page_id = app.create_page("Welcome", "home", "Hello")
    app.update_body("home", "Hello, world")
    app.rename_page("home", "welcome")
    with pytest.raises(PageNotFoundError, match="'home'"):
        app.get_page("home")
    app.update_title("welcome", "Welcome!")

    # The old name is free again.
    other_id = app.create_page("New home", "home")
    assert other_id != page_id

    if backend != "popo":  # popo forgets everything when closed
        app.close()
        app = Wiki(env=store_env)
    try:
        page = app.get_page("welcome")
        assert (page.id, page.title, page.slug, page.body) == (
            page_id,
            "Welcome!",
            "welcome",
            "Hello, world",
        )
        assert app.get_page("home").id == other_id
        old_index: Index = app.repository.get(page_index_id("home"))
        assert old_index.ref == other_id
        assert old_index.version == 3  # created for page 1, freed, taken by page 2
    finally:
        app.close()


def test_a_taken_name_is_refused_and_nothing_is_recorded(app: Wiki) -> None:
    app.create_page("A", "a")
    b_id = app.create_page("B", "b")
    with pytest.raises(SlugTakenError, match="'a' is taken"):
        app.rename_page("b", "a")
    with pytest.raises(SlugTakenError):
        app.create_page("Another A", "a")
    page = app.get_page("b")
    assert (page.id, page.slug, page.version) == (b_id, "b", 1)
    assert app.recorder.max_notification_id() == 4  # two pages, two indexes


def test_page_and_index_are_saved_atomically(app: Wiki) -> None:
    """Two writers creating the same name: the one that loses records nothing."""
    app.create_page("First", "topic")
    late_page = Page("Second", "topic")
    late_index = Index("topic", late_page.id)  # same deterministic ID as the first index
    assert late_index.id == page_index_id("topic")
    with pytest.raises(IntegrityError):
        app.save(late_page, late_index)
    with pytest.raises(AggregateNotFound):
        app.repository.get(late_page.id)
    assert app.get_page("topic").title == "First"


def test_renaming_to_the_same_name_changes_nothing(app: Wiki) -> None:
    app.create_page("A", "a")
    app.rename_page("a", "a")
    assert app.get_page("a").version == 1
