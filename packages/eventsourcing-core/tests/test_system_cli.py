"""``eventsourcing run`` and ``eventsourcing status`` as a user types them, in subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from processing_system import Commands, Counting

HERE = Path(__file__).parent
COMMAND = [str(Path(sys.executable).parent / "eventsourcing")]


@pytest.fixture
def env(store_env: Dict[str, str], tmp_path: Path) -> Dict[str, str]:
    env = dict(store_env)
    if env["PERSISTENCE_MODULE"] == "popo":
        pytest.skip("POPO stores live in one process")
    if env["PERSISTENCE_MODULE"] == "sqlite":
        del env["SQLITE_DBNAME"]
        for name in ("COMMANDS", "COUNTING"):
            env[f"{name}_SQLITE_DBNAME"] = str(tmp_path / f"{name.lower()}.sqlite")
        env["SQLITE_SUBSCRIPTION_POLL_INTERVAL"] = "0.05"
    return env


def command_env(env: Dict[str, str]) -> Dict[str, str]:
    return {**os.environ, **env, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}


def run(env: Dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], env=command_env(env), capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "args, expected",
    [
        (["run", "processing_system:not_a_system"], "processing_system.Commands'>, not a System"),
        (["run", "processing_system:nothing"], "has no attribute 'nothing'"),
        (["run", "processing_system"], "expected MODULE:ATTR"),
        (["run", "processing_system:system", "--app", "Nope"], "no application named 'Nope'"),
        (["status", "processing_system:system", "--app", "Nope"], "no application named 'Nope'"),
        (["--app", "Nope", "run", "processing_system:system"], "no application named 'Nope'"),
        (["run", "processing_system:system", "--partitions", "0"], "partitions must be"),
        (["run", "processing_system:system", "--partitions", "2"], "say which one"),
        (
            ["run", "processing_system:system", "--partitions", "2", "--partition", "2"],
            "partition must be an integer from 0 to 1",
        ),
    ],
)
def test_wrong_settings_give_one_line_and_status_2(
    env: Dict[str, str], args: List[str], expected: str
) -> None:
    result = run(env, *args)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr


def test_a_non_positive_batch_size_gives_status_2(env: Dict[str, str]) -> None:
    result = run({**env, "PROCESSING_BATCH_SIZE": "0"}, "run", "processing_system:system")
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "PROCESSING_BATCH_SIZE" in result.stderr


def test_settings_come_from_an_env_file_given_after_the_subcommand(
    env: Dict[str, str], tmp_path: Path
) -> None:
    settings = tmp_path / "settings.env"
    settings.write_text("PROCESSING_BATCH_SIZE=-1\n")
    result = run(env, "run", "processing_system:system", "--env", str(settings))
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "PROCESSING_BATCH_SIZE" in result.stderr


def test_run_until_sigterm_then_status(env: Dict[str, str]) -> None:
    commands = Commands(env=env)
    for i in range(3):
        commands.make(f"c{i}")
    process = subprocess.Popen(
        [*COMMAND, "run", "processing_system:system"],
        env=command_env(env),
        stderr=subprocess.PIPE,
        text=True,
    )
    counting = Counting(env=env)
    deadline = time.monotonic() + 60
    while counting.process_recorder.max_tracking_id("Commands") < 3:
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    holding = run(env, "status", "processing_system:system")
    assert holding.returncode == 0, holding.stderr
    assert "Counting <- Commands: position 3, leader at 3, lag 0, lease held by" in holding.stdout
    assert f":{process.pid}" in holding.stdout
    commands.make("c3")
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0, process.stderr.read() if process.stderr else ""
    after = run(env, "status", "processing_system:system")
    assert "lease held by -" in after.stdout
    for app in (commands, counting):
        app.close()
