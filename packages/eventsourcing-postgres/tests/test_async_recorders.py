"""The native async recorders: group commit of concurrent saves in one event
loop, conflicts refused one save at a time, the table lock shared with the
sync recorders, and closing."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List
from uuid import UUID, uuid4

import pytest

from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    StoredEvent,
    Tracking,
)
from eventsourcing.postgres import Factory
from eventsourcing.postgres.asyncrecorders import AsyncPostgresApplicationRecorder


def ids_of(count: int) -> List[UUID]:
    return [uuid4() for _ in range(count)]


@pytest.mark.parametrize("group_commit", ["y", "n"])
def test_concurrent_saves_are_all_recorded_once_in_commit_order(
    pg_env: Dict[str, str], group_commit: str
) -> None:
    env = {**pg_env, "POSTGRES_GROUP_COMMIT": group_commit}

    async def scenario() -> None:
        with Factory("", env) as f:
            recorder = f.async_process_recorder()
            assert isinstance(recorder, AsyncPostgresApplicationRecorder)
            singles = [[StoredEvent(uuid4(), 1, "t", b"s")] for _ in range(150)]
            batches = [[StoredEvent(i, v, "t", b"b") for v in (1, 2, 3)] for i in ids_of(5)]
            tracked = [[StoredEvent(uuid4(), 1, "t", b"p")] for _ in range(5)]
            saves: List[Any] = [recorder.insert_events(events) for events in singles + batches]
            saves += [
                recorder.insert_events(events, tracking=Tracking("up", i + 1))
                for i, events in enumerate(tracked)
            ]
            results = await asyncio.gather(*saves)
            ids = [i for result in results for i in result]
            assert len(ids) == 150 + 15 + 5 == len(set(ids))
            notifications = await recorder.select_notifications(1, 1000)
            assert [n.id for n in notifications] == sorted(ids)
            for events, result in zip(singles + batches + tracked, results, strict=True):
                assert await recorder.select_events(events[0].originator_id) == events
                assert len(result) == len(events)
            assert await recorder.max_tracking_id("up") == 5
            await recorder.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("group_commit", ["y", "n"])
def test_concurrent_saves_of_one_position_record_one_and_refuse_the_others(
    pg_env: Dict[str, str], group_commit: str
) -> None:
    env = {**pg_env, "POSTGRES_GROUP_COMMIT": group_commit}

    async def scenario() -> None:
        with Factory("", env) as f:
            recorder = f.async_application_recorder()
            taken = uuid4()
            others = [[StoredEvent(uuid4(), 1, "t", b"o")] for _ in range(10)]
            rivals = [[StoredEvent(taken, 1, "t", bytes([i]))] for i in range(10)]
            results = await asyncio.gather(
                *(recorder.insert_events(events) for events in rivals + others),
                return_exceptions=True,
            )
            refused = [r for r in results[:10] if isinstance(r, IntegrityError)]
            assert len(refused) == 9
            assert "conflict" in str(refused[0])
            assert all(isinstance(r, list) and len(r) == 1 for r in results[10:])
            (winner,) = await recorder.select_events(taken)
            assert [winner] in rivals
            assert await recorder.max_notification_id() == 11
            await recorder.close()

    asyncio.run(scenario())


def test_async_and_sync_recorders_share_the_table_lock(pg_env: Dict[str, str]) -> None:
    async def scenario() -> None:
        with Factory("", pg_env) as f:
            sync_recorder = f.application_recorder()
            recorder = f.async_application_recorder()
            loop = asyncio.get_running_loop()
            sync_saves = [
                loop.run_in_executor(
                    None, sync_recorder.insert_events, [StoredEvent(uuid4(), 1, "t", b"s")]
                )
                for _ in range(30)
            ]
            async_saves = [
                recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"a")]) for _ in range(30)
            ]
            results = await asyncio.gather(*sync_saves, *async_saves)
            ids = sorted(i for result in results for i in result)
            assert ids == list(range(1, 61))
            await recorder.close()

    asyncio.run(scenario())


def test_a_closed_async_recorder_says_so(pg_env: Dict[str, str]) -> None:
    async def scenario() -> None:
        with Factory("", pg_env) as f:
            recorder = f.async_application_recorder()
            snapshots = f.async_aggregate_recorder("snapshots")
            await recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"s")])
            await recorder.close()
            await recorder.close()  # idempotent
            with pytest.raises(InterfaceError, match="closed"):
                await recorder.max_notification_id()
            # A sibling keeps working: the pool closes with the last of them.
            await snapshots.insert_events([StoredEvent(uuid4(), 1, "t", b"s")])
            await snapshots.close()
            assert f.async_application_recorder() is not recorder

    asyncio.run(scenario())
