"""The bank accounts as an asyncio service: the same domain model, awaited I/O.

Run it with ``python -m examples.asyncbank.service`` (``PERSISTENCE_MODULE``
and the backend's settings select the store; the default keeps it in
memory). Many concurrent requests (tasks) move money between a few
accounts; a transfer that lost a race to another (its account changed
since it was read) is retried on the account's new state, as a web
handler would. A subscription follows the bank's events as they are committed.
"""

from __future__ import annotations

import asyncio
import os
from decimal import Decimal
from typing import Dict, List, Mapping, Optional
from uuid import UUID

from eventsourcing.asyncio import AsyncApplication
from eventsourcing.persistence import IntegrityError
from examples.bank.domain import Account, BankError

__all__ = ["AsyncBankAccounts", "main"]


class AsyncBankAccounts(AsyncApplication[Account]):
    """Opens accounts and moves money between them, awaiting the database."""

    async def open_account(self, full_name: str, email_address: str) -> UUID:
        account = Account(full_name, email_address)
        await self.save(account)
        return account.id

    async def deposit(self, account_id: UUID, amount: Decimal) -> None:
        account = await self.repository.get(account_id)
        account.deposit(amount)
        await self.save(account)

    async def transfer(self, debit_id: UUID, credit_id: UUID, amount: Decimal) -> None:
        """Move ``amount`` atomically; retried when another transfer got there first."""
        for _ in range(100):
            debit = await self.repository.get(debit_id)
            credit = await self.repository.get(credit_id)
            debit.withdraw(amount)
            credit.deposit(amount)
            try:
                await self.save(debit, credit)
                return
            except IntegrityError:
                continue  # an account changed since it was read: read it again
        raise BankError(f"Transfer from {debit_id} to {credit_id} kept conflicting")

    async def get_balance(self, account_id: UUID) -> Decimal:
        return (await self.repository.get(account_id)).balance


async def main(env: Optional[Mapping[str, str]] = None, transfers: int = 50) -> Dict[str, object]:
    """Open three accounts, make ``transfers`` concurrent transfers round them,
    follow the events with a subscription; return what happened."""
    async with AsyncBankAccounts(env=env) as bank:
        names = ["Ann", "Bob", "Cy"]
        ids = [await bank.open_account(n, f"{n.lower()}@example.com") for n in names]
        for account_id in ids:
            await bank.deposit(account_id, Decimal("100.00"))
        start = await bank.recorder.max_notification_id()

        seen: List[str] = []
        subscription = bank.subscribe(gt=start)

        async def follow() -> None:
            async for domain_event, _ in subscription:
                seen.append(type(domain_event).__qualname__)
                if len(seen) == 2 * transfers:  # a withdrawal and a deposit each
                    subscription.stop()

        following = asyncio.ensure_future(follow())
        await asyncio.gather(
            *(
                bank.transfer(ids[i % 3], ids[(i + 1) % 3], Decimal("1.00"))
                for i in range(transfers)
            )
        )
        await asyncio.wait_for(following, timeout=30)
        await subscription.__aexit__(None, None, None)
        balances = {n: await bank.get_balance(i) for n, i in zip(names, ids, strict=True)}
        section = await bank.log["1,5"]
        return {"balances": balances, "seen": seen, "first_section": section.id}


if __name__ == "__main__":
    outcome = asyncio.run(main(os.environ))
    for name, balance in outcome["balances"].items():  # type: ignore[attr-defined]
        print(f"{name}: {balance}")
    print(f"{len(outcome['seen'])} events followed")  # type: ignore[arg-type]
