"""An application with encryption and compression configured only by environment.

Events, snapshots and notifications are all written through the application's
mapper, so all of them must be unreadable at rest and readable by the
application; a restart with the wrong key must fail clearly and harm nothing.
"""

from __future__ import annotations

import zlib
from typing import Callable, Dict, Iterator, List, Optional
from uuid import UUID

import pytest

from eventsourcing.application import Application
from eventsourcing.cipher import AESCipher, DecryptionError
from eventsourcing.domain import Aggregate, event

RawContents = Callable[[], Optional[bytes]]  # the raw_contents fixture

SECRET = "Quetzal-3319 confidential"


class Diary(Aggregate):
    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.entries: List[str] = []

    @event("EntryWritten")
    def write(self, text: str) -> None:
        self.entries.append(text)


class Diaries(Application[Diary]):
    is_snapshotting_enabled = True

    def start(self, owner: str) -> UUID:
        diary = Diary(owner)
        self.save(diary)
        return diary.id

    def write(self, diary_id: UUID, text: str) -> None:
        diary = self.repository.get(diary_id)
        diary.write(text)
        self.save(diary)

    def entries(self, diary_id: UUID) -> List[str]:
        return list(self.repository.get(diary_id).entries)


ENTRIES = [f"{SECRET} entry {i}: the usual, with some ordinary words" for i in range(5)]


@pytest.fixture
def open_app(store_env: Dict[str, str]) -> Iterator[Callable[..., Diaries]]:
    apps: List[Diaries] = []

    def open_app(**settings: str) -> Diaries:
        app = Diaries(env={**store_env, **settings})
        apps.append(app)
        return app

    yield open_app
    for app in apps:
        app.close()


def encrypted(key: str, prefix: str = "") -> Dict[str, str]:
    return {
        f"{prefix}CIPHER_TOPIC": "aes",
        f"{prefix}CIPHER_KEY": key,
        f"{prefix}COMPRESSOR_TOPIC": "zlib",
    }


def write_diary(app: Diaries) -> UUID:
    diary_id = app.start(owner=f"{SECRET} owner")
    for text in ENTRIES[:3]:
        app.write(diary_id, text)
    app.take_snapshot(diary_id)
    for text in ENTRIES[3:]:
        app.write(diary_id, text)
    return diary_id


@pytest.mark.parametrize("prefix", ["", "DIARIES_"], ids=["plain", "app-prefixed"])
def test_events_snapshots_and_notifications_are_encrypted_at_rest(
    open_app: Callable[..., Diaries], raw_contents: RawContents, prefix: str
) -> None:
    key = AESCipher.create_key(32)
    app = open_app(**encrypted(key, prefix))
    assert isinstance(app.mapper.cipher, AESCipher)
    assert app.snapshots is not None
    diary_id = write_diary(app)

    assert app.entries(diary_id) == ENTRIES
    section = app.log["1,10"]
    assert len(section.items) == 1 + len(ENTRIES)
    (snapshot,) = app.snapshots.recorder.select_events(diary_id)
    for stored in [*section.items, snapshot]:
        assert SECRET.encode() not in stored.state
        # What is stored is zlib-compressed JSON, encrypted with the configured key.
        assert b'"timestamp"' in zlib.decompress(AESCipher(key).decrypt(stored.state))

    # Notifications decrypt through the application's mapper.
    texts = [getattr(app.mapper.to_domain_event(n), "text", None) for n in section.items]
    assert texts == [None, *ENTRIES]
    assert app.mapper.to_domain_event(snapshot).state["entries"] == ENTRIES[:3]

    raw = raw_contents()
    if raw is not None:
        assert SECRET.encode() not in raw


def test_restart_with_the_wrong_key_fails_clearly_and_harms_nothing(
    store_env: Dict[str, str], open_app: Callable[..., Diaries]
) -> None:
    if store_env["PERSISTENCE_MODULE"] == "popo":
        pytest.skip("in-memory stores belong to one application instance")
    key = AESCipher.create_key(16)
    first = open_app(**encrypted(key))
    diary_id = write_diary(first)
    first.close()

    wrong = open_app(**encrypted(AESCipher.create_key(16)))
    with pytest.raises(DecryptionError, match="could not be authenticated") as info:
        wrong.repository.get(diary_id)
    assert str(diary_id) in str(info.value)
    with pytest.raises(DecryptionError):
        wrong.mapper.to_domain_event(wrong.log["1,1"].items[0])
    wrong.close()

    again = open_app(**encrypted(key))
    assert again.entries(diary_id) == ENTRIES
    again.write(diary_id, "after the failed restart")
    assert again.entries(diary_id) == [*ENTRIES, "after the failed restart"]
    assert again.recorder.max_notification_id() == 1 + len(ENTRIES) + 1


def test_missing_key_fails_when_the_application_is_constructed(
    open_app: Callable[..., Diaries],
) -> None:
    from eventsourcing.utils import ConfigurationError

    with pytest.raises(ConfigurationError, match="CIPHER_KEY is not set"):
        open_app(CIPHER_TOPIC="aes")
    with pytest.raises(ConfigurationError, match="DIARIES_CIPHER_KEY is not a valid key"):
        open_app(CIPHER_TOPIC="aes", DIARIES_CIPHER_KEY="bm90IGEga2V5")
