"""The bank example on every backend: rules, atomic transfers, state after restart."""

from __future__ import annotations

from decimal import Decimal
from typing import Dict, Iterator
from uuid import uuid4

import pytest

from eventsourcing.persistence import IntegrityError
from examples.bank.application import AccountNotFoundError, BankAccounts, SameAccountError
from examples.bank.domain import (
    AccountClosedError,
    BalanceNotZeroError,
    InsufficientFundsError,
    InvalidAmountError,
)


@pytest.fixture
def app(store_env: Dict[str, str]) -> Iterator[BankAccounts]:
    with BankAccounts(env=store_env) as bank:
        yield bank


def restarted(app: BankAccounts, store_env: Dict[str, str], backend: str) -> BankAccounts:
    """A new application on the same store (the same one for popo, which forgets on close)."""
    if backend == "popo":
        return app
    app.close()
    return BankAccounts(env=store_env)


def test_money_moves_and_survives_a_restart(
    app: BankAccounts, store_env: Dict[str, str], backend: str
) -> None:
    ann = app.open_account("Ann", "ann@example.com")
    bob = app.open_account("Bob", "bob@example.com")
    app.deposit(ann, Decimal("100.00"))
    app.withdraw(ann, Decimal("10.50"))
    app.transfer(ann, bob, Decimal("39.50"))

    app = restarted(app, store_env, backend)
    try:
        assert app.get_balance(ann) == Decimal("50.00")
        assert app.get_balance(bob) == Decimal("39.50")
        assert app.account_ids() == [ann, bob]
        account = app.get_account(ann)
        assert (account.full_name, account.email_address, account.version) == (
            "Ann",
            "ann@example.com",
            4,
        )
        names = [type(e).__name__ for e in app.events.get(ann)]
        assert names == ["Opened", "Credited", "Debited", "Debited"]
    finally:
        app.close()


def test_withdrawal_beyond_the_overdraft_limit_is_refused_and_records_nothing(
    app: BankAccounts,
) -> None:
    ann = app.open_account("Ann", "ann@example.com")
    app.deposit(ann, Decimal("20.00"))
    with pytest.raises(InsufficientFundsError, match=r"cannot pay 20\.01"):
        app.withdraw(ann, Decimal("20.01"))
    assert app.get_account(ann).version == 2

    app.set_overdraft_limit(ann, Decimal("30.00"))
    app.withdraw(ann, Decimal("50.00"))
    assert app.get_balance(ann) == Decimal("-30.00")
    with pytest.raises(InsufficientFundsError):
        app.withdraw(ann, Decimal("0.01"))
    with pytest.raises(InsufficientFundsError, match=r"overdrawn by 30\.00"):
        app.set_overdraft_limit(ann, Decimal("29.99"))
    assert app.get_account(ann).overdraft_limit == Decimal("30.00")


def test_a_refused_transfer_changes_neither_account(app: BankAccounts) -> None:
    ann = app.open_account("Ann", "ann@example.com")
    bob = app.open_account("Bob", "bob@example.com")
    app.deposit(ann, Decimal("5.00"))
    with pytest.raises(InsufficientFundsError):
        app.transfer(ann, bob, Decimal("5.01"))
    with pytest.raises(SameAccountError):
        app.transfer(ann, ann, Decimal("1.00"))
    with pytest.raises(AccountNotFoundError):
        app.transfer(ann, uuid4(), Decimal("1.00"))
    assert (app.get_account(ann).version, app.get_account(bob).version) == (2, 1)


def test_a_transfer_that_conflicts_with_another_writer_records_neither_side(
    app: BankAccounts,
) -> None:
    ann = app.open_account("Ann", "ann@example.com")
    bob = app.open_account("Bob", "bob@example.com")
    app.deposit(ann, Decimal("10.00"))
    debit, credit = app.get_account(ann), app.get_account(bob)
    app.deposit(bob, Decimal("1.00"))  # another writer changes Bob first
    debit.withdraw(Decimal("10.00"))
    credit.deposit(Decimal("10.00"))
    with pytest.raises(IntegrityError):
        app.save(debit, credit)
    assert app.get_balance(ann) == Decimal("10.00")
    assert app.get_balance(bob) == Decimal("1.00")


def test_closing(app: BankAccounts) -> None:
    ann = app.open_account("Ann", "ann@example.com")
    app.deposit(ann, Decimal("1.00"))
    with pytest.raises(BalanceNotZeroError):
        app.close_account(ann)
    app.withdraw(ann, Decimal("1.00"))
    app.close_account(ann)
    assert app.get_account(ann).is_closed
    for command in (app.deposit, app.withdraw, app.set_overdraft_limit):
        with pytest.raises(AccountClosedError):
            command(ann, Decimal("1.00"))
    with pytest.raises(AccountClosedError):
        app.close_account(ann)
    assert app.get_account(ann).version == 4


@pytest.mark.parametrize(
    "amount", [Decimal("0"), Decimal("-1.00"), Decimal("0.001"), Decimal("NaN"), 1.5, 2]
)
def test_invalid_amounts_are_refused(app: BankAccounts, amount: object) -> None:
    ann = app.open_account("Ann", "ann@example.com")
    with pytest.raises(InvalidAmountError):
        app.deposit(ann, amount)  # type: ignore[arg-type]
    assert app.get_account(ann).version == 1


def test_unknown_account(app: BankAccounts) -> None:
    with pytest.raises(AccountNotFoundError, match="not found"):
        app.get_balance(uuid4())


def test_snapshot_is_used_to_rebuild_the_account(app: BankAccounts) -> None:
    ann = app.open_account("Ann", "ann@example.com")
    for _ in range(3):
        app.deposit(ann, Decimal("2.50"))
    app.take_snapshot(ann)
    assert app.snapshots is not None
    [snapshot] = app.snapshots.get(ann)
    assert snapshot.originator_version == 4
    assert snapshot.state["balance"] == Decimal("7.50")
    app.deposit(ann, Decimal("1.00"))
    assert app.get_account(ann).balance == Decimal("8.50")
    assert app.get_account(ann) == app.repository.get(ann)
