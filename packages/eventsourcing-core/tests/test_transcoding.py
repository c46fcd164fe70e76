"""The JSON transcoder and its transcodings: byte format, errors, round trips."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, List
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventsourcing import plugins
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Transcoder,
    Transcoding,
    UUIDAsHex,
)
from eventsourcing.plugins import get_plugin_manager, hookimpl

# --- Transcodings used by these tests ------------------------------------------------


class DateAsIsoString(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class Booking:
    """A value object holding non-basic values (a UUID and a date)."""

    def __init__(self, id: UUID, date: date) -> None:
        self.id = id
        self.date = date

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Booking) and (self.id, self.date) == (other.id, other.date)


class Reservation:
    """A value object holding another custom value object."""

    def __init__(self, booking: Booking) -> None:
        self.booking = booking

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Reservation) and self.booking == other.booking


class BookingAsDict(Transcoding):
    type = Booking
    name = "simple_custom_value"

    def encode(self, obj: Booking) -> dict[str, Any]:
        # Returns non-basic values: the transcoder transcodes them in turn.
        return {"id": obj.id, "date": obj.date}

    def decode(self, data: dict[str, Any]) -> Booking:
        return Booking(**data)


class ReservationAsBooking(Transcoding):
    type = Reservation
    name = "complex_custom_value"

    def encode(self, obj: Reservation) -> Booking:
        return obj.booking

    def decode(self, data: Booking) -> Reservation:
        assert isinstance(data, Booking), data  # the inner value is decoded first
        return Reservation(data)


def full_transcoder() -> JSONTranscoder:
    transcoder = JSONTranscoder()
    for t in (UUIDAsHex(), DatetimeAsISO(), DecimalAsStr(), DateAsIsoString()):
        transcoder.register(t)
    return transcoder


# --- Statements of the reference -----------------------------------------------------


def test_json_transcoder_is_a_transcoder_constructed_without_arguments() -> None:
    transcoder = JSONTranscoder()
    assert isinstance(transcoder, Transcoder)
    data = transcoder.encode({"a": 1})
    assert isinstance(data, bytes)
    assert transcoder.decode(data) == {"a": 1}


def test_default_transcodings_round_trip_their_types() -> None:
    id1 = uuid4()
    assert UUIDAsHex().encode(id1) == id1.hex
    assert UUIDAsHex().decode(UUIDAsHex().encode(id1)) == id1

    when = datetime(2021, 12, 31, 23, 59, 59)
    assert DatetimeAsISO().encode(when) == "2021-12-31T23:59:59"
    assert DatetimeAsISO().decode(DatetimeAsISO().encode(when)) == when

    amount = Decimal("1.2345")
    assert DecimalAsStr().encode(amount) == "1.2345"
    assert DecimalAsStr().decode(DecimalAsStr().encode(amount)) == amount


def test_registered_transcodings_are_used_by_the_transcoder() -> None:
    transcoder = full_transcoder()
    id1 = UUID("b2723fe2c01a40d2875ea3aac6a09ff5")
    assert transcoder.encode(id1) == (
        b'{"_type_": "uuid_hex", "_data_": "b2723fe2c01a40d2875ea3aac6a09ff5"}'
    )
    for value in (id1, datetime(2021, 12, 31, 23, 59, 59), Decimal("1.2345"), date(2021, 1, 2)):
        copy = transcoder.decode(transcoder.encode(value))
        assert copy == value
        assert type(copy) is type(value)


def test_encoding_an_unregistered_type_raises_type_error_with_the_reference_message() -> None:
    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    with pytest.raises(TypeError) as exc_info:
        transcoder.encode({"when": date(2021, 12, 31)})
    assert exc_info.value.args[0] == (
        "Object of type <class 'datetime.date'> is not serializable. "
        "Please define and register a custom transcoding for this type."
    )


def test_decoding_an_unregistered_name_raises_type_error_with_the_reference_message() -> None:
    data = full_transcoder().encode(Decimal("1.2345"))
    with pytest.raises(TypeError) as exc_info:
        JSONTranscoder().decode(data)
    assert exc_info.value.args[0] == (
        "Data serialized with name 'decimal_str' is not deserializable. "
        "Please register a custom transcoding for this type."
    )


def test_custom_transcoding_for_date() -> None:
    transcoder = JSONTranscoder()
    transcoder.register(DateAsIsoString())
    assert transcoder.encode(date(2000, 2, 20)) == b'{"_type_": "date_iso", "_data_": "2000-02-20"}'
    assert transcoder.decode(transcoder.encode(date(2000, 2, 20))) == date(2000, 2, 20)


def test_tuples_are_decoded_as_lists() -> None:
    transcoder = JSONTranscoder()
    copy = transcoder.decode(transcoder.encode((1, 2, 3)))
    assert isinstance(copy, list)
    assert copy == [1, 2, 3]


def test_subclasses_of_basic_types_are_encoded_as_the_basic_type() -> None:
    class Name(str):
        pass

    transcoder = JSONTranscoder()
    copy = transcoder.decode(transcoder.encode({"name": Name("x")}))
    assert copy == {"name": "x"}
    assert type(copy["name"]) is str


def test_worked_example_of_nested_custom_types_has_the_reference_bytes() -> None:
    transcoder = full_transcoder()
    transcoder.register(BookingAsDict())
    transcoder.register(ReservationAsBooking())
    obj1 = Reservation(Booking(id=UUID("b2723fe2c01a40d2875ea3aac6a09ff5"), date=date(2000, 2, 20)))

    data = transcoder.encode(obj1)

    assert data == (
        b'{"_type_": "complex_custom_value", "_data_": {"_type_": '
        b'"simple_custom_value", "_data_": {"id": {"_type_": '
        b'"uuid_hex", "_data_": "b2723fe2c01a40d2875ea3aac6a09ff5"},'
        b' "date": {"_type_": "date_iso", "_data_": "2000-02-20"}'
        b"}}}"
    )
    assert transcoder.decode(data) == obj1


def test_byte_format_uses_json_module_defaults() -> None:
    # Separators ", " and ": ", non-ASCII escaped, key order kept: as eventsourcing 9.1.
    transcoder = full_transcoder()
    value = {"b": [1, 2.5, None, True], "a": "é€", "c": {"x": Decimal("0.10")}}
    assert transcoder.encode(value) == json.dumps(
        {
            "b": [1, 2.5, None, True],
            "a": "é€",
            "c": {"x": {"_type_": "decimal_str", "_data_": "0.10"}},
        }
    ).encode("utf8")
    assert transcoder.encode(value) == (
        b'{"b": [1, 2.5, null, true], "a": "\\u00e9\\u20ac", '
        b'"c": {"x": {"_type_": "decimal_str", "_data_": "0.10"}}}'
    )


def test_dicts_that_only_look_partly_like_transcoded_objects_are_left_alone() -> None:
    transcoder = full_transcoder()
    for value in (
        {"_type_": "uuid_hex"},
        {"_data_": "x"},
        {"_type_": "uuid_hex", "_data_": "b2723fe2c01a40d2875ea3aac6a09ff5", "extra": 1},
    ):
        assert transcoder.decode(transcoder.encode(value)) == value


# --- Registration ---------------------------------------------------------------------


def test_register_accepts_a_transcoding_class() -> None:
    # The reference's application example registers the class itself.
    transcoder = JSONTranscoder()
    transcoder.register(DateAsIsoString)
    assert transcoder.decode(transcoder.encode(date(2021, 1, 1))) == date(2021, 1, 1)


def test_registering_again_for_the_same_type_replaces_the_transcoding() -> None:
    class DateAsOrdinal(Transcoding):
        type = date
        name = "date_iso"  # same type, same name: an override

        def encode(self, obj: date) -> int:
            return obj.toordinal()

        def decode(self, data: int) -> date:
            return date.fromordinal(data)

    transcoder = JSONTranscoder()
    transcoder.register(DateAsIsoString())
    transcoder.register(DateAsOrdinal())
    data = transcoder.encode(date(2021, 1, 1))
    assert data == b'{"_type_": "date_iso", "_data_": 737791}'
    assert transcoder.decode(data) == date(2021, 1, 1)


def test_a_name_already_used_for_another_type_is_refused() -> None:
    class TimedeltaClash(Transcoding):
        type = timedelta
        name = "uuid_hex"

        def encode(self, obj: timedelta) -> float:
            return obj.total_seconds()

        def decode(self, data: float) -> timedelta:
            return timedelta(seconds=data)

    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    with pytest.raises(
        ValueError, match=r"'uuid_hex' is already registered for <class 'uuid\.UUID'>"
    ):
        transcoder.register(TimedeltaClash())
    # Nothing changed: UUIDs still decode, timedelta is still unknown.
    id1 = uuid4()
    assert transcoder.decode(transcoder.encode(id1)) == id1
    with pytest.raises(TypeError, match="is not serializable"):
        transcoder.encode(timedelta(1))


def test_register_refuses_what_is_not_a_complete_transcoding() -> None:
    class Nameless(Transcoding):
        type = date

        def encode(self, obj: Any) -> Any:
            return obj

        def decode(self, data: Any) -> Any:
            return data

    transcoder = JSONTranscoder()
    with pytest.raises(TypeError, match="must set the class attributes 'type'"):
        transcoder.register(Nameless())
    with pytest.raises(TypeError, match="Expected a Transcoding"):
        transcoder.register(object())  # type: ignore[arg-type]


def test_plugin_transcodings_make_a_transcoder_like_the_applications() -> None:
    transcoder = JSONTranscoder()
    for transcoding in plugins.transcodings():
        transcoder.register(transcoding)
    value = {"id": uuid4(), "at": datetime(2021, 1, 1, tzinfo=timezone.utc), "n": Decimal("3.1")}
    assert transcoder.decode(transcoder.encode(value)) == value


# --- Hypothesis round trips ------------------------------------------------------------


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Ledger:
    """Custom type containing custom types, UUIDs, datetimes and lists."""

    id: UUID
    opened: datetime
    entries: List[Money]
    parent: Ledger | None


class MoneyAsDict(Transcoding):
    type = Money
    name = "money"

    def encode(self, obj: Money) -> dict[str, Any]:
        return {"amount": obj.amount, "currency": obj.currency}

    def decode(self, data: dict[str, Any]) -> Money:
        return Money(**data)


class LedgerAsDict(Transcoding):
    type = Ledger
    name = "ledger"

    def encode(self, obj: Ledger) -> dict[str, Any]:
        return {"id": obj.id, "opened": obj.opened, "entries": obj.entries, "parent": obj.parent}

    def decode(self, data: dict[str, Any]) -> Ledger:
        return Ledger(**data)


# UTC offsets in whole seconds, as real time zone data has them. (Python's
# fromisoformat() reads "+00:00:00.000001" as UTC: a sub-second offset alone.)
fixed_offsets = st.builds(
    lambda seconds: timezone(timedelta(seconds=seconds)),
    st.integers(min_value=-86399, max_value=86399),
)
datetimes = st.datetimes(timezones=st.none() | fixed_offsets | st.just(timezone.utc))
decimals = st.decimals(allow_nan=False)
money = st.builds(Money, amount=decimals, currency=st.text(max_size=3))
ledgers = st.recursive(
    st.builds(
        Ledger,
        id=st.uuids(),
        opened=datetimes,
        entries=st.lists(money, max_size=3),
        parent=st.none(),
    ),
    lambda inner: st.builds(
        Ledger, id=st.uuids(), opened=datetimes, entries=st.lists(money, max_size=2), parent=inner
    ),
    max_leaves=3,
)
# Keys that would make a dict look like a transcoded object are reserved.
keys = st.text(max_size=8).filter(lambda k: k not in ("_type_", "_data_"))
leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.uuids()
    | decimals
    | datetimes
    | ledgers
)
json_like = st.recursive(
    leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=25,
)


def transcoder_with_custom_types() -> JSONTranscoder:
    transcoder = full_transcoder()
    transcoder.register(MoneyAsDict())
    transcoder.register(LedgerAsDict())
    return transcoder


def same_types(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_types(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return all(same_types(x, y) for x, y in zip(a, b, strict=True))
    return True


@settings(max_examples=300, deadline=None)
@given(json_like)
def test_transcoder_round_trips_nested_values(value: Any) -> None:
    transcoder = transcoder_with_custom_types()
    data = transcoder.encode(value)
    assert isinstance(data, bytes)
    copy = transcoder.decode(data)
    assert copy == value
    assert same_types(copy, value)
    # Encoding is deterministic, so the copy stores the same bytes.
    assert transcoder.encode(copy) == data
    # The bytes are plain JSON that any JSON reader can parse, and are what
    # json.JSONEncoder itself writes (the transcoder reuses its C encoder).
    json.loads(data)
    assert data == transcoder.encoder.encode(value).encode("utf8")


def test_circular_structures_are_refused_clearly() -> None:
    value: dict[str, Any] = {"a": []}
    value["a"].append(value)
    with pytest.raises(ValueError, match="Circular reference detected"):
        JSONTranscoder().encode(value)


def test_decoding_accepts_surrounding_whitespace_and_refuses_malformed_documents() -> None:
    transcoder = full_transcoder()
    assert transcoder.decode(b' \n{"a": [1]}\t ') == {"a": [1]}
    for damaged in (b"", b"   ", b'{"a": 1} {"b": 2}', b'{"a": ', b"nope"):
        with pytest.raises(json.JSONDecodeError):
            transcoder.decode(damaged)
    with pytest.raises(UnicodeDecodeError):
        transcoder.decode(b'"\xff"')


class DateTranscodingPlugin:
    @hookimpl
    def eventsourcing_transcodings(self) -> List[Transcoding]:
        return [DateAsIsoString()]


def test_transcodings_contributed_by_a_plugin_are_listed_with_the_defaults() -> None:
    plugin = DateTranscodingPlugin()
    get_plugin_manager().register(plugin, name="test-date-transcoding")
    try:
        contributed = plugins.transcodings()
    finally:
        get_plugin_manager().unregister(plugin)
    assert {"uuid_hex", "decimal_str", "datetime_iso", "date_iso"} <= {t.name for t in contributed}
    transcoder = JSONTranscoder()
    for transcoding in contributed:
        transcoder.register(transcoding)
    assert transcoder.decode(transcoder.encode([date(2021, 1, 2)])) == [date(2021, 1, 2)]
    assert "date_iso" not in {t.name for t in plugins.transcodings()}


def test_one_transcoder_is_safe_to_share_between_threads() -> None:
    transcoder = transcoder_with_custom_types()
    values = [
        {"n": i, "id": uuid4(), "m": [Money(Decimal(i), "GBP")] * (i % 5), "s": "x" * i}
        for i in range(200)
    ]
    start = threading.Barrier(4)
    failures: List[Any] = []

    def work() -> None:
        start.wait()
        for _ in range(5):
            for value in values:
                copy = transcoder.decode(transcoder.encode(value))
                if copy != value:
                    failures.append((value, copy))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
