"""Property: whatever the interleaving of create, command, save, snapshot and
get on a few aggregates, the repository returns, for every version, the state
obtained by replaying the recorded events up to that version."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventsourcing.application import AggregateNotFound, Application
from eventsourcing.domain import Aggregate, event


class Abacus(Aggregate):
    def __init__(self) -> None:
        self.beads: List[int] = []

    @event("Slid")
    def slide(self, bead: int) -> None:
        self.beads.append(bead)


class Abaci(Application[Abacus]):
    pass


class AbaciSnapshotting(Abaci):
    snapshotting_intervals = {Abacus: 3}


CONFIGS: Dict[str, Tuple[type, Dict[str, str]]] = {
    "plain": (Abaci, {}),
    "snapshots": (AbaciSnapshotting, {}),
    "cache": (Abaci, {"AGGREGATE_CACHE_MAXSIZE": "2"}),
    "snapshots+cache": (AbaciSnapshotting, {"AGGREGATE_CACHE_MAXSIZE": "1"}),
}

SLOTS = 3
slot = st.integers(0, SLOTS - 1)
operation = st.one_of(
    st.tuples(st.just("create"), slot),
    st.tuples(st.just("command"), slot, st.integers(-5, 5)),
    st.tuples(st.just("save"), st.sets(slot, min_size=1)),
    st.tuples(st.just("snapshot"), slot, st.one_of(st.none(), st.integers(1, 12))),
    st.tuples(st.just("get"), slot),
    st.tuples(st.just("check"), slot, st.integers(1, 14)),
)


@dataclass
class Model:
    """What the application should hold for one aggregate."""

    live: Abacus
    live_beads: List[int] = field(default_factory=list)
    saved_beads: Optional[List[int]] = None  # None: never saved

    @property
    def saved_version(self) -> int:
        assert self.saved_beads is not None
        return len(self.saved_beads) + 1


def replay(app: Application[Any], aggregate: Abacus, version: int) -> Any:
    """Reconstruct from the recorded events alone (no snapshots, no cache)."""
    state = None
    for domain_event in app.events.get(aggregate.id, lte=version):
        state = domain_event.mutate(state)
    return state


def check(app: Application[Any], model: Model, version: int) -> None:
    assert model.saved_beads is not None
    expected_version = min(version, model.saved_version)
    got = app.repository.get(model.live.id, version=version)
    assert got.version == expected_version
    assert got.beads == model.saved_beads[: expected_version - 1]
    replayed = replay(app, model.live, version)
    assert replayed.version == got.version and replayed.beads == got.beads


@pytest.mark.parametrize("config", sorted(CONFIGS))
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation, max_size=30))
def test_any_interleaving_gives_the_replayed_state_at_every_version(
    config: str, store_env: Dict[str, str], operations: List[Tuple[Any, ...]]
) -> None:
    cls, extra_env = CONFIGS[config]
    with cls(env={**store_env, **extra_env}) as app:
        models: Dict[int, Model] = {}
        for op in operations:
            kind, target = op[0], op[1]
            if kind == "create":
                if target not in models:
                    models[target] = Model(live=Abacus())
                continue
            if kind == "save":
                chosen = [models[s] for s in sorted(target) if s in models]
                app.save(*(m.live for m in chosen))
                for m in chosen:
                    m.saved_beads = list(m.live_beads)
                continue
            model = models.get(target)
            if model is None:
                continue
            if kind == "command":
                model.live.slide(op[2])
                model.live_beads.append(op[2])
            elif model.saved_beads is None:
                with pytest.raises(AggregateNotFound):
                    app.repository.get(model.live.id)
            elif kind == "snapshot":
                if app.snapshots is not None:
                    app.take_snapshot(model.live.id, version=op[2])
            elif kind == "get":
                # Unsaved changes are discarded: continue from the recorded state.
                model.live = app.repository.get(model.live.id)
                model.live_beads = list(model.saved_beads)
                assert model.live.beads == model.saved_beads
            elif kind == "check":
                check(app, model, op[2])

        for model in models.values():
            if model.saved_beads is None:
                continue
            for version in range(1, model.saved_version + 2):
                check(app, model, version)
