"""The msgspec transcoder writes what the standard one reads, and reads what it writes.

Compared value by value with :class:`JSONTranscoder` (same transcodings), and
through real SQLite files with eventsourcing 9.1.3 in another process.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import IntEnum
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventsourcing.application import Application
from eventsourcing.msgspec import MsgspecTranscoder
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    DictFreeStates,
    InfrastructureFactory,
    JSONTranscoder,
    Transcoding,
    UUIDAsHex,
)
from eventsourcing.utils import ConfigurationError

# An interpreter with eventsourcing 9.1.3 installed (.ci/run makes one).
PYTHON_913 = Path(os.environ.get("ES913_PYTHON", "/work/scratch/es913/bin/python"))
TOPIC = "eventsourcing.msgspec:MsgspecTranscoder"


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


class MoneyAsDict(Transcoding):
    type = Money
    name = "money"

    def encode(self, obj: Money) -> dict[str, Any]:
        return {"amount": obj.amount, "currency": obj.currency}

    def decode(self, data: dict[str, Any]) -> Money:
        return Money(**data)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def both() -> tuple[JSONTranscoder, MsgspecTranscoder]:
    standard, fast = JSONTranscoder(), MsgspecTranscoder()
    for transcoder in (standard, fast):
        for transcoding in (UUIDAsHex, DecimalAsStr, DatetimeAsISO, MoneyAsDict, DateAsISO):
            transcoder.register(transcoding)
    return standard, fast


def same_types(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_types(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return all(same_types(x, y) for x, y in zip(a, b, strict=True))
    return True


def assert_interchangeable(value: Any) -> bytes:
    """Each transcoder reads what either wrote, to equal values of the same types."""
    standard, fast = both()
    written = fast.encode(value)
    expected = standard.decode(standard.encode(value))
    for copy in (
        fast.decode(written),
        standard.decode(written),
        fast.decode(standard.encode(value)),
    ):
        assert copy == expected
        assert same_types(copy, expected)
    # The same JSON document as the standard encoder's, only spaced differently.
    assert json.loads(written) == json.loads(standard.encode(value))
    return written


@pytest.mark.parametrize(
    "value, name",
    [
        (UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8"), "uuid_hex"),
        (Decimal("-12.340"), "decimal_str"),
        (datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc), "datetime_iso"),
        (datetime(2026, 1, 2, 3, 4, 5), "datetime_iso"),
        (date(2026, 1, 2), "date_iso"),
        (Money(Decimal("9.99"), "EUR"), "money"),
    ],
)
def test_each_registered_type_is_written_in_the_91_form(value: Any, name: str) -> None:
    # msgspec would write UUID, datetime and Decimal natively; they must not be.
    for nested in (value, [value], {"k": value}, (value,), {"a": [{"b": (value,)}]}):
        written = assert_interchangeable({"x": nested})
        assert f'{{"_type_":"{name}","_data_":'.encode() in written


fixed_offsets = st.builds(
    lambda seconds: timezone(timedelta(seconds=seconds)),
    st.integers(min_value=-86399, max_value=86399),
)
decimals = st.decimals(allow_nan=False)
leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.uuids()
    | decimals
    | st.datetimes(timezones=st.none() | fixed_offsets)
    | st.dates()
    | st.builds(Money, amount=decimals, currency=st.text(max_size=3))
)
keys = st.text(max_size=8).filter(lambda k: k not in ("_type_", "_data_"))
json_like = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(json_like)
def test_any_state_round_trips_exactly_through_either_transcoder(value: Any) -> None:
    if value != value:  # NaN somewhere: equal only to itself, compare the bytes
        standard, fast = both()
        assert fast.encode(value) == standard.encode(value)
        return
    assert_interchangeable(value)


class Level(IntEnum):
    HIGH = 2


class Name(str):
    pass


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        -float("inf"),
        2**64,
        -(2**63) - 1,
        Level.HIGH,
        Name("n"),
        {1: "int key", None: "none key"},
        "\ud800 lone surrogate",
        [Decimal("1"), {"deep": [float("inf")]}],
    ],
)
def test_what_msgspec_writes_differently_is_written_by_the_standard_path(value: Any) -> None:
    standard, fast = both()
    assert fast.encode(value) == standard.encode(value)
    assert repr(fast.decode(fast.encode(value))) == repr(standard.decode(standard.encode(value)))


def test_errors_are_the_standard_transcoders() -> None:
    fast = both()[1]
    with pytest.raises(TypeError, match="Please define and register a custom transcoding"):
        fast.encode({"x": [object()]})
    circular: dict[str, Any] = {"a": []}
    circular["a"].append(circular)
    with pytest.raises(ValueError, match="Circular reference detected"):
        fast.encode(circular)
    with pytest.raises(TypeError, match="not deserializable"):
        fast.decode(b'{"_type_": "unknown", "_data_": 1}')
    for damaged in (b"", b"   ", b'{"a": 1} {"b": 2}', b'{"a": ', b"nope"):
        with pytest.raises(json.JSONDecodeError):
            fast.decode(damaged)
    with pytest.raises(UnicodeDecodeError):
        fast.decode(b'"\xff"')
    decoded = fast.decode(b"[NaN, 1e400, -Infinity]")
    assert math.isnan(decoded[0])
    assert decoded[1:] == [math.inf, -math.inf]
    assert fast.decode(b' \n{"a": [1]}\t ') == {"a": [1]}


def test_transcoder_topic_selects_it_and_refuses_what_is_not_a_transcoder() -> None:
    factory = InfrastructureFactory.construct(env={"TRANSCODER_TOPIC": TOPIC})
    assert type(factory.transcoder()) is MsgspecTranscoder
    assert type(InfrastructureFactory.construct(env={}).transcoder()) is JSONTranscoder
    with pytest.raises(ConfigurationError, match=r"TRANSCODER_TOPIC=.*not a Transcoder subclass"):
        InfrastructureFactory.construct(
            env={"TRANSCODER_TOPIC": "eventsourcing.persistence:Mapper"}
        ).transcoder()
    app = Application(env={"TRANSCODER_TOPIC": TOPIC})
    assert type(app.mapper.transcoder) is MsgspecTranscoder
    assert set(app.mapper.transcoder.names) >= {"uuid_hex", "decimal_str", "datetime_iso"}


# --- Stores written by one, read by the other, and by eventsourcing 9.1.3 --------------

BANK = """
from decimal import Decimal
from uuid import UUID
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event


