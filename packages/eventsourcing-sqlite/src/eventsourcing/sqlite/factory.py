"""The SQLite persistence module's infrastructure factory (``sqlite``)."""

from __future__ import annotations

import threading
from typing import Callable, List, Mapping, Optional, Type, TypeVar, Union, cast

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    InterfaceError,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.sqlite.datastore import DEFAULT_LOCK_TIMEOUT, SQLiteDatastore
from eventsourcing.sqlite.identifiers import validate_table_name
from eventsourcing.sqlite.recorders import (
    SQLiteAggregateRecorder,
    SQLiteApplicationRecorder,
    SQLiteProcessRecorder,
)
from eventsourcing.sqlite.tracking import SQLiteTrackingRecorder
from eventsourcing.utils import ConfigurationError

__all__ = ["Factory"]

TRecorder = TypeVar("TRecorder", bound=Union[SQLiteAggregateRecorder, SQLiteTrackingRecorder])
TTrackingRecorder = TypeVar("TTrackingRecorder", bound=TrackingRecorder)
AnyRecorder = Union[SQLiteAggregateRecorder, SQLiteTrackingRecorder]


class Factory(InfrastructureFactory):
    """Constructs SQLite recorders that share one :class:`SQLiteDatastore`.

    Settings: ``SQLITE_DBNAME`` (required: a file path, ``:memory:`` or a
    ``file:`` URI), ``SQLITE_LOCK_TIMEOUT`` (seconds, default 5),
    ``SQLITE_GROUP_COMMIT`` (default true), ``CREATE_TABLE`` (default true),
    ``SQLITE_SUBSCRIPTION_POLL_INTERVAL``
    (seconds between reads of a waiting subscription, for commits by other
    processes; default 0.1). The datastore is closed by
    :meth:`close`; a file database's also when every recorder made by this
    factory is closed (it is reopened if more recorders are asked for).
    """

    SQLITE_DBNAME = "SQLITE_DBNAME"
    SQLITE_LOCK_TIMEOUT = "SQLITE_LOCK_TIMEOUT"
    SQLITE_SUBSCRIPTION_POLL_INTERVAL = "SQLITE_SUBSCRIPTION_POLL_INTERVAL"
    SQLITE_GROUP_COMMIT = "SQLITE_GROUP_COMMIT"
    CREATE_TABLE = "CREATE_TABLE"

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
        poll_interval = self.getenv_float(
            self.SQLITE_SUBSCRIPTION_POLL_INTERVAL,
            default=SQLiteApplicationRecorder.subscription_poll_interval,
            minimum=0.001,
        )
        assert poll_interval is not None
        self.subscription_poll_interval = poll_interval
        self._lock = threading.Lock()
        self._closed = False
        self._open_recorders: List[AnyRecorder] = []
        self._datastore: Optional[SQLiteDatastore] = None
        # Open now, so that a wrong path fails at construction, naming the path.
        self._datastore = SQLiteDatastore(
            self.db_name, lock_timeout=self.lock_timeout, group_commit=self.group_commit
        )

    @property
    def datastore(self) -> SQLiteDatastore:
        """The datastore shared by this factory's recorders (reopened if released)."""
        with self._lock:
            return self._open_datastore()

    def _open_datastore(self) -> SQLiteDatastore:
        if self._closed:
            raise InterfaceError(f"SQLite factory for {self.db_name!r} is closed")
        if self._datastore is None or self._datastore.closed:
            self._datastore = SQLiteDatastore(
                self.db_name, lock_timeout=self.lock_timeout, group_commit=self.group_commit
            )
        return self._datastore

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        table = validate_table_name(f"stored_{purpose}")
        return self._track(lambda datastore: SQLiteAggregateRecorder(datastore, table))

    def application_recorder(self) -> ApplicationRecorder:
        recorder = self._track(SQLiteApplicationRecorder)
        recorder.subscription_poll_interval = self.subscription_poll_interval
        return recorder

    def process_recorder(self) -> ProcessRecorder:
        recorder = self._track(SQLiteProcessRecorder)
        recorder.subscription_poll_interval = self.subscription_poll_interval
        return recorder

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
        except ValueError as e:
            raise ConfigurationError(
                f"Name {self.application_name!r} cannot name a SQLite table: {e}"
            ) from None
        view = self._track(lambda datastore: cls(datastore, tracking_table_name=table))
        return cast(TTrackingRecorder, view)

    def _track(self, make: Callable[[SQLiteDatastore], TRecorder]) -> TRecorder:
        # Counted as open before its tables are made, so that closing the last
        # other recorder meanwhile does not release the datastore it uses.
        with self._lock:
            recorder = make(self._open_datastore())
            self._open_recorders.append(recorder)
        recorder.on_close = self._recorder_closed
        if self.create_table:
            try:
                recorder.create_table()
            except BaseException:
                recorder.close()
                raise
        return recorder

    def _recorder_closed(self, recorder: AnyRecorder) -> None:
        with self._lock:
            if recorder in self._open_recorders:
                self._open_recorders.remove(recorder)
            datastore = self._datastore
            if self._open_recorders or datastore is None or datastore.is_memory:
                # An in-memory database would be lost: it lives until close().
                return
            self._datastore = None
        datastore.close()

    def close(self) -> None:
        """Close the datastore: every recorder made here stops working (idempotent)."""
        with self._lock:
            self._closed = True
            datastore, self._datastore = self._datastore, None
            self._open_recorders.clear()
        if datastore is not None:
            datastore.close()


def _prefix(application_name: str) -> str:
    """The shell-safe prefix of an application's settings (``WORLDS`` for ``Worlds``)."""
    return "".join(c if c.isalnum() or c == "_" else "_" for c in application_name.upper())
