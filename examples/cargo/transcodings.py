"""Transcodings of the cargo domain's value objects.

Each one stores a value object as JSON data and builds an equal object
from it. Nested value objects (the legs of an itinerary, the locations of a
leg) are left to their own transcodings: the transcoder applies them
recursively.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Dict, List

from eventsourcing.persistence import Transcoding
from examples.cargo.domain import (
    HandlingActivity,
    HandlingStep,
    Itinerary,
    Leg,
    Location,
    RoutingStatus,
    TransportStatus,
)

__all__ = ["CARGO_TRANSCODINGS"]


class EnumAsValue(Transcoding):
    """An enum member as its value."""

    type: type[Enum]

    def encode(self, obj: Enum) -> Any:
        return obj.value

    def decode(self, data: Any) -> Enum:
        return self.type(data)


class LocationAsCode(EnumAsValue):
    type = Location
    name = "cargo_location"


class HandlingActivityAsValue(EnumAsValue):
    type = HandlingActivity
    name = "cargo_handling_activity"


class RoutingStatusAsValue(EnumAsValue):
    type = RoutingStatus
    name = "cargo_routing_status"


class TransportStatusAsValue(EnumAsValue):
    type = TransportStatus
    name = "cargo_transport_status"


class LegAsDict(Transcoding):
    type = Leg
    name = "cargo_leg"

    def encode(self, obj: Leg) -> Dict[str, Any]:
        return {
            "origin": obj.origin,
            "destination": obj.destination,
            "voyage_number": obj.voyage_number,
        }

    def decode(self, data: Dict[str, Any]) -> Leg:
        return Leg(**data)


class ItineraryAsDict(Transcoding):
    type = Itinerary
    name = "cargo_itinerary"

    def encode(self, obj: Itinerary) -> Dict[str, Any]:
        return {"origin": obj.origin, "destination": obj.destination, "legs": list(obj.legs)}

    def decode(self, data: Dict[str, Any]) -> Itinerary:
        legs: List[Leg] = data["legs"]
        return Itinerary(origin=data["origin"], destination=data["destination"], legs=tuple(legs))


class HandlingStepAsDict(Transcoding):
    type = HandlingStep
    name = "cargo_handling_step"

    def encode(self, obj: HandlingStep) -> Dict[str, Any]:
        return {
            "activity": obj.activity,
            "location": obj.location,
            "voyage_number": obj.voyage_number,
        }

    def decode(self, data: Dict[str, Any]) -> HandlingStep:
        return HandlingStep(**data)


CARGO_TRANSCODINGS: List[Transcoding] = [
    LocationAsCode(),
    HandlingActivityAsValue(),
    RoutingStatusAsValue(),
    TransportStatusAsValue(),
    LegAsDict(),
    ItineraryAsDict(),
    HandlingStepAsDict(),
]
