"""Every public name of eventsourcing 9.1.9's modules is importable here.

README.md and docs/migration.md promise that programs written for 9.1 keep
their imports. The list below was derived once from the source of the 9.1.9
release (the names each module defines at its top level that do not start
with an underscore, and the public methods and class attributes each class
defines), and is kept here as data: 9.1.9 itself is not needed to run this.

Names deliberately not provided are in ``NOT_PROVIDED`` with the reason,
which docs/migration.md gives too.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Dict, Tuple

import pytest

# module -> public name -> public members of that class (empty for others)
NAMES_919: Dict[str, Dict[str, Tuple[str, ...]]] = {
    "eventsourcing.application": {
        "AggregateNotFound": (),
        "Application": (
            "construct_env",
            "construct_event_store",
            "construct_factory",
            "construct_mapper",
            "construct_notification_log",
            "construct_recorder",
            "construct_repository",
            "construct_snapshot_store",
            "construct_transcoder",
            "env",
            "is_snapshotting_enabled",
            "notify",
            "record",
            "register_transcodings",
            "save",
            "snapshotting_intervals",
            "take_snapshot",
        ),
        "LocalNotificationLog": (
            "DEFAULT_SECTION_SIZE",
            "format_section_id",
            "select",
        ),
        "NotificationLog": ("select",),
        "ProcessEvent": ("save",),
        "ProjectorFunctionType": (),
        "Repository": ("get",),
        "Section": (),
        "T": (),
        "TApplication": (),
        "mutate_aggregate": (),
    },
    "eventsourcing.cipher": {
        "AESCipher": (
            "KEY_SIZES",
            "check_key_size",
            "construct_cipher",
            "create_key",
            "decrypt",
            "encrypt",
            "random_bytes",
        ),
    },
    "eventsourcing.compressor": {
        "ZlibCompressor": (
            "compress",
            "decompress",
        ),
    },
    "eventsourcing.dispatch": {
        "singledispatchmethod": (),
    },
    "eventsourcing.domain": {
        "Aggregate": (
            "Created",
            "Event",
            "collect_events",
            "created_on",
            "id",
            "modified_on",
            "pending_events",
            "trigger_event",
            "version",
        ),
        "AggregateCreated": ("mutate",),
        "AggregateEvent": (
            "apply",
            "mutate",
        ),
        "AnyCallable": (),
        "BoundCommandMethodDecorator": ("trigger",),
        "CommandMethodDecorator": (),
        "DecoratedEvent": ("apply",),
        "DecoratedObjType": (),
        "DomainEvent": (
            "create_timestamp",
            "mutate",
        ),
        "EventSpecType": (),
        "InjectEventType": (),
        "MetaAggregate": (
            "Created",
            "Event",
            "INITIAL_VERSION",
            "create_id",
        ),
        "MetaDomainEvent": (),
        "OriginatorIDError": (),
        "OriginatorVersionError": (),
        "Snapshot": (
            "mutate",
            "take",
        ),
        "T": (),
        "TAggregate": (),
        "TDomainEvent": (),
        "TT": (),
        "TZINFO": (),
        "UnboundCommandMethodDecorator": (),
        "VersionError": (),
        "aggregate": (),
        "aggregate_has_many_created_event_classes": (),
        "decorated_event_classes": (),
        "decorated_methods": (),
        "event": (),
        "given_event_classes": (),
        "raise_missing_names_type_error": (),
        "triggers": (),
    },
    "eventsourcing.interface": {
        "NotificationLogInterface": (
            "get_log_section",
            "get_notifications",
        ),
        "NotificationLogJSONClient": ("select",),
        "NotificationLogJSONService": (
            "get_log_section",
            "get_notifications",
        ),
    },
    "eventsourcing.persistence": {
        "AggregateRecorder": (
            "insert_events",
            "select_events",
        ),
        "ApplicationRecorder": (
            "max_notification_id",
            "select_notifications",
        ),
        "Cipher": (
            "decrypt",
            "encrypt",
        ),
        "Compressor": (
            "compress",
            "decompress",
        ),
        "DataError": (),
        "DatabaseError": (),
        "DatetimeAsISO": (
            "decode",
            "encode",
            "name",
            "type",
        ),
        "DecimalAsStr": (
            "decode",
            "encode",
            "name",
            "type",
        ),
        "EventStore": (
            "get",
            "put",
        ),
        "InfrastructureFactory": (
            "CIPHER_KEY",
            "CIPHER_TOPIC",
            "COMPRESSOR_TOPIC",
            "IS_SNAPSHOTTING_ENABLED",
            "MAPPER_TOPIC",
            "TOPIC",
            "aggregate_recorder",
            "application_recorder",
            "cipher",
            "compressor",
            "construct",
            "event_store",
            "getenv",
            "is_snapshotting_enabled",
            "mapper",
            "process_recorder",
        ),
        "IntegrityError": (),
        "InterfaceError": (),
        "InternalError": (),
        "JSONTranscoder": (
            "decode",
            "encode",
        ),
        "Mapper": (
            "from_domain_event",
            "to_domain_event",
        ),
        "NotSupportedError": (),
        "Notification": (),
        "OperationalError": (),
        "PersistenceError": (),
        "ProcessRecorder": ("max_tracking_id",),
        "ProgrammingError": (),
        "RecordConflictError": (),
        "Recorder": (),
        "StoredEvent": (),
        "TF": (),
        "Tracking": (),
        "Transcoder": (
            "decode",
            "encode",
            "register",
        ),
        "Transcoding": (
            "decode",
            "encode",
            "name",
            "type",
        ),
        "UUIDAsHex": (
            "decode",
            "encode",
            "name",
            "type",
        ),
    },
    "eventsourcing.popo": {
        "Factory": (
            "aggregate_recorder",
            "application_recorder",
            "process_recorder",
        ),
        "POPOAggregateRecorder": (
            "assert_uniqueness",
            "insert_events",
            "select_events",
            "update_table",
        ),
        "POPOApplicationRecorder": (
            "max_notification_id",
            "select_notifications",
        ),
        "POPOProcessRecorder": (
            "assert_uniqueness",
            "max_tracking_id",
            "update_table",
        ),
    },
    "eventsourcing.postgres": {
        "Connection": (
            "close",
            "close_on_timer",
            "commit",
            "cursor",
            "is_closed",
            "rollback",
        ),
        "Factory": (
            "CREATE_TABLE",
            "POSTGRES_CONN_MAX_AGE",
            "POSTGRES_DBNAME",
            "POSTGRES_HOST",
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT",
            "POSTGRES_LOCK_TIMEOUT",
            "POSTGRES_PASSWORD",
            "POSTGRES_PORT",
            "POSTGRES_PRE_PING",
            "POSTGRES_USER",
            "aggregate_recorder",
            "application_recorder",
            "env_create_table",
            "process_recorder",
        ),
        "PostgresAggregateRecorder": (
            "construct_create_table_statements",
            "create_table",
            "insert_events",
            "select_events",
        ),
        "PostgresApplicationRecorder": (
            "construct_create_table_statements",
            "max_notification_id",
            "select_notifications",
        ),
        "PostgresDatastore": (
            "close_all_connections",
            "close_connection",
            "get_connection",
            "report_on_prepared_statements",
            "transaction",
        ),
        "PostgresProcessRecorder": (
            "construct_create_table_statements",
            "max_tracking_id",
        ),
        "Transaction": (),
    },
    "eventsourcing.sqlite": {
        "Factory": (
            "CREATE_TABLE",
            "SQLITE_DBNAME",
            "SQLITE_LOCK_TIMEOUT",
            "aggregate_recorder",
            "application_recorder",
            "env_create_table",
            "process_recorder",
        ),
        "SQLITE3_DEFAULT_LOCK_TIMEOUT": (),
        "SQLiteAggregateRecorder": (
            "construct_create_table_statements",
            "create_table",
            "insert_events",
            "select_events",
        ),
        "SQLiteApplicationRecorder": (
            "construct_create_table_statements",
            "max_notification_id",
            "select_notifications",
        ),
        "SQLiteDatastore": (
            "close_all_connections",
            "create_connection",
            "detect_memory_mode",
            "get_connection",
            "transaction",
        ),
        "SQLiteProcessRecorder": (
            "construct_create_table_statements",
            "max_tracking_id",
        ),
        "Transaction": (),
    },
    "eventsourcing.system": {
        "A": (),
        "Follower": (
            "construct_recorder",
            "follow",
            "policy",
            "pull_and_process",
        ),
        "Leader": (
            "lead",
            "notify",
            "prompt_followers",
        ),
        "MultiThreadedRunner": (
            "get",
            "has_stopped",
            "start",
            "stop",
        ),
        "MultiThreadedRunnerThread": (
            "receive_prompt",
            "run",
        ),
        "NotificationLogReader": (
            "DEFAULT_SECTION_SIZE",
            "read",
            "select",
        ),
        "ProcessApplication": (),
        "Promptable": ("receive_prompt",),
        "Runner": (
            "get",
            "start",
            "stop",
        ),
        "RunnerAlreadyStarted": (),
        "SingleThreadedRunner": (
            "get",
            "receive_prompt",
            "start",
            "stop",
        ),
        "System": (
            "follower_cls",
            "followers",
            "get_app_cls",
            "leader_cls",
            "leaders",
            "leaders_only",
            "processors",
        ),
    },
    "eventsourcing.utils": {
        "TopicError": (),
        "get_method_name": (),
        "get_topic": (),
        "is_py310": (),
        "register_topic": (),
        "resolve_topic": (),
        "retry": (),
        "strtobool": (),
    },
}

_PSYCOPG2 = (
    "9.1's private handling of psycopg2 connections and transactions; here the "
    "recorders use psycopg 3 with a psycopg_pool pool (PostgresDatastore.connection())"
)
_SQLITE3 = (
    "9.1's private handling of sqlite3 connections and transactions; here "
    "SQLiteDatastore.connection() and transaction() manage them"
)
_POPO = (
    "the two steps of 9.1's in-memory insert; here checking and writing are one "
    "step under the recorder's lock"
)

_META = (
    "9.1's metaclass held templates of what each aggregate class gets; here they "
    "are on Aggregate itself (Aggregate.Event, .Created, .INITIAL_VERSION, .create_id)"
)
_BOUND = (
    "9.1 called it when a decorated method ran; here an aggregate's decorated methods "
    "are generated functions, and a BoundCommandMethodDecorator is only called"
)

NOT_PROVIDED = {
    "eventsourcing.domain.MetaAggregate.Created": _META,
    "eventsourcing.domain.MetaAggregate.Event": _META,
    "eventsourcing.domain.MetaAggregate.INITIAL_VERSION": _META,
    "eventsourcing.domain.MetaAggregate.create_id": _META,
    "eventsourcing.domain.BoundCommandMethodDecorator.trigger": _BOUND,
    "eventsourcing.postgres.Connection": _PSYCOPG2,
    "eventsourcing.postgres.Transaction": _PSYCOPG2,
    "eventsourcing.postgres.PostgresDatastore.close_all_connections": _PSYCOPG2,
    "eventsourcing.postgres.PostgresDatastore.close_connection": _PSYCOPG2,
    "eventsourcing.postgres.PostgresDatastore.get_connection": _PSYCOPG2,
    "eventsourcing.postgres.PostgresDatastore.report_on_prepared_statements": _PSYCOPG2,
    "eventsourcing.postgres.PostgresDatastore.transaction": _PSYCOPG2,
    "eventsourcing.sqlite.Transaction": _SQLITE3,
    "eventsourcing.sqlite.SQLiteDatastore.close_all_connections": _SQLITE3,
    "eventsourcing.sqlite.SQLiteDatastore.create_connection": _SQLITE3,
    "eventsourcing.sqlite.SQLiteDatastore.detect_memory_mode": _SQLITE3,
    "eventsourcing.sqlite.SQLiteDatastore.get_connection": _SQLITE3,
    "eventsourcing.popo.POPOAggregateRecorder.assert_uniqueness": _POPO,
    "eventsourcing.popo.POPOAggregateRecorder.update_table": _POPO,
    "eventsourcing.popo.POPOProcessRecorder.assert_uniqueness": _POPO,
    "eventsourcing.popo.POPOProcessRecorder.update_table": _POPO,
}


def _has_member(cls: Any, member: str) -> bool:
    """A class attribute, or one declared for instances or subclasses to set."""
    if hasattr(cls, member):
        return True
    return any(member in getattr(k, "__annotations__", {}) for k in getattr(cls, "__mro__", ()))


@pytest.mark.parametrize("module_name", sorted(NAMES_919))
def test_every_public_name_of_the_919_module_is_importable(module_name: str) -> None:
    module = importlib.import_module(module_name)
    missing = []
    for name, members in NAMES_919[module_name].items():
        path = f"{module_name}.{name}"
        if path in NOT_PROVIDED:
            continue
        if not hasattr(module, name):
            missing.append(path)
            continue
        obj = getattr(module, name)
        missing += [
            f"{path}.{m}"
            for m in members
            if f"{path}.{m}" not in NOT_PROVIDED and not _has_member(obj, m)
        ]
    assert missing == []


def test_names_not_provided_are_absent_and_documented_with_their_reason() -> None:
    guide = (Path(__file__).resolve().parents[1] / "docs" / "migration.md").read_text("utf8")
    for path in NOT_PROVIDED:
        package, module, *attributes = path.split(".")
        obj: Any = importlib.import_module(f"{package}.{module}")
        for attribute in attributes[:-1]:
            obj = getattr(obj, attribute)
        # Provided after all? Then it belongs in NAMES_919's check, not here.
        assert not hasattr(obj, attributes[-1]), f"{path} exists: drop it from NOT_PROVIDED"
        assert f"`{attributes[-1]}`" in guide, f"{path} is not named in docs/migration.md"
