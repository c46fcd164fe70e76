"""The SQLite persistence module's infrastructure factory (``sqlite``)."""

from __future__ import annotations

import os
from typing import Mapping, Optional, Type, TypeVar, cast

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
    ProgrammingError,
    TrackingRecorder,
)
from eventsourcing.sharing import Shared
from eventsourcing.sqlite.datastore import (
    DEFAULT_LOCK_TIMEOUT,
    SQLiteDatastore,
    is_memory_database,
)
from eventsourcing.sqlite.identifiers import validate_table_name
from eventsourcing.sqlite.recorders import (
    SQLiteAggregateRecorder,
    SQLiteApplicationRecorder,
    SQLiteProcessRecorder,
)
from eventsourcing.sqlite.tracking import SQLiteTrackingRecorder
from eventsourcing.utils import ConfigurationError

__all__ = ["Factory"]

TTrackingRecorder = TypeVar("TTrackingRecorder", bound=TrackingRecorder)
TApp = TypeVar("TApp", bound=SQLiteApplicationRecorder)


class Factory(InfrastructureFactory):
    """Constructs SQLite recorders that share one :class:`SQLiteDatastore`.

    Settings: ``SQLITE_DBNAME`` (required: a file path, ``:memory:`` or a
    ``file:`` URI), ``SQLITE_LOCK_TIMEOUT`` (seconds, default 5),
    ``SQLITE_GROUP_COMMIT`` (default true), ``CREATE_TABLE`` (default true;
    when false, a database file that does not exist is refused, not created),
    ``SQLITE_SUBSCRIPTION_POLL_INTERVAL``
    (seconds between reads of a waiting subscription, for commits by other
    processes; default 0.1). The datastore is closed by
    :meth:`close`; a file database's also when every recorder made by this
    factory is closed (it is reopened if more recorders are asked for): see
    :mod:`eventsourcing.sharing`.
    """

    SQLITE_DBNAME = "SQLITE_DBNAME"
    SQLITE_LOCK_TIMEOUT = "SQLITE_LOCK_TIMEOUT"
    SQLITE_SUBSCRIPTION_POLL_INTERVAL = "SQLITE_SUBSCRIPTION_POLL_INTERVAL"
    SQLITE_GROUP_COMMIT = "SQLITE_GROUP_COMMIT"

    def __init__(self, application_name: str, env: Mapping[str, str]) -> None:
        super().__init__(application_name, env)
        db_name = self.getenv(self.SQLITE_DBNAME)
        if db_name is None or db_name.strip() == "":
            raise ConfigurationError(
                f"{self.SQLITE_DBNAME} is required by the SQLite persistence module: set "
                "it to a database file path, ':memory:' or a 'file:' URI"
                + (
                    f" (or {_prefix(self.application_name)}_{self.SQLITE_DBNAME} for "
                    f"application {self.application_name!r})"
                    if self.application_name
                    else ""
                )
            )
        self.db_name = db_name
        self.lock_timeout = self.getenv_float(
            self.SQLITE_LOCK_TIMEOUT, default=DEFAULT_LOCK_TIMEOUT, minimum=0
        )
        self.group_commit = self.getenv_bool(self.SQLITE_GROUP_COMMIT, default=True)
        self.create_table = self.env_create_table()
        if not self.create_table:
            _refuse_missing_file(db_name)
        poll_interval = self.getenv_float(
            self.SQLITE_SUBSCRIPTION_POLL_INTERVAL,
            default=SQLiteApplicationRecorder.subscription_poll_interval,
            minimum=0.001,
        )
        assert poll_interval is not None
        self.subscription_poll_interval = poll_interval
        self._shared = Shared(
            f"SQLite factory for {self.db_name!r}",
            self._open_datastore,
            SQLiteDatastore.close,
            is_closed=lambda datastore: datastore.closed,
            keep=lambda datastore: datastore.is_memory,  # it would be lost
        )
        # Open now, so that a wrong path fails at construction, naming the path.
        self._shared.get()

    def _open_datastore(self) -> SQLiteDatastore:
        return SQLiteDatastore(
            self.db_name, lock_timeout=self.lock_timeout, group_commit=self.group_commit
        )

    @property
    def datastore(self) -> SQLiteDatastore:
        """The datastore shared by this factory's recorders (reopened if released)."""
        return self._shared.get()

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        table = validate_table_name(f"stored_{purpose}")
        return self._shared.recorder(
            lambda datastore: SQLiteAggregateRecorder(datastore, table), self.create_table
        )

    def application_recorder(self) -> ApplicationRecorder:
        return self._shared.recorder(
            lambda datastore: self._with_subscriptions(SQLiteApplicationRecorder(datastore)),
            self.create_table,
        )

    def process_recorder(self) -> ProcessRecorder:
        return self._shared.recorder(
            lambda datastore: self._with_subscriptions(SQLiteProcessRecorder(datastore)),
            self.create_table,
        )

    def tracking_recorder(
        self, tracking_recorder_class: Optional[Type[TTrackingRecorder]] = None
    ) -> TTrackingRecorder:
        """A view's tracking table is ``{name}_tracking``, ``name`` being the
        factory's application name (a projection's name) in lower case."""
        cls = cast(
            Type[SQLiteTrackingRecorder],
            self._tracking_recorder_class(tracking_recorder_class, SQLiteTrackingRecorder),
        )
        table = f"{self.application_name.lower() or 'notification'}_tracking"
        try:
            table = validate_table_name(table)
        except ProgrammingError as e:
            raise ConfigurationError(
                f"Name {self.application_name!r} cannot name a SQLite table: {e}"
            ) from None
        view = self._shared.recorder(
            lambda datastore: cls(datastore, tracking_table_name=table), self.create_table
        )
        return cast(TTrackingRecorder, view)

    def _with_subscriptions(self, recorder: TApp) -> TApp:
        recorder.subscription_poll_interval = self.subscription_poll_interval
        return recorder

    def close(self) -> None:
        """Close the datastore: every recorder made here stops working (idempotent)."""
        self._shared.close()


def _refuse_missing_file(db_name: str) -> None:
    """With ``CREATE_TABLE`` false nothing would create the tables, so a database
    file that does not exist is a mistyped path: say so, and do not create it
    (opening it would leave an empty file behind). ``file:`` URIs say for
    themselves whether they may create the file (``mode=rw``)."""
    if is_memory_database(db_name) or db_name.startswith("file:"):
        return
    if not os.path.exists(db_name):
        raise ProgrammingError(
            f"SQLite database file {db_name!r} does not exist (with CREATE_TABLE "
            "false it is not created): check SQLITE_DBNAME"
        )


def _prefix(application_name: str) -> str:
    """The shell-safe prefix of an application's settings (``WORLDS`` for ``Worlds``)."""
    return "".join(c if c.isalnum() or c == "_" else "_" for c in application_name.upper())
