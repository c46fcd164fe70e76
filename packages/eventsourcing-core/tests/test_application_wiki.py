"""Saving several aggregates atomically: a wiki whose page names are unique
because each name has an index aggregate with an ID derived from the name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterator, Optional
from uuid import NAMESPACE_URL, UUID, uuid5

import pytest

from eventsourcing.application import AggregateNotFound, Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, RecordConflictError


@dataclass
class Article(Aggregate):
    title: str
    text: str = ""

    @event("Retitled")
    def retitle(self, title: str) -> None:
        self.title = title


@dataclass
class TitleIndex(Aggregate):
    title: str
    article_id: Optional[UUID]

    @staticmethod
    def create_id(title: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/articles/{title}")


class Encyclopedia(Application[Any]):
    def publish(self, title: str, text: str) -> UUID:
        article = Article(title=title, text=text)
        index = TitleIndex(title=title, article_id=article.id)
        self.save(article, index)
        return article.id

    def retitle(self, title: str, new_title: str) -> None:
        article = self.article(title)
        article.retitle(new_title)
        self.save(article, TitleIndex(title=new_title, article_id=article.id))

    def article(self, title: str) -> Article:
        index = self.repository.get(TitleIndex.create_id(title))
        article: Article = self.repository.get(index.article_id)
        return article


@pytest.fixture
def wiki(store_env: Dict[str, str]) -> Iterator[Encyclopedia]:
    with Encyclopedia(env=store_env) as app:
        yield app


def test_articles_are_found_by_title_and_by_new_title(wiki: Encyclopedia) -> None:
    article_id = wiki.publish("Erth", "Mostly harmless.")
    assert wiki.article("Erth").text == "Mostly harmless."
    wiki.retitle("Erth", "Earth")
    assert wiki.article("Earth").id == article_id
    assert wiki.article("Earth").title == "Earth"
    # The old index still leads to the (renamed) article.
    assert wiki.article("Erth").id == article_id


def test_publishing_a_taken_title_is_rejected_and_changes_nothing(
    wiki: Encyclopedia,
) -> None:
    wiki.publish("Earth", "Mostly harmless.")
    before = wiki.recorder.max_notification_id()

    with pytest.raises(RecordConflictError) as info:
        wiki.publish("Earth", "Completely different.")
    assert isinstance(info.value, IntegrityError)

    assert wiki.article("Earth").text == "Mostly harmless."
    assert wiki.recorder.max_notification_id() == before
    # Neither the new article nor the index of the rejected save was recorded.
    assert len(wiki.log.select(1, 10)) == before
    assert all(b"Completely different" not in n.state for n in wiki.log.select(1, 10))


def test_renaming_to_a_taken_title_is_rejected_and_changes_nothing(
    wiki: Encyclopedia,
) -> None:
    earth_id = wiki.publish("Earth", "Mostly harmless.")
    mars_id = wiki.publish("Mars", "Red.")
    before = wiki.log.select(1, 10)

    with pytest.raises(RecordConflictError):
        wiki.retitle("Mars", "Earth")

    assert wiki.log.select(1, 10) == before
    assert wiki.article("Earth").id == earth_id
    assert wiki.article("Mars").id == mars_id
    mars = wiki.repository.get(mars_id)
    assert mars.title == "Mars" and mars.version == 1


def test_unknown_title_is_not_found(wiki: Encyclopedia) -> None:
    with pytest.raises(AggregateNotFound):
        wiki.article("Pluto")
