"""hatch.toml: a newcomer's first ``hatch run demo`` installs no development tools.

The first run's wall time is measured by hand (numbers beside `installer` in hatch.toml);
this keeps the layout that makes it short from drifting back.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List

import pytest

ROOT = Path(__file__).resolve().parents[1]


def hatch_config() -> Dict[str, Any]:
    tomllib = pytest.importorskip("tomllib")
    config: Dict[str, Any] = tomllib.loads((ROOT / "hatch.toml").read_text())
    return config


def names(requirements: List[str]) -> List[str]:
    return [re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0] for r in requirements]


def test_default_environment_holds_only_what_tests_and_the_demo_need() -> None:
    default = hatch_config()["envs"]["default"]
    assert sorted(names(default["dependencies"])) == ["hypothesis", "pytest"]
    assert "extra-dependencies" not in default
    assert default["installer"] == "uv"
    members = default["workspace"]["members"]
    for member in members:
        assert (ROOT / member / "pyproject.toml").exists(), member


def test_lint_and_types_run_in_environments_of_their_own() -> None:
    envs = hatch_config()["envs"]
    scripts = envs["default"]["scripts"]
    assert scripts["lint"] == "hatch run lint:lint"
    assert scripts["types"] == "hatch run types:types {args}"

    lint = envs["lint"]
    assert lint["detached"] is True  # ruff needs none of the packages
    assert names(lint["dependencies"]) == ["ruff"]
    assert lint["scripts"]["lint"] == ["ruff check .", "ruff format --check ."]

    # mypy type-checks against the installed packages: the default
    # environment (workspace members included) plus mypy.
    types = envs["types"]
    assert "detached" not in types and "template" not in types
    assert names(types["extra-dependencies"]) == ["mypy"]
    assert types["scripts"]["types"] == "mypy {args}"
