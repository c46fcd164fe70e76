"""The PostgreSQL infrastructure factory: settings from the environment."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Type, TypeVar, cast

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
    ProgrammingError,
    TrackingRecorder,
)
from eventsourcing.postgres.asyncdatastore import AsyncPostgresDatastore
from eventsourcing.postgres.asyncrecorders import (
    AsyncPostgresAggregateRecorder,
    AsyncPostgresApplicationRecorder,
    AsyncPostgresProcessRecorder,
)
from eventsourcing.postgres.datastore import PostgresDatastore
from eventsourcing.postgres.identifiers import validate_schema_name, validate_table_name
from eventsourcing.postgres.recorders import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresProcessRecorder,
)
from eventsourcing.postgres.tracking import PostgresTrackingRecorder
from eventsourcing.sharing import Shared
from eventsourcing.utils import ConfigurationError

TTrackingRecorder = TypeVar("TTrackingRecorder", bound=TrackingRecorder)
TApp = TypeVar("TApp", bound=PostgresApplicationRecorder)

__all__ = ["Factory"]


class Factory(InfrastructureFactory):
    """Constructs PostgreSQL recorders sharing one pool of connections.

    Table names follow eventsourcing 9.1: ``{name}_events``,
    ``{name}_snapshots`` and ``{name}_tracking``, where ``name`` is the
    application name in lower case (``stored`` / ``notification`` when empty).
    The pool is closed by :meth:`close`, and also when every recorder made by
    this factory is closed (it is opened again if more recorders are asked
    for): see :mod:`eventsourcing.sharing`.
    """

    POSTGRES_DBNAME = "POSTGRES_DBNAME"
    POSTGRES_HOST = "POSTGRES_HOST"
    POSTGRES_PORT = "POSTGRES_PORT"
    POSTGRES_USER = "POSTGRES_USER"
    POSTGRES_PASSWORD = "POSTGRES_PASSWORD"
    POSTGRES_CONN_MAX_AGE = "POSTGRES_CONN_MAX_AGE"
    POSTGRES_PRE_PING = "POSTGRES_PRE_PING"
    POSTGRES_LOCK_TIMEOUT = "POSTGRES_LOCK_TIMEOUT"
    POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT = "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT"
    POSTGRES_SCHEMA = "POSTGRES_SCHEMA"
    POSTGRES_POOL_SIZE = "POSTGRES_POOL_SIZE"
    POSTGRES_MAX_OVERFLOW = "POSTGRES_MAX_OVERFLOW"
    POSTGRES_CONNECT_TIMEOUT = "POSTGRES_CONNECT_TIMEOUT"
    POSTGRES_SUBSCRIPTION_POLL_INTERVAL = "POSTGRES_SUBSCRIPTION_POLL_INTERVAL"
    POSTGRES_SUBSCRIPTION_NOTIFY = "POSTGRES_SUBSCRIPTION_NOTIFY"
    POSTGRES_GROUP_COMMIT = "POSTGRES_GROUP_COMMIT"
    POSTGRES_READ_TIMEOUT = "POSTGRES_READ_TIMEOUT"

    def __init__(self, application_name: str, env: Mapping[str, str]) -> None:
        super().__init__(application_name, env)
        dbname = self._required(self.POSTGRES_DBNAME)
        host = self._required(self.POSTGRES_HOST)
        port = self._port()
        user = self._required(self.POSTGRES_USER)
        password = self._required(self.POSTGRES_PASSWORD, allow_empty=True)
        conn_max_age = self.getenv_float(self.POSTGRES_CONN_MAX_AGE, default=None, minimum=0)
        pre_ping = self.getenv_bool(self.POSTGRES_PRE_PING, default=False)
        lock_timeout = self.getenv_int(self.POSTGRES_LOCK_TIMEOUT, default=0, minimum=0)
        idle_timeout = self.getenv_int(
            self.POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT, default=0, minimum=0
        )
        schema = self._schema()
        pool_size = self.getenv_int(self.POSTGRES_POOL_SIZE, default=5, minimum=1)
        max_overflow = self.getenv_int(self.POSTGRES_MAX_OVERFLOW, default=10, minimum=0)
        connect_timeout = self.getenv_float(self.POSTGRES_CONNECT_TIMEOUT, default=30.0, minimum=1)
        group_commit = self.getenv_bool(self.POSTGRES_GROUP_COMMIT, default=True)
        read_timeout = self.getenv_float(self.POSTGRES_READ_TIMEOUT, default=30.0, minimum=0)
        assert read_timeout is not None
        self.create_table = self.env_create_table()
        # Subscriptions: NOTIFY from inserts (off for poolers in transaction
        # mode, which do not keep a LISTEN), and how often subscriptions read anyway.
        self.subscription_notify = self.getenv_bool(self.POSTGRES_SUBSCRIPTION_NOTIFY, default=True)
        poll_interval = self.getenv_float(
            self.POSTGRES_SUBSCRIPTION_POLL_INTERVAL, default=1.0, minimum=0.001
        )
        assert poll_interval is not None
        self.subscription_poll_interval = poll_interval
        assert lock_timeout is not None and idle_timeout is not None
        assert pool_size is not None and max_overflow is not None
        assert connect_timeout is not None
        self._datastore_kwargs: Dict[str, Any] = dict(
            dbname=dbname,
            host=host,
            port=port,
            user=user,
            password=password,
            conn_max_age=conn_max_age,
            pre_ping=pre_ping,
            lock_timeout=lock_timeout,
            idle_in_transaction_session_timeout=idle_timeout,
            schema=schema,
            pool_size=pool_size,
            max_overflow=max_overflow,
            connect_timeout=connect_timeout,
            group_commit=group_commit,
            read_timeout=read_timeout,
        )
        self._shared = Shared(
            "PostgreSQL factory",
            lambda: PostgresDatastore(**self._datastore_kwargs),
            PostgresDatastore.close,
            is_closed=lambda datastore: datastore.closed,
        )
        self._shared.get()  # checks the settings now; connects on first use
        # The async recorders' pool (made when the first is asked for).
        self._async: Optional[AsyncPostgresDatastore] = None

    @property
    def datastore(self) -> PostgresDatastore:
        """The pool shared by this factory's recorders (opened again if released)."""
        return self._shared.get()

    def _required(self, key: str, allow_empty: bool = False) -> str:
        value = self.getenv(key)
        if value is None or (not allow_empty and not value.strip()):
            state = "not set" if value is None else "empty"
            raise ConfigurationError(
                f"PostgreSQL environment variable {key} is {state}: it is required "
                f"by the persistence module 'postgres'"
            )
        return value

    def _port(self) -> int:
        value = self._required(self.POSTGRES_PORT)
        try:
            port = int(value)
        except ValueError:
            port = 0
        if not 0 < port < 65536:
            raise ConfigurationError(
                f"{self._variable(self.POSTGRES_PORT)}={value!r} is not valid: "
                "expected a port number from 1 to 65535"
            )
        return port

    def _schema(self) -> str:
        value = self.getenv(self.POSTGRES_SCHEMA)
        if value is None or not value.strip():
            return "public"
        try:
            return validate_schema_name(value.strip())
        except ProgrammingError as e:
            raise ConfigurationError(
                f"{self._variable(self.POSTGRES_SCHEMA)}={value!r} is not valid: {e}"
            ) from None

    def _table_name(self, default_prefix: str, purpose: str) -> str:
        # A wrong purpose is a programming error, as for SQLite's factory.
        validate_table_name(f"{default_prefix}_{purpose}")
        prefix = self.application_name.lower() or default_prefix
        try:
            return validate_table_name(f"{prefix}_{purpose}")
        except ProgrammingError as e:
            raise ConfigurationError(
                f"Application name {self.application_name!r} cannot name a PostgreSQL table: {e}"
            ) from None

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        table = self._table_name("stored", purpose)
        return self._shared.recorder(
            lambda datastore: PostgresAggregateRecorder(datastore, table), self.create_table
        )

    def application_recorder(self) -> ApplicationRecorder:
        table = self._table_name("stored", "events")
        return self._shared.recorder(
            lambda datastore: self._with_subscriptions(
                PostgresApplicationRecorder(datastore, table)
            ),
            self.create_table,
        )

    def process_recorder(self) -> ProcessRecorder:
        events = self._table_name("stored", "events")
        tracking = self._table_name("notification", "tracking")
        return self._shared.recorder(
            lambda datastore: self._with_subscriptions(
                PostgresProcessRecorder(datastore, events, tracking)
            ),
            self.create_table,
        )

    # Native async recorders (eventsourcing.asyncio): each on the sync recorder
    # of its table (the SQL, the checks), sharing one async pool per factory.

    def async_aggregate_recorder(self, purpose: str = "events") -> AsyncPostgresAggregateRecorder:
        recorder = cast(PostgresAggregateRecorder, self.aggregate_recorder(purpose))
        return AsyncPostgresAggregateRecorder(recorder, self._async_datastore())

    def async_application_recorder(self) -> AsyncPostgresApplicationRecorder:
        recorder = cast(PostgresApplicationRecorder, self.application_recorder())
        return AsyncPostgresApplicationRecorder(recorder, self._async_datastore())

    def async_process_recorder(self) -> AsyncPostgresProcessRecorder:
        recorder = cast(PostgresProcessRecorder, self.process_recorder())
        return AsyncPostgresProcessRecorder(recorder, self._async_datastore())

    def _async_datastore(self) -> AsyncPostgresDatastore:
        if self._async is None or self._async.closed:
            self._async = AsyncPostgresDatastore(self.datastore)
        return self._async

    def tracking_recorder(
        self, tracking_recorder_class: Optional[Type[TTrackingRecorder]] = None
    ) -> TTrackingRecorder:
        """A view's tracking table is ``{name}_tracking``, ``name`` being the
        factory's application name (a projection's name) in lower case."""
        cls = cast(
            Type[PostgresTrackingRecorder],
            self._tracking_recorder_class(tracking_recorder_class, PostgresTrackingRecorder),
        )
        view = cls(self.datastore, self._table_name("notification", "tracking"))
        if self.create_table:
            view.create_table()
        return cast(TTrackingRecorder, view)

    def _with_subscriptions(self, recorder: TApp) -> TApp:
        recorder.subscription_notify = self.subscription_notify
        recorder.subscription_poll_interval = self.subscription_poll_interval
        return recorder

    def close(self) -> None:
        """Close the pool: every recorder made here stops working (idempotent)."""
        self._shared.close()
