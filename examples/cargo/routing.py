"""A tiny route finder over a fixed timetable of voyages."""

from __future__ import annotations

from typing import Dict, List, Tuple

from examples.cargo.domain import Itinerary, Leg, Location

__all__ = ["VOYAGES", "find_routes"]

L = Location
VOYAGES: Tuple[Leg, ...] = (
    Leg(L.HONGKONG, L.NEWYORK, "V100"),
    Leg(L.NEWYORK, L.CHICAGO, "V200"),
    Leg(L.HONGKONG, L.HAMBURG, "V300"),
    Leg(L.HAMBURG, L.STOCKHOLM, "V400"),
    Leg(L.HAMBURG, L.ROTTERDAM, "V500"),
    Leg(L.ROTTERDAM, L.NEWYORK, "V600"),
    Leg(L.TOKYO, L.HELSINKI, "V700"),
    Leg(L.HELSINKI, L.STOCKHOLM, "V800"),
)


def find_routes(origin: Location, destination: Location, max_legs: int = 3) -> List[Itinerary]:
    """Every route of at most ``max_legs`` voyages, fewest legs first, visiting no port twice."""
    departures: Dict[Location, List[Leg]] = {}
    for leg in VOYAGES:
        departures.setdefault(leg.origin, []).append(leg)
    routes: List[Itinerary] = []
    paths: List[Tuple[Leg, ...]] = [(leg,) for leg in departures.get(origin, [])]
    while paths:
        path = paths.pop(0)
        here = path[-1].destination
        if here == destination:
            routes.append(Itinerary(origin, destination, path))
            continue
        if len(path) == max_legs:
            continue
        visited = {origin, *(leg.destination for leg in path)}
        paths.extend(
            (*path, leg) for leg in departures.get(here, []) if leg.destination not in visited
        )
    return routes
