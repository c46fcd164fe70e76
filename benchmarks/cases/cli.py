"""The ``eventsourcing`` command on a large store: ``copy`` and ``verify``.

A SQLite store of ``BENCH_CLI_EVENTS`` events (default 1,000,000; 1,000
aggregates of 1,000 events) is written first (untimed), with states mapped
from real events of the bank example so that ``verify`` decodes them into
their classes; then the command runs in a subprocess, as a user runs it, and
only that is timed (start-up included). With ``(AES)``, the store is
encrypted and the command decrypts every event.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Dict, Tuple
from uuid import uuid4

from benchmarks.harness import Stopwatch, case, postgres_schema
from eventsourcing.persistence import InfrastructureFactory, JSONTranscoder, StoredEvent
from eventsourcing.plugins import transcodings
from eventsourcing.utils import get_topic

ROOT = Path(__file__).resolve().parents[2]
PER_AGGREGATE = 1000
BATCH = 10_000
KEY = "2rNk8ba0TzkCTJa6T87qOw=="  # a fixed AES key for the encrypted cases


def _events() -> int:
    return int(os.environ.get("BENCH_CLI_EVENTS", "1000000"))


def _fill(env: Dict[str, str], count: int) -> None:
    """``count`` events of a real class, aggregate after aggregate."""
    from examples.bank.domain import Account

    with InfrastructureFactory.construct(env=env) as factory:
        transcoder = JSONTranscoder()
        for transcoding in transcodings():
            transcoder.register(transcoding)
        mapper = factory.mapper(transcoder)
        account = Account("Bench", "bench@example.com")
        account.deposit(Decimal("10.00"))
        credited = account.collect_events()[-1]
        state = mapper.from_domain_event(credited).state
        topic = get_topic(type(credited))
        recorder = factory.application_recorder()
        batch = []
        originator = uuid4()
        for i in range(count):
            version = i % PER_AGGREGATE + 1
            if version == 1:
                originator = uuid4()
            batch.append(StoredEvent(originator, version, topic, state))
            if len(batch) == BATCH:
                recorder.insert_events(batch)
                batch = []
        if batch:
            recorder.insert_events(batch)


def _command(*args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    program = Path(sys.executable).parent / "eventsourcing"
    subprocess.run([str(program), *args], env=env, check=True, stdout=subprocess.DEVNULL)


def _write(path: Path, settings: Dict[str, str]) -> str:
    path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    return str(path)


def _copy(env: Dict[str, str], cipher: bool) -> Tuple[int, float]:
    count = _events()
    extra = {"CIPHER_KEY": KEY} if cipher else {}
    with tempfile.TemporaryDirectory() as directory, postgres_schema(env) as schema:
        source = {"PERSISTENCE_MODULE": "sqlite", "SQLITE_DBNAME": f"{directory}/source.sqlite"}
        _fill({**source, **extra}, count)
        target = {**env, "POSTGRES_SCHEMA": schema, **extra}
        with Stopwatch() as watch:
            _command(
                "copy",
                "--env",
                _write(Path(directory) / "source.env", {**source, **extra}),
                "--to-env",
                _write(Path(directory) / "target.env", target),
            )
    return count, watch.elapsed


def _verify(env: Dict[str, str], cipher: bool) -> Tuple[int, float]:
    count = _events()
    settings = {**env, **({"CIPHER_KEY": KEY} if cipher else {})}
    with tempfile.TemporaryDirectory() as directory:
        settings["SQLITE_DBNAME"] = f"{directory}/store.sqlite"
        _fill(settings, count)
        with Stopwatch() as watch:
            _command("verify", "--env", _write(Path(directory) / "store.env", settings))
    return count, watch.elapsed


@case("cli: copy sqlite -> postgres", backends=["postgres"], repeat=1)
def copy_to_postgres(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    return _copy(env, cipher=False)


@case("cli: copy sqlite -> postgres (AES)", backends=["postgres"], repeat=1)
def copy_to_postgres_encrypted(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    return _copy(env, cipher=True)


@case("cli: verify", backends=["sqlite"], repeat=1)
def verify(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    return _verify(env, cipher=False)


@case("cli: verify (AES)", backends=["sqlite"], repeat=1)
def verify_encrypted(backend: str, env: Dict[str, str]) -> Tuple[int, float]:
    return _verify(env, cipher=True)
