"""``eventsourcing copy``: a faithful copy of a whole store, across backends."""

from __future__ import annotations

import socket
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from eventsourcing.cipher import AESCipher
from eventsourcing.persistence import (
    InfrastructureFactory,
    Notification,
    ProgrammingError,
    Tracking,
)

from .conftest import fill, run, write_env

APP = "BankAccounts"


def contents(env: Dict[str, str]) -> Tuple[List[Any], List[Tracking], List[Any]]:
    """Everything a store holds: notifications, tracking records, snapshots."""
    with InfrastructureFactory.construct(APP, {**env, "CREATE_TABLE": "false"}) as factory:
        recorder: Any = factory.process_recorder()
        snapshots: Any = factory.aggregate_recorder("snapshots")
        notifications = [
            (n.id, n.originator_id, n.originator_version, n.topic, n.state)
            for n in recorder.select_notifications(1, 100_000)
        ]
        try:
            tracking = sorted(
                recorder.select_tracking(limit=100_000),
                key=lambda t: (t.application_name, t.notification_id),
            )
        except ProgrammingError:  # no tracking table
            tracking = []
        try:
            scanned = snapshots.scan_stored_events(limit=100_000)
        except ProgrammingError:  # no snapshots table
            scanned = []
        stored = sorted(
            ((s.originator_id, s.originator_version, s.topic, s.state) for s in scanned),
            key=lambda s: (str(s[0]), s[1]),
        )
    return notifications, tracking, stored


def make_gap_and_tracking(env: Dict[str, str]) -> None:
    """A gap in the notification IDs (an event recorded with a later ID) and
    tracking records, as a follower's store has."""
    with InfrastructureFactory.construct(APP, env) as factory:
        recorder: Any = factory.process_recorder()
        last = recorder.select_notifications(recorder.max_notification_id(), 1)[0]
        recorder.insert_notifications(
            [
                Notification(
                    last.originator_id,
                    last.originator_version + 1,
                    last.topic,
                    last.state,
                    last.id + 5,
                )
            ]
        )
        recorder.insert_tracking(
            [Tracking("Upstream", 3), Tracking("Upstream", 4), Tracking("Other", 1)]
        )


@pytest.fixture(params=["sqlite", "postgres"])
def target_env(request: pytest.FixtureRequest, tmp_path: Path) -> Dict[str, str]:
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        return request.getfixturevalue("postgres_env")
    return request.getfixturevalue("sqlite_env")


def test_copy_is_indistinguishable_from_the_source(
    tmp_path: Path, target_env: Dict[str, str]
) -> None:
    source_env = {"PERSISTENCE_MODULE": "sqlite", "SQLITE_DBNAME": str(tmp_path / "source.sqlite")}
    bank = fill(source_env)
    make_gap_and_tracking(source_env)
    source = write_env(tmp_path / "source.env", source_env)
    target = write_env(tmp_path / "target.env", target_env)

    result = run("copy", "--env", source, "--app", APP, "--to-env", target)
    assert result.code == 0, result.err
    assert (
        "copied 9 events (notification IDs up to 13), 3 tracking records and 1 snapshots"
        in result.out
    )
    assert "verified: 9 events of 3 aggregates match" in result.out
    assert contents(target_env) == contents(source_env)

    # The application carries on in the copy, after the copied IDs.
    with bank.app() as app:
        app.deposit(bank.accounts[1], Decimal("1.00"))
    with fill.__globals__["BankAccounts"](env=target_env) as copy:
        account = copy.get_account(bank.accounts[2])
        assert account.balance == Decimal("153.00")  # with the event after the gap
        copy.deposit(bank.accounts[1], Decimal("2.00"))
        assert copy.recorder.max_notification_id() == 14


def test_copy_re_encrypts_or_decrypts_with_the_target_key(
    tmp_path: Path, sqlite_env: Dict[str, str]
) -> None:
    old, new = AESCipher.create_key(16), AESCipher.create_key(32)
    source_env = {**sqlite_env, "CIPHER_KEY": old}
    bank = fill(source_env)
    source = write_env(tmp_path / "source.env", source_env)
    rotated_env = {
        "PERSISTENCE_MODULE": "sqlite",
        "SQLITE_DBNAME": str(tmp_path / "rotated.sqlite"),
        "CIPHER_KEY": new,
    }
    plain_env = {
        "PERSISTENCE_MODULE": "sqlite",
        "SQLITE_DBNAME": str(tmp_path / "plain.sqlite"),
        "CIPHER_KEY": "",
    }

    for env in (rotated_env, plain_env):
        result = run("copy", "--env", source, "--to-env", write_env(tmp_path / "t.env", env))
        assert result.code == 0, result.err
        assert "(re-encrypted)" in result.out and old not in result.out and new not in result.out
        with fill.__globals__["BankAccounts"](env=env) as app:
            assert app.get_account(bank.accounts[0]).balance == Decimal("74.50")
            assert (
                app.get_account(
                    bank.accounts[0],
                ).full_name
                == "Holder 0"
            )

    source_ids = [row[:4] for row in contents(source_env)[0]]
    assert [row[:4] for row in contents(rotated_env)[0]] == source_ids
    assert all(b"Holder" not in row[4] for row in contents(rotated_env)[0])
    assert any(b"Holder 0" in row[4] for row in contents(plain_env)[0])
    assert run("verify", "--env", write_env(tmp_path / "r.env", rotated_env)).code == 0


