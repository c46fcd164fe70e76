"""Property: replaying events (or a snapshot and later events) rebuilds the live aggregate.

For random sequences of commands on three aggregate shapes (explicit event
classes, @event methods, dataclass style), including commands that fail, the
aggregate rebuilt from its events, and from a snapshot taken at a random
version plus the events after it, equals the live aggregate. Events and
snapshots also go through the mapper (JSON) on the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Tuple, Type

from hypothesis import given, settings
from hypothesis import strategies as st

from eventsourcing.domain import Aggregate, AggregateEvent, Snapshot, event
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Mapper, UUIDAsHex


class Refused(Exception):
    pass


class ExplicitWallet(Aggregate):
    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.balance = 0
        self.log: List[str] = []

    @classmethod
    def open(cls, owner: str) -> ExplicitWallet:
        return cls._create(cls.Opened, owner=owner)

    class Opened(Aggregate.Created):
        owner: str

    def deposit(self, amount: int) -> None:
        self.trigger_event(self.Deposited, amount=amount)

    class Deposited(AggregateEvent):
        amount: int

        def apply(self, wallet: ExplicitWallet) -> None:
            wallet.balance += self.amount
            wallet.log.append(f"+{self.amount}")

    def withdraw(self, amount: int) -> None:
        if amount > self.balance:
            raise Refused(amount)
        self.trigger_event(self.Withdrawn, amount=amount)

    class Withdrawn(AggregateEvent):
        amount: int

        def apply(self, wallet: ExplicitWallet) -> None:
            wallet.balance -= self.amount
            wallet.log.append(f"-{self.amount}")

    def rename(self, owner: str) -> None:
        self.trigger_event(self.Renamed, owner=owner)

    class Renamed(AggregateEvent):
        owner: str

        def apply(self, wallet: ExplicitWallet) -> None:
            wallet.owner = self.owner


class DecoratedWallet(Aggregate):
    def __init__(self, owner: str) -> None:
        self._owner = owner
        self.balance = 0
        self.log: List[str] = []

    @classmethod
    def open(cls, owner: str) -> DecoratedWallet:
        return cls(owner)

    @event
    def deposited(self, amount: int, *, note: str = "") -> None:
        self.balance += amount
        self.log.append(f"+{amount}{note}")

    def deposit(self, amount: int) -> None:
        self.deposited(amount, note="!" if amount > 50 else "")

    @event("Withdrawn")
    def withdraw(self, amount: int) -> None:
        if amount > self.balance:
            raise Refused(amount)  # raised in the body: no event is recorded
        self.balance -= amount
        self.log.append(f"-{amount}")

    @property
    def owner(self) -> str:
        return self._owner

    @owner.setter
    @event("Renamed")
    def owner(self, owner: str) -> None:
        self._owner = owner

    def rename(self, owner: str) -> None:
        self.owner = owner


@dataclass
class DataclassWallet(Aggregate):
    owner: str
    balance: int = 0
    log: List[str] = field(default_factory=list, init=False)

    @classmethod
    def open(cls, owner: str) -> DataclassWallet:
        return cls(owner)

    @event("Deposited")
    def deposit(self, amount: int) -> None:
        self.balance += amount
        self.log.append(f"+{amount}")

    def withdraw(self, amount: int) -> None:
        if amount > self.balance:
            raise Refused(amount)
        self._withdrawn(amount)

    @event("Withdrawn")
    def _withdrawn(self, amount: int) -> None:
        self.balance -= amount
        self.log.append(f"-{amount}")

    @event("Renamed")
    def rename(self, owner: str) -> None:
        self.owner = owner


SHAPES: List[Type[Any]] = [ExplicitWallet, DecoratedWallet, DataclassWallet]

names = st.text(alphabet="abcdefghij", min_size=1, max_size=5)
commands = st.lists(
    st.one_of(
        st.tuples(st.just("deposit"), st.integers(min_value=0, max_value=100)),
        st.tuples(st.just("withdraw"), st.integers(min_value=0, max_value=150)),
        st.tuples(st.just("rename"), names),
    ),
    max_size=25,
)


def make_mapper() -> Mapper[Any]:
    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(DatetimeAsISO())
    return Mapper(transcoder=transcoder)


MAPPER = make_mapper()


def through_mapper(domain_event: Any) -> Any:
    return MAPPER.to_domain_event(MAPPER.from_domain_event(domain_event))


def replay(events: List[Any], start: Any = None) -> Any:
    obj = start
    for e in events:
        obj = e.mutate(obj)
    return obj


def run(shape: Type[Any], owner: str, script: List[Tuple[str, Any]]) -> Tuple[Any, int]:
    wallet = shape.open(owner)
    refused = 0
    for name, arg in script:
        version = wallet.version
        try:
            getattr(wallet, name)(arg)
        except Refused:
            refused += 1
            assert wallet.version == version
    return wallet, refused


@settings(max_examples=30, deadline=None)
@given(
    shape=st.sampled_from(SHAPES),
    owner=names,
    script=commands,
    data=st.data(),
)
def test_rebuilt_from_events_and_from_snapshot_equals_live_aggregate(
    shape: Type[Any], owner: str, script: List[Tuple[str, Any]], data: Any
) -> None:
    wallet, refused = run(shape, owner, script)
    events = list(wallet.pending_events)
    assert len(events) == 1 + len(script) - refused
    assert [e.originator_version for e in events] == list(range(1, len(events) + 1))

    # From all the events, in memory and through the mapper.
    assert replay(events) == wallet
    stored_events = [through_mapper(e) for e in events]
    assert replay(stored_events) == wallet

    # From a snapshot at a random version, plus the events after it.
    cut = data.draw(st.integers(min_value=1, max_value=len(events)), label="cut")
    partial = replay(stored_events[:cut])
    snapshot = through_mapper(Snapshot.take(partial))
    assert snapshot.originator_version == cut
    rebuilt = replay(stored_events[cut:], snapshot.mutate(None))
    assert rebuilt == wallet
    assert rebuilt.balance == wallet.balance
    assert rebuilt.log == wallet.log

    # The rebuilt aggregate carries on like the live one (only the new
    # events' timestamps differ).
    for obj in (wallet, rebuilt):
        obj.collect_events()
        obj.deposit(1)
        obj.rename("zed")
    assert (rebuilt.version, rebuilt.balance, rebuilt.log, rebuilt.owner) == (
        wallet.version,
        wallet.balance,
        wallet.log,
        wallet.owner,
    )
    rebuilt_new = [without_timestamp(e) for e in rebuilt.collect_events()]
    assert rebuilt_new == [without_timestamp(e) for e in wallet.collect_events()]


def without_timestamp(domain_event: Any) -> Tuple[type, Dict[str, Any]]:
    state = dict(domain_event.__dict__)
    del state["timestamp"]
    return type(domain_event), state


def expected_balance(script: List[Tuple[str, Any]]) -> Dict[str, Any]:
    balance = 0
    owner_changes = []
    for name, arg in script:
        if name == "deposit":
            balance += arg
        elif name == "withdraw" and arg <= balance:
            balance -= arg
        elif name == "rename":
            owner_changes.append(arg)
    return {"balance": balance, "owners": owner_changes}


@settings(max_examples=20, deadline=None)
@given(owner=names, script=commands)
def test_three_shapes_agree_with_a_plain_model(owner: str, script: List[Tuple[str, Any]]) -> None:
    model = expected_balance(script)
    for shape in SHAPES:
        wallet, _ = run(shape, owner, script)
        assert wallet.balance == model["balance"]
        assert wallet.owner == (model["owners"][-1] if model["owners"] else owner)
