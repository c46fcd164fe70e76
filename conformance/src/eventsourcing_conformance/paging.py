"""Limits and bounds of reads, at their edges, and what an empty store answers.

Fixed grids next to the state machines, so that a limit of 0 taken for "no
limit", a limit ignored, or a bound off by one fails in every run, not only
when the machines happen to draw it.
"""

from __future__ import annotations

import itertools
from typing import Any, Optional, Sequence
from uuid import uuid4

from eventsourcing.persistence import StoredEvent, Tracking
from eventsourcing_conformance.backend import Backend
from eventsourcing_conformance.kinds import fresh_recorder
from eventsourcing_conformance.model import RecorderModel
from eventsourcing_conformance.properties import ORDERING, TRACKING, violated
from eventsourcing_conformance.reads import (
    check_bool,
    check_int,
    check_notifications,
    check_stored_events,
    event_key,
    notification_key,
    read_label,
)

__all__ = ["check_empty_store", "check_limits_and_bounds"]

EVENTS = 12
TOPICS = ("conformance.events:Even", "conformance.events:Odd")
LIMITS = (None, 0, 1, 5, EVENTS - 1, EVENTS, EVENTS + 1)
GTS = (None, 0, 3, EVENTS)
LTES = (None, 0, 7, EVENTS)


def check_empty_store(backend: Backend, kind: str) -> None:
    """An empty store answers with empty lists and zeros of the right types."""
    with fresh_recorder(backend, kind) as (recorder, _):
        call = "on an empty store: select_events(...)"
        found = recorder.select_events(uuid4())
        check_stored_events(call, found)
        if found:
            violated(ORDERING, f"{call} returned {len(found)} events")
        if kind == "aggregate":
            return
        call = "on an empty store: select_notifications(1, 10)"
        notes = recorder.select_notifications(1, 10)
        check_notifications(call, notes)
        if notes:
            violated(ORDERING, f"{call} returned {len(notes)} notifications")
        top = check_int("on an empty store: max_notification_id()", recorder.max_notification_id())
        if top != 0:
            violated(ORDERING, f"on an empty store: max_notification_id() returned {top}, not 0")
        if kind == "process":
            call = "on an empty store: max_tracking_id('upstream')"
            if check_int(call, recorder.max_tracking_id("upstream")) != 0:
                violated(TRACKING, f"{call} is not 0")
            call = "on an empty store: has_tracking_id('upstream', 1)"
            if check_bool(call, recorder.has_tracking_id("upstream", 1)):
                violated(TRACKING, f"{call} is True")


def _compare(
    call: str, found: Any, expected: Sequence[Any], unlimited: Optional[Sequence[Any]]
) -> None:
    if found != expected:
        violated(
            read_label(found, expected, unlimited),
            f"{call} returned {[k[1] if len(k) == 4 else k[0] for k in found]}, expected "
            f"{[k[1] if len(k) == 4 else k[0] for k in expected]}",
        )


def check_limits_and_bounds(backend: Backend, kind: str) -> None:
    """Every combination of gt, lte, desc and limit (0 included) in
    ``select_events``, and of start, limit, stop and topics in
    ``select_notifications``, answers exactly as the model does."""
    with fresh_recorder(backend, kind) as (recorder, _):
        model = RecorderModel()
        originator, other = uuid4(), uuid4()
        # Two versions a batch, the later first: the order of versions is not
        # the order of insertion.
        for v in range(1, EVENTS + 1, 2):
            batch = [
                StoredEvent(o, w, TOPICS[w % 2], w.to_bytes(2, "big"))
                for o in (originator, other)
                for w in (v + 1, v)
            ]
            kwargs = {"tracking": Tracking("upstream", v)} if kind == "process" else {}
            ids = recorder.insert_events(batch, **kwargs)
            model.record(batch, None if kind == "aggregate" else list(ids or ()))
        for gt, lte, desc, limit in itertools.product(GTS, LTES, (False, True), LIMITS):
            call = f"select_events(gt={gt}, lte={lte}, desc={desc}, limit={limit})"
            found = recorder.select_events(originator, gt=gt, lte=lte, desc=desc, limit=limit)
            check_stored_events(call, found)
            expected = model.select_events(originator, gt=gt, lte=lte, desc=desc, limit=limit)
            unlimited = model.select_events(originator, gt=gt, lte=lte, desc=desc)
            _compare(
                call,
                [event_key(e) for e in found],
                [event_key(e) for e in expected],
                None if limit is None else [event_key(e) for e in unlimited],
            )
        if kind == "aggregate":
            return
        top = model.max_notification_id()
        for start, limit, stop, topics in itertools.product(
            (0, 1, 2, top, top + 1),
            (0, 1, 5, top, top + 1),
            (None, 6),
            ((), TOPICS[:1]),
        ):
            call = (
                f"select_notifications(start={start}, limit={limit}, stop={stop}, "
                f"topics={list(topics)})"
            )
            notes = recorder.select_notifications(start, limit, stop=stop, topics=topics)
            check_notifications(call, notes)
            expected_n = model.select_notifications(start, limit, stop=stop, topics=topics)
            unlimited_n = model.select_notifications(start, top + 1, stop=stop, topics=topics)
            _compare(
                call,
                [notification_key(n) for n in notes],
                [notification_key(n) for n in expected_n],
                [notification_key(n) for n in unlimited_n],
            )
