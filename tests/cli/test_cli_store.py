""":class:`eventsourcing.cli.Store`: pages of notifications up to a stop, on real stores."""

from __future__ import annotations

from typing import Dict, List

import pytest

from eventsourcing.cli import Store
from eventsourcing.postgres.conformance import require_postgres

from .conftest import fill


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_pages_end_at_stop_whichever_page_it_falls_in(
    backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "postgres":
        require_postgres()
    env: Dict[str, str] = request.getfixturevalue(f"{backend}_env")
    fill(env)  # notification IDs 1 to 8
    with Store(env, "BankAccounts") as store:

        def ids(start: int, stop: int | None, page: int) -> List[List[int]]:
            return [[n.id for n in p] for p in store.notifications(start, stop=stop, page=page)]

        assert ids(1, 5, 2) == [[1, 2], [3, 4], [5]]
        assert ids(1, 4, 2) == [[1, 2], [3, 4]]
        assert ids(2, 8, 3) == [[2, 3, 4], [5, 6, 7], [8]]
        assert ids(6, None, 10) == [[6, 7, 8]]
        assert ids(3, 2, 10) == []
        assert ids(9, 20, 10) == []
