"""The infrastructure factory: backend selection, environment reading, and
construction of mappers, compressors, ciphers and event stores."""

from __future__ import annotations

import bz2
from datetime import datetime
from typing import Any, Iterator, Mapping
from uuid import uuid4

import pytest

from eventsourcing.compressor import ModuleCompressor, ZlibCompressor
from eventsourcing.domain import DomainEvent
from eventsourcing.hookspecs import hookimpl
from eventsourcing.persistence import (
    Cipher,
    DataError,
    DatetimeAsISO,
    EventStore,
    InfrastructureFactory,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    UUIDAsHex,
)
from eventsourcing.plugins import get_plugin_manager
from eventsourcing.popo import (
    Factory,
    POPOAggregateRecorder,
    POPOApplicationRecorder,
    POPOProcessRecorder,
)
from eventsourcing.utils import ConfigurationError, TopicError, register_topic

# --- Selecting the backend ---------------------------------------------------------------


def test_construct_selects_popo_by_default() -> None:
    factory = InfrastructureFactory.construct()
    assert type(factory) is Factory
    assert factory.application_name == ""


@pytest.mark.parametrize("variable", ["PERSISTENCE_MODULE", "INFRASTRUCTURE_FACTORY"])
@pytest.mark.parametrize("value", ["popo", "eventsourcing.popo:Factory", "eventsourcing.popo"])
def test_construct_selects_popo_by_name_topic_or_module(variable: str, value: str) -> None:
    env = {variable: value}
    factory = InfrastructureFactory.construct("Bank", env=env)
    assert type(factory) is Factory
    assert factory.application_name == "Bank"
    assert factory.env is env


def test_construct_reads_os_environ_when_no_env_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSISTENCE_MODULE", "no-such-backend")
    with pytest.raises(ConfigurationError, match="PERSISTENCE_MODULE='no-such-backend'"):
        InfrastructureFactory.construct()
    monkeypatch.setenv("BANK_PERSISTENCE_MODULE", "popo")
    assert type(InfrastructureFactory.construct("Bank")) is Factory


def test_prefixed_keys_win_over_unprefixed_ones_of_either_name() -> None:
    bad = "no-such-backend"
    for env in (
        {"BANK_PERSISTENCE_MODULE": "popo", "PERSISTENCE_MODULE": bad},
        {"BANK_INFRASTRUCTURE_FACTORY": "popo", "PERSISTENCE_MODULE": bad},
        {"BANK_PERSISTENCE_MODULE": "popo", "BANK_INFRASTRUCTURE_FACTORY": bad},
    ):
        assert type(InfrastructureFactory.construct("Bank", env=env)) is Factory, env
    # At the same level, the newer name wins over the older one.
    env = {"PERSISTENCE_MODULE": "popo", "INFRASTRUCTURE_FACTORY": bad}
    assert type(InfrastructureFactory.construct("Bank", env=env)) is Factory


def test_empty_values_count_as_unset() -> None:
    env = {"BANK_PERSISTENCE_MODULE": "", "PERSISTENCE_MODULE": " ", "INFRASTRUCTURE_FACTORY": ""}
    assert type(InfrastructureFactory.construct("Bank", env=env)) is Factory
    env = {"BANK_PERSISTENCE_MODULE": "", "PERSISTENCE_MODULE": "nope"}
    with pytest.raises(ConfigurationError, match=r"^PERSISTENCE_MODULE='nope'"):
        InfrastructureFactory.construct("Bank", env=env)


def test_unknown_backend_error_names_the_variable_that_was_set() -> None:
    with pytest.raises(ConfigurationError, match=r"^BANK_INFRASTRUCTURE_FACTORY='nope' is not an"):
        InfrastructureFactory.construct("Bank", env={"BANK_INFRASTRUCTURE_FACTORY": "nope"})


# --- Reading the environment -------------------------------------------------------------


def test_getenv_prefers_the_application_prefixed_key() -> None:
    factory = Factory("Bank", env={"BANK_X": "prefixed", "X": "plain", "Y": "plain"})
    assert factory.getenv("X") == "prefixed"
    assert factory.getenv("Y") == "plain"
    assert factory.getenv("Z") is None
    assert factory.getenv("Z", "default") == "default"
    # Another application's name can be given.
    assert factory.getenv("X", application_name="Other") == "plain"
    assert Factory("", env={"X": "plain"}).getenv("X") == "plain"


