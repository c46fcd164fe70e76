"""Running the real ``eventsourcing`` command in a subprocess, on real stores.

Stores are filled by the bank example's application (``examples/bank``), so
that the command can import the event classes (``PYTHONPATH`` is the
repository root). PostgreSQL stores are schemas of their own, dropped
afterwards (:func:`eventsourcing_conformance.stores.isolated_env`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional
from uuid import UUID

import pytest

from eventsourcing_conformance.stores import isolated_env
from examples.bank.application import BankAccounts

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "eventsourcing"
# Settings a test's command must not inherit from the environment running the tests.
_SETTING_PREFIXES = (
    "PERSISTENCE_MODULE",
    "INFRASTRUCTURE_FACTORY",
    "SQLITE_",
    "POSTGRES_",
    "CIPHER_",
)


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> List[str]:
        return self.out.splitlines()


def command_env(extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not any(k.startswith(p) or f"_{p}" in k for p in _SETTING_PREFIXES)
    }
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


def run(*args: str, env: Optional[Mapping[str, str]] = None, module: bool = False) -> Result:
    """Run ``eventsourcing ARGS`` (or ``python -m eventsourcing ARGS``) to completion."""
    program = [sys.executable, "-m", "eventsourcing"] if module else [str(SCRIPT)]
    done = subprocess.run(
        [*program, *args],
        env=command_env(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def write_env(path: Path, settings: Mapping[str, str]) -> str:
    path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    return str(path)


@dataclass
class Bank:
    """A store filled by the bank application: its settings and what is in it."""

    env: Dict[str, str]
    accounts: List[UUID]

    def app(self, **extra: str) -> BankAccounts:
        return BankAccounts(env={**self.env, **extra})


def fill(env: Mapping[str, str], accounts: int = 3) -> Bank:
    """Open accounts, move money, snapshot the first account."""
    with BankAccounts(env=dict(env)) as app:
        ids = [app.open_account(f"Holder {i}", f"h{i}@example.com") for i in range(accounts)]
        for i, account_id in enumerate(ids):
            app.deposit(account_id, Decimal("100.00") + i)
        app.transfer(ids[0], ids[-1], Decimal("25.50"))
        app.take_snapshot(ids[0])
    return Bank(dict(env), ids)


@pytest.fixture
def sqlite_env(tmp_path: Path) -> Iterator[Dict[str, str]]:
    with isolated_env("sqlite", tmp_path) as env:
        yield env


@pytest.fixture
def postgres_env(tmp_path: Path) -> Iterator[Dict[str, str]]:
    with isolated_env("postgres", tmp_path) as env:
        yield env
