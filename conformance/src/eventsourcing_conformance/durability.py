"""What a durable recorder acknowledged is there after closing and reopening.

The state machines close and reopen at random points; this fixed case does
it once after events, notifications and tracking records were recorded, so a
durable backend that loses them fails in every run.
"""

from __future__ import annotations

from uuid import uuid4

from eventsourcing.persistence import StoredEvent, Tracking
from eventsourcing_conformance.backend import Backend
from eventsourcing_conformance.kinds import make_recorder, store_state
from eventsourcing_conformance.properties import DURABILITY, violated

__all__ = ["check_reopened"]


def check_reopened(backend: Backend, kind: str) -> None:
    originators = [uuid4(), uuid4()]
    with backend.store() as env:
        with backend.open(env) as factory:
            recorder = make_recorder(factory, kind)
            for n, o in enumerate(originators, 1):
                kwargs = {"tracking": Tracking("upstream", n)} if kind == "process" else {}
                batch = [StoredEvent(o, v, "conformance.events:Kept", b"%d" % v) for v in (1, 2)]
                recorder.insert_events(batch, **kwargs)
            before = store_state(recorder, originators)
            recorder.close()
        with backend.open(env) as factory:
            recorder = make_recorder(factory, kind)
            try:
                after = store_state(recorder, originators)
            finally:
                recorder.close()
    if after != before:
        violated(
            DURABILITY,
            f"after closing and reopening the store, a {kind} recorder answers {after!r:.300}, "
            f"not {before!r:.300}",
        )