def test_getenv_prefix_is_the_upper_case_application_name() -> None:
    factory = Factory("BankAccounts", env={"BANKACCOUNTS_X": "1"})
    assert factory.getenv("X") == "1"
    # Names a shell variable cannot hold: the 9.1 form first, then a shell-safe one.
    dotted = Factory("my.app", env={"MY.APP_X": "9.1 form", "MY_APP_X": "safe"})
    assert dotted.getenv("X") == "9.1 form"
    assert Factory("my.app", env={"MY_APP_X": "safe", "X": "plain"}).getenv("X") == "safe"


def test_getenv_returns_empty_values_as_they_are() -> None:
    factory = Factory("Bank", env={"BANK_X": "", "X": "plain"})
    assert factory.getenv("X") == ""


@pytest.mark.parametrize("value", ["y", "yes", "t", "true", "on", "1", "TRUE", " Yes "])
def test_getenv_bool_true(value: str) -> None:
    assert Factory("", env={"FLAG": value}).getenv_bool("FLAG") is True


@pytest.mark.parametrize("value", ["n", "no", "f", "false", "off", "0", "False"])
def test_getenv_bool_false(value: str) -> None:
    assert Factory("", env={"FLAG": value}).getenv_bool("FLAG", default=True) is False


def test_getenv_bool_default_when_unset_or_empty() -> None:
    assert Factory("", env={}).getenv_bool("FLAG") is False
    assert Factory("", env={"FLAG": ""}).getenv_bool("FLAG", default=True) is True


def test_getenv_numbers() -> None:
    factory = Factory("Bank", env={"BANK_N": "5", "F": "2.5", "E": ""})
    assert factory.getenv_int("N") == 5
    assert factory.getenv_int("E", default=3) == 3
    assert factory.getenv_int("MISSING") is None
    assert factory.getenv_float("F") == 2.5
    assert factory.getenv_float("E", default=1.5) == 1.5


def test_invalid_settings_name_the_variable_the_value_and_what_is_accepted() -> None:
    factory = Factory("Bank", env={"BANK_FLAG": "maybe", "N": "five", "M": "-1", "F": "x"})
    with pytest.raises(ConfigurationError) as exc_info:
        factory.getenv_bool("FLAG")
    assert str(exc_info.value) == (
        "BANK_FLAG='maybe' is not a valid boolean: expected one of "
        "'y', 'yes', 't', 'true', 'on', '1', 'n', 'no', 'f', 'false', 'off', '0'"
    )
    with pytest.raises(ConfigurationError, match=r"^N='five' is not valid: expected an integer$"):
        factory.getenv_int("N")
    with pytest.raises(ConfigurationError, match=r"^M='-1' is not valid: expected an integer >= 0"):
        factory.getenv_int("M", minimum=0)
    with pytest.raises(ConfigurationError, match=r"^F='x' is not valid: expected a number$"):
        factory.getenv_float("F")
    with pytest.raises(ConfigurationError, match=r"^M='-1' is not valid: expected a number >= 0"):
        factory.getenv_float("M", minimum=0)
    # ConfigurationError is a ValueError, as 9.1's environment errors were.
    assert issubclass(ConfigurationError, ValueError)


def test_snapshotting_is_disabled_unless_enabled() -> None:
    assert Factory("Bank", env={}).is_snapshotting_enabled() is False
    assert Factory("Bank", env={"IS_SNAPSHOTTING_ENABLED": "y"}).is_snapshotting_enabled()
    env = {"BANK_IS_SNAPSHOTTING_ENABLED": "no", "IS_SNAPSHOTTING_ENABLED": "yes"}
    assert Factory("Bank", env=env).is_snapshotting_enabled() is False


def test_invalid_is_snapshotting_enabled_names_the_variable() -> None:
    factory = Factory("Bank", env={"BANK_IS_SNAPSHOTTING_ENABLED": "sometimes"})
    with pytest.raises(ConfigurationError, match=r"^BANK_IS_SNAPSHOTTING_ENABLED='sometimes' is"):
        factory.is_snapshotting_enabled()


def test_constant_names_of_settings() -> None:
    f = InfrastructureFactory
    assert (f.PERSISTENCE_MODULE, f.INFRASTRUCTURE_FACTORY) == (
        "PERSISTENCE_MODULE",
        "INFRASTRUCTURE_FACTORY",
    )
    assert (f.CIPHER_TOPIC, f.CIPHER_KEY, f.COMPRESSOR_TOPIC, f.MAPPER_TOPIC) == (
        "CIPHER_TOPIC",
        "CIPHER_KEY",
        "COMPRESSOR_TOPIC",
        "MAPPER_TOPIC",
    )
    assert (f.IS_SNAPSHOTTING_ENABLED, f.CREATE_TABLE) == (
        "IS_SNAPSHOTTING_ENABLED",
        "CREATE_TABLE",
    )


# --- Compressor, cipher, mapper -----------------------------------------------------------


