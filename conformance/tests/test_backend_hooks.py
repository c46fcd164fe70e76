"""Every backend describes its own stores; the suite knows none by name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import eventsourcing_conformance
from eventsourcing_conformance.stores import BackendNotDescribed, isolated_env

from .test_recipe import run_pytest

SHIPPED = {
    "popo": "eventsourcing.popo_conformance",
    "sqlite": "eventsourcing.sqlite.conformance",
    "postgres": "eventsourcing.postgres.conformance",
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_each_shipped_backend_answers_the_hook_from_its_own_module(
    name: str, pytestconfig: pytest.Config
) -> None:
    impls = pytestconfig.pluginmanager.hook.pytest_eventsourcing_backend.get_hookimpls()
    assert SHIPPED[name] in {impl.plugin.__name__ for impl in impls}


def test_the_suite_names_no_backend() -> None:
    package = Path(eventsourcing_conformance.__file__).parent
    for module in package.glob("*.py"):
        text = module.read_text(encoding="utf-8")
        found = re.findall(r"""["'](popo|sqlite|postgres)["']""", text)
        assert not found, f"{module.name} names backends {found}"


def test_isolated_env_refuses_a_backend_no_hook_describes(tmp_path: Path) -> None:
    with pytest.raises(BackendNotDescribed, match="Add a hook"):
        with isolated_env("eventsourcing.popo:Factory", tmp_path):
            pass  # pragma: no cover


def test_a_backend_without_hook_is_run_with_a_warning_and_explained_skips(
    tmp_path: Path,
) -> None:
    result = run_pytest(
        tmp_path,
        "--pyargs",
        "eventsourcing_conformance",
        "--eventsourcing-backend=eventsourcing.popo:Factory",
        "-k",
        "durability or processes",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    advice = (
        "no pytest_eventsourcing_backend hook answered for backend 'eventsourcing.popo:Factory'"
    )
    skips = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    # durability (3 kinds, one line), total order and subscriptions with processes
    assert len(skips) == 3, result.stdout
    assert all(advice in line and "Add a hook" in line for line in skips), skips
    assert "UndescribedBackendWarning" in result.stdout, result.stdout
