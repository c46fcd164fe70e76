"""Each distribution installs on its own: users install only the backends they need.

The distributions are not published on a package index, so the documented
ways in are a clone's folders and a folder of wheels built from them; both are
installed here into new virtual environments (pluggy and hatchling come from
the package registry) exactly as docs/getting-started.md shows.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import venv
from pathlib import Path
from typing import Dict, List

import pytest

from eventsourcing.plugins import KNOWN_DISTRIBUTIONS, KNOWN_MODULES, install_command

ROOT = Path(__file__).resolve().parent.parent
GETTING_STARTED = ROOT / "docs" / "getting-started.md"
FROM_CLONE = "pip install ./packages/eventsourcing-core ./packages/eventsourcing-sqlite"
FROM_WHEELS = "pip install --no-index --find-links dist eventsourcing-core eventsourcing-sqlite"

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


def new_venv(path: Path) -> Path:
    venv.create(path, with_pip=True)
    return path / "bin" / "python"


def pip(python: Path, args: List[str], env: Dict[str, str] | None = None) -> None:
    """Run the environment's pip as a user would type ``pip ARGS`` in the clone."""
    result = subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"pip {shlex.join(args)} failed:\n{result.stderr}"


def check_core_and_sqlite_alone(python: Path, cwd: Path) -> None:
    out = subprocess.run(
        [str(python), "-c", PROBE], check=True, capture_output=True, text=True, cwd=cwd
    )
    result = json.loads(out.stdout)
    assert result["sqlite_module"] == "eventsourcing.sqlite"
    assert result["postgres_spec"] is False
    assert result["psycopg_spec"] is False
    assert result["entry_points"] == ["core", "sqlite"]
    assert result["sqlite_factory"].startswith("eventsourcing.sqlite")
    assert result["postgres"].startswith("PERSISTENCE_MODULE='postgres' is not an installed")
    assert install_command("eventsourcing-postgres") in result["postgres"]
    assert install_command("eventsourcing-crypto") in result["aes"]
    assert sys.version_info >= (3, 10)


def documented_commands(page: Path) -> List[str]:
    return [line.split("#")[0].strip() for line in page.read_text().splitlines()]


@pytest.mark.slow
def test_core_and_sqlite_install_alone_from_a_clone(tmp_path: Path) -> None:
    assert FROM_CLONE in documented_commands(GETTING_STARTED)
    python = new_venv(tmp_path / "venv")
    pip(python, shlex.split(FROM_CLONE)[1:])
    check_core_and_sqlite_alone(python, tmp_path)


def build_wheels_command(folder: Path) -> List[str]:
    """The command ``hatch run build-wheels`` runs (hatch.toml), writing to ``folder``."""
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "hatch.toml").read_text())
    assert config["envs"]["default"]["scripts"]["build-wheels"] == (
        "hatch run build:build-wheels {args}"
    )
    script: str = config["envs"]["build"]["scripts"]["build-wheels"]
    assert "{args:dist}" in script
    return shlex.split(script.replace("{args:dist}", str(folder)))


@pytest.mark.slow
def test_one_folder_of_wheels_installs_core_and_sqlite_offline(tmp_path: Path) -> None:
    assert "hatch run build-wheels" in documented_commands(GETTING_STARTED)
    assert FROM_WHEELS in documented_commands(GETTING_STARTED)
    python = new_venv(tmp_path / "venv")
    wheels = tmp_path / "dist"
    command = build_wheels_command(wheels)
    assert command[:3] == ["python", "-m", "pip"]
    pip(python, command[3:])
    names = {re.sub(r"-.*", "", w.name) for w in wheels.glob("*.whl")}
    assert {
        "eventsourcing_core",
        "eventsourcing_sqlite",
        "eventsourcing_postgres",
        "eventsourcing_crypto",
        "eventsourcing_msgspec",
        "eventsourcing_conformance",
        "msgspec",
        "pluggy",
        "psycopg",
        "pycryptodome",
    } <= names

    # Offline: no index, and none of this machine's pip configuration either.
    offline = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    offline["PIP_CONFIG_FILE"] = os.devnull
    pip(python, [*shlex.split(FROM_WHEELS.replace(" dist ", f" {wheels} "))[1:]], offline)
    check_core_and_sqlite_alone(python, tmp_path)


def test_install_hints_name_folders_of_this_repository() -> None:
    distributions = {d for names in KNOWN_DISTRIBUTIONS.values() for d in names.values()}
    distributions |= set(KNOWN_MODULES.values()) | {"eventsourcing-conformance"}
    for distribution in distributions:
        command = install_command(distribution)
        assert command.startswith(f"pip install {distribution} (from a clone")
        folder = re.findall(r"pip install \./(\S+)\)$", command)[0]
        pyproject = (ROOT / folder / "pyproject.toml").read_text()
        assert f'name = "{distribution}"' in pyproject