class Account(Aggregate):
    @event("Opened")
    def __init__(self, owner, limit, ref):
        self.owner = owner
        self.limit = limit
        self.ref = ref
        self.history = []

    @event("Credited")
    def credit(self, amount, note):
        self.history.append([str(amount), note])


class Bank(Application):
    pass


def describe(account):
    return {
        "version": account.version,
        "owner": account.owner,
        "limit": str(account.limit),
        "ref": account.ref.hex,
        "history": account.history,
        "created_on": account.created_on.isoformat(),
    }
"""

WRITE = """
import json, sys
from decimal import Decimal
from uuid import UUID
from bank import Account, Bank, describe
app = Bank(env={
    "INFRASTRUCTURE_FACTORY": "eventsourcing.sqlite:Factory", "SQLITE_DBNAME": sys.argv[1]
})
account = Account("\u00e9ve", Decimal("10.50"), UUID(int=7))
account.credit(Decimal("0.1"), "caf\u00e9 [1]")
app.save(account)
print(json.dumps({"id": account.id.hex, **describe(app.repository.get(account.id))}))
"""

READ = """
import json, sys
from uuid import UUID
from bank import Bank, describe
app = Bank(env={
    "INFRASTRUCTURE_FACTORY": "eventsourcing.sqlite:Factory", "SQLITE_DBNAME": sys.argv[1]
})
print(json.dumps(describe(app.repository.get(UUID(sys.argv[2])))))
"""


def run_913(tmp_path: Path, script: str, *args: str) -> Any:
    done = subprocess.run(
        [str(PYTHON_913), "-c", script, *args],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def bank_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    if not PYTHON_913.exists():
        pytest.skip(
            f"eventsourcing 9.1.3 is not installed at {PYTHON_913}: set ES913_PYTHON to"
            " an interpreter that has it (python -m venv DIR && DIR/bin/pip install"
            " eventsourcing==9.1.3)"
        )
    (tmp_path / "bank.py").write_text(textwrap.dedent(BANK))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("bank", None)
    import bank  # type: ignore[import-not-found]

    yield bank
    sys.modules.pop("bank", None)


def sqlite_env(path: Path, fast: bool) -> dict[str, str]:
    env = {"PERSISTENCE_MODULE": "sqlite", "SQLITE_DBNAME": str(path)}
    if fast:
        env["TRANSCODER_TOPIC"] = TOPIC
    return env


@pytest.mark.slow
def test_stores_written_with_msgspec_are_read_by_913_and_the_standard_path(
    tmp_path: Path, bank_module: Any
) -> None:
    path = tmp_path / "fast.sqlite"
    with bank_module.Bank(env=sqlite_env(path, fast=True)) as app:
        account = bank_module.Account("\u00e9ve", Decimal("10.50"), UUID(int=7))
        account.credit(Decimal("0.1"), "caf\u00e9 [1]")
        app.save(account)
        expected = bank_module.describe(app.repository.get(account.id))
    with bank_module.Bank(env=sqlite_env(path, fast=False)) as app:
        assert bank_module.describe(app.repository.get(account.id)) == expected
    assert run_913(tmp_path, READ, str(path), account.id.hex) == expected


@pytest.mark.slow
def test_stores_written_by_913_are_read_with_msgspec(tmp_path: Path, bank_module: Any) -> None:
    path = tmp_path / "old.sqlite"
    written = run_913(tmp_path, WRITE, str(path))
    account_id = UUID(written.pop("id"))
    with bank_module.Bank(env=sqlite_env(path, fast=True)) as app:
        assert bank_module.describe(app.repository.get(account_id)) == written


# --- Reading: the typed path for flat states, the walk for the rest ---------------------

FORM_NAMES = ["uuid_hex", "decimal_str", "datetime_iso", "money", "date_iso", "unknown"]
form_data = (
    st.text(max_size=40)
    | st.uuids().map(lambda u: u.hex)
    | st.uuids().map(str)
    | st.datetimes(timezones=st.none() | fixed_offsets).map(lambda d: d.isoformat())
    | st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9:]{2,8}(\.[0-9]{1,9})?[zZ]?\Z")
    | st.decimals().map(str)
    | st.integers()
    | st.floats()
    | st.builds(dict, amount=st.decimals(allow_nan=False).map(str), currency=st.text(max_size=3))
)
forms = st.builds(
    lambda name, data: {"_type_": name, "_data_": data}, st.sampled_from(FORM_NAMES), form_data
)
documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | forms,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "_type_", "_data_"]) | keys, children, max_size=3)
    ),
    max_leaves=12,
)


def decoded_or_error(decode: Any, data: bytes) -> Any:
    try:
        return decode(data)
    except Exception as e:
        return type(e)


def same(a: Any, b: Any) -> bool:
    """Of the same types and the same values (NaN where the other has NaN)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return same_types(a, b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and repr(a) == repr(b)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(keys | st.sampled_from(["_type_", "_data_"]), documents, max_size=4))
