"""``eventsourcing backends``, ``log``, ``show``, ``verify``, and bad input."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import pty
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict

import psycopg
import pytest

from eventsourcing.cipher import AESCipher
from eventsourcing.cli.backends import installed
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.plugins import get_plugin_manager, hookimpl, installed_plugins
from eventsourcing.postgres.conformance import require_postgres

from .conftest import SCRIPT, command_env, fill, run, write_env

APP = ("--app", "BankAccounts")


def test_backends_name_each_plugin_with_its_distribution_and_version() -> None:
    result = run("backends")
    assert result.code == 0, result.err
    lines = result.lines
    for name, dist in [
        ("sqlite", "eventsourcing-sqlite"),
        ("postgres", "eventsourcing-postgres"),
        ("popo", "eventsourcing-core"),
        ("aes", "eventsourcing-crypto"),
        ("zlib", "eventsourcing-core"),
        ("uuid_hex", "eventsourcing-core"),
    ]:
        version = importlib.metadata.version(dist)
        assert any(
            line.split()[0] == name and line.endswith(f"{dist} {version}") for line in lines
        ), (name, result.out)
    rows = [json.loads(line) for line in run("backends", "--json", module=True).lines]
    assert {"kind": "ciphers", "name": "aes", "distribution": "eventsourcing-crypto"}.items() <= (
        next(r for r in rows if r["name"] == "aes").items()
    )


def test_log_prints_each_event_with_its_decoded_state(
    sqlite_env: Dict[str, str], tmp_path: Path
) -> None:
    bank = fill(sqlite_env)
    settings = write_env(tmp_path / "store.env", sqlite_env)
    result = run("log", "--env", settings)
    assert result.code == 0, result.err
    lines = result.lines
    # 3 opened, 3 deposits, 2 for the transfer
    assert [int(line.split()[0]) for line in lines] == list(range(1, 9))
    first = lines[0].split(None, 4)
    assert first[1] == str(bank.accounts[0]) and first[2] == "v1"
    assert first[3].endswith("Account.Opened")
    assert json.loads(first[4])["full_name"] == "Holder 0"

    page = run("--env", settings, "log", "--from", "4", "--limit", "2", "--json")
    rows = [json.loads(line) for line in page.lines]
    assert [r["id"] for r in rows] == [4, 5]
    assert rows[0]["state"]["amount"] == {"_type_": "decimal_str", "_data_": "100.00"}

    opened = run("log", "--env", settings, "--topic", first[3]).lines
    assert [line.split()[0] for line in opened] == ["1", "2", "3"]


def test_app_selects_prefixed_settings_before_or_after_the_subcommand(
    sqlite_env: Dict[str, str], tmp_path: Path
) -> None:
    fill(sqlite_env)
    prefixed = {f"BANKACCOUNTS_{k}": v for k, v in sqlite_env.items()}
    # The unprefixed settings point elsewhere: only --app finds the store.
    settings = write_env(
        tmp_path / "prefixed.env",
        {**prefixed, "PERSISTENCE_MODULE": "popo"},
    )
    assert run("--app", "BankAccounts", "--env", settings, "log").lines[-1].startswith("8 ")
    assert run("log", "--env", settings, "--app", "BankAccounts").lines[-1].startswith("8 ")
    assert run("log", "--env", settings).code == 2


def test_encrypted_store_is_decoded_only_with_its_key(
    sqlite_env: Dict[str, str], tmp_path: Path
) -> None:
    key = AESCipher.create_key(16)
    bank = fill({**sqlite_env, "CIPHER_TOPIC": "aes", "CIPHER_KEY": key})
    with_key = write_env(
        tmp_path / "k.env", {**sqlite_env, "CIPHER_TOPIC": "aes", "CIPHER_KEY": key}
    )
    without = write_env(tmp_path / "n.env", sqlite_env)

    shown = run("show", str(bank.accounts[0]), "--env", with_key)
    assert shown.code == 0, shown.err
    assert "Holder 0" in shown.out and key not in shown.out + shown.err

    hidden = run("log", "--env", without, "--json")
    assert hidden.code == 0
    rows = [json.loads(line) for line in hidden.lines]
    assert len(rows) == 8 and all(r["state"] is None and "CIPHER_KEY" in r["error"] for r in rows)


def test_show_prints_events_and_snapshots_of_one_aggregate(
    sqlite_env: Dict[str, str], tmp_path: Path
) -> None:
    bank = fill(sqlite_env)
    settings = write_env(tmp_path / "store.env", sqlite_env)
    result = run("show", str(bank.accounts[0]), "--env", settings)
    assert result.code == 0, result.err
    kinds = [line.split()[0] for line in result.lines]
    assert kinds == ["event", "event", "event", "snapshot"]
    assert [line.split()[2] for line in result.lines] == ["v1", "v2", "v3", "v3"]
    rows = [
        json.loads(line)
        for line in run("show", str(bank.accounts[0]), "--env", settings, "--json").lines
    ]
    assert rows[-1]["kind"] == "snapshot" and rows[-1]["state"]["state"]["full_name"] == "Holder 0"

    unknown = run("show", "7c8e6f3e-92b4-4a3f-9a57-3c39b4a8c1d2", "--env", settings)
    assert unknown.code == 1 and unknown.out == "" and "no events" in unknown.err
    bad = run("show", "not-a-uuid", "--env", settings)
    assert bad.code == 2 and "not a UUID" in bad.err


def _file_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_verify_passes_a_sound_store_and_writes_nothing(
    sqlite_env: Dict[str, str], tmp_path: Path
) -> None:
    fill(sqlite_env)
    with sqlite3.connect(sqlite_env["SQLITE_DBNAME"]) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = _file_digest(sqlite_env["SQLITE_DBNAME"])
    result = run("verify", "--env", write_env(tmp_path / "s.env", sqlite_env))
    assert result.code == 0, result.out + result.err
    assert "8 events of 3 aggregates" in result.out and "1 snapshots: no problems" in result.out
    assert _file_digest(sqlite_env["SQLITE_DBNAME"]) == before


def test_verify_names_each_damaged_event_and_version_gap(
    sqlite_env: Dict[str, str], tmp_path: Path
) -> None:
    bank = fill(sqlite_env)
    with sqlite3.connect(sqlite_env["SQLITE_DBNAME"]) as conn:
        # Damage one event's state; remove the middle event of another aggregate.
        conn.execute("UPDATE stored_events SET state = X'7B' WHERE rowid = 4")
        conn.execute("DELETE FROM stored_events WHERE rowid = 6")
    result = run("verify", "--env", write_env(tmp_path / "s.env", sqlite_env))
    assert result.code == 1
    problems = result.lines[:-1]
    assert len(problems) == 2, result.out
    assert any(f"{bank.accounts[0]} v2 (event)" in p for p in problems)
    assert any(f"{bank.accounts[2]} v3: version follows v1" in p for p in problems)
    assert "2 problems" in result.lines[-1] and "1 missing IDs" in result.lines[-1]

    # In worker processes, each checking a range of IDs: the same findings,
    # including the version gap across ranges.
    parallel = run("verify", "--jobs", "2", "--env", write_env(tmp_path / "s.env", sqlite_env))
    assert parallel.code == 1
    assert sorted(parallel.lines[:-1]) == sorted(problems)
    assert parallel.lines[-1] == result.lines[-1]


def test_verify_says_once_that_the_cipher_key_is_wrong(
    sqlite_env: Dict[str, str], tmp_path: Path
) -> None:
    key, wrong = AESCipher.create_key(16), AESCipher.create_key(16)
    fill({**sqlite_env, "CIPHER_KEY": key})
    result = run(
        "verify", "--env", write_env(tmp_path / "w.env", {**sqlite_env, "CIPHER_KEY": wrong})
    )
    assert result.code == 1
    assert len(result.lines) == 2, result.out
    assert "every stored event and snapshot (9) failed to decrypt" in result.lines[0]
    assert wrong not in result.out + result.err and key not in result.out + result.err


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_log_follow_tails_committed_events_and_stops_cleanly_on_a_signal(
    backend: str, stop: signal.Signals, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend == "postgres":
        require_postgres()
    env: Dict[str, str] = request.getfixturevalue(f"{backend}_env")
    bank = fill(env)
    settings = write_env(tmp_path / "s.env", env)
    follower = subprocess.Popen(
        [str(SCRIPT), "log", "--follow", "--from", "8", "--env", settings, *APP],
        env=command_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in follower.stdout or ()])
    reader.start()
    try:
        assert lines.get(timeout=30).startswith("8 ")
        with bank.app() as app:
            if backend == "postgres":
                # Caught up, the follower waits on LISTEN (the subscription's), not a timer.
                recorder: Any = app.recorder
                _wait_for_listener(recorder.datastore.connect_kwargs, recorder.notify_channel)
            app.deposit(bank.accounts[1], Decimal("1.00"))
            line = lines.get(timeout=30)
            assert line.startswith("9 ") and f"{bank.accounts[1]}  v3" in line
            app.deposit(bank.accounts[2], Decimal("2.00"))
            assert lines.get(timeout=30).startswith("10 ")
        follower.send_signal(stop)
        assert follower.wait(timeout=30) == 0
        reader.join(timeout=30)
        assert follower.stderr is not None and follower.stderr.read() == ""
        assert lines.empty()
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait(timeout=30)
        reader.join(timeout=30)


def test_log_follow_with_a_limit_ends_by_itself(sqlite_env: Dict[str, str], tmp_path: Path) -> None:
    fill(sqlite_env)
    settings = write_env(tmp_path / "s.env", sqlite_env)
    result = run("log", "--follow", "--limit", "3", "--from", "6", "--env", settings)
    assert result.code == 0, result.err
    assert [line.split()[0] for line in result.lines] == ["6", "7", "8"]


def _wait_for_listener(connect_kwargs: Dict[str, Any], channel: str) -> None:
    """Return once another session LISTENs on ``channel`` (polled, with a deadline)."""
    give_up = time.monotonic() + 30
    with psycopg.connect(**connect_kwargs, autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                "AND query LIKE 'LISTEN %%' AND query LIKE %s",
                [f"%{channel}%"],
            ).fetchone()
            if row and row[0]:
                return
            assert time.monotonic() < give_up, f"nobody LISTENs on {channel}"
            time.sleep(0.05)


def _one_clean_line(result: object, code: int = 2) -> str:
    assert result.code == code, (result.out, result.err)  # type: ignore[attr-defined]
    err: str = result.err  # type: ignore[attr-defined]
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert result.out == ""  # type: ignore[attr-defined]
    return err


def test_bad_input_is_one_line_and_exit_status_2(tmp_path: Path) -> None:
    assert "invalid choice: 'frobnicate'" in _one_clean_line(run("frobnicate"))
    assert "required" in _one_clean_line(run())
    assert "takes no arguments after --" in _one_clean_line(run("backends", "--", "x"))
    missing = _one_clean_line(run("log"))
    assert "PERSISTENCE_MODULE" in missing
    assert "cannot read settings file" in _one_clean_line(
        run("log", "--env", str(tmp_path / "nope.env"))
    )
    (tmp_path / "bad.env").write_text("PERSISTENCE_MODULE sqlite\n")
    assert "line 1: expected KEY=VALUE" in _one_clean_line(
        run("verify", "--env", str(tmp_path / "bad.env"))
    )
    sqlite3.connect(tmp_path / "e.db").close()  # a database without tables
    empty = write_env(
        tmp_path / "empty.env",
        {"PERSISTENCE_MODULE": "sqlite", "SQLITE_DBNAME": str(tmp_path / "e.db")},
    )
    assert "no stored events found" in _one_clean_line(run("verify", "--env", empty))


def test_a_mistyped_sqlite_path_is_one_line_and_no_file_is_left_behind(
    sqlite_env: Dict[str, str], tmp_path: Path
) -> None:
    fill(sqlite_env)
    mistyped = tmp_path / "stroe.sqlite"
    settings = write_env(tmp_path / "typo.env", {**sqlite_env, "SQLITE_DBNAME": str(mistyped)})
    target = write_env(tmp_path / "target.env", sqlite_env)  # exists: never reached
    for args in (
        ("log",),
        ("log", "--follow"),
        ("show", "00000000-0000-0000-0000-000000000000"),
        ("verify",),
        ("copy", "--to-env", target),
    ):
        err = _one_clean_line(run(*args, "--env", settings))
        assert "stroe.sqlite' does not exist" in err and "SQLITE_DBNAME" in err, (args, err)
    assert list(tmp_path.glob("stroe*")) == []  # nor -wal or -shm files


def test_unreachable_server_is_one_line_without_the_password(tmp_path: Path) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        port = unused.getsockname()[1]
        settings = write_env(
            tmp_path / "pg.env",
            {
                "PERSISTENCE_MODULE": "postgres",
                "POSTGRES_HOST": "127.0.0.1",
                "POSTGRES_PORT": str(port),
                "POSTGRES_USER": "postgres",
                "POSTGRES_PASSWORD": "s3cret-Passw0rd",
                "POSTGRES_DBNAME": "eventsourcing_test",
                "POSTGRES_CONNECT_TIMEOUT": "1",
            },
        )
        err = _one_clean_line(run("log", "--env", settings))
    assert "s3cret" not in err
    assert f"127.0.0.1:{port}" in err or "connect" in err


def test_progress_shows_on_a_terminal_and_not_when_piped(
    sqlite_env: Dict[str, str], tmp_path: Path
) -> None:
    fill(sqlite_env)
    settings = write_env(tmp_path / "s.env", sqlite_env)
    assert run("verify", "--env", settings).err == ""
    parent, child = pty.openpty()
    try:
        done = subprocess.run(
            [str(SCRIPT), "verify", "--env", settings],
            env=command_env(),
            stdout=subprocess.PIPE,
            stderr=child,
            timeout=60,
        )
        os.close(child)
        child = -1
        shown = b""
        while True:
            try:
                chunk = os.read(parent, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if child != -1:
            os.close(child)
        os.close(parent)
    assert done.returncode == 0
    assert b"verify: 8 (100%)" in shown and b"/s" in shown


@pytest.mark.postgres
def test_log_reads_postgres_tables_of_the_application(
    postgres_env: Dict[str, str], tmp_path: Path
) -> None:
    require_postgres()
    bank = fill(postgres_env)
    settings = write_env(tmp_path / "pg.env", postgres_env)
    result = run("log", "--env", settings, *APP)
    assert result.code == 0, result.err
    assert len(result.lines) == 8 and str(bank.accounts[2]) in result.lines[-1]
    assert run("verify", "--env", settings, *APP).code == 0
    # Without the application's name, its tables are not the ones looked at.
    assert run("log", "--env", settings).code == 2


def test_python_dash_m_runs_the_command() -> None:
    assert run("--help", module=True).code == 0
    assert sys.executable


def test_verify_decodes_the_state_of_events_whose_classes_are_not_importable(
    sqlite_env: Dict[str, str], tmp_path: Path
) -> None:
    fill(sqlite_env)
    with sqlite3.connect(sqlite_env["SQLITE_DBNAME"]) as conn:
        conn.execute("UPDATE stored_events SET state = X'7B' WHERE rowid = 4")
    # Without the repository on PYTHONPATH, the bank's classes cannot be imported.
    result = run(
        "verify", "--env", write_env(tmp_path / "s.env", sqlite_env), env={"PYTHONPATH": ""}
    )
    assert result.code == 1, result.out + result.err
    assert len(result.lines) == 2 and " v2 (event): " in result.lines[0]
    summary = result.lines[-1]
    assert "1 problems" in summary and "3 topics not importable here" in summary
    assert "examples.bank.domain:Account.Opened" in summary


class _CodePlugin:
    """A plugin registered by code, not by an entry point: it has no distribution."""

    @staticmethod
    @hookimpl
    def eventsourcing_compressors() -> Dict[str, type]:
        return {"zlib-again": ZlibCompressor}


def test_backends_take_each_plugins_distribution_from_the_plugin_registry() -> None:
    manager = get_plugin_manager()
    manager.register(_CodePlugin, name="registered-by-code")
    try:
        rows = installed()
    finally:
        manager.unregister(_CodePlugin)
    loaded = {p.name: (p.distribution, p.version) for p in installed_plugins()}
    for row in rows:
        expected = loaded.get(row["plugin"], ("(registered in code)", ""))
        assert (row["distribution"], row["version"]) == expected, row
    assert next(r for r in rows if r["name"] == "zlib-again")["plugin"] == "registered-by-code"
