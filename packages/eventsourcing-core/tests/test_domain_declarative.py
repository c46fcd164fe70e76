"""Declarative aggregates: calling the class, created events from __init__, dataclass style."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, List, Optional
from uuid import NAMESPACE_URL, RFC_4122, UUID, uuid4, uuid5

import pytest

from eventsourcing.domain import (
    Aggregate,
    AggregateCreated,
    aggregate_has_many_created_event_classes,
    event,
)


def replay(events: List[Any]) -> Any:
    aggregate = None
    for e in events:
        aggregate = e.mutate(aggregate)
    return aggregate


class Greenhouse(Aggregate):
    class Created(Aggregate.Created):
        pass


def test_calling_class_creates_aggregate_with_one_created_event() -> None:
    greenhouse = Greenhouse()
    assert isinstance(greenhouse, Greenhouse)
    assert greenhouse.version == 1
    (created,) = greenhouse.collect_events()
    assert type(created) is Greenhouse.Created
    copy = created.mutate(None)
    assert copy.id == greenhouse.id
    assert copy.created_on == greenhouse.created_on
    assert copy == greenhouse


class Plant(Aggregate):
    def __init__(self, species: str, height: int = 0) -> None:
        self.species = species
        self.height = height


def test_created_event_class_is_defined_from_init_signature() -> None:
    assert Plant.Created is not Aggregate.Created
    assert issubclass(Plant.Created, AggregateCreated)
    assert Plant.Created.__qualname__ == "Plant.Created"
    names = [f.name for f in dataclasses.fields(Plant.Created)]
    assert names[-2:] == ["species", "height"]
    plant = Plant("fern")
    assert (plant.species, plant.height) == ("fern", 0)
    (created,) = plant.collect_events()
    assert type(created) is Plant.Created
    assert created.species == "fern"
    assert created.height == 0
    copy = created.mutate(None)
    assert copy == plant


def test_calling_class_accepts_positional_keyword_and_default_arguments() -> None:
    assert Plant("fern", 3).height == 3
    assert Plant(species="fern", height=4).height == 4
    assert Plant("fern", height=5).height == 5


def test_calling_class_with_wrong_arguments_raises_type_error_naming_init() -> None:
    # 9.1's messages: "__init__()" (qualified only on Python 3.10, as 9.1 did).
    init = "Plant.__init__" if sys.version_info[:2] == (3, 10) else "__init__"
    with pytest.raises(TypeError) as raised:
        Plant()  # type: ignore[call-arg]
    assert str(raised.value) == f"{init}() missing 1 required positional argument: 'species'"
    with pytest.raises(TypeError) as raised:
        Plant("fern", colour="green")  # type: ignore[call-arg]
    assert str(raised.value) == f"{init}() got an unexpected keyword argument 'colour'"
    with pytest.raises(TypeError) as raised:
        Plant("fern", 1, 2)  # type: ignore[call-arg]
    assert str(raised.value) == f"{init}() takes from 2 to 3 positional arguments but 4 were given"


@dataclass
class Seed(Aggregate):
    variety: str
    grams: int = 10
    notes: List[str] = field(default_factory=list, init=False)


class Bulb(Aggregate):
    variety: str
    grams: int = 10
    notes: List[str] = field(default_factory=list, init=False)


@pytest.mark.parametrize("cls", [Seed, Bulb], ids=["with @dataclass", "without @dataclass"])
def test_dataclass_style_annotations_define_init_and_created_event(cls: Any) -> None:
    seed = cls("tomato")
    assert seed.variety == "tomato"
    assert seed.grams == 10
    assert seed.notes == []
    assert cls("tomato", 20).grams == 20
    assert cls(variety="pea", grams=5).variety == "pea"
    (created,) = seed.collect_events()
    assert created.variety == "tomato"
    assert created.grams == 10
    assert not hasattr(created, "notes")
    copy = created.mutate(None)
    assert copy == seed
    with pytest.raises(TypeError, match="missing 1 required"):
        cls()


@pytest.mark.parametrize("cls", [Seed, Bulb], ids=["with @dataclass", "without @dataclass"])
def test_dataclass_style_keeps_aggregate_equality_and_repr(cls: Any) -> None:
    one = cls("tomato")
    two = cls("tomato")
    assert one != two  # different IDs
    assert one == replay(one.collect_events())
    assert repr(one).startswith(f"{cls.__name__}(id=")
    with pytest.raises(TypeError):
        hash(one)


def test_dataclass_style_with_only_default_factory_field() -> None:
    @dataclass
    class Diary(Aggregate):
        history: List[str] = field(default_factory=list, init=False)

    diary = Diary()
    assert diary.history == []
    assert Diary().history is not diary.history


def test_dataclass_decorator_applied_twice_with_defaults_before_factories() -> None:
    # A default followed by a default_factory and a non-init field: the
    # metaclass must leave the fields so that @dataclass sees them again.
    @dataclass
    class Basket(Aggregate):
        owner: str = "nobody"
        items: List[str] = field(default_factory=list)
        total: int = field(init=False, default=0)

    basket = Basket()
    assert (basket.owner, basket.items, basket.total) == ("nobody", [], 0)
    assert Basket("ann", ["egg"]).items == ["egg"]


def test_subclass_of_dataclass_style_aggregate_adds_fields() -> None:
    class Tree(Aggregate):
        species: str

    class FruitTree(Tree):
        fruit: str = "apple"

    tree = FruitTree("malus")
    assert (tree.species, tree.fruit) == ("malus", "apple")
    (created,) = tree.collect_events()
    assert type(created) is FruitTree.Created
    assert (created.species, created.fruit) == ("malus", "apple")
    assert replay([created]) == tree


def test_subclass_without_init_inherits_created_event_class() -> None:
    class Shrub(Plant):
        pass

    shrub = Shrub("box")
    (created,) = shrub.collect_events()
    assert isinstance(created, Plant.Created)
    assert created.originator_topic.endswith("Shrub")
    assert type(replay([created])) is Shrub


def test_reserved_aggregate_attribute_names_cannot_be_annotated() -> None:
    with pytest.raises(TypeError, match=r"'version'.*Aggregate property"):

        class Bad(Aggregate):
            version: int


def test_init_parameter_named_timestamp_receives_the_created_event_timestamp() -> None:
    # As in 9.1.9: not an event attribute; __init__ gets the event's timestamp.
    class Clock(Aggregate):
        def __init__(self, name: str, timestamp: Optional[datetime] = None) -> None:
            self.name = name
            self.started = timestamp

    clock = Clock("big ben", timestamp=datetime(2000, 1, 1, tzinfo=timezone.utc))
    (created,) = clock.collect_events()
    assert clock.started == created.timestamp == clock.created_on
    assert [f.name for f in dataclasses.fields(Clock.Created)][3:] == ["originator_topic", "name"]
    assert replay([created]).started == created.timestamp


def test_init_with_variable_parameters_needs_explicit_created_event() -> None:
    with pytest.raises(TypeError, match=r"\*\*options"):

        class Loose(Aggregate):
            def __init__(self, **options: Any) -> None:
                self.options = options

    class Declared(Aggregate):
        class Created(Aggregate.Created):
            colour: str

        def __init__(self, **options: Any) -> None:
            self.options = options

    declared = Declared(colour="red")
    assert declared.options == {"colour": "red"}
    assert replay(declared.collect_events()) == declared


def test_init_must_not_trigger_events() -> None:
    class Eager(Aggregate):
        def __init__(self) -> None:
            self.started()

        @event
        def started(self) -> None:
            pass

    with pytest.raises(TypeError, match="must not trigger events"):
        Eager()


class Project(Aggregate, created_event_name="Started"):
    name: str


def test_created_event_name_class_argument_names_defined_class() -> None:
    project = Project("apollo")
    (created,) = project.collect_events()
    assert type(created) is Project.Started
    assert Project.Started.__qualname__ == "Project.Started"
    assert created.name == "apollo"
    assert replay([created]) == project


def test_explicit_created_event_class_with_other_name_is_used() -> None:
    class Voyage(Aggregate):
        class Started(Aggregate.Created):
            pass

    (created,) = Voyage().collect_events()
    assert type(created) is Voyage.Started


def test_created_event_name_chooses_among_several_created_event_classes() -> None:
    class Voyage(Aggregate, created_event_name="Started"):
        class Created(Aggregate.Created):
            pass

        class Started(Aggregate.Created):
            pass

    (created,) = Voyage().collect_events()
    assert type(created) is Voyage.Started
    # Old events of the other created class still reconstruct aggregates.
    old = Voyage.Created(
        originator_id=uuid4(),
        originator_version=1,
        timestamp=Voyage.Created.create_timestamp(),
        originator_topic=created.originator_topic,
    )
    assert type(old.mutate(None)) is Voyage


def test_created_event_name_not_matching_declared_classes_defines_new_class() -> None:
    class Voyage(Aggregate, created_event_name="Opened"):
        class Created(Aggregate.Created):
            pass

        class Started(Aggregate.Created):
            pass

    (created,) = Voyage().collect_events()
    assert type(created) is Voyage.Opened
    assert issubclass(Voyage.Opened, AggregateCreated)

    class Cruise(Aggregate, created_event_name="Opened"):
        class Started(Aggregate.Created):
            ship: str

        def __init__(self, port: str) -> None:
            self.port = port

    # Started needs a 'ship' that __init__ does not take: Opened can't extend it.
    (created,) = Cruise("Pireaus").collect_events()
    assert type(created) is Cruise.Opened
    assert not issubclass(Cruise.Opened, Cruise.Started)
    assert replay([created]).port == "Pireaus"


def test_several_created_event_classes_without_name_refuse_calls_to_the_class() -> None:
    # As in 9.1.9: the class can be defined (and create with _create()), but
    # calling it can't choose a created event class.
    class Voyage(Aggregate):
        class Created(Aggregate.Created):
            pass

        class Started(Aggregate.Created):
            pass

    with pytest.raises(TypeError) as raised:
        Voyage()
    assert str(raised.value) == (
        "Can't decide which of many \"created\" event classes to use: 'Created', "
        "'Started'. Please use class arg 'created_event_name' or @event decorator "
        "on __init__ method."
    )
    assert aggregate_has_many_created_event_classes[Voyage] == ["Created", "Started"]
    voyage = Voyage._create(Voyage.Started)
    assert type(voyage.collect_events()[0]) is Voyage.Started


def test_event_decorator_on_init_names_created_event() -> None:
    class Ship(Aggregate):
        @event("Launched")
        def __init__(self, name: str) -> None:
            self.name = name

    ship = Ship("argo")
    (created,) = ship.collect_events()
    assert type(created) is Ship.Launched
    assert created.name == "argo"
    assert replay([created]) == ship

    # As in 9.1.9: the created event class must be named.
    with pytest.raises(TypeError, match=r"^Decorator on __init__ has neither event name nor"):

        class Boat(Aggregate):
            @event
            def __init__(self, name: str) -> None:
                self.name = name

    class Raft(Aggregate):
        class Floated(Aggregate.Created):
            name: str

        @event(Floated)
        def __init__(self, name: str) -> None:
            self.name = name

    (created,) = Raft("kon-tiki").collect_events()
    assert type(created) is Raft.Floated


class Account(Aggregate):
    name: str

    @staticmethod
    def create_id(name: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/accounts/{name}")


def test_create_id_derives_id_from_creation_arguments() -> None:
    account = Account(name="alice")
    assert account.name == "alice"
    assert account.id == Account.create_id("alice")
    assert account.id.version == 5
    assert replay(account.collect_events()).id == account.id


def test_create_id_arguments_must_be_given() -> None:
    class Badge(Aggregate):
        def __init__(self) -> None:
            pass

        @staticmethod
        def create_id(owner: str) -> UUID:
            return uuid5(NAMESPACE_URL, owner)

    with pytest.raises(TypeError, match="create_id\\(\\) needs argument 'owner'"):
        Badge()


def test_create_id_parameters_with_defaults_need_not_be_creation_arguments() -> None:
    # As in 9.1, create_id() is given those of its arguments that creating
    # the aggregate supplied; the others take their defaults.
    class Shelf(Aggregate):
        def __init__(self, label: str) -> None:
            self.label = label

        @staticmethod
        def create_id(label: str, room: str = "/library") -> UUID:
            return uuid5(NAMESPACE_URL, f"{room}/{label}")

    assert Shelf(label="poetry").id == Shelf.create_id("poetry")
    assert Shelf._create(Shelf.Created, label="prose").id == Shelf.create_id("prose")


def test_default_ids_are_version_4_uuids() -> None:
    ids = {Plant("x").id for _ in range(20)}
    assert len(ids) == 20
    for i in ids:
        assert i.version == 4
        assert i.variant == RFC_4122
        assert UUID(str(i)) == i
        assert hash(UUID(i.hex)) == hash(i)


def test_id_can_be_declared_as_attribute_and_given() -> None:
    class Ledger(Aggregate):
        id: UUID

    given = uuid5(NAMESPACE_URL, "/ledgers/main")
    ledger = Ledger(id=given)
    assert ledger.id == given
    (created,) = ledger.collect_events()
    assert created.originator_id == given
    assert not hasattr(created, "id")
    assert replay([created]) == ledger
    with pytest.raises(TypeError, match="missing 1 required"):
        Ledger()  # type: ignore[call-arg]


def test_id_declared_with_other_fields_and_dataclass_decorator() -> None:
    @dataclass
    class Ledger(Aggregate):
        id: UUID
        owner: str = "bank"

    given = uuid4()
    ledger = Ledger(given)
    assert (ledger.id, ledger.owner) == (given, "bank")
    assert replay(ledger.collect_events()) == ledger


def test_id_can_be_init_argument_set_as_private_attribute() -> None:
    class Ledger(Aggregate):
        def __init__(self, id: UUID, owner: str) -> None:
            self._id = id
            self.owner = owner

    given = uuid4()
    ledger = Ledger(id=given, owner="ann")
    assert ledger.id == given
    (created,) = ledger.collect_events()
    assert created.owner == "ann"
    assert replay([created]) == ledger


def test_id_property_cannot_be_reassigned_in_init() -> None:
    class Ledger(Aggregate):
        def __init__(self) -> None:
            self.id = uuid4()  # type: ignore[misc]

    with pytest.raises(AttributeError, match="cannot be changed"):
        Ledger()


@dataclass
class Page(Aggregate):
    name: str
    body: str = ""

    @event("NameUpdated")
    def update_name(self, name: str) -> None:
        self.name = name


@dataclass
class Index(Aggregate):
    name: str
    ref: Optional[UUID]

    @staticmethod
    def create_id(name: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/pages/{name}")

    @event("RefUpdated")
    def update_ref(self, ref: Optional[UUID]) -> None:
        self.ref = ref


def test_page_and_index_in_declarative_style() -> None:
    page = Page(name="Erth")
    index1 = Index(name=page.name, ref=page.id)
    assert Index.create_id(name="Erth") == index1.id
    assert index1.ref == page.id

    page.update_name(name="Earth")
    index1.update_ref(ref=None)
    index2 = Index(name=page.name, ref=page.id)
    assert Index.create_id(name="Earth") == index2.id
    assert index2.ref == page.id
    assert index2.name == page.name == "Earth"
    assert index1.ref is None
    for aggregate in (page, index1, index2):
        assert replay(aggregate.collect_events()) == aggregate


def test_aggregate_classes_defined_in_functions_reconstruct() -> None:
    class Local(Aggregate):
        colour: str

    local = Local("red")
    (created,) = local.collect_events()
    assert "<locals>" in created.originator_topic
    assert replay([created]) == local


def test_create_id_taking_keyword_arguments_receives_all_creation_arguments() -> None:
    received: List[Any] = []

    class Folder(Aggregate):
        path: str
        owner: str = "root"

        @staticmethod
        def create_id(**kwargs: Any) -> UUID:
            received.append(kwargs)
            return uuid5(NAMESPACE_URL, kwargs["path"])

    folder = Folder("/tmp")
    assert received == [{"path": "/tmp", "owner": "root"}]
    assert folder.id == uuid5(NAMESPACE_URL, "/tmp")


def test_annotation_redeclaring_inherited_default_makes_field_required() -> None:
    class Base(Aggregate):
        name: str = "base"

    class Child(Base):
        name: str

    assert Base().name == "base"
    assert Child("child").name == "child"
    with pytest.raises(TypeError, match="missing 1 required"):
        Child()  # type: ignore[call-arg]


def test_init_with_variable_positional_parameters_and_explicit_created_event() -> None:
    class Bag(Aggregate):
        class Created(Aggregate.Created):
            label: str

        def __init__(self, *items: str, label: str) -> None:
            self.items = items
            self.label = label

    bag = Bag(label="b")
    assert (bag.items, bag.label) == ((), "b")
    with pytest.raises(TypeError, match="unexpected positional arguments"):
        Bag("apple", label="b")


def test_every_aggregate_class_has_its_own_created_event_class() -> None:
    # Stored topics of created events name the aggregate class, even when the
    # class declares neither __init__ nor a created event class.
    class Beacon(Aggregate):
        pass

    class Buoy(Beacon):
        pass

    assert Beacon.Created is not Aggregate.Created
    assert Beacon.Created.__qualname__.endswith("Beacon.Created")
    assert issubclass(Buoy.Created, Beacon.Created)
    event = Buoy().collect_events()[0]
    assert type(event) is Buoy.Created
    assert isinstance(event.mutate(None), Buoy)
