"""``hatch run demo``: the README's first command, run as a newcomer would run it."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Dict, List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo.py"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def run_demo(
    args: List[str], cwd: Path, env: Optional[Dict[str, str]] = None
) -> subprocess.CompletedProcess[str]:
    """Run the demo in ``cwd``, with the user's data directory under ``cwd/home``."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "SQLITE_"))}
    full_env.pop("PERSISTENCE_MODULE", None)
    full_env["XDG_DATA_HOME"] = str(cwd / "home")
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, str(DEMO), *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def opened_ids(output: str) -> List[str]:
    return re.findall(rf"opened ({UUID_RE}) for", output)


def earlier_section(output: str) -> str:
    return output.split("\n1. ")[1].split("\n2. ")[0]


def check_second_run_shows_first(first: str, second: str) -> None:
    first_ids = opened_ids(first)
    assert len(first_ids) == 3
    earlier = earlier_section(second)
    assert "3 accounts from earlier runs" in earlier
    for account_id in first_ids:
        assert account_id[:8] in earlier
    assert "Ann #1       balance    70.00" in earlier
    assert "Bob #1       balance   -20.00  overdraft limit 25.00" in earlier
    assert "Cat #1       closed" in earlier
    assert set(opened_ids(second)).isdisjoint(first_ids)


def data_dir(cwd: Path) -> Path:
    return cwd / "home" / "eventsourcing-bank-demo"


def test_default_sqlite_file_second_run_shows_first_runs_accounts(tmp_path: Path) -> None:
    first = run_demo([], tmp_path)
    assert first.returncode == 0, first.stderr
    # In the user's data directory: nothing in the working directory (a clone).
    assert (data_dir(tmp_path) / "bank-demo.sqlite").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["home"]
    assert f"Bank demo on SQLite file {data_dir(tmp_path) / 'bank-demo.sqlite'};" in first.stdout
    out = first.stdout
    assert "None yet: this is the first run" in earlier_section(out)
    assert "InsufficientFundsError" in out and "AccountClosedError" in out
    assert "v2 Account.Credited(amount=100.00)" in out
    assert re.search(r"#9 +Account.Closed", out)
    assert "snapshot at version 3: balance 70.00" in out
    assert "topic: examples.bank.domain:Account.Debited" in out
    assert 'state: {"timestamp": {"_type_": "datetime_iso", "_data_": "' in out
    assert '"amount": {"_type_": "decimal_str", "_data_": "30.00"}}' in out
    second = run_demo([], tmp_path)
    assert second.returncode == 0, second.stderr
    check_second_run_shows_first(out, second.stdout)


def test_encrypted_store_with_key_file(tmp_path: Path) -> None:
    db = tmp_path / "enc.sqlite"
    first = run_demo(["--encrypt", "--db", str(db)], tmp_path)
    assert first.returncode == 0, first.stderr
    key_file = tmp_path / "enc.sqlite.key"
    assert key_file.exists() and oct(key_file.stat().st_mode)[-3:] == "600"
    assert "unreadable without the key" in first.stdout
    with sqlite3.connect(db) as conn:
        states = [row[0] for row in conn.execute("SELECT state FROM stored_events")]
    assert len(states) == 9 and not any(b"Ann" in s or b"amount" in s for s in states)
    second = run_demo(["--encrypt", "--db", str(db)], tmp_path)
    assert second.returncode == 0, second.stderr
    check_second_run_shows_first(first.stdout, second.stdout)

    # Without the key (or with another one), the store cannot be read: exit 3.
    plain = run_demo(["--db", str(db)], tmp_path)
    assert plain.returncode == 3
    assert "cannot read what is stored" in plain.stderr
    other_key = "A" * 43 + "="
    wrong = run_demo(["--encrypt", "--db", str(db)], tmp_path, {"BANK_DEMO_CIPHER_KEY": other_key})
    assert wrong.returncode == 3
    assert "could not be authenticated" in wrong.stderr


def test_encrypted_default_store_keeps_its_key_out_of_the_working_directory(
    tmp_path: Path,
) -> None:
    first = run_demo(["--encrypt"], tmp_path)
    assert first.returncode == 0, first.stderr
    key_file = data_dir(tmp_path) / "bank-demo-encrypted.sqlite.key"
    assert f"New AES key written to {key_file}" in first.stdout
    assert oct(key_file.stat().st_mode)[-3:] == "600"
    assert [p.name for p in tmp_path.iterdir()] == ["home"]
    second = run_demo(["--encrypt"], tmp_path)
    check_second_run_shows_first(first.stdout, second.stdout)

    # --data-dir moves the files; a new directory means a new store and key.
    other = tmp_path / "elsewhere"
    third = run_demo(["--encrypt", "--data-dir", str(other)], tmp_path)
    assert third.returncode == 0, third.stderr
    assert sorted(p.name for p in other.iterdir()) == [
        "bank-demo-encrypted.sqlite",
        "bank-demo-encrypted.sqlite.key",
    ]
    assert "None yet: this is the first run" in earlier_section(third.stdout)