def test_any_stored_document_is_read_as_the_standard_transcoder_reads_it(state: Any) -> None:
    # Documents with forms of every registered name and of none, with valid
    # and invalid data: what each reads (or the error it raises) is the same.
    standard, fast = both()
    for data in (json.dumps(state).encode(), fast._msgspec_encode(state)):
        expected = decoded_or_error(standard.decode, data)
        assert same(decoded_or_error(fast.decode, data), expected)
        many = decoded_or_error(fast.decode_many, [data, data])
        assert same(many, expected if isinstance(expected, type) else [expected, expected])
        if type(many) is DictFreeStates:  # what it says of a page must be true
            assert all(type(s) is dict and dict not in map(type, s.values()) for s in many)


@pytest.mark.parametrize(
    "data",
    [
        "2026-01-02t03:04:05",  # fromisoformat refuses a lowercase t; RFC 3339 allows it
        "2026-01-02T03:04:05z",
        "2026-01-02T03:04:05.1234567",  # fromisoformat truncates; msgspec would round
        "2026-01-02T03:04:05.9999995+00:00",
        "2026-01-02T03:04:05+05:30:15",  # offsets in seconds: fromisoformat only
        "2026-01-02",
    ],
)
def test_datetime_strings_are_read_by_fromisoformat_itself(data: str) -> None:
    standard, fast = both()
    document = json.dumps({"t": {"_type_": "datetime_iso", "_data_": data}}).encode()
    assert same(
        decoded_or_error(fast.decode, document), decoded_or_error(standard.decode, document)
    )


