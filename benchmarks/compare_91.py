"""The same application workload on whichever ``eventsourcing`` is importable.

Run it here (``hatch run python benchmarks/compare_91.py``) and in a virtual
environment with ``pip install eventsourcing==9.1.9`` to compare this project
with eventsourcing 9.1 on identical code (only 9.1's API is used: the
``INFRASTRUCTURE_FACTORY`` topic, ``Application``, ``@event``). Prints the
median rate of three runs per case, on popo and SQLite.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from typing import Any, Callable, Dict

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event


class Account(Aggregate):
    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.balance = 0

    @event("Credited")
    def credit(self, amount: int) -> None:
        self.balance += amount


class Bank(Application):  # type: ignore[type-arg]
    pass


def env_for(backend: str, folder: str) -> Dict[str, str]:
    if backend == "popo":
        return {"INFRASTRUCTURE_FACTORY": "eventsourcing.popo:Factory"}
    return {
        "INFRASTRUCTURE_FACTORY": "eventsourcing.sqlite:Factory",
        "SQLITE_DBNAME": os.path.join(folder, "compare.sqlite"),
    }


def create(app: Any, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        app.save(Account(owner="o"))
    return n / (time.perf_counter() - started)


def command(app: Any, n: int) -> float:
    account = Account(owner="o")
    app.save(account)
    started = time.perf_counter()
    for _ in range(n):
        account.credit(1)
        app.save(account)
    return n / (time.perf_counter() - started)


def batch(app: Any, n: int) -> float:
    account = Account(owner="o")
    for _ in range(n - 1):
        account.credit(1)
    started = time.perf_counter()
    app.save(account)
    return n / (time.perf_counter() - started)


def replay(app: Any, n: int) -> float:
    account = Account(owner="o")
    for _ in range(n - 1):
        account.credit(1)
    app.save(account)
    started = time.perf_counter()
    for _ in range(10):
        app.repository.get(account.id)
    return 10 * n / (time.perf_counter() - started)


CASES: Dict[str, tuple[Callable[[Any, int], float], int]] = {
    "create (1 event per save)": (create, 1000),
    "command (1 event per save)": (command, 1000),
    "batch (5,000 events, 1 save)": (batch, 5000),
    "replay (1,000 events)": (replay, 1000),
}


def main() -> None:
    import eventsourcing.application as module

    print(f"eventsourcing from {os.path.dirname(module.__file__ or '')}")
    for backend in ("popo", "sqlite"):
        for name, (func, n) in CASES.items():
            rates = []
            for _ in range(3):
                with tempfile.TemporaryDirectory() as folder:
                    app = Bank(env=env_for(backend, folder))
                    rates.append(func(app, n))
                    close = getattr(app, "close", None)
                    if close is not None:
                        close()
            print(f"{backend:7} {name:30} {statistics.median(rates):12,.0f} events/s")


if __name__ == "__main__":
    main()
