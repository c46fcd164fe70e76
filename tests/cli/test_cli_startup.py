"""The command starts cheaply: loading plugins imports no heavy driver.

Every installed plugin is loaded by every run of ``eventsourcing`` (its
subcommands come from them), ``--help`` included; importing psycopg,
pytest, Hypothesis or pycryptodome there cost about 0.7 s of CPU per run.
They are imported when a store, a cipher or the conformance suite is used.
"""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import command_env

HEAVY = ("psycopg", "psycopg_pool", "pytest", "_pytest", "hypothesis", "Crypto")

PROBE = """
import json, sys
from eventsourcing.cli.main import build_parser, commands
from eventsourcing.plugins import installed_plugins

plugins = [p.name for p in installed_plugins()]
build_parser(commands())
try:
    from eventsourcing.cli.main import main
    main(["--help"])
except SystemExit as e:
    status = e.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[1:]))
print(json.dumps({"plugins": plugins, "status": status, "heavy": heavy}))
"""


def test_loading_plugins_and_help_import_no_heavy_driver() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *HEAVY],
        env=command_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout.splitlines()[-1])
    # The plugins whose packages import those drivers were loaded ...
    assert {"core", "sqlite", "postgres", "aes", "conformance"} <= set(result["plugins"])
    assert result["status"] == 0
    # ... without importing them.
    assert result["heavy"] == []


def test_the_deferred_classes_keep_their_topics() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from eventsourcing.plugins import ciphers, persistence_modules;"
            "from eventsourcing.utils import get_topic;"
            "from eventsourcing_conformance import RecorderConformance;"
            "print(get_topic(persistence_modules()['postgres']), get_topic(ciphers()['aes']),"
            " RecorderConformance.__name__)",
        ],
        env=command_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.split() == [
        "eventsourcing.postgres:Factory",
        "eventsourcing.cipher:AESCipher",
        "RecorderConformance",
    ]