def test_encrypted_store_with_key_from_environment(tmp_path: Path) -> None:
    key = "q1aZ0mQz8b3mCk0lq9dA1zZ3y0cG2nYyFJm8b5l1x0s="
    env = {"BANK_DEMO_CIPHER_KEY": key}
    first = run_demo(["--encrypt"], tmp_path, env)
    assert first.returncode == 0, first.stderr
    assert not list(tmp_path.rglob("*.key"))
    second = run_demo(["--encrypt"], tmp_path, env)
    check_second_run_shows_first(first.stdout, second.stdout)


def test_popo_runs_and_says_nothing_survives(tmp_path: Path) -> None:
    result = run_demo(["--backend", "popo"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "popo keeps events in memory" in result.stdout
    assert not list(tmp_path.iterdir())


def test_postgres_defaults_to_a_schema_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    from examples import demo

    monkeypatch.delenv("POSTGRES_SCHEMA", raising=False)
    plain = demo.store_env(demo.parse_args(["--backend", "postgres"]))
    assert plain["POSTGRES_SCHEMA"] == "bank_demo"
    assert plain["POSTGRES_DBNAME"] == "eventsourcing_test"
    monkeypatch.setenv("BANK_DEMO_CIPHER_KEY", "q1aZ0mQz8b3mCk0lq9dA1zZ3y0cG2nYyFJm8b5l1x0s=")
    encrypted = demo.store_env(demo.parse_args(["--backend", "postgres", "--encrypt"]))
    assert encrypted["POSTGRES_SCHEMA"] == "bank_demo_encrypted"
    monkeypatch.setenv("POSTGRES_SCHEMA", "mine")
    assert demo.store_env(demo.parse_args(["--backend", "postgres"]))["POSTGRES_SCHEMA"] == "mine"


@pytest.mark.postgres
def test_postgres_creates_its_schema_and_keeps_its_key_in_the_data_directory(
    tmp_path: Path,
) -> None:
    """A schema that does not exist yet, as ``bank_demo`` on a first run."""
    from eventsourcing_conformance.stores import postgres_settings, require_postgres

    require_postgres()
    import psycopg

    settings = postgres_settings()
    schema = f"es_test_demo_{uuid.uuid4().hex[:12]}"
    env = {**settings, "POSTGRES_SCHEMA": schema}
    connect = {
        "host": settings["POSTGRES_HOST"],
        "port": int(settings["POSTGRES_PORT"]),
        "user": settings["POSTGRES_USER"],
        "password": settings["POSTGRES_PASSWORD"],
        "dbname": settings["POSTGRES_DBNAME"],
        "autocommit": True,
    }
    try:
        result = run_demo(["--backend", "postgres", "--encrypt"], tmp_path, env)
        assert result.returncode == 0, result.stderr
        assert f"schema '{schema}'" in result.stdout.splitlines()[1]
        with psycopg.connect(**connect) as conn:  # type: ignore[arg-type]
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                "ORDER BY table_name",
                [schema],
            ).fetchall()
            [(events,)] = conn.execute(f'SELECT count(*) FROM "{schema}".bankaccounts_events')
        assert tables == [("bankaccounts_events",), ("bankaccounts_snapshots",)]
        assert events == 9
        key_file = data_dir(tmp_path) / f"bank-demo-postgres-{schema}.key"
        assert key_file.exists()
        assert [p.name for p in tmp_path.iterdir()] == ["home"]
    finally:
        with psycopg.connect(**connect) as conn:  # type: ignore[arg-type]
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.postgres
def test_postgres_second_run_shows_first_runs_accounts(tmp_path: Path) -> None:
    from eventsourcing_conformance.stores import isolated_env

    with isolated_env("postgres", tmp_path) as store:
        env = {k: v for k, v in store.items() if k.startswith("POSTGRES_")}
        first = run_demo(["--backend", "postgres"], tmp_path, env)
        assert first.returncode == 0, first.stderr
        second = run_demo(["--backend", "postgres"], tmp_path, env)
        assert second.returncode == 0, second.stderr
    check_second_run_shows_first(first.stdout, second.stdout)


def test_unreachable_postgres_exits_non_zero_with_a_clear_message(tmp_path: Path) -> None:
    env = {"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": "1", "POSTGRES_CONNECT_TIMEOUT": "1"}
    result = run_demo(["--backend", "postgres"], tmp_path, env)
    assert result.returncode == 2
    assert "bank demo: cannot open the postgres store" in result.stderr
    assert "127.0.0.1:1" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_option_exits_non_zero(tmp_path: Path) -> None:
    result = run_demo(["--backend", "mysql"], tmp_path)
    assert result.returncode == 2
    assert "invalid choice: 'mysql'" in result.stderr


def test_hatch_script_runs_this_demo() -> None:
    hatch_toml = (ROOT / "hatch.toml").read_text()
    assert 'demo = "python examples/demo.py {args}"' in hatch_toml


def test_unopenable_database_file_exits_non_zero_with_a_clear_message(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "bank.sqlite"
    result = run_demo(["--db", str(missing)], tmp_path)
    assert result.returncode == 2
    assert f"cannot open the sqlite store (SQLite file {missing})" in result.stderr
    encrypted = run_demo(["--encrypt", "--db", str(missing)], tmp_path)
    assert encrypted.returncode == 2
    assert f"cannot use the key file {missing}.key" in encrypted.stderr
