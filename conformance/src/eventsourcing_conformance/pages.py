"""Pages: a process recorder records events with several tracking records at once.

For a recorder that declares ``max_trackings_per_insert`` other than 1,
``insert_events(stored_events, trackings=[...])`` must:

- record the events and every tracking record, or nothing;
- refuse (``IntegrityError``, nothing recorded) a page of which any
  tracking record was recorded before, or that repeats one;
- make ``max_tracking_id`` the largest and ``has_tracking_id`` true for each;
- accept a page with no events (notifications that changed nothing).

A recorder that keeps the default 1 is given pages of one notification by
the runner (through ``tracking=``) and is not checked here.
"""

from __future__ import annotations

from typing import List, Tuple
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventsourcing.persistence import IntegrityError, ProcessRecorder, StoredEvent, Tracking
from eventsourcing_conformance.backend import Backend
from eventsourcing_conformance.properties import violated

__all__ = ["PAGES", "PageConformance", "check_pages"]

PAGES = "pages of tracking records"

# Pages: (number of events, notification IDs of the page), drawn per example.
_pages = st.lists(
    st.tuples(st.integers(0, 3), st.lists(st.integers(1, 40), min_size=1, max_size=6)),
    min_size=1,
    max_size=6,
)


def check_pages(backend: Backend) -> None:
    """The ``trackings=`` properties, on a fresh store per example."""

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(pages=_pages)
    def run(pages: List[Tuple[int, List[int]]]) -> None:
        with backend.store() as env, backend.open(env) as factory:
            recorder = factory.process_recorder()
            if recorder.max_trackings_per_insert == 1:
                pytest.skip(f"backend {backend.name!r} records one tracking per insert")
            _check(recorder, pages)

    run()


def _check(recorder: ProcessRecorder, pages: List[Tuple[int, List[int]]]) -> None:
    tracked: set[int] = set()
    events = 0
    for n_events, ids in pages:
        originator_id = uuid4()
        stored = [StoredEvent(originator_id, v, "t:E", b"{}") for v in range(1, n_events + 1)]
        trackings = [Tracking("upstream", i) for i in ids]
        expect_conflict = len(set(ids)) < len(ids) or bool(tracked & set(ids))
        try:
            recorder.insert_events(stored, trackings=trackings)
        except IntegrityError:
            if not expect_conflict:
                violated(PAGES, f"a new page {ids} was refused")
        else:
            if expect_conflict:
                violated(PAGES, f"a page {ids} repeating a tracking record was recorded")
            tracked |= set(ids)
            events += n_events
        if recorder.max_tracking_id("upstream") != max(tracked, default=0):
            violated(PAGES, "max_tracking_id() is not the largest recorded")
        for i in range(1, 41):
            if recorder.has_tracking_id("upstream", i) != (i in tracked):
                violated(PAGES, f"has_tracking_id(upstream, {i}) is wrong after a page")
        if len(recorder.select_notifications(1, 1000)) != events:
            violated(PAGES, "the events of a refused page were recorded (or a page's lost)")


class PageConformance:
    """The page properties, as a pytest test."""

    def test_process_recorder_pages(self, conformance_backend: Backend) -> None:
        check_pages(conformance_backend)
