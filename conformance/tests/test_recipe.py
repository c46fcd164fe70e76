"""The README's recipe and the worked third-party example, run as a user would.

Each test runs pytest in a subprocess, in a directory of its own (so this
repository's pytest.ini does not apply), exactly as a third party would.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def recipe() -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- recipe:[^>]*-->\n```python\n(.*?)```", text, re.DOTALL)
    assert found, "the README has no recipe block"
    return found.group(1)


def run_pytest(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (directory / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *args],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_recipe_is_at_most_15_lines() -> None:
    assert len(recipe().rstrip("\n").splitlines()) <= 15


def test_recipe_runs_the_suite_on_third_party_recorders(tmp_path: Path) -> None:
    (tmp_path / "test_journal_conformance.py").write_text(recipe(), encoding="utf-8")
    result = run_pytest(tmp_path, "test_journal_conformance.py")
    assert result.returncode == 0, result.stdout + result.stderr
    # 8 checks for each of the 3 recorder kinds, 3 total-order checks, 5
    # subscription checks, the tracking recorder check and 3 checks of the
    # optional copying capabilities. Skipped: the two with writer processes
    # (the recipe does not declare the journal multiprocess), the tracking
    # recorder check and the copying checks (the journal has neither), and
    # the check of pages of several tracking records (the journal takes one).
    assert "30 passed, 7 skipped" in result.stdout, result.stdout


def test_third_party_backend_selected_by_name(tmp_path: Path) -> None:
    result = run_pytest(
        tmp_path, "--pyargs", "eventsourcing_conformance", "--eventsourcing-backend=journal"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Its own pytest plugin declares it durable and multiprocess: skipped are
    # only the tracking recorder check and the checks of the optional copying
    # capabilities (the journal has neither), and the check of pages of
    # several tracking records (the journal takes one per insert). Its async
    # recorders (the core's adapter) pass the same checks (26), but writer processes.
    assert "58 passed, 5 skipped" in result.stdout, result.stdout
    assert "does not construct tracking recorders" in result.stdout, result.stdout
    assert result.stdout.count("optional capability") == 3, result.stdout
    assert "UndescribedBackendWarning" not in result.stdout, result.stdout


def test_unknown_backend_name_is_a_usage_error(tmp_path: Path) -> None:
    result = run_pytest(
        tmp_path, "--pyargs", "eventsourcing_conformance", "--eventsourcing-backend=nosuch"
    )
    assert result.returncode == 4, result.stdout + result.stderr
    assert "'nosuch' is not an installed persistence module" in result.stderr
    assert "popo" in result.stderr


def test_worked_example_refuses_bad_input_with_the_projects_checks(tmp_path: Path) -> None:
    """es_journal validates with eventsourcing.checks: the messages every backend gives."""
    from uuid import uuid4

    import pytest
    from es_journal import JournalRecorder

    from eventsourcing.persistence import DataError, InterfaceError, StoredEvent, Tracking

    journal = tmp_path / "journal.jsonl"
    recorder = JournalRecorder(str(journal))
    good = StoredEvent(uuid4(), 1, "topic", b"{}")
    with pytest.raises(InterfaceError, match=r"^Expected a StoredEvent, got str: 'x'$"):
        recorder.insert_events([good, "x"])  # type: ignore[list-item]
    with pytest.raises(InterfaceError, match=r"^tracking must be a Tracking, got tuple$"):
        recorder.insert_events([good], tracking=("upstream", 1))
    with pytest.raises(InterfaceError, match=r"^tracking.notification_id must be an int"):
        recorder.insert_events([good], tracking=Tracking("upstream", "1"))  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"^limit must not be less than 0, got -1$"):
        recorder.select_notifications(1, -1)
    with pytest.raises(InterfaceError, match=r"^gt must be an int, got str: '0'$"):
        recorder.select_events(good.originator_id, gt="0")  # type: ignore[arg-type]
    assert journal.read_bytes() == b""
    recorder.close()
