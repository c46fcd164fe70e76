"""The mapper: domain events to stored events and back, with compression,
encryption, class versions, and clear errors for damaged or unknown data."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Dict, List, Sequence
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventsourcing.compressor import ZlibCompressor
from eventsourcing.persistence import (
    Cipher,
    Compressor,
    DataError,
    DatetimeAsISO,
    DecimalAsStr,
    DictFreeStates,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    Transcoder,
    UUIDAsHex,
)
from eventsourcing.utils import TopicError, get_topic

# --- Domain events of these tests (frozen dataclasses, like the domain layer's) -------


@dataclass(frozen=True)
class AccountOpened:
    originator_id: UUID
    originator_version: int
    timestamp: datetime
    full_name: str
    balance: Decimal


@dataclass(frozen=True)
class Annotated:
    originator_id: UUID
    originator_version: int
    timestamp: datetime
    payload: Any


@dataclass(frozen=True)
class AddressChangedV1:
    """The first version of an event class, as an old release stored it."""

    originator_id: UUID
    originator_version: int
    street: str


@dataclass(frozen=True)
class AddressChangedV2:
    originator_id: UUID
    originator_version: int
    street: str
    city: str

    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: Dict[str, Any]) -> None:
        state["city"] = "unknown"


@dataclass(frozen=True)
class AddressChanged:
    """The current version: two upcasts away from version 1."""

    originator_id: UUID
    originator_version: int
    street: str
    city: str
    country: str

    class_version = 3

    @staticmethod
    def upcast_v1_v2(state: Dict[str, Any]) -> None:
        state["city"] = "unknown"

    @staticmethod
    def upcast_v2_v3(state: Dict[str, Any]) -> None:
        state["country"] = "UK" if state["city"] == "London" else "unknown"


@dataclass(frozen=True)
class AddressChangedWithoutUpcasts:
    originator_id: UUID
    originator_version: int
    street: str

    class_version = 2


class ReversingCipher(Cipher):
    """A toy cipher (not secure): shows where the mapper encrypts and decrypts."""

    def __init__(self, cipher_key: str) -> None:
        self.prefix = cipher_key.encode()

    def encrypt(self, plaintext: bytes) -> bytes:
        return self.prefix + plaintext[::-1]

    def decrypt(self, ciphertext: bytes) -> bytes:
        if not ciphertext.startswith(self.prefix):
            raise ValueError("not encrypted with this key")
        return ciphertext[len(self.prefix) :][::-1]


def transcoder() -> JSONTranscoder:
    t = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DatetimeAsISO(), DecimalAsStr()):
        t.register(transcoding)
    return t


def opened(version: int = 1) -> AccountOpened:
    return AccountOpened(
        originator_id=UUID("b2723fe2c01a40d2875ea3aac6a09ff5"),
        originator_version=version,
        timestamp=datetime(2021, 12, 31, 23, 59, 59, 123456, tzinfo=timezone.utc),
        full_name="Alice",
        balance=Decimal("10.00"),
    )


# --- Mapping ---------------------------------------------------------------------------


def test_from_domain_event_writes_the_9_1_stored_event_format() -> None:
    event = opened()
    stored = Mapper[Any](transcoder=transcoder()).from_domain_event(event)
    assert isinstance(stored, StoredEvent)
    assert stored.originator_id == event.originator_id
    assert stored.originator_version == 1
    assert stored.topic == f"{AccountOpened.__module__}:AccountOpened"
    # The state is the event's attributes without the originator's ID and version.
    assert stored.state == (
        b'{"timestamp": {"_type_": "datetime_iso", "_data_": '
        b'"2021-12-31T23:59:59.123456+00:00"}, "full_name": "Alice", '
        b'"balance": {"_type_": "decimal_str", "_data_": "10.00"}}'
    )


def test_to_domain_event_returns_an_equal_event() -> None:
    mapper: Mapper[AccountOpened] = Mapper[Any](transcoder=transcoder())
    event = opened()
    copy = mapper.to_domain_event(mapper.from_domain_event(event))
    assert copy == event
    assert type(copy) is AccountOpened


def test_without_a_cipher_the_state_is_readable() -> None:
    event = opened()
    stored = Mapper[Any](transcoder=transcoder()).from_domain_event(event)
    assert event.timestamp.isoformat() in str(stored.state)


def test_compression_is_zlib_at_the_default_level() -> None:
    event = opened()
    plain = Mapper[Any](transcoder=transcoder()).from_domain_event(event)
    mapper: Mapper[AccountOpened] = Mapper[Any](
        transcoder=transcoder(), compressor=ZlibCompressor()
    )
    compressed = mapper.from_domain_event(event)
    assert compressed.state == zlib.compress(plain.state)
    assert mapper.to_domain_event(compressed) == event


def test_state_is_compressed_then_encrypted_and_decoded_in_reverse() -> None:
    event = opened()
    plain = Mapper[Any](transcoder=transcoder()).from_domain_event(event)
    cipher = ReversingCipher("k1:")
    # Positional order of the reference: transcoder, compressor, cipher.
    mapper: Mapper[AccountOpened] = Mapper(transcoder(), ZlibCompressor(), cipher)
    stored = mapper.from_domain_event(event)
    assert stored.state == cipher.encrypt(zlib.compress(plain.state))
    assert event.timestamp.isoformat() not in str(stored.state)
    assert mapper.to_domain_event(stored) == event


def test_encrypted_state_with_compression_is_not_larger_for_repetitive_state() -> None:
    event = Annotated(uuid4(), 1, datetime.now(timezone.utc), payload=["same words"] * 20)
    cipher = ReversingCipher("k1:")
    encrypted = Mapper[Any](transcoder=transcoder(), cipher=cipher).from_domain_event(event)
    both = Mapper[Any](
        transcoder=transcoder(), cipher=cipher, compressor=ZlibCompressor()
    ).from_domain_event(event)
    assert len(both.state) <= len(encrypted.state)


def test_class_version_is_written_only_when_greater_than_one() -> None:
    mapper: Mapper[Any] = Mapper[Any](transcoder=transcoder())
    v1 = mapper.from_domain_event(AddressChangedV1(uuid4(), 1, street="Main St"))
    assert json.loads(v1.state) == {"street": "Main St"}
    v3 = mapper.from_domain_event(AddressChanged(uuid4(), 1, "Main St", "London", "UK"))
    assert json.loads(v3.state) == {
        "street": "Main St",
        "city": "London",
        "country": "UK",
        "class_version": 3,
    }
    assert mapper.to_domain_event(v3) == AddressChanged(
        v3.originator_id, 1, "Main St", "London", "UK"
    )


def test_old_stored_state_is_upcast_step_by_step_to_the_current_class_version() -> None:
    mapper: Mapper[Any] = Mapper[Any](transcoder=transcoder())
    old = mapper.from_domain_event(AddressChangedV1(uuid4(), 4, street="Main St"))
    # The same stored state, read now that the class has evolved.
    stored_v1 = StoredEvent(old.originator_id, 4, get_topic(AddressChanged), old.state)
    assert mapper.to_domain_event(stored_v1) == AddressChanged(
        old.originator_id, 4, street="Main St", city="unknown", country="unknown"
    )
    v2 = mapper.from_domain_event(AddressChangedV2(uuid4(), 1, street="Strand", city="London"))
    stored_v2 = StoredEvent(v2.originator_id, 1, get_topic(AddressChanged), v2.state)
    assert mapper.to_domain_event(stored_v2) == AddressChanged(
        v2.originator_id, 1, "Strand", "London", "UK"
    )


def test_a_missing_upcast_method_is_named() -> None:
    mapper: Mapper[Any] = Mapper[Any](transcoder=transcoder())
    old = mapper.from_domain_event(AddressChangedV1(uuid4(), 1, street="Main St"))
    stored = StoredEvent(old.originator_id, 1, get_topic(AddressChangedWithoutUpcasts), old.state)
    with pytest.raises(AttributeError, match=r"no method upcast_v1_v2\(\)"):
        mapper.to_domain_event(stored)


# --- Bad data ------------------------------------------------------------------------


def test_encoding_an_event_with_an_unregistered_type_raises_the_transcoders_error() -> None:
    event = Annotated(uuid4(), 1, datetime.now(timezone.utc), payload=timedelta(seconds=1))
    with pytest.raises(TypeError, match=r"Object of type <class 'datetime.timedelta'> is not"):
        Mapper[Any](transcoder=transcoder()).from_domain_event(event)


def test_mapping_an_object_that_is_not_a_domain_event_is_a_clear_error() -> None:
    @dataclass
    class Note:
        originator_id: UUID
        text: str

    with pytest.raises(TypeError, match=r"Cannot map .*Note object: .* 'originator_version' is"):
        Mapper[Any](transcoder=transcoder()).from_domain_event(Note(uuid4(), "hello"))


def test_decoding_state_with_an_unregistered_name_raises_data_error_naming_the_event() -> None:
    stored = Mapper[Any](transcoder=transcoder()).from_domain_event(opened())
    with pytest.raises(DataError, match="'datetime_iso' is not deserializable") as exc_info:
        Mapper[Any](transcoder=JSONTranscoder()).to_domain_event(stored)
    assert str(stored.originator_id) in str(exc_info.value)
    assert isinstance(exc_info.value.__cause__, TypeError)
    assert isinstance(exc_info.value, TypeError)  # as eventsourcing 9.1 raised


def test_damaged_compressed_state_raises_data_error_naming_the_event() -> None:
    mapper: Mapper[Any] = Mapper[Any](transcoder=transcoder(), compressor=ZlibCompressor())
    stored = mapper.from_domain_event(opened(version=7))
    damaged = StoredEvent(stored.originator_id, 7, stored.topic, stored.state[:-5] + b"xxxxx")
    with pytest.raises(DataError) as exc_info:
        mapper.to_domain_event(damaged)
    message = str(exc_info.value)
    assert "Cannot decompress" in message
    assert str(stored.originator_id) in message and "version 7" in message
    # Uncompressed state read with a compressor configured is also damaged data.
    plain = Mapper[Any](transcoder=transcoder()).from_domain_event(opened())
    with pytest.raises(DataError, match="zlib"):
        mapper.to_domain_event(plain)


def test_failure_of_another_compressor_is_also_data_error() -> None:
    class Failing(Compressor):
        def compress(self, data: bytes) -> bytes:
            return data

        def decompress(self, data: bytes) -> bytes:
            raise OSError("truncated input")

    mapper: Mapper[Any] = Mapper[Any](transcoder=transcoder(), compressor=Failing())
    stored = mapper.from_domain_event(opened())
    with pytest.raises(DataError, match="truncated input"):
        mapper.to_domain_event(stored)


@pytest.mark.parametrize(
    "state, reason",
    [
        (b'{"full_name": "Al', "Cannot decode"),
        (b"\xff\xfe", "Cannot decode"),
        (b'{"balance": {"_type_": "decimal_str", "_data_": "ten"}}', "Cannot decode"),
        (b"[1, 2]", "is not a JSON object: list"),
    ],
)
def test_damaged_state_raises_data_error(state: bytes, reason: str) -> None:
    stored = StoredEvent(uuid4(), 3, get_topic(AccountOpened), state)
    with pytest.raises(DataError, match=reason) as exc_info:
        Mapper[Any](transcoder=transcoder()).to_domain_event(stored)
    assert f"{stored.originator_id} version 3" in str(exc_info.value)


@pytest.mark.parametrize(
    "topic, reason",
    [
        ("no_such_module_anywhere:Event", "No module named 'no_such_module_anywhere'"),
        (f"{AccountOpened.__module__}:AccountClosed", "has no attribute 'AccountClosed'"),
    ],
)
def test_unknown_topic_raises_topic_error_naming_topic_and_event(topic: str, reason: str) -> None:
    stored = Mapper[Any](transcoder=transcoder()).from_domain_event(opened(version=2))
    unknown = StoredEvent(stored.originator_id, 2, topic, stored.state)
    with pytest.raises(TopicError) as exc_info:
        Mapper[Any](transcoder=transcoder()).to_domain_event(unknown)
    message = str(exc_info.value)
    assert topic in message and reason in message
    assert f"stored event {stored.originator_id} version 2" in message


def test_cipher_failure_is_not_hidden() -> None:
    stored = Mapper[Any](transcoder=transcoder(), cipher=ReversingCipher("k1:")).from_domain_event(
        opened()
    )
    with pytest.raises(ValueError, match="not encrypted with this key"):
        Mapper[Any](transcoder=transcoder(), cipher=ReversingCipher("k2:")).to_domain_event(stored)


# --- Hypothesis round trips --------------------------------------------------------------

keys = st.text(max_size=6).filter(lambda k: k not in ("_type_", "_data_"))
leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.uuids()
    | st.decimals(allow_nan=False)
    | st.datetimes(timezones=st.none() | st.just(timezone.utc))
)
payloads = st.recursive(
    leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=20,
)
events = st.builds(
    Annotated,
    originator_id=st.uuids(),
    originator_version=st.integers(min_value=0, max_value=2**63 - 1),
    timestamp=st.datetimes(timezones=st.just(timezone.utc)),
    payload=payloads,
)


@settings(max_examples=150, deadline=None)
@given(event=events, compress=st.booleans(), encrypt=st.booleans())
def test_mapper_round_trips_events(event: Annotated, compress: bool, encrypt: bool) -> None:
    mapper: Mapper[Annotated] = Mapper[Any](
        transcoder=transcoder(),
        compressor=ZlibCompressor() if compress else None,
        cipher=ReversingCipher("k:") if encrypt else None,
    )
    stored = mapper.from_domain_event(event)
    assert (stored.originator_id, stored.originator_version) == (
        event.originator_id,
        event.originator_version,
    )
    copy = mapper.to_domain_event(stored)
    assert copy == event
    assert type(copy) is Annotated
    # Mapping the copy stores the same bytes (nothing is lost or reordered).
    assert mapper.from_domain_event(copy) == stored


# --- A page at a time ---------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(page=st.lists(events, max_size=6), compress=st.booleans(), encrypt=st.booleans())
def test_to_domain_events_makes_what_to_domain_event_makes_of_each(
    page: list[Annotated], compress: bool, encrypt: bool
) -> None:
    mapper: Mapper[Annotated] = Mapper[Any](
        transcoder=transcoder(),
        compressor=ZlibCompressor() if compress else None,
        cipher=ReversingCipher("k:") if encrypt else None,
    )
    stored = [mapper.from_domain_event(e) for e in page]
    converted = mapper.to_domain_events(stored)
    assert converted == [mapper.to_domain_event(s) for s in stored] == page
    assert all(type(e) is Annotated for e in converted)


def test_to_domain_events_raises_the_error_of_the_first_event_that_cannot_be_converted() -> None:
    mapper: Mapper[Any] = Mapper[Any](transcoder=transcoder())
    good = mapper.from_domain_event(opened(version=1))
    undecodable = StoredEvent(good.originator_id, 2, good.topic, b'{"full_name": "Al')
    unknown_topic = StoredEvent(good.originator_id, 3, "no_such_module_anywhere:E", good.state)
    old = mapper.from_domain_event(AddressChangedV1(good.originator_id, 4, street="Main St"))
    upcast = StoredEvent(old.originator_id, 4, get_topic(AddressChanged), old.state)
    missing_field = StoredEvent(good.originator_id, 5, good.topic, b'{"full_name": "Al"}')
    with pytest.raises(DataError, match=f"{good.originator_id} version 2"):
        mapper.to_domain_events([good, undecodable, unknown_topic])
    with pytest.raises(TopicError, match=f"{good.originator_id} version 3"):
        mapper.to_domain_events([good, unknown_topic, undecodable])
    with pytest.raises(DataError, match=r"version 5 .* damaged: field\(s\) timestamp, balance"):
        mapper.to_domain_events([good, upcast, missing_field, undecodable])
    assert mapper.to_domain_events([good, upcast])[1] == AddressChanged(
        good.originator_id, 4, street="Main St", city="unknown", country="unknown"
    )
    assert mapper.to_domain_events([]) == []


class SayingDictFree(JSONTranscoder):
    """Says of every page that no value is a dict (not always truly)."""

    def __init__(self) -> None:
        super().__init__()
        self.register(DatetimeAsISO())

    def decode_many(self, data: Sequence[bytes]) -> List[Any]:
        return DictFreeStates(super().decode_many(data))


DAMAGED = {"_type_": "datetime_iso", "_dbta_": "2026-01-02T03:04:05"}  # "_data_", one bit off


def test_a_damaged_transcoded_value_is_named_unless_the_transcoder_says_there_is_none() -> None:
    # A field holding a dict with "_type_" or "_data_" alone was a transcoded
    # value until a byte was damaged: named, rather than failing far away.
    state = json.dumps({"timestamp": DAMAGED, "full_name": "Al", "balance": 1}).encode()
    stored = StoredEvent(uuid4(), 1, get_topic(AccountOpened), state)
    for page in ([stored], [stored, stored]):
        with pytest.raises(DataError, match="field 'timestamp' holds a damaged transcoded value"):
            Mapper[Any](transcoder=transcoder()).to_domain_events(page)
    # Taken at its word, the mapper does not look, and makes the event.
    [event, _] = Mapper[Any](transcoder=SayingDictFree()).to_domain_events([stored, stored])
    assert event.timestamp == DAMAGED


@dataclass(frozen=True)
class Moved:
    originator_id: UUID
    originator_version: int
    street: str
    where: Any

    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: Dict[str, Any]) -> None:
        state["where"] = DAMAGED  # as an upcast method might, from a damaged old field


def test_the_values_an_upcast_method_sets_are_looked_at_whatever_the_transcoder_says() -> None:
    stored = StoredEvent(uuid4(), 1, get_topic(Moved), b'{"street": "Main St"}')
    with pytest.raises(DataError, match="field 'where' holds a damaged transcoded value"):
        Mapper[Any](transcoder=SayingDictFree()).to_domain_events([stored, stored])


def test_a_mapper_subclass_converting_one_event_its_own_way_is_used_for_pages() -> None:
    class Counting(Mapper[Any]):
        converted = 0

        def to_domain_event(self, stored: StoredEvent) -> Any:
            self.converted += 1
            return super().to_domain_event(stored)

    mapper = Counting(transcoder=transcoder())
    stored = [mapper.from_domain_event(opened(version=v)) for v in (1, 2, 3)]
    assert mapper.to_domain_events(stored) == [opened(1), opened(2), opened(3)]
    assert mapper.converted == 3


def test_a_transcoder_with_only_decode_decodes_pages_with_it() -> None:
    class Reversing(Transcoder):
        def register(self, transcoding: Any) -> None:
            pass

        def encode(self, obj: Any) -> bytes:
            return json.dumps(obj).encode()[::-1]

        def decode(self, data: bytes) -> Any:
            return json.loads(data[::-1])

    mapper: Mapper[Any] = Mapper[Any](transcoder=Reversing())
    assert mapper.transcoder.decode_many([b"]1[", b"}{"]) == [[1], {}]
    note = AddressChangedV1(uuid4(), 1, street="Main St")
    assert mapper.to_domain_events([mapper.from_domain_event(note)]) == [note]
