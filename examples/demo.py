"""A short walk-through of the bank example: ``hatch run demo [options]``.

Opens a store (an SQLite file by default), shows the accounts earlier runs
left there, opens two more, moves money, and prints what was recorded: the
events of an account, the notification log, a snapshot, the stored bytes,
and the state rebuilt by a new application on the same store. Run it twice
to see the first run's accounts rebuilt by the second.

Its files live in a data directory of the user's (``--data-dir``), not in the
working directory, so that running it in a clone leaves nothing for git to
see. On PostgreSQL it uses a schema of its own (``bank_demo``), so that it
never mixes its tables with others' in the database's ``public`` schema.

``--encrypt`` stores events compressed (zlib) and encrypted (AES-GCM, from
eventsourcing-crypto). The key is read from the environment variable
``BANK_DEMO_CIPHER_KEY`` if it is set, else from a key file (``<db>.key``
next to an SQLite database, ``bank-demo-postgres-<schema>.key`` in the data
directory for PostgreSQL), created with a new random key on first use.

Exit status: 0 on success, 2 if the store cannot be opened (backend not
installed or not reachable), 3 if what is stored cannot be read with this
configuration (for example, encrypted events read without the key).
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import secrets
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence
from uuid import UUID

# Run as a script (python examples/demo.py): make the examples package importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eventsourcing.persistence import PersistenceError
from eventsourcing.plugins import PluginError
from eventsourcing.utils import ConfigurationError, TopicError
from examples.bank.application import BankAccounts
from examples.bank.domain import BankError

KEY_ENV_VAR = "BANK_DEMO_CIPHER_KEY"
POSTGRES_DEFAULTS = {
    "POSTGRES_HOST": "127.0.0.1",
    "POSTGRES_PORT": "5432",
    "POSTGRES_USER": "postgres",
    "POSTGRES_PASSWORD": "",
    "POSTGRES_DBNAME": "eventsourcing_test",
    "POSTGRES_SCHEMA": "bank_demo",
    "POSTGRES_CONNECT_TIMEOUT": "5",
}
ENCRYPTED_SCHEMA = "bank_demo_encrypted"
EXIT_UNAVAILABLE = 2
EXIT_UNREADABLE = 3


class DemoError(Exception):
    """A problem the demo reports in one line, with its exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="hatch run demo",
        description="Walk through the bank example on an event store.",
    )
    parser.add_argument(
        "--backend",
        choices=["popo", "sqlite", "postgres"],
        default="sqlite",
        help="persistence module (default: sqlite; popo keeps nothing after the process)",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        type=Path,
        default=default_data_dir(),
        help="where the demo keeps its files (default: %(default)s)",
    )
    parser.add_argument(
        "--db",
        metavar="PATH",
        help="SQLite database file (default: bank-demo.sqlite in the data directory, "
        "or bank-demo-encrypted.sqlite with --encrypt)",
    )
    parser.add_argument(
        "--encrypt",
        action="store_true",
        help=f"compress and encrypt stored events (key: ${KEY_ENV_VAR} or a key file)",
    )
    return parser.parse_args(argv)


def default_data_dir() -> Path:
    """A directory of the user's ($XDG_DATA_HOME), outside any clone of the repository."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "eventsourcing-bank-demo"


def store_env(args: argparse.Namespace) -> Dict[str, str]:
    """The application's settings for the chosen backend (see docs/)."""
    env: Dict[str, str] = {"PERSISTENCE_MODULE": args.backend}
    if args.backend == "sqlite":
        env["SQLITE_DBNAME"] = str(db_path(args))
    elif args.backend == "postgres":
        env.update(postgres_settings(args))
    if args.encrypt:
        env["CIPHER_TOPIC"] = "aes"
        env["CIPHER_KEY"] = cipher_key(args)
        env["COMPRESSOR_TOPIC"] = "zlib"
    return env


def postgres_settings(args: argparse.Namespace) -> Dict[str, str]:
    """POSTGRES_* from the environment, else the demo's defaults (its own schema)."""
    defaults = dict(POSTGRES_DEFAULTS)
    if args.encrypt:  # plain and encrypted events in one table cannot both be read
        defaults["POSTGRES_SCHEMA"] = ENCRYPTED_SCHEMA
    return {k: os.environ.get(k, v) for k, v in defaults.items()}


