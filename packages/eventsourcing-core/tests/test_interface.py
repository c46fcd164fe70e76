"""Reading an application's notification log through its JSON interface.
Every test runs on every installed backend."""

from __future__ import annotations

import json
from typing import Dict, Iterator, List, Optional, Sequence

import pytest

from eventsourcing.application import Application, NotificationLog, Section
from eventsourcing.domain import Aggregate, event
from eventsourcing.interface import (
    NotificationLogInterface,
    NotificationLogJSONClient,
    NotificationLogJSONService,
)
from eventsourcing.persistence import Notification
from eventsourcing.system import NotificationLogReader


class Parcel(Aggregate):
    def __init__(self, contents: str) -> None:
        self.contents = contents
        self.stops: List[str] = []

    @event("Routed")
    def route_via(self, stop: str) -> None:
        self.stops.append(stop)


class Depot(Application[Parcel]):
    pass


class Wire(NotificationLogInterface):
    """Carries only strings between client and service, as a network would."""

    def __init__(self, service: NotificationLogInterface) -> None:
        self.service = service
        self.carried: List[str] = []

    def get_log_section(self, section_id: str) -> str:
        text = self.service.get_log_section(str(section_id))
        self.carried.append(text)
        return text

    def get_notifications(
        self,
        start: int,
        limit: int,
        stop: Optional[int] = None,
        topics: Sequence[str] = (),
    ) -> str:
        text = self.service.get_notifications(start, limit, stop=stop, topics=topics)
        self.carried.append(text)
        return text


@pytest.fixture
def depot(store_env: Dict[str, str]) -> Iterator[Depot]:
    # Compressed state is arbitrary bytes: it must still cross the wire intact.
    with Depot(env={**store_env, "COMPRESSOR_TOPIC": "zlib"}) as app:
        yield app


def fill(depot: Depot, parcels: int = 3, stops: int = 4) -> None:
    for p in range(parcels):
        parcel = Parcel(contents=f"parcel {p} \u2603")
        for s in range(stops):
            parcel.route_via(f"stop {s}")
        depot.save(parcel)


def test_sections_round_trip_exactly(depot: Depot) -> None:
    fill(depot)  # 15 notifications
    wire = Wire(NotificationLogJSONService(depot))
    client = NotificationLogJSONClient(wire)
    for section_id in ("1,10", "11,20", "3,7", "16,25"):
        assert client[section_id] == depot.log[section_id]
    assert all(isinstance(text, str) for text in wire.carried)
    assert client["1,10"].next_id == "11,20"
    assert client["11,20"].next_id is None


def test_notifications_round_trip_exactly(depot: Depot) -> None:
    fill(depot)
    client = NotificationLogJSONClient(Wire(NotificationLogJSONService(depot)))
    assert client.select(1, 10) == depot.log.select(1, 10)
    assert client.select(4, 10, stop=6) == depot.log.select(4, 3)
    topic = depot.log.select(1, 1)[0].topic
    assert [n.id for n in client.select(1, 10, topics=[topic])] == [1, 6, 11]
    items = client.select(1, 1)
    assert isinstance(items[0], Notification)


def test_a_follower_reconstructs_another_application_s_events(
    depot: Depot, store_env: Dict[str, str]
) -> None:
    fill(depot, parcels=4, stops=2)
    log: NotificationLog = NotificationLogJSONClient(Wire(NotificationLogJSONService(depot)))

    # The follower pulls sections until the log is exhausted.
    pulled: List[Notification] = []
    section_id: Optional[str] = "1,5"
    while section_id is not None:
        section: Section = log[section_id]
        pulled.extend(section.items)
        section_id = section.next_id
    assert [n.id for n in pulled] == list(range(1, 13))

    events = [depot.mapper.to_domain_event(n) for n in pulled]
    routed = [e for e in events if isinstance(e, Parcel.Routed)]
    assert [e.stop for e in routed] == ["stop 0", "stop 1"] * 4
    created = [e for e in events if isinstance(e, Parcel.Created)]
    assert [e.contents for e in created] == [f"parcel {p} \u2603" for p in range(4)]


def test_service_output_is_plain_json(depot: Depot) -> None:
    fill(depot, parcels=1, stops=0)
    data = json.loads(NotificationLogJSONService(depot).get_log_section("1,10"))
    assert data["id"] == "1,1" and data["next_id"] is None
    (item,) = data["items"]
    assert set(item) == {"id", "originator_id", "originator_version", "topic", "state"}


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"id": "1,1", "items": "x", "next_id": null}',
        '{"id": "1,1", "items": [{"id": 1}], "next_id": null}',
        '{"id": "1,1", "items": [{"id": 1, "originator_id": "nope",'
        ' "originator_version": 1, "topic": "t", "state": ""}], "next_id": null}',
        '{"id": "1,1", "items": [{"id": 1, "originator_id":'
        ' "6b7d8f2e-3a3e-4a3e-9d7c-1f2e3d4c5b6a", "originator_version": 1,'
        ' "topic": "t", "state": "***"}], "next_id": null}',
    ],
)
def test_client_rejects_malformed_responses(text: str) -> None:
    class Garbled(NotificationLogInterface):
        def get_log_section(self, section_id: str) -> str:
            return text

        def get_notifications(
            self,
            start: int,
            limit: int,
            stop: Optional[int] = None,
            topics: Sequence[str] = (),
        ) -> str:
            return text

    with pytest.raises(ValueError, match="Malformed"):
        NotificationLogJSONClient(Garbled())["1,10"]


def test_client_rejects_malformed_section_ids_before_sending(depot: Depot) -> None:
    wire = Wire(NotificationLogJSONService(depot))
    with pytest.raises(ValueError, match="section ID"):
        NotificationLogJSONClient(wire)["ten"]
    assert wire.carried == []


def test_client_works_with_an_interface_written_for_start_and_limit_only(
    depot: Depot,
) -> None:
    # An interface implemented against 9.1's get_notifications(start, limit)
    # must keep working: the client passes stop and topics only when asked to.
    service = NotificationLogJSONService(depot)

    class StartAndLimitOnly(NotificationLogInterface):
        def get_log_section(self, section_id: str) -> str:
            return service.get_log_section(section_id)

        def get_notifications(self, start: int, limit: int) -> str:  # type: ignore[override]
            return service.get_notifications(start, limit)

    fill(depot, parcels=2, stops=1)
    client = NotificationLogJSONClient(StartAndLimitOnly())
    assert client.select(1, 10) == depot.log.select(1, 10)
    reader = NotificationLogReader(client, section_size=3)
    assert [n.id for n in reader.select(start=2)] == [2, 3, 4]
