"""The asyncio example service on every backend, and as a script."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Dict

from examples.asyncbank.service import main

ROOT = Path(__file__).resolve().parent.parent


def test_concurrent_transfers_keep_every_cent(store_env: Dict[str, str]) -> None:
    outcome = asyncio.run(main(store_env, transfers=30))
    balances = outcome["balances"]
    assert isinstance(balances, dict)
    # Round the ring of three accounts: each pays and receives 10 times.
    assert balances == {name: Decimal("100.00") for name in ("Ann", "Bob", "Cy")}
    seen = outcome["seen"]
    assert isinstance(seen, list) and len(seen) == 60
    assert set(seen) == {"Account.Debited", "Account.Credited"}
    assert outcome["first_section"] == "1,5"


def test_the_example_runs_as_a_script() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "examples.asyncbank.service"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "", "PERSISTENCE_MODULE": "popo"},
    )
    assert result.returncode == 0, result.stderr
    # 50 transfers of 1.00 round three accounts: Ann pays one more than she receives.
    assert "Ann: 99.00\nBob: 100.00\nCy: 101.00" in result.stdout
    assert "100 events followed" in result.stdout
