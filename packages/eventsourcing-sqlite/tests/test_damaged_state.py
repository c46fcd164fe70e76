"""Damaged plain JSON state (no compressor, no cipher) in a real SQLite file.

Plain JSON has no integrity check, so some damage goes unnoticed (a changed
digit); but whatever cannot be turned back into an event is reported as a
DataError naming the stored event, never as a bare KeyError or TypeError
(a damaged originator topic: a TopicError naming the topic, when the
aggregate is reconstructed).
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import List, Tuple

import pytest

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import DataError
from eventsourcing.utils import TopicError


class Account(Aggregate):
    def __init__(self, name: str) -> None:
        self.name = name
        self.balance = Decimal(0)

    @event("Credited")
    def credit(self, amount: Decimal) -> None:
        self.balance += amount


@pytest.mark.parametrize("version", [1, 2])
def test_every_byte_flip_of_plain_state_reads_back_or_raises_data_error_naming_the_event(
    tmp_path: Path, version: int
) -> None:
    path = tmp_path / "bank.sqlite"
    with Application[Account](
        env={"PERSISTENCE_MODULE": "sqlite", "SQLITE_DBNAME": str(path)}
    ) as app:
        account = Account("alice")
        account.credit(Decimal("1.50"))
        app.save(account)
        db = sqlite3.connect(path)
        try:
            (state, topic) = db.execute(
                "SELECT state, topic FROM stored_events WHERE originator_version = ?",
                (version,),
            ).fetchone()
            undetected = 0
            wrong: List[Tuple[int, int, BaseException]] = []
            for position in range(len(state)):
                for mask in (0x01, 0x20, 0x80):
                    damaged = bytearray(state)
                    damaged[position] ^= mask
                    with db:
                        db.execute(
                            "UPDATE stored_events SET state = ? WHERE originator_version = ?",
                            (bytes(damaged), version),
                        )
                    try:
                        app.repository.get(account.id)
                    except DataError as e:
                        message = str(e)
                        if not (
                            str(account.id) in message
                            and f"version {version}" in message
                            and topic in message
                        ):
                            wrong.append((position, mask, e))
                    except TopicError as e:
                        # The aggregate's class, named in the created event.
                        if "originator_topic" not in state[: position + 20].decode(
                            errors="replace"
                        ) or "Failed to resolve topic" not in str(e):
                            wrong.append((position, mask, e))
                    except Exception as e:
                        wrong.append((position, mask, e))
                    else:
                        undetected += 1
        finally:
            db.close()
    assert wrong == [], f"{len(wrong)} flips, e.g. {wrong[:3]}"
    # Plain JSON: flips inside values that stay valid are not noticed.
    assert 0 < undetected < 3 * len(state)