def test_resume_continues_a_copy_into_a_prefix_of_the_source(
    tmp_path: Path, target_env: Dict[str, str]
) -> None:
    source_env = {"PERSISTENCE_MODULE": "sqlite", "SQLITE_DBNAME": str(tmp_path / "source.sqlite")}
    fill(source_env, accounts=5)
    make_gap_and_tracking(source_env)
    with InfrastructureFactory.construct(APP, source_env) as factory:
        first = factory.process_recorder().select_notifications(1, 6)
    with InfrastructureFactory.construct(APP, target_env) as factory:
        recorder: Any = factory.process_recorder()
        recorder.insert_notifications(first)  # as if a copy was interrupted
        recorder.insert_tracking([Tracking("Other", 1)])
    source = write_env(tmp_path / "source.env", source_env)
    target = write_env(tmp_path / "target.env", target_env)
    before = contents(target_env)

    refused = run("copy", "--env", source, "--app", APP, "--to-env", target)
    assert refused.code == 2 and "not empty" in refused.err and "--resume" in refused.err
    assert refused.out == "" and refused.err.count("\n") == 1
    assert contents(target_env) == before

    resumed = run("copy", "--env", source, "--app", APP, "--to-env", target, "--resume")
    assert resumed.code == 0, resumed.err
    assert "copied 7 events" in resumed.out and "2 tracking records" in resumed.out
    assert contents(target_env) == contents(source_env)


def test_resume_refuses_a_target_that_is_not_a_prefix(
    tmp_path: Path, sqlite_env: Dict[str, str]
) -> None:
    source_env = {"PERSISTENCE_MODULE": "sqlite", "SQLITE_DBNAME": str(tmp_path / "source.sqlite")}
    fill(source_env)
    fill(sqlite_env)  # other accounts, same IDs 1..8
    before = contents(sqlite_env)
    result = run(
        "copy",
        "--env",
        write_env(tmp_path / "s.env", source_env),
        "--to-env",
        write_env(tmp_path / "t.env", sqlite_env),
        "--resume",
    )
    assert result.code == 2 and "not a copy of the start of the source" in result.err
    assert contents(sqlite_env) == before


def test_copy_refuses_popo_and_backends_without_the_capabilities(
    tmp_path: Path, sqlite_env: Dict[str, str]
) -> None:
    fill(sqlite_env)
    source = write_env(tmp_path / "s.env", sqlite_env)
    popo = run(
        "copy",
        "--env",
        source,
        "--to-env",
        write_env(tmp_path / "p.env", {"PERSISTENCE_MODULE": "popo"}),
    )
    assert popo.code == 2 and "popo" in popo.err and popo.err.count("\n") == 1
    journal = tmp_path / "journal.jsonl"
    lacking = run(
        "copy",
        "--env",
        source,
        "--to-env",
        write_env(
            tmp_path / "j.env", {"PERSISTENCE_MODULE": "journal", "JOURNAL_PATH": str(journal)}
        ),
    )
    assert lacking.code == 2 and "NotificationInserting" in lacking.err
    assert not journal.exists() or journal.read_text() == ""


def test_copy_refuses_another_compressor(tmp_path: Path, sqlite_env: Dict[str, str]) -> None:
    fill(sqlite_env)
    other = {
        "PERSISTENCE_MODULE": "sqlite",
        "SQLITE_DBNAME": str(tmp_path / "z.sqlite"),
        "COMPRESSOR_TOPIC": "zlib",
    }
    result = run(
        "copy",
        "--env",
        write_env(tmp_path / "s.env", sqlite_env),
        "--to-env",
        write_env(tmp_path / "z.env", other),
    )
    assert result.code == 2 and "COMPRESSOR_TOPIC" in result.err
    with sqlite3.connect(other["SQLITE_DBNAME"]) as conn:
        assert (
            conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
            == 0
        )


def test_an_unreachable_target_is_one_line_naming_it_without_its_password(
    tmp_path: Path, sqlite_env: Dict[str, str]
) -> None:
    fill(sqlite_env)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        target = {
            "PERSISTENCE_MODULE": "postgres",
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": str(unused.getsockname()[1]),
            "POSTGRES_USER": "postgres",
            "POSTGRES_PASSWORD": "t4rget-Passw0rd",
            "POSTGRES_DBNAME": "eventsourcing_test",
            "POSTGRES_CONNECT_TIMEOUT": "1",
        }
        result = run(
            "copy",
            "--env",
            write_env(tmp_path / "s.env", sqlite_env),
            "--to-env",
            write_env(tmp_path / "t.env", target),
        )
    assert result.code == 2 and result.out == ""
    assert result.err.count("\n") == 1 and "target store (--to-env" in result.err
    assert "t4rget" not in result.err and "Traceback" not in result.err