def test_no_compressor_and_no_cipher_by_default() -> None:
    factory = Factory("Bank", env={})
    assert factory.compressor() is None
    assert factory.cipher() is None
    mapper = factory.mapper(JSONTranscoder())
    assert isinstance(mapper, Mapper)
    assert mapper.compressor is None and mapper.cipher is None


@pytest.mark.parametrize(
    "value", ["zlib", "eventsourcing.compressor:ZlibCompressor", "eventsourcing.compressor"]
)
def test_compressor_by_name_topic_or_module(value: str) -> None:
    factory = Factory("Bank", env={"BANK_COMPRESSOR_TOPIC": value})
    assert isinstance(factory.compressor(), ZlibCompressor)
    assert isinstance(factory.mapper(JSONTranscoder()).compressor, ZlibCompressor)
    # Another application's mapper reads its own setting.
    assert factory.mapper(JSONTranscoder(), application_name="Other").compressor is None


def test_a_9_1_module_compressor_still_works() -> None:
    compressor = Factory("", env={"COMPRESSOR_TOPIC": "bz2"}).compressor()
    assert isinstance(compressor, ModuleCompressor)
    assert compressor.compress(b"abc" * 10) == bz2.compress(b"abc" * 10)
    assert compressor.decompress(bz2.compress(b"abc")) == b"abc"
    with pytest.raises(DataError, match="could not be decompressed with bz2"):
        compressor.decompress(b"not bz2")


@pytest.mark.parametrize(
    "value, exc, message",
    [
        ("lz4", ConfigurationError, r"^BANK_COMPRESSOR_TOPIC='lz4' is not an installed compressor"),
        ("json", ConfigurationError, r"^BANK_COMPRESSOR_TOPIC='json' is not an installed"),
        ("eventsourcing.compressor:Zlib", TopicError, r"^BANK_COMPRESSOR_TOPIC='eventsourcing"),
        (
            "eventsourcing.persistence:Mapper",
            ConfigurationError,
            r"^BANK_COMPRESSOR_TOPIC=.* is not a Compressor subclass",
        ),
    ],
)
def test_invalid_compressor_topic_names_the_variable(
    value: str, exc: type[Exception], message: str
) -> None:
    factory = Factory("Bank", env={"BANK_COMPRESSOR_TOPIC": value})
    with pytest.raises(exc, match=message):
        factory.compressor()
    with pytest.raises(exc, match=message):
        factory.mapper(JSONTranscoder())


class PrefixCipher(Cipher):
    """A toy cipher, registered by a test plugin, to exercise cipher selection."""

    def __init__(self, cipher_key: str) -> None:
        if not cipher_key.startswith("key-"):
            raise ValueError("a key starts with 'key-'")
        self.key = cipher_key.encode()

    def encrypt(self, plaintext: bytes) -> bytes:
        return self.key + plaintext

    def decrypt(self, ciphertext: bytes) -> bytes:
        return ciphertext[len(self.key) :]


class PrefixCipherPlugin:
    @hookimpl
    def eventsourcing_ciphers(self) -> Mapping[str, Any]:
        return {"prefix": PrefixCipher}


@pytest.fixture
def prefix_cipher() -> Iterator[None]:
    plugin = PrefixCipherPlugin()
    get_plugin_manager().register(plugin, name="test-prefix-cipher")
    try:
        yield
    finally:
        get_plugin_manager().unregister(plugin)


def test_cipher_by_name_with_key(prefix_cipher: None) -> None:
    factory = Factory("Bank", env={"CIPHER_TOPIC": "prefix", "BANK_CIPHER_KEY": "key-1"})
    cipher = factory.cipher()
    assert isinstance(cipher, PrefixCipher) and cipher.key == b"key-1"
    mapper = factory.mapper(JSONTranscoder())
    assert isinstance(mapper.cipher, PrefixCipher)


def test_cipher_by_topic(prefix_cipher: None) -> None:
    register_topic("test_factory_ciphers:PrefixCipher", PrefixCipher)
    env = {"CIPHER_TOPIC": "test_factory_ciphers:PrefixCipher", "CIPHER_KEY": "key-2"}
    assert isinstance(Factory("", env=env).cipher(), PrefixCipher)


def test_cipher_without_key_is_an_error(prefix_cipher: None) -> None:
    with pytest.raises(ConfigurationError, match=r"^BANK_CIPHER_TOPIC='prefix' selects a cipher"):
        Factory("Bank", env={"BANK_CIPHER_TOPIC": "prefix"}).cipher()