@given(st.from_regex(r"\A[{]?(urn:uuid:)?[0-9a-fA-F-]{30,38}[}]?\Z"))
def test_uuid_strings_are_read_as_uuid_reads_them_or_left_to_it(data: str) -> None:
    # msgspec reads UUIDs in C from fewer strings than UUID() accepts: the
    # typed decoder (a page of flat states) and the walk (a nested value).
    standard, fast = both()
    form = {"_type_": "uuid_hex", "_data_": data}
    for state in ({"u": form}, {"n": {"u": form}}, {"l": [form]}):
        document = json.dumps(state).encode()
        expected = decoded_or_error(standard.decode, document)
        assert same(decoded_or_error(fast.decode, document), expected)
        page = decoded_or_error(fast.decode_many, [document])
        assert same(page, expected if isinstance(expected, type) else [expected])


def test_a_page_mixing_flat_and_nested_states_is_read_as_each_alone() -> None:
    standard, fast = both()
    states = [
        {"at": datetime(2026, 1, 2, tzinfo=timezone.utc), "n": 1, "ids": [UUID(int=1)]},
        {"nested": {"plain": True, "when": datetime(2026, 1, 3)}},
        {"price": Money(Decimal("1.50"), "EUR"), "ref": UUID(int=2)},
        {"_type_": "decimal_str", "_data_": "2.5"},  # a document that is one transcoded value
    ]
    page = [standard.encode(s) for s in states]
    expected = [standard.decode(d) for d in page]
    for read in (fast.decode_many(page), [fast.decode(d) for d in page]):
        assert same(read, expected)
    assert expected[3] == Decimal("2.5")
    with pytest.raises(TypeError, match="'unknown' is not deserializable"):
        fast.decode_many([page[0], b'{"x": {"_type_": "unknown", "_data_": 1}}', page[2]])


class PairAsDict(Transcoding):
    """A transcoding whose values are dicts once decoded."""

    type = tuple
    name = "pair"

    def encode(self, obj: tuple[Any, Any]) -> list[Any]:
        return list(obj)

    def decode(self, data: list[Any]) -> dict[str, Any]:
        return {"first": data[0], "second": data[1]}


def test_decode_many_says_no_value_is_a_dict_only_when_none_is() -> None:
    # The mapper then skips looking for damaged transcoded values (dicts).
    _, fast = both()
    fast.register(PairAsDict)
    flat = b'{"at": {"_type_": "datetime_iso", "_data_": "2026-01-02T03:04:05"}, "n": [1, {}]}'
    assert type(fast.decode_many([flat, flat])) is DictFreeStates
    for other in (
        b'{"nested": {"plain": true}}',  # a dict value: read by the walk
        b'{"at": {"_type_": "datetime_iso", "_dbta_": "x"}}',  # a damaged transcoded value
        b'{"p": {"_type_": "pair", "_data_": [1, 2]}}',  # a transcoding made a dict
        b'{"_type_": "decimal_str", "_data_": "2.5"}',  # the whole state is one value
    ):
        page = fast.decode_many([flat, other])
        assert type(page) is list, other
    assert fast.decode_many([b'{"p": {"_type_": "pair", "_data_": [1, 2]}}']) == [
        {"p": {"first": 1, "second": 2}}
    ]


