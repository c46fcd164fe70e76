"""The cargo shipping domain: a cargo, its route, and how it was handled.

Locations, handling activities, legs and itineraries are value objects of
the domain. They appear in events, so each has a transcoding (in
:mod:`examples.cargo.transcodings`) that stores it as plain JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Callable, Optional, Tuple

from eventsourcing.domain import Aggregate, event

__all__ = [
    "Cargo",
    "CargoClaimedError",
    "HandlingActivity",
    "HandlingStep",
    "Itinerary",
    "Leg",
    "Location",
    "RoutingStatus",
    "TransportStatus",
]


class Location(Enum):
    """UN/LOCODE codes of the ports served."""

    HONGKONG = "CNHKG"
    HAMBURG = "DEHAM"
    ROTTERDAM = "NLRTM"
    STOCKHOLM = "SESTO"
    HELSINKI = "FIHEL"
    NEWYORK = "USNYC"
    CHICAGO = "USCHI"
    TOKYO = "JNTKO"


class HandlingActivity(Enum):
    RECEIVE = "RECEIVE"
    LOAD = "LOAD"
    UNLOAD = "UNLOAD"
    CLAIM = "CLAIM"


class RoutingStatus(Enum):
    NOT_ROUTED = "NOT_ROUTED"
    ROUTED = "ROUTED"
    MISROUTED = "MISROUTED"


class TransportStatus(Enum):
    NOT_RECEIVED = "NOT_RECEIVED"
    IN_PORT = "IN_PORT"
    ONBOARD_CARRIER = "ONBOARD_CARRIER"
    CLAIMED = "CLAIMED"


@dataclass(frozen=True)
class Leg:
    """One voyage from one port to the next."""

    origin: Location
    destination: Location
    voyage_number: str


LegPredicate = Callable[[Leg], bool]


@dataclass(frozen=True)
class Itinerary:
    """A route from ``origin`` to ``destination`` as a sequence of legs."""

    origin: Location
    destination: Location
    legs: Tuple[Leg, ...]


@dataclass(frozen=True)
class HandlingStep:
    """What is expected to happen to a cargo next, where, on which voyage."""

    activity: HandlingActivity
    location: Location
    voyage_number: Optional[str] = None


class CargoClaimedError(Exception):
    """A claimed cargo cannot be rerouted or handled again."""


class Cargo(Aggregate):
    """A booked cargo, tracked by its ID from booking to claim."""

    def __init__(self, origin: Location, destination: Location, arrival_deadline: datetime) -> None:
        self.origin = origin
        self.destination = destination
        self.arrival_deadline = arrival_deadline
        self.route: Optional[Itinerary] = None
        self.routing_status = RoutingStatus.NOT_ROUTED
        self.transport_status = TransportStatus.NOT_RECEIVED
        self.last_known_location: Optional[Location] = None
        self.current_voyage_number: Optional[str] = None
        self.is_misdirected = False
        self.next_expected_activity: Optional[HandlingStep] = None

    def change_destination(self, destination: Location) -> None:
        self._check_not_claimed()
        self._destination_changed(destination)

    def assign_route(self, itinerary: Itinerary) -> None:
        self._check_not_claimed()
        if itinerary.origin != self.origin:
            raise ValueError(
                f"Itinerary starts at {itinerary.origin.name}, but cargo {self.id} "
                f"is booked from {self.origin.name}"
            )
        self._route_assigned(itinerary)

    def register_handling_event(
        self, voyage_number: Optional[str], location: Location, activity: HandlingActivity
    ) -> None:
        self._check_not_claimed()
        self._handled(voyage_number, location, activity)

    def _check_not_claimed(self) -> None:
        if self.transport_status == TransportStatus.CLAIMED:
            raise CargoClaimedError(f"Cargo {self.id} has been claimed")

    @event("DestinationChanged")
    def _destination_changed(self, destination: Location) -> None:
        self.destination = destination
        self._update_routing_status()

    @event("RouteAssigned")
    def _route_assigned(self, route: Itinerary) -> None:
        self.route = route
        self._update_routing_status()
        if self.transport_status == TransportStatus.NOT_RECEIVED:
            self.next_expected_activity = HandlingStep(HandlingActivity.RECEIVE, self.origin)

    @event("HandlingEventRegistered")
    def _handled(
        self, voyage_number: Optional[str], location: Location, activity: HandlingActivity
    ) -> None:
        self.last_known_location = location
        if activity == HandlingActivity.RECEIVE:
            self.transport_status = TransportStatus.IN_PORT
            self._expect_load_from(location)
        elif activity == HandlingActivity.LOAD:
            self.transport_status = TransportStatus.ONBOARD_CARRIER
            self.current_voyage_number = voyage_number
            leg = self._leg(lambda g: g.origin == location and g.voyage_number == voyage_number)
            if leg is not None:
                self.next_expected_activity = HandlingStep(
                    HandlingActivity.UNLOAD, leg.destination, voyage_number
                )
        elif activity == HandlingActivity.UNLOAD:
            self.transport_status = TransportStatus.IN_PORT
            self.current_voyage_number = None
            leg = self._leg(
                lambda g: g.destination == location and g.voyage_number == voyage_number
            )
            if leg is not None:
                if location == self.destination:
                    self.next_expected_activity = HandlingStep(HandlingActivity.CLAIM, location)
                else:
                    self._expect_load_from(location)
        else:
            self.transport_status = TransportStatus.CLAIMED
            self.next_expected_activity = None
            self.is_misdirected = location != self.destination
            return
        self.is_misdirected = self.route is None or not any(
            location in (g.origin, g.destination) for g in self.route.legs
        )
        if self.is_misdirected:
            self.next_expected_activity = None

    def _expect_load_from(self, location: Location) -> None:
        leg = self._leg(lambda g: g.origin == location)
        self.next_expected_activity = (
            None
            if leg is None
            else HandlingStep(HandlingActivity.LOAD, location, leg.voyage_number)
        )

    def _leg(self, matches: LegPredicate) -> Optional[Leg]:
        if self.route is None:
            return None
        return next((leg for leg in self.route.legs if matches(leg)), None)

    def _update_routing_status(self) -> None:
        if self.route is None:
            self.routing_status = RoutingStatus.NOT_ROUTED
        elif self.route.destination == self.destination:
            self.routing_status = RoutingStatus.ROUTED
        else:
            self.routing_status = RoutingStatus.MISROUTED