def data_dir(args: argparse.Namespace) -> Path:
    """The data directory, created on first use."""
    path: Path = args.data_dir
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DemoError(f"cannot use the data directory {path}: {e}", EXIT_UNAVAILABLE) from e
    return path


def db_path(args: argparse.Namespace) -> Path:
    if args.db:
        return Path(args.db)
    return data_dir(args) / ("bank-demo-encrypted.sqlite" if args.encrypt else "bank-demo.sqlite")


def key_path(args: argparse.Namespace) -> Path:
    if args.backend == "sqlite":
        return Path(f"{db_path(args)}.key")
    schema = postgres_settings(args)["POSTGRES_SCHEMA"]
    return data_dir(args) / f"bank-demo-{args.backend}-{schema}.key"


def where(args: argparse.Namespace) -> str:
    if args.backend == "sqlite":
        return f"SQLite file {db_path(args)}"
    if args.backend == "postgres":
        settings = postgres_settings(args)
        return (
            f"PostgreSQL database {settings['POSTGRES_DBNAME']!r}, schema "
            f"{settings['POSTGRES_SCHEMA']!r}, on "
            f"{settings['POSTGRES_HOST']}:{settings['POSTGRES_PORT']}"
        )
    return "memory (popo)"


def cipher_key(args: argparse.Namespace) -> str:
    """The AES key: from the environment, else from (or into) a key file."""
    key = os.environ.get(KEY_ENV_VAR, "").strip()
    if key:
        return key
    key_file = key_path(args)
    try:
        if key_file.exists():
            return key_file.read_text().strip()
        key = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
        key_file.touch(mode=0o600)
        key_file.write_text(key + "\n")
    except OSError as e:
        raise DemoError(f"cannot use the key file {key_file}: {e}", EXIT_UNAVAILABLE) from e
    print(f"New AES key written to {key_file} (keep it: without it the events cannot be read)")
    return key


def open_app(args: argparse.Namespace, env: Dict[str, str]) -> BankAccounts:
    try:
        return BankAccounts(env=env)
    except (ConfigurationError, PluginError, TopicError, PersistenceError, OSError) as e:
        raise DemoError(
            f"cannot open the {args.backend} store ({where(args)}): {e}", EXIT_UNAVAILABLE
        ) from e


def describe_event(domain_event: Any) -> str:
    details = {
        k: v
        for k, v in domain_event.__dict__.items()
        if k not in ("originator_id", "originator_version", "originator_topic", "timestamp")
    }
    fields = ", ".join(f"{k}={v}" for k, v in details.items())
    name = type(domain_event).__qualname__
    return f"v{domain_event.originator_version} {name}({fields})"


def short(topic: str) -> str:
    return topic.rpartition(":")[2]


def section(number: int, title: str) -> None:
    print(f"\n{number}. {title}")


def show_accounts(app: BankAccounts, ids: List[UUID]) -> None:
    for account_id in ids:
        account = app.get_account(account_id)
        state = f"{'closed':<16}" if account.is_closed else f"balance {account.balance:>8}"
        print(
            f"   {account.full_name:<12} {state}  overdraft limit {account.overdraft_limit}"
            f"  (version {account.version}, id {str(account.id)[:8]})"
        )


def attempt(what: str, action: Any) -> None:
    try:
        action()
    except BankError as e:
        print(f"   {what}: refused, {type(e).__name__}: {e}")
    else:
        print(f"   {what}: done")


