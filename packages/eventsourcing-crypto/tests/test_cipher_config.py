"""Encryption and compression configured by environment, on every backend.

Everything goes through ``InfrastructureFactory.construct(env=...)`` and the
mapper it makes, so these tests prove what a user who only sets
``CIPHER_TOPIC``, ``CIPHER_KEY`` and ``COMPRESSOR_TOPIC`` gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Iterator, Optional
from uuid import UUID, uuid4

import pytest

from eventsourcing.cipher import AESCipher, DecryptionError
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.persistence import (
    DataError,
    DatetimeAsISO,
    DecimalAsStr,
    InfrastructureFactory,
    JSONTranscoder,
    StoredEvent,
    UUIDAsHex,
)
from eventsourcing.utils import ConfigurationError

RawContents = Callable[[], Optional[bytes]]  # the raw_contents fixture

SECRET = "Zanzibar-7741 private memo"


@dataclass(frozen=True)
class AccountOpened:
    originator_id: UUID
    originator_version: int
    timestamp: datetime
    originator_topic: str
    full_name: str
    email_address: str


@dataclass(frozen=True)
class AmountCredited:
    originator_id: UUID
    originator_version: int
    timestamp: datetime
    amount: Decimal
    reference: str


@dataclass(frozen=True)
class NoteAdded:
    originator_id: UUID
    originator_version: int
    timestamp: datetime
    note: str


def transcoder() -> JSONTranscoder:
    t = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        t.register(transcoding)
    return t


def typical_events(originator_id: Optional[UUID] = None) -> list[Any]:
    """A short history such as applications record, containing SECRET."""
    oid = originator_id or uuid4()
    now = datetime.now(timezone.utc)
    return [
        AccountOpened(
            oid, 1, now, "bank.domainmodel:BankAccount", "Alice Smith", "alice@example.com"
        ),
        AmountCredited(oid, 2, now, Decimal("100.00"), "INV-2026-0001 monthly fee"),
        NoteAdded(oid, 3, now, f"{SECRET}: customer moved to the office address"),
        NoteAdded(oid, 4, now, "ok"),
    ]


@pytest.fixture
def key() -> str:
    return AESCipher.create_key(32)


@pytest.fixture
def factory(store_env: dict[str, str], key: str) -> Iterator[InfrastructureFactory]:
    env = {**store_env, "CIPHER_TOPIC": "aes", "CIPHER_KEY": key}
    with InfrastructureFactory.construct(env=env) as f:
        yield f


def construct(env: dict[str, str]) -> InfrastructureFactory:
    return InfrastructureFactory.construct(env=env)


# ---------------------------------------------------------------------------
# Selection and construction
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "selection",
    [
        {"CIPHER_TOPIC": "aes"},
        {"CIPHER_TOPIC": "eventsourcing.cipher:AESCipher"},
        {"CIPHER_TOPIC": "eventsourcing.cipher"},
        {},  # CIPHER_KEY alone selects aes, as in eventsourcing 9.1
    ],
    ids=["name", "topic", "module", "key-only"],
)
@pytest.mark.parametrize(
    "compression",
    [
        {},
        {"COMPRESSOR_TOPIC": "zlib"},
        {"COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"},
    ],
    ids=["plain", "zlib", "zlib-topic"],
)
def test_env_selects_the_cipher_and_events_round_trip(
    store_env: dict[str, str],
    key: str,
    selection: dict[str, str],
    compression: dict[str, str],
) -> None:
    env = {**store_env, **selection, **compression, "CIPHER_KEY": key}
    with construct(env) as factory:
        mapper = factory.mapper(JSONTranscoder())
        assert isinstance(mapper.cipher, AESCipher)
        if compression:
            assert isinstance(mapper.compressor, ZlibCompressor)
        else:
            assert mapper.compressor is None
        mapper.transcoder = transcoder()
        recorder = factory.application_recorder()
        events = typical_events()
        recorder.insert_events([mapper.from_domain_event(e) for e in events])
        stored = recorder.select_events(events[0].originator_id)
        assert [mapper.to_domain_event(s) for s in stored] == events
        # The key really is the one configured: a cipher made from it decrypts.
        plain = AESCipher(key).decrypt(stored[2].state)
        if compression:
            plain = ZlibCompressor().decompress(plain)
        assert SECRET.encode() in plain


def test_application_prefixed_variables_are_used(store_env: dict[str, str]) -> None:
    key = AESCipher.create_key(16)
    env = {
        **store_env,
        "WORLDS_CIPHER_TOPIC": "aes",
        "WORLDS_CIPHER_KEY": key,
        "CIPHER_KEY": "not a key",
    }
    with InfrastructureFactory.construct(application_name="Worlds", env=env) as f:
        cipher = f.mapper(transcoder()).cipher
        assert isinstance(cipher, AESCipher)
        assert AESCipher(key).decrypt(cipher.encrypt(b"w")) == b"w"


@pytest.mark.parametrize("topic", ["aes", "eventsourcing.cipher:AESCipher"])
@pytest.mark.parametrize("missing", [None, ""])
def test_cipher_without_key_fails_at_construction(topic: str, missing: Optional[str]) -> None:
    env = {"CIPHER_TOPIC": topic}
    if missing is not None:
        env["CIPHER_KEY"] = missing
    with construct(env) as factory:
        with pytest.raises(ConfigurationError, match="CIPHER_KEY is not set") as info:
            factory.mapper(transcoder())
    assert "AESCipher.create_key()" in str(info.value)


@pytest.mark.parametrize(
    "bad_key, reason",
    [
        ("this is not base64!", "not valid base64"),
        ("c2hvcnQ=", "accepted sizes are 16, 24, 32 bytes"),  # 5 bytes
        ("A" * 44 + "AAAA", "accepted sizes are 16, 24, 32 bytes"),  # 36 bytes
    ],
)
def test_malformed_key_fails_at_construction_without_revealing_it(
    bad_key: str, reason: str
) -> None:
    with construct({"CIPHER_TOPIC": "aes", "CIPHER_KEY": bad_key}) as factory:
        with pytest.raises(ConfigurationError) as info:
            factory.mapper(transcoder())
    message = str(info.value)
    assert message.startswith("CIPHER_KEY is not a valid key for AESCipher")
    assert reason in message
    assert bad_key not in message


# ---------------------------------------------------------------------------
# What is stored
# ---------------------------------------------------------------------------


def test_stored_state_contains_no_plaintext(
    store_env: dict[str, str], key: str, raw_contents: RawContents
) -> None:
    env = {**store_env, "CIPHER_TOPIC": "aes", "CIPHER_KEY": key}
    with construct(env) as factory:
        mapper = factory.mapper(transcoder())
        events = typical_events()
        recorder = factory.application_recorder()
        snapshots = factory.aggregate_recorder("snapshots")
        recorder.insert_events([mapper.from_domain_event(e) for e in events])
        snapshots.insert_events([mapper.from_domain_event(events[2])])

        oid = events[0].originator_id
        states = [s.state for s in recorder.select_events(oid)]
        states += [n.state for n in recorder.select_notifications(1, 10)]
        states += [s.state for s in snapshots.select_events(oid)]
        assert len(states) == 9
        for state in states:
            for word in (SECRET, "Alice Smith", "alice@example.com", "INV-2026"):
                assert word.encode() not in state
            assert b"timestamp" not in state

        raw = raw_contents()
        if raw is not None:
            assert SECRET.encode() not in raw
            assert b"alice@example.com" not in raw


def test_unencrypted_state_is_visible_to_the_same_checks(
    store_env: dict[str, str], raw_contents: RawContents
) -> None:
    """The control for the test above: without a cipher, the secret is found."""
    with construct(dict(store_env)) as factory:
        mapper = factory.mapper(transcoder())
        assert mapper.cipher is None
        recorder = factory.application_recorder()
        events = typical_events()
        recorder.insert_events([mapper.from_domain_event(e) for e in events])
        stored = recorder.select_events(events[0].originator_id)
        assert SECRET.encode() in stored[2].state
        raw = raw_contents()
        if raw is not None:
            assert SECRET.encode() in raw


def test_compressed_and_encrypted_is_not_larger_than_encrypted_only(
    store_env: dict[str, str], key: str
) -> None:
    base = {**store_env, "CIPHER_TOPIC": "aes", "CIPHER_KEY": key}
    with (
        construct(base) as plain_factory,
        construct({**base, "COMPRESSOR_TOPIC": "zlib"}) as zlib_factory,
    ):
        encrypted = plain_factory.mapper(transcoder())
        compressed = zlib_factory.mapper(transcoder())
        events = typical_events()
        recorder = zlib_factory.application_recorder()
        recorder.insert_events([compressed.from_domain_event(e) for e in events])
        stored = recorder.select_events(events[0].originator_id)
        assert len(stored) == len(events)
        total_encrypted = total_compressed = 0
        for event, s in zip(events, stored, strict=True):
            encrypted_only = encrypted.from_domain_event(event).state
            assert len(s.state) <= len(encrypted_only)
            total_encrypted += len(encrypted_only)
            total_compressed += len(s.state)
            assert compressed.to_domain_event(s) == event
        assert total_compressed < total_encrypted


# ---------------------------------------------------------------------------
# Reading back: notifications, wrong key, tampering
# ---------------------------------------------------------------------------


def test_notifications_decrypt_through_the_mapper(store_env: dict[str, str], key: str) -> None:
    env = {**store_env, "CIPHER_KEY": key, "COMPRESSOR_TOPIC": "zlib"}
    with construct(env) as factory:
        mapper = factory.mapper(transcoder())
        recorder = factory.application_recorder()
        first, second = typical_events(), typical_events()
        for e1, e2 in zip(first, second, strict=True):
            recorder.insert_events([mapper.from_domain_event(e1), mapper.from_domain_event(e2)])
        notifications = recorder.select_notifications(1, 100)
        assert len(notifications) == 8
        assert recorder.max_notification_id() == notifications[-1].id
        interleaved = [e for pair in zip(first, second, strict=True) for e in pair]
        assert [mapper.to_domain_event(n) for n in notifications] == interleaved
        # Topics are not encrypted (as in 9.1), so filtering still works.
        notes = recorder.select_notifications(1, 100, topics=[notifications[4].topic])
        assert [mapper.to_domain_event(n) for n in notes] == [
            e for e in interleaved if isinstance(e, NoteAdded)
        ]


def test_wrong_key_fails_clearly_and_the_store_is_unaffected(
    store_env: dict[str, str], key: str
) -> None:
    right = {**store_env, "CIPHER_TOPIC": "aes", "CIPHER_KEY": key}
    wrong = {**right, "CIPHER_KEY": AESCipher.create_key(32)}
    with construct(right) as factory:
        mapper = factory.mapper(transcoder())
        recorder = factory.application_recorder()
        events = typical_events()
        recorder.insert_events([mapper.from_domain_event(e) for e in events])

        with construct(wrong) as other:
            wrong_mapper = other.mapper(transcoder())
            # A second process on the same database; popo memory is per factory.
            reader = (
                recorder
                if store_env["PERSISTENCE_MODULE"] == "popo"
                else (other.application_recorder())
            )
            notifications = reader.select_notifications(1, 10)
            assert len(notifications) == len(events)
            for n in notifications:
                with pytest.raises(
                    DecryptionError,
                    match=f"stored event {n.originator_id} version "
                    f"{n.originator_version} .*could not be authenticated",
                ):
                    wrong_mapper.to_domain_event(n)

        # Nothing was changed by the failed reads; the right key still works.
        assert recorder.max_notification_id() == notifications[-1].id
        stored = recorder.select_events(events[0].originator_id)
        assert [mapper.to_domain_event(s) for s in stored] == events


@pytest.mark.parametrize("damage", ["flipped-bit", "truncated-tag", "empty"])
def test_tampered_state_fails_clearly_and_other_events_are_unaffected(
    factory: InfrastructureFactory, damage: str
) -> None:
    mapper = factory.mapper(transcoder())
    recorder = factory.application_recorder()
    before, tampered, after = typical_events(), typical_events(), typical_events()
    recorder.insert_events([mapper.from_domain_event(e) for e in before])

    good = mapper.from_domain_event(tampered[0])
    state = bytearray(good.state)
    if damage == "flipped-bit":
        state[40] ^= 0x04
    elif damage == "truncated-tag":
        state = state[:20]
    else:
        state = bytearray()
    recorder.insert_events(
        [StoredEvent(good.originator_id, good.originator_version, good.topic, bytes(state))]
    )
    recorder.insert_events([mapper.from_domain_event(e) for e in after])

    (bad,) = recorder.select_events(tampered[0].originator_id)
    with pytest.raises(DecryptionError, match="could not be authenticated") as info:
        mapper.to_domain_event(bad)
    assert isinstance(info.value, DataError)  # caught by persistence error handlers
    # The mapper names the event whose state failed.
    assert f"stored event {bad.originator_id} version 1" in str(info.value)

    notifications = recorder.select_notifications(1, 100)
    assert len(notifications) == len(before) + 1 + len(after)
    readable = []
    for n in notifications:
        if n.originator_id == tampered[0].originator_id:
            with pytest.raises(DecryptionError):
                mapper.to_domain_event(n)
        else:
            readable.append(mapper.to_domain_event(n))
    assert readable == before + after


def test_snapshots_are_encrypted_with_the_same_mapper(
    factory: InfrastructureFactory, key: str
) -> None:
    mapper = factory.mapper(transcoder())
    snapshots = factory.aggregate_recorder("snapshots")
    event = typical_events()[2]
    snapshots.insert_events([mapper.from_domain_event(event)])
    (stored,) = snapshots.select_events(event.originator_id)
    assert SECRET.encode() not in stored.state
    assert SECRET.encode() in AESCipher(key).decrypt(stored.state)
    assert mapper.to_domain_event(stored) == event
