"""A materialised view of the bank: the total balance of each account owner.

:class:`OwnerBalances` is the projection: it turns the events of
:class:`~examples.bank.application.BankAccounts` into :class:`Change` rows.
A view (one per backend, below) applies the changes of a page of events and
records their tracking records in one transaction, so every event counts
exactly once, however often it is delivered, and a page costs one commit.

Run it with :class:`~eventsourcing.projection.ProjectionRunner`, choosing
the view class of the backend (``VIEWS[backend]``); the view's settings may
be prefixed with the projection's name (``OWNERBALANCES_SQLITE_DBNAME``).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type
from uuid import UUID

from psycopg import sql

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.popo import POPOTrackingRecorder
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection
from eventsourcing.sqlite import SQLiteTrackingRecorder
from eventsourcing.utils import get_topic
from examples.bank.domain import Account

__all__ = [
    "VIEWS",
    "Change",
    "OwnerBalances",
    "OwnerBalancesView",
    "POPOOwnerBalancesView",
    "PostgresOwnerBalancesView",
    "SQLiteOwnerBalancesView",
]


@dataclass(frozen=True)
class Change:
    """An account opened (``owner`` set) or its balance moved by ``cents``."""

    account_id: UUID
    owner: Optional[str] = None
    cents: int = 0


class OwnerBalancesView(TrackingRecorder):
    """What the projection needs of a view, and what readers ask of it."""

    @abstractmethod
    def apply(self, changes: Sequence[Change], trackings: Sequence[Tracking]) -> None:
        """Apply ``changes`` and record ``trackings`` atomically."""

    @abstractmethod
    def balance_of(self, owner: str) -> Decimal:
        """The total balance of the accounts of ``owner``."""


class OwnerBalances(Projection[OwnerBalancesView]):
    """Projects account events into balances by owner."""

    name = "ownerbalances"
    topics = (
        get_topic(Account.Opened),
        get_topic(Account.Credited),
        get_topic(Account.Debited),
    )

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.process_events([(domain_event, tracking)])

    def process_events(self, events: Sequence[Tuple[Any, Tracking]]) -> None:
        """One transaction for the page: its changes and all its tracking records."""
        self.view.apply([self.change(e) for e, _ in events], [t for _, t in events])

    @staticmethod
    def change(domain_event: Any) -> Change:
        if isinstance(domain_event, Account.Opened):
            return Change(domain_event.originator_id, owner=domain_event.full_name)
        cents = int(domain_event.amount * 100)
        if isinstance(domain_event, Account.Debited):
            cents = -cents
        return Change(domain_event.originator_id, cents=cents)


def _cents_by_account(changes: Sequence[Change]) -> Tuple[List[Change], Dict[UUID, int]]:
    """The openings, and the sum of the moves of each account (fewer statements)."""
    opened = [c for c in changes if c.owner is not None]
    moved: Dict[UUID, int] = {}
    for c in changes:
        if c.cents:
            moved[c.account_id] = moved.get(c.account_id, 0) + c.cents
    return opened, moved


class POPOOwnerBalancesView(POPOTrackingRecorder, OwnerBalancesView):
    """In memory: for tests and the demo."""

    def __init__(self) -> None:
        super().__init__()
        self.owners: Dict[UUID, str] = {}
        self.cents: Dict[str, int] = {}

    def apply(self, changes: Sequence[Change], trackings: Sequence[Tracking]) -> None:
        with self.lock:
            self._insert_tracking(*trackings)  # first: raises if any was processed
            opened, moved = _cents_by_account(changes)
            for c in opened:
                assert c.owner is not None
                self.owners[c.account_id] = c.owner
                self.cents.setdefault(c.owner, 0)
            for account_id, cents in moved.items():
                owner = self.owners[account_id]
                self.cents[owner] += cents

    def balance_of(self, owner: str) -> Decimal:
        with self.lock:
            return Decimal(self.cents.get(owner, 0)) / 100


class SQLiteOwnerBalancesView(SQLiteTrackingRecorder, OwnerBalancesView):
    """Table ``owner_accounts`` next to ``ownerbalances_tracking``."""

    def construct_create_table_statements(self) -> List[str]:
        return [
            *super().construct_create_table_statements(),
            "CREATE TABLE IF NOT EXISTS owner_accounts ("
            "account_id TEXT PRIMARY KEY, owner TEXT NOT NULL, cents INTEGER NOT NULL)",
            "CREATE INDEX IF NOT EXISTS owner_accounts_owner ON owner_accounts (owner)",
        ]

    def apply(self, changes: Sequence[Change], trackings: Sequence[Tracking]) -> None:
        opened, moved = _cents_by_account(changes)
        with self.transaction() as conn:
            self._insert_tracking(conn, *trackings)
            conn.executemany(
                "INSERT INTO owner_accounts (account_id, owner, cents) VALUES (?, ?, 0)",
                [(c.account_id.hex, c.owner) for c in opened],
            )
            conn.executemany(
                "UPDATE owner_accounts SET cents = cents + ? WHERE account_id = ?",
                [(cents, account_id.hex) for account_id, cents in moved.items()],
            )

    def balance_of(self, owner: str) -> Decimal:
        rows = self.datastore.select(
            "SELECT COALESCE(SUM(cents), 0) FROM owner_accounts WHERE owner = ?", (owner,)
        )
        return Decimal(rows[0][0]) / 100


class PostgresOwnerBalancesView(PostgresTrackingRecorder, OwnerBalancesView):
    """Table ``owner_accounts`` next to ``ownerbalances_tracking``, in the schema."""

    def construct_create_table_statements(self) -> List[sql.Composed]:
        table = self.datastore.table("owner_accounts")
        return [
            *super().construct_create_table_statements(),
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                "account_id uuid PRIMARY KEY, owner text NOT NULL, cents bigint NOT NULL)"
            ).format(table),
            sql.SQL("CREATE INDEX IF NOT EXISTS owner_accounts_owner ON {} (owner)").format(table),
        ]

    def apply(self, changes: Sequence[Change], trackings: Sequence[Tracking]) -> None:
        table = self.datastore.table("owner_accounts")
        opened, moved = _cents_by_account(changes)
        with self.transaction() as conn, conn.cursor() as cursor:
            self._insert_tracking(conn, *trackings)
            if opened:
                cursor.executemany(
                    sql.SQL("INSERT INTO {} (account_id, owner, cents) VALUES (%s, %s, 0)").format(
                        table
                    ),
                    [(c.account_id, c.owner) for c in opened],
                )
            if moved:
                cursor.executemany(
                    sql.SQL("UPDATE {} SET cents = cents + %s WHERE account_id = %s").format(table),
                    [(cents, account_id) for account_id, cents in moved.items()],
                )

    def balance_of(self, owner: str) -> Decimal:
        query = sql.SQL("SELECT COALESCE(SUM(cents), 0) FROM {} WHERE owner = %s").format(
            self.datastore.table("owner_accounts")
        )
        row = self.datastore.read(lambda conn: conn.execute(query, (owner,)).fetchone())
        return Decimal(row[0] if row else 0) / 100


VIEWS: Dict[str, Type[OwnerBalancesView]] = {
    "popo": POPOOwnerBalancesView,
    "sqlite": SQLiteOwnerBalancesView,
    "postgres": PostgresOwnerBalancesView,
}