def test_invalid_cipher_key_names_the_variable(prefix_cipher: None) -> None:
    env = {"CIPHER_TOPIC": "prefix", "BANK_CIPHER_KEY": "wrong"}
    with pytest.raises(ConfigurationError, match=r"^BANK_CIPHER_KEY is not a valid key"):
        Factory("Bank", env=env).cipher()


def test_unknown_cipher_names_the_variable() -> None:
    env = {"BANK_CIPHER_TOPIC": "rot13", "CIPHER_KEY": "k"}
    with pytest.raises(ConfigurationError, match=r"^BANK_CIPHER_TOPIC='rot13' is not an installed"):
        Factory("Bank", env=env).cipher()


class CountingMapper(Mapper[Any]):
    pass


def test_mapper_topic_selects_the_mapper_class() -> None:
    register_topic("test_factory_mappers:CountingMapper", CountingMapper)
    env = {"BANK_MAPPER_TOPIC": "test_factory_mappers:CountingMapper", "COMPRESSOR_TOPIC": "zlib"}
    mapper = Factory("Bank", env=env).mapper(JSONTranscoder())
    assert type(mapper) is CountingMapper
    assert isinstance(mapper.compressor, ZlibCompressor)


def test_invalid_mapper_topic_names_the_variable() -> None:
    with pytest.raises(TopicError, match=r"^BANK_MAPPER_TOPIC='nowhere:Mapper' cannot be used"):
        Factory("Bank", env={"BANK_MAPPER_TOPIC": "nowhere:Mapper"}).mapper(JSONTranscoder())
    env = {"MAPPER_TOPIC": "eventsourcing.compressor:ZlibCompressor"}
    with pytest.raises(ConfigurationError, match=r"^MAPPER_TOPIC=.* is not a Mapper subclass"):
        Factory("Bank", env=env).mapper(JSONTranscoder())


# --- Recorders and event stores -----------------------------------------------------------


def test_popo_factory_constructs_new_recorders_of_each_kind() -> None:
    factory = InfrastructureFactory.construct(env={"PERSISTENCE_MODULE": "popo"})
    events = factory.aggregate_recorder()
    snapshots = factory.aggregate_recorder("snapshots")
    assert type(events) is POPOAggregateRecorder and type(snapshots) is POPOAggregateRecorder
    assert events is not snapshots
    assert type(factory.application_recorder()) is POPOApplicationRecorder
    assert type(factory.process_recorder()) is POPOProcessRecorder
    # Recorders are independent: what one records the other does not see.
    id1 = uuid4()
    events.insert_events([StoredEvent(id1, 1, "a:B", b"{}")])
    assert snapshots.select_events(id1) == []


def test_event_store_from_factory_with_compression() -> None:
    factory = InfrastructureFactory.construct("Bank", env={"COMPRESSOR_TOPIC": "zlib"})
    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(DatetimeAsISO())
    recorder = factory.application_recorder()
    store = factory.event_store(mapper=factory.mapper(transcoder), recorder=recorder)
    assert isinstance(store, EventStore)

    event = DomainEvent(originator_id=uuid4(), originator_version=1, timestamp=datetime(2021, 1, 1))
    (recording,) = store.put([event])
    assert recording.notification is not None and recording.notification.id == 1
    assert list(store.get(event.originator_id)) == [event]
    stored = recorder.select_events(event.originator_id)[0]
    assert b"2021-01-01" not in stored.state  # compressed at rest


def test_factory_close_and_context_manager() -> None:
    with InfrastructureFactory.construct() as factory:
        assert isinstance(factory, Factory)
    factory.close()  # idempotent


def test_cipher_errors_for_another_application_name_its_variables(prefix_cipher: None) -> None:
    factory = Factory("Bank", env={"OTHER_CIPHER_TOPIC": "prefix", "OTHER_CIPHER_KEY": "bad"})
    assert factory.cipher() is None
    with pytest.raises(ConfigurationError, match=r"^OTHER_CIPHER_KEY is not a valid key"):
        factory.mapper(JSONTranscoder(), application_name="Other")


def test_91_names_of_the_infrastructure_factory() -> None:
    from eventsourcing.persistence import TF

    assert InfrastructureFactory.TOPIC == "INFRASTRUCTURE_FACTORY"
    assert TF.__bound__ is not None
    factory = InfrastructureFactory.construct(env={InfrastructureFactory.TOPIC: "popo"})
    assert factory.env_create_table() is True
    factory = InfrastructureFactory.construct(env={"CREATE_TABLE": "n"})
    assert factory.env_create_table() is False
    with pytest.raises(ConfigurationError, match="CREATE_TABLE='maybe'"):
        InfrastructureFactory.construct(env={"CREATE_TABLE": "maybe"}).env_create_table()
