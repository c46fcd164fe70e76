"""Bad input: a clear PEP 249 exception and an unchanged store, never corruption.

Each case is tried on a store that already holds a few events (and, for
process recorders, a tracking record). The recorder must raise an exception
from :mod:`eventsourcing.persistence`'s hierarchy (``PersistenceError`` and
subclasses: ``InterfaceError``, ``DataError``, ``IntegrityError``, ...), and
what was stored must be exactly what was there before.

Values a backend may legitimately store (negative or very large versions,
a large state) must either be refused in that way or read back unchanged.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Tuple
from uuid import UUID, uuid4

from eventsourcing.persistence import PersistenceError, StoredEvent, Tracking
from eventsourcing_conformance.backend import Backend
from eventsourcing_conformance.kinds import make_recorder, store_state
from eventsourcing_conformance.properties import (
    ATOMICITY,
    BAD_INPUT,
    TRACKING,
    UNIQUENESS,
    violated,
)

__all__ = ["check_bad_input"]

TOPIC = "conformance.events:Valid"
HUGE_STATE_BYTES = 4 * 1024 * 1024


def _valid(originator_id: UUID, version: int) -> StoredEvent:
    return StoredEvent(originator_id, version, TOPIC, b"{}")


def _raw(originator_id: Any, version: Any, topic: Any = TOPIC, state: Any = b"{}") -> Any:
    """A StoredEvent built without type checks, as a careless caller might."""
    event = object.__new__(StoredEvent)
    for name, value in (
        ("originator_id", originator_id),
        ("originator_version", version),
        ("topic", topic),
        ("state", state),
    ):
        object.__setattr__(event, name, value)
    return event


def check_bad_input(backend: Backend, kind: str) -> None:
    """Run every bad-input case against a recorder of ``kind``."""
    with backend.store() as env, backend.open(env) as factory:
        recorder: Any = make_recorder(factory, kind)
        try:
            _check_open_recorder(recorder, kind)
        finally:
            recorder.close()
        _check_closed(backend, env, kind)


def _check_open_recorder(recorder: Any, kind: str) -> None:
    existing = uuid4()
    kwargs: dict[str, Any] = {}
    if kind == "process":
        kwargs["tracking"] = Tracking("upstream", 1)
    recorder.insert_events([_valid(existing, 1), _valid(existing, 2)], **kwargs)
    fresh = uuid4()
    originators = [existing, fresh]

    def refused(
        description: str,
        call: Callable[[], Any],
        accepted: str = BAD_INPUT,
        changed: str = BAD_INPUT,
    ) -> None:
        """``accepted`` and ``changed`` name the property broken if the call is
        accepted, or changes the store (conflicts break uniqueness, atomicity)."""
        before = store_state(recorder, originators)
        try:
            call()
        except PersistenceError:
            pass
        except Exception as e:
            violated(
                BAD_INPUT,
                f"{description}: raised {type(e).__name__}: {e} (expected an exception "
                "from eventsourcing.persistence: InterfaceError, DataError, ...)",
            )
        else:
            violated(accepted, f"{description}: was accepted, expected an exception")
        if store_state(recorder, originators) != before:
            violated(changed, f"{description}: raised, but the store changed")

    def refused_or_kept(description: str, event: StoredEvent) -> None:
        before = store_state(recorder, originators)
        try:
            recorder.insert_events([event])
        except PersistenceError:
            if store_state(recorder, originators) != before:
                violated(BAD_INPUT, f"{description}: raised, but the store changed")
            return
        except Exception as e:
            violated(
                BAD_INPUT,
                f"{description}: raised {type(e).__name__}: {e} (expected an exception "
                "from eventsourcing.persistence, or the event stored unchanged)",
            )
        found = [
            e
            for e in recorder.select_events(event.originator_id)
            if e.originator_version == event.originator_version
        ]
        if len(found) != 1 or (found[0].topic, found[0].state) != (event.topic, event.state):
            violated(
                BAD_INPUT,
                f"{description}: was accepted but does not read back unchanged",
            )

    def insert(*events: Any, **kw: Any) -> Callable[[], Any]:
        return lambda: recorder.insert_events(list(events), **kw)

    ok = _valid(fresh, 1)
    refused("an originator_id that is not a UUID ('not-a-uuid')", insert(ok, _raw("not-a-uuid", 2)))
    refused("an originator_id of the wrong type (int)", insert(ok, _raw(12345, 1)))
    refused("an originator_version that is a str", insert(ok, _raw(fresh, "2")))
    refused("an originator_version that is None", insert(ok, _raw(fresh, None)))
    refused("an originator_version that is a float", insert(ok, _raw(fresh, 2.5)))
    refused("a topic that is not a str", insert(ok, _raw(fresh, 2, topic=42)))
    refused("a state that is a str, not bytes", insert(ok, _raw(fresh, 2, state="{}")))
    refused("a state that is None", insert(ok, _raw(fresh, 2, state=None)))
    refused("a batch item that is not a StoredEvent", insert(ok, {"originator_id": fresh}))
    refused(
        "a conflict with a recorded event",
        insert(ok, _valid(existing, 2)),
        accepted=UNIQUENESS,
        changed=ATOMICITY,
    )
    if kind == "process":
        refused("a tracking argument that is not a Tracking", insert(ok, tracking=("upstream", 2)))
        refused(
            "a repeated tracking record",
            insert(ok, tracking=Tracking("upstream", 1)),
            accepted=TRACKING,
            changed=TRACKING,
        )

    refused_or_kept("a negative originator_version (-1)", _valid(uuid4(), -1))
    refused_or_kept(
        "an originator_version of 2**31 (beyond a 32-bit integer)", _valid(uuid4(), 2**31)
    )
    refused_or_kept(
        "an originator_version of 2**63 (beyond a 64-bit integer)", _valid(uuid4(), 2**63)
    )
    huge = os.urandom(HUGE_STATE_BYTES // 4) * 4
    refused_or_kept(f"a state of {len(huge)} bytes", StoredEvent(uuid4(), 1, TOPIC, huge))
    nul = StoredEvent(uuid4(), 1, "conformance.events:Nul\u00e9", b"\x00\xff\x00")
    refused_or_kept("a state with NUL bytes and a non-ASCII topic", nul)


def _check_closed(backend: Backend, env: Any, kind: str) -> None:
    """A closed recorder refuses work instead of silently doing nothing."""
    factory = backend.open(env)
    recorder: Any = make_recorder(factory, kind)
    recorder.close()
    factory.close()
    recorder.close()  # closing twice is harmless
    checks: Tuple[Tuple[str, Callable[[], Any]], ...] = (
        (
            "insert_events on a closed recorder",
            lambda: recorder.insert_events([_valid(uuid4(), 1)]),
        ),
        ("select_events on a closed recorder", lambda: recorder.select_events(uuid4())),
    )
    for description, call in checks:
        try:
            call()
        except PersistenceError:
            continue
        except Exception as e:
            violated(
                BAD_INPUT,
                f"{description} raised {type(e).__name__}: {e} (expected an exception from "
                "eventsourcing.persistence, such as InterfaceError)",
            )
        violated(BAD_INPUT, f"{description} did not raise")
