"""The bank's application: commands and queries on accounts.

A transfer changes two accounts and saves them together, so either both
changes are recorded or neither is.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Iterator, List
from uuid import UUID

from eventsourcing.application import AggregateNotFound, Application
from eventsourcing.utils import get_topic
from examples.bank.domain import Account, BankError, check_amount

__all__ = ["AccountNotFoundError", "BankAccounts", "SameAccountError"]


class AccountNotFoundError(BankError, LookupError):
    """No account has this ID."""


class SameAccountError(BankError):
    """A transfer needs two different accounts."""


class BankAccounts(Application[Account]):
    """Opens accounts and moves money between them."""

    # Snapshots can be taken on demand (see take_snapshot()) on every backend.
    is_snapshotting_enabled = True

    def open_account(self, full_name: str, email_address: str) -> UUID:
        account = Account(full_name, email_address)
        self.save(account)
        return account.id

    def deposit(self, account_id: UUID, amount: Decimal) -> None:
        account = self.get_account(account_id)
        account.deposit(amount)
        self.save(account)

    def withdraw(self, account_id: UUID, amount: Decimal) -> None:
        account = self.get_account(account_id)
        account.withdraw(amount)
        self.save(account)

    def transfer(self, debit_account_id: UUID, credit_account_id: UUID, amount: Decimal) -> None:
        if debit_account_id == credit_account_id:
            raise SameAccountError(f"Cannot transfer from account {debit_account_id} to itself")
        check_amount(amount)
        debit_account = self.get_account(debit_account_id)
        credit_account = self.get_account(credit_account_id)
        debit_account.withdraw(amount)
        credit_account.deposit(amount)
        self.save(debit_account, credit_account)

    def set_overdraft_limit(self, account_id: UUID, limit: Decimal) -> None:
        account = self.get_account(account_id)
        account.set_overdraft_limit(limit)
        self.save(account)

    def close_account(self, account_id: UUID) -> None:
        account = self.get_account(account_id)
        account.close()
        self.save(account)

    def get_balance(self, account_id: UUID) -> Decimal:
        return self.get_account(account_id).balance

    def get_account(self, account_id: UUID) -> Account:
        try:
            return self.repository.get(account_id)
        except AggregateNotFound:
            raise AccountNotFoundError(f"Account {account_id} not found") from None

    def account_ids(self) -> List[UUID]:
        """IDs of every account ever opened, oldest first (from the notification log)."""
        return list(self._opened_account_ids())

    def _opened_account_ids(self) -> Iterator[UUID]:
        topic = get_topic(Account.Opened)
        start = 1
        page = 100
        while True:
            notifications = self.recorder.select_notifications(start, page, topics=[topic])
            for notification in notifications:
                yield notification.originator_id
            if len(notifications) < page:
                return
            start = notifications[-1].id + 1
