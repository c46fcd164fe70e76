"""The cargo shipping example on every backend: booking, routing, handling, transcodings."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Dict, Iterator
from uuid import uuid4

import pytest

from eventsourcing.application import Application
from examples.cargo.application import BookingService, CargoNotFoundError, NoRouteError
from examples.cargo.domain import (
    CargoClaimedError,
    HandlingActivity,
    HandlingStep,
    Itinerary,
    Leg,
    Location,
    RoutingStatus,
    TransportStatus,
)

L = Location
A = HandlingActivity
DEADLINE = datetime(2031, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def app(store_env: Dict[str, str]) -> Iterator[BookingService]:
    with BookingService(env={**store_env, "IS_SNAPSHOTTING_ENABLED": "y"}) as service:
        yield service


def test_a_cargo_travels_from_booking_to_claim(
    app: BookingService, store_env: Dict[str, str], backend: str
) -> None:
    tracking_id = app.book_new_cargo(L.HONGKONG, L.STOCKHOLM, DEADLINE)
    cargo = app.get_cargo(tracking_id)
    assert cargo.routing_status == RoutingStatus.NOT_ROUTED
    assert cargo.transport_status == TransportStatus.NOT_RECEIVED
    assert cargo.arrival_deadline == DEADLINE

    [route] = app.request_possible_routes_for_cargo(tracking_id)
    assert route.legs == (Leg(L.HONGKONG, L.HAMBURG, "V300"), Leg(L.HAMBURG, L.STOCKHOLM, "V400"))
    app.assign_route(tracking_id, route)
    cargo = app.get_cargo(tracking_id)
    assert cargo.route == route
    assert cargo.routing_status == RoutingStatus.ROUTED
    assert cargo.next_expected_activity == HandlingStep(A.RECEIVE, L.HONGKONG)

    steps = [
        (None, L.HONGKONG, A.RECEIVE, HandlingStep(A.LOAD, L.HONGKONG, "V300")),
        ("V300", L.HONGKONG, A.LOAD, HandlingStep(A.UNLOAD, L.HAMBURG, "V300")),
        ("V300", L.HAMBURG, A.UNLOAD, HandlingStep(A.LOAD, L.HAMBURG, "V400")),
        ("V400", L.HAMBURG, A.LOAD, HandlingStep(A.UNLOAD, L.STOCKHOLM, "V400")),
        ("V400", L.STOCKHOLM, A.UNLOAD, HandlingStep(A.CLAIM, L.STOCKHOLM)),
    ]
    for voyage, location, activity, expected in steps:
        app.register_handling_event(tracking_id, voyage, location, activity)
        cargo = app.get_cargo(tracking_id)
        assert cargo.next_expected_activity == expected, (voyage, location, activity)
        assert cargo.last_known_location == location
        assert not cargo.is_misdirected
    assert cargo.transport_status == TransportStatus.IN_PORT

    app.register_handling_event(tracking_id, None, L.STOCKHOLM, A.CLAIM)
    with pytest.raises(CargoClaimedError):
        app.register_handling_event(tracking_id, None, L.STOCKHOLM, A.CLAIM)
    with pytest.raises(CargoClaimedError):
        app.change_destination(tracking_id, L.HELSINKI)

    if backend != "popo":  # popo forgets everything when closed
        app.close()
        app = BookingService(env=store_env)
    try:
        cargo = app.get_cargo(tracking_id)
        assert cargo.transport_status == TransportStatus.CLAIMED
        assert cargo.next_expected_activity is None
        assert cargo.version == 8
    finally:
        app.close()


def test_changing_the_destination_misroutes_until_a_new_route_is_assigned(
    app: BookingService,
) -> None:
    tracking_id = app.book_new_cargo(L.HONGKONG, L.CHICAGO, DEADLINE)
    routes = app.request_possible_routes_for_cargo(tracking_id)
    assert [[leg.voyage_number for leg in r.legs] for r in routes] == [["V100", "V200"]]
    app.assign_route(tracking_id, routes[0])
    app.change_destination(tracking_id, L.NEWYORK)
    assert app.get_cargo(tracking_id).routing_status == RoutingStatus.MISROUTED
    [direct, *_] = app.request_possible_routes_for_cargo(tracking_id)
    assert direct.legs == (Leg(L.HONGKONG, L.NEWYORK, "V100"),)
    app.assign_route(tracking_id, direct)
    assert app.get_cargo(tracking_id).routing_status == RoutingStatus.ROUTED


def test_unloading_off_the_route_marks_the_cargo_misdirected(app: BookingService) -> None:
    tracking_id = app.book_new_cargo(L.HONGKONG, L.NEWYORK, DEADLINE)
    app.assign_route(tracking_id, app.request_possible_routes_for_cargo(tracking_id)[0])
    app.register_handling_event(tracking_id, None, L.HONGKONG, A.RECEIVE)
    app.register_handling_event(tracking_id, "V100", L.HONGKONG, A.LOAD)
    app.register_handling_event(tracking_id, "V100", L.TOKYO, A.UNLOAD)
    cargo = app.get_cargo(tracking_id)
    assert cargo.is_misdirected
    assert cargo.next_expected_activity is None


def test_errors(app: BookingService) -> None:
    with pytest.raises(CargoNotFoundError):
        app.get_cargo(uuid4())
    tracking_id = app.book_new_cargo(L.TOKYO, L.CHICAGO, DEADLINE)
    with pytest.raises(NoRouteError, match="TOKYO to CHICAGO"):
        app.request_possible_routes_for_cargo(tracking_id)
    wrong_start = Itinerary(L.HONGKONG, L.CHICAGO, (Leg(L.HONGKONG, L.CHICAGO, "V9"),))
    with pytest.raises(ValueError, match="starts at HONGKONG"):
        app.assign_route(tracking_id, wrong_start)
    assert app.get_cargo(tracking_id).version == 1


def test_value_objects_are_stored_by_their_transcodings(app: BookingService) -> None:
    tracking_id = app.book_new_cargo(L.HONGKONG, L.NEWYORK, DEADLINE)
    app.assign_route(tracking_id, app.request_possible_routes_for_cargo(tracking_id)[0])
    booked, routed = app.recorder.select_events(tracking_id)
    assert b'"origin": {"_type_": "cargo_location", "_data_": "CNHKG"}' in booked.state
    assert b'"_type_": "cargo_itinerary"' in routed.state
    assert b'"_type_": "cargo_leg"' in routed.state

    # An application without the transcodings cannot read them back.
    plain = Application[object](env=app.env)
    try:
        with pytest.raises(TypeError, match="cargo_location"):
            plain.mapper.to_domain_event(booked)
    finally:
        plain.close()

    # Snapshots hold the whole state, enums and nested value objects included.
    app.register_handling_event(tracking_id, None, L.HONGKONG, A.RECEIVE)
    app.take_snapshot(tracking_id)
    assert app.snapshots is not None
    [snapshot] = app.snapshots.get(tracking_id)
    restored = snapshot.mutate(None)
    assert restored == app.get_cargo(tracking_id)
    assert restored.route.legs[0].origin is L.HONGKONG
