"""Each distribution installs on its own: users install only the backends they need.

Builds real wheels of eventsourcing-core and eventsourcing-sqlite into a new
virtual environment (pluggy and hatchling come from the package registry).
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROBE = r"""
import importlib.metadata, importlib.util, json
import eventsourcing.sqlite
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import ConfigurationError

result = {
    "sqlite_module": eventsourcing.sqlite.__name__,
    "postgres_spec": importlib.util.find_spec("eventsourcing.postgres") is not None,
    "psycopg_spec": importlib.util.find_spec("psycopg") is not None,
    "entry_points": sorted(e.name for e in importlib.metadata.entry_points(group="eventsourcing")),
    "sqlite_factory": type(InfrastructureFactory.construct(env={
        "PERSISTENCE_MODULE": "sqlite", "SQLITE_DBNAME": ":memory:"})).__module__,
}
for variable, value in [("PERSISTENCE_MODULE", "postgres"), ("CIPHER_TOPIC", "aes")]:
    try:
        factory = InfrastructureFactory.construct(env={variable: value, "CIPHER_KEY": "x"})
        factory.cipher()
    except ConfigurationError as e:
        result[value] = str(e)
print(json.dumps(result))
"""


@pytest.mark.slow
def test_core_and_sqlite_install_alone(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(ROOT / "packages" / "eventsourcing-core"),
            str(ROOT / "packages" / "eventsourcing-sqlite"),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    out = subprocess.run(
        [str(python), "-c", PROBE], check=True, capture_output=True, text=True, cwd=tmp_path
    )
    result = json.loads(out.stdout)
    assert result["sqlite_module"] == "eventsourcing.sqlite"
    assert result["postgres_spec"] is False
    assert result["psycopg_spec"] is False
    assert result["entry_points"] == ["core", "sqlite"]
    assert result["sqlite_factory"].startswith("eventsourcing.sqlite")
    assert "pip install eventsourcing-postgres" in result["postgres"]
    assert result["postgres"].startswith("PERSISTENCE_MODULE='postgres' is not an installed")
    assert "pip install eventsourcing-crypto" in result["aes"]
    assert sys.version_info >= (3, 10)

    # The command, installed from the core's wheel: console script and -m.
    for program in ([str(env_dir / "bin" / "eventsourcing")], [str(python), "-m", "eventsourcing"]):
        listed = subprocess.run(
            [*program, "backends"], check=True, capture_output=True, text=True, cwd=tmp_path
        )
        assert "eventsourcing-sqlite" in listed.stdout and "postgres" not in listed.stdout