def test_a_damaged_transcoded_value_is_named_by_a_mapper_reading_with_msgspec() -> None:
    from eventsourcing.persistence import DataError, Mapper, StoredEvent

    _, fast = both()
    good = b'{"at": {"_type_": "datetime_iso", "_data_": "2026-01-02T03:04:05"}}'
    damaged = b'{"at": {"_type_": "datetime_iso", "_dbta_": "2026-01-02T03:04:05"}}'
    page = [
        StoredEvent(UUID(int=1), v, f"{__name__}:Stamped", s) for v, s in ((1, good), (2, damaged))
    ]
    with pytest.raises(DataError, match=r"version 2 .* field 'at' holds a damaged"):
        Mapper[Any](transcoder=fast).to_domain_events(page)


@dataclass(frozen=True)
class Stamped:
    originator_id: UUID
    originator_version: int
    at: datetime


def test_a_transcoding_registered_later_is_read_by_the_typed_path() -> None:
    fast = MsgspecTranscoder()
    document = b'{"d": {"_type_": "date_iso", "_data_": "2026-01-02"}}'
    with pytest.raises(TypeError, match="not deserializable"):
        fast.decode(document)
    fast.register(DateAsISO)
    assert fast.decode_many([document]) == [{"d": date(2026, 1, 2)}]
    # Overriding a built-in transcoding: its own decode, not msgspec's reader.

    class UUIDReversed(UUIDAsHex):
        def decode(self, data: str) -> UUID:
            return UUID(data[::-1])

    fast.register(UUIDReversed)
    hex_digits = "0123456789abcdef" * 2
    document = json.dumps({"u": {"_type_": "uuid_hex", "_data_": hex_digits}}).encode()
    assert fast.decode(document) == {"u": UUID(hex_digits[::-1])}


@settings(max_examples=500, deadline=None)
@given(st.datetimes(timezones=st.none() | st.just(timezone.utc) | fixed_offsets))
def test_datetimes_are_written_as_isoformat_writes_them(value: datetime) -> None:
    # msgspec writes the string (but for its "Z"), not isoformat(): the same text.
    fast = both()[1]
    written = fast.encode({"t": value})
    assert json.loads(written)["t"] == {"_type_": "datetime_iso", "_data_": value.isoformat()}
    assert isoformat_of_this_msgspec(value) == value.isoformat()


def isoformat_of_this_msgspec(value: datetime) -> str:
    from eventsourcing.msgspec.transcoder import _isoformat, _writes_isoformat

    assert _writes_isoformat()
    return _isoformat(value)


@pytest.mark.parametrize(
    "document",
    [
        b'{"x": {"_type_": "decimal_str", "_data_": "1", "_type_": "uuid_hex"}}',
        b'{"x": {"_type_": "decimal_str", "_data_": "1", "_data_": "2"}}',
        b'{"x": {"_type_": "uuid_hex", "_data_": "00000000000000000000000000000001", '
        b'"_data_": "x"}}',
        b'{"x": {"_type_": "uuid_hex", "_type_": "decimal_str", "_data_": "2"}}',
        b'{"x": {"_data_": "2", "_type_": "decimal_str"}}',
        b'{"x": 1, "x": {"_type_": "decimal_str", "_data_": "2"}}',
        b'{"x": {"_type_": "datetime_iso", "_data_": 1}}',
        b'{"x": {"_type_": "uuid_hex"}}',
        b'{"x": 18446744073709551616, "y": {"_type_": "decimal_str", "_data_": "2"}}',
    ],
)
def test_repeated_keys_and_odd_forms_are_read_as_the_standard_transcoder_reads_them(
    document: bytes,
) -> None:
    # The last of repeated keys counts, as in json.loads; the typed reader
    # must not take the first "_type_" as the struct's tag and keep it.
    standard, fast = both()
    expected = decoded_or_error(standard.decode, document)
    assert same(decoded_or_error(fast.decode, document), expected)
    assert same(
        decoded_or_error(fast.decode_many, [document]),
        expected if isinstance(expected, type) else [expected],
    )