def walk_through(args: argparse.Namespace) -> None:
    env = store_env(args)
    encrypted = "compressed and encrypted (AES-GCM)" if args.encrypt else "plain JSON"
    print(f"Bank demo on {where(args)}; stored state: {encrypted}")
    app = open_app(args, env)
    try:
        section(1, "State rebuilt from the store (events recorded by earlier runs)")
        earlier = app.account_ids()
        if earlier:
            print(f"   {len(earlier)} accounts from earlier runs, each rebuilt from its events:")
            show_accounts(app, earlier)
        elif args.backend == "popo":
            print("   None: popo keeps events in memory, so each run starts empty.")
        else:
            print("   None yet: this is the first run. Run the demo again to see them here.")
        run = len(earlier) // 3 + 1

        section(2, f"Opening accounts (run {run})")
        ann = app.open_account(f"Ann #{run}", f"ann{run}@example.com")
        bob = app.open_account(f"Bob #{run}", f"bob{run}@example.com")
        cat = app.open_account(f"Cat #{run}", f"cat{run}@example.com")
        for account_id in (ann, bob, cat):
            print(f"   opened {account_id} for {app.get_account(account_id).full_name}")

        section(3, "Transactions (the bank's rules refuse some)")
        attempt("deposit 100.00 to Ann", lambda: app.deposit(ann, Decimal("100.00")))
        attempt("transfer 30.00 from Ann to Bob", lambda: app.transfer(ann, bob, Decimal("30.00")))
        attempt("withdraw 50.00 from Bob", lambda: app.withdraw(bob, Decimal("50.00")))
        attempt("deposit 0.005 to Bob", lambda: app.deposit(bob, Decimal("0.005")))
        attempt(
            "set Bob's overdraft limit to 25.00",
            lambda: app.set_overdraft_limit(bob, Decimal("25.00")),
        )
        attempt("withdraw 50.00 from Bob", lambda: app.withdraw(bob, Decimal("50.00")))
        attempt("close Bob's account", lambda: app.close_account(bob))
        attempt("close Cat's account", lambda: app.close_account(cat))
        attempt("deposit 10.00 to Cat", lambda: app.deposit(cat, Decimal("10.00")))
        show_accounts(app, [ann, bob, cat])

        section(4, "Events recorded for Ann's account")
        for domain_event in app.events.get(ann):
            print(f"   {describe_event(domain_event)}")

        section(5, "The notification log: every event of the application, in order")
        last = app.recorder.max_notification_id()
        start = max(1, last - 7)
        notifications = app.recorder.select_notifications(start, 8)
        print(f"   {last} notifications in all; the last {len(notifications)}:")
        for n in notifications:
            print(
                f"   #{n.id:<4} {short(n.topic):<26} account {str(n.originator_id)[:8]}"
                f" v{n.originator_version}"
            )

        section(6, "A snapshot of Ann's account")
        app.take_snapshot(ann)
        assert app.snapshots is not None
        snapshot = next(iter(app.snapshots.get(ann, desc=True, limit=1)))
        print(
            f"   snapshot at version {snapshot.originator_version}: balance "
            f"{snapshot.state['balance']}; the repository now starts from it"
        )

        section(7, "Stored state of Ann's latest event, as the database holds it")
        stored = app.recorder.select_events(ann, desc=True, limit=1)[0]
        if args.encrypt:
            print(f"   {len(stored.state)} bytes, unreadable without the key:")
            print(f"   {stored.state[:32].hex(' ')} ...")
        else:
            print(f"   topic: {stored.topic}")
            print(f"   state: {stored.state.decode('utf-8')}")
    finally:
        app.close()

    section(8, "Restart: a new application instance on the same store")
    if args.backend == "popo":
        print("   Skipped: popo's events lived in the closed application's memory.")
        return
    app = open_app(args, env)
    try:
        show_accounts(app, app.account_ids())
    finally:
        app.close()
    print("\nRun the demo again: the accounts above will be rebuilt from the store.")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    # The demo reports an unreachable server once, below; not every pool retry.
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
    try:
        walk_through(args)
    except DemoError as e:
        print(f"bank demo: {e}", file=sys.stderr)
        return e.status
    except (PersistenceError, TopicError, TypeError, ValueError) as e:
        # Data written by another configuration (say, encrypted, or with another key).
        print(
            f"bank demo: cannot read what is stored in {where(args)}: {type(e).__name__}: {e}\n"
            "Was it written with a different --encrypt setting or key?",
            file=sys.stderr,
        )
        return EXIT_UNREADABLE
    return 0


if __name__ == "__main__":
    sys.exit(main())
