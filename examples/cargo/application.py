"""The booking application: book cargo, route it, register its handling."""

from __future__ import annotations

from datetime import datetime
from typing import List, Optional
from uuid import UUID

from eventsourcing.application import AggregateNotFound, Application
from eventsourcing.persistence import Transcoder
from examples.cargo.domain import Cargo, HandlingActivity, Itinerary, Location
from examples.cargo.routing import find_routes
from examples.cargo.transcodings import CARGO_TRANSCODINGS

__all__ = ["BookingService", "CargoNotFoundError", "NoRouteError"]


class CargoNotFoundError(LookupError):
    """No cargo has this tracking ID."""


class NoRouteError(Exception):
    """No voyages connect the cargo's origin and destination."""


class BookingService(Application[Cargo]):
    """Books cargo and follows it from port to port."""

    def register_transcodings(self, transcoder: Transcoder) -> None:
        super().register_transcodings(transcoder)
        for transcoding in CARGO_TRANSCODINGS:
            transcoder.register(transcoding)

    def book_new_cargo(
        self, origin: Location, destination: Location, arrival_deadline: datetime
    ) -> UUID:
        cargo = Cargo(origin, destination, arrival_deadline)
        self.save(cargo)
        return cargo.id

    def change_destination(self, tracking_id: UUID, destination: Location) -> None:
        cargo = self.get_cargo(tracking_id)
        cargo.change_destination(destination)
        self.save(cargo)

    def request_possible_routes_for_cargo(self, tracking_id: UUID) -> List[Itinerary]:
        cargo = self.get_cargo(tracking_id)
        routes = find_routes(cargo.origin, cargo.destination)
        if not routes:
            raise NoRouteError(
                f"No voyages go from {cargo.origin.name} to {cargo.destination.name}"
            )
        return routes

    def assign_route(self, tracking_id: UUID, itinerary: Itinerary) -> None:
        cargo = self.get_cargo(tracking_id)
        cargo.assign_route(itinerary)
        self.save(cargo)

    def register_handling_event(
        self,
        tracking_id: UUID,
        voyage_number: Optional[str],
        location: Location,
        activity: HandlingActivity,
    ) -> None:
        cargo = self.get_cargo(tracking_id)
        cargo.register_handling_event(voyage_number, location, activity)
        self.save(cargo)

    def get_cargo(self, tracking_id: UUID) -> Cargo:
        try:
            return self.repository.get(tracking_id)
        except AggregateNotFound:
            raise CargoNotFoundError(f"No cargo has tracking ID {tracking_id}") from None
