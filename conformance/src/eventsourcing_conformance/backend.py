"""What the suite runs against: a persistence module and a supply of fresh stores.

A :class:`Backend` names an :class:`~eventsourcing.persistence.InfrastructureFactory`
(by registered name, topic or class) and says how to make a store nobody else
uses. The suite calls :attr:`Backend.new_store` once per Hypothesis example and
once per concurrency check, so every run starts from an empty store.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Iterator, Mapping, Union, cast

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.plugins import resolve_persistence_module
from eventsourcing.utils import get_topic

__all__ = ["Backend", "NewStore", "StoreEnv"]

StoreEnv = Mapping[str, str]
NewStore = Callable[[], Union[StoreEnv, ContextManager[StoreEnv]]]


def _no_isolation() -> StoreEnv:
    return {}


@dataclass(frozen=True)
class Backend:
    """A persistence module under test.

    ``factory``: a registered persistence module name (``"mystore"``), a topic
    (``"mypkg.store:Factory"``) or the factory class itself.

    ``new_store``: called for every fresh store the suite needs. It returns
    the environment mapping the factory is constructed with, or a context
    manager yielding it (to clean up afterwards: drop a schema, delete files).
    Two calls must give two stores that share nothing; opening the same
    mapping twice must reach the same store.

    ``durable``: what was acknowledged survives closing and reopening the
    store (enables the durability checks).

    ``multiprocess``: several processes can open the same mapping and write
    to one store (enables the writer-process concurrency check). The factory
    must then be importable by topic in a fresh interpreter.

    ``described``: False for the suite's stand-in when no
    ``pytest_eventsourcing_backend`` hook answered for the name (skip reasons
    then say what to add).
    """

    name: str
    factory: Union[str, type[InfrastructureFactory]]
    new_store: NewStore = field(default=_no_isolation)
    durable: bool = False
    multiprocess: bool = False
    application_name: str = ""
    described: bool = True

    def factory_class(self) -> type[InfrastructureFactory]:
        if isinstance(self.factory, str):
            return resolve_persistence_module(self.factory, variable=f"backend {self.name!r}")
        return self.factory

    def factory_topic(self) -> str:
        """A topic a child process can resolve to the factory class."""
        return get_topic(self.factory_class())

    def open(self, env: StoreEnv) -> InfrastructureFactory:
        """Open (or reopen) the store described by ``env``."""
        return self.factory_class()(application_name=self.application_name, env=dict(env))

    @contextlib.contextmanager
    def store(self) -> Iterator[StoreEnv]:
        """A fresh, isolated store for the duration of the ``with`` block."""
        made: Any = self.new_store()
        if hasattr(made, "__enter__") and hasattr(made, "__exit__"):
            with cast(ContextManager[StoreEnv], made) as env:
                yield dict(env)
        else:
            yield dict(cast(StoreEnv, made))
