"""The bank's domain model: an account and the errors a bank raises.

Amounts are :class:`~decimal.Decimal` with at most two decimal places, so
that no rounding ever happens inside the model. Every rule is checked in a
command method before the event is triggered: an event, once triggered,
always applies, which is what makes replaying the history safe.
"""

from __future__ import annotations

from decimal import Decimal

from eventsourcing.domain import Aggregate, event

__all__ = [
    "Account",
    "AccountClosedError",
    "BalanceNotZeroError",
    "BankError",
    "InsufficientFundsError",
    "InvalidAmountError",
    "check_amount",
]

CENT = Decimal("0.01")


class BankError(Exception):
    """Base class of the errors a customer can cause."""


class InvalidAmountError(BankError, ValueError):
    """The amount is not positive, or has fractions of a cent."""


class AccountClosedError(BankError):
    """The account is closed: no more transactions."""


class InsufficientFundsError(BankError):
    """The transaction would take the balance below the overdraft limit."""


class BalanceNotZeroError(BankError):
    """Only an account with a zero balance can be closed."""


def check_amount(amount: Decimal, *, allow_zero: bool = False) -> Decimal:
    """Return ``amount`` if it is a positive (or zero) whole number of cents."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidAmountError(f"Amount must be a finite Decimal, got {amount!r}")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise InvalidAmountError(f"Amount must be positive, got {amount}")
    if amount != amount.quantize(CENT):
        raise InvalidAmountError(f"Amount must be a whole number of cents, got {amount}")
    return amount


class Account(Aggregate):
    """A bank account with a balance that may go down to minus its overdraft limit."""

    class Opened(Aggregate.Created["Account"]):
        """Declared, rather than defined from ``__init__``, so queries can name it."""

        full_name: str
        email_address: str

    def __init__(self, full_name: str, email_address: str) -> None:
        self.full_name = full_name
        self.email_address = email_address
        self.balance = Decimal("0.00")
        self.overdraft_limit = Decimal("0.00")
        self.is_closed = False

    # -- commands: check the rules, then trigger an event ---------------------

    def deposit(self, amount: Decimal) -> None:
        self._check_open()
        self._credited(check_amount(amount))

    def withdraw(self, amount: Decimal) -> None:
        self._check_open()
        check_amount(amount)
        available = self.balance + self.overdraft_limit
        if amount > available:
            raise InsufficientFundsError(
                f"Account {self.id} cannot pay {amount}: balance {self.balance}, "
                f"overdraft limit {self.overdraft_limit}"
            )
        self._debited(amount)

    def set_overdraft_limit(self, limit: Decimal) -> None:
        self._check_open()
        check_amount(limit, allow_zero=True)
        if self.balance < -limit:
            raise InsufficientFundsError(
                f"Account {self.id} is overdrawn by {-self.balance}, more than the new "
                f"limit {limit}"
            )
        self._overdraft_limit_set(limit)

    def close(self) -> None:
        self._check_open()
        if self.balance != 0:
            raise BalanceNotZeroError(
                f"Account {self.id} has a balance of {self.balance}; pay it out first"
            )
        self._closed()

    def _check_open(self) -> None:
        if self.is_closed:
            raise AccountClosedError(f"Account {self.id} is closed")

    # -- events: what happened, applied to the state -------------------------

    @event("Credited")
    def _credited(self, amount: Decimal) -> None:
        self.balance += amount

    @event("Debited")
    def _debited(self, amount: Decimal) -> None:
        self.balance -= amount

    @event("OverdraftLimitSet")
    def _overdraft_limit_set(self, limit: Decimal) -> None:
        self.overdraft_limit = limit

    @event("Closed")
    def _closed(self) -> None:
        self.is_closed = True
