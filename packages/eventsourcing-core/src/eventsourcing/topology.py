"""A system's topology: which applications follow which, from ``pipes``."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Tuple, Type, cast

from eventsourcing.application import Application
from eventsourcing.follower import Follower, Leader, ProcessApplication
from eventsourcing.utils import get_topic

__all__ = ["System"]


class System:
    """Which applications follow which, defined by ``pipes``.

    Each pipe is a sequence of application classes in which each follows the
    one before it: ``[[Orders, Reservations, Orders]]`` makes Reservations
    follow Orders and Orders follow Reservations. An application may follow
    several leaders and lead several followers. Applications are identified
    by their ``name``.
    """

    __module__ = "eventsourcing.system"  # where 9.1 defined it: printed and in topics

    def __init__(self, pipes: Iterable[Iterable[Type[Application[Any]]]]) -> None:
        # The classes themselves: classes defined in a function have topics
        # that do not resolve, so nothing here looks a class up by its topic.
        self._classes: Dict[str, Type[Application[Any]]] = {}
        # Name -> topic of the class, as in eventsourcing 9.1.
        self.nodes: Dict[str, str] = {}
        self.edges: List[Tuple[str, str]] = []
        self.follows: Dict[str, List[str]] = {}
        self.leads: Dict[str, List[str]] = {}
        for pipe in pipes:
            previous: Optional[str] = None
            for cls in pipe:
                name = self._add_node(cls)
                if previous is not None and (previous, name) not in self.edges:
                    self.edges.append((previous, name))
                    self.leads.setdefault(previous, []).append(name)
                    self.follows.setdefault(name, []).append(previous)
                previous = name
        self._derived: Dict[str, Type[Application[Any]]] = {}
        # 9.1's checks, in 9.1's words (programs' tests compare them).
        for name, cls in self._classes.items():
            if name in self.follows and not issubclass(cls, Follower):
                raise TypeError(f"Not a follower class: {cls}")
            if (
                name in self.follows
                and name in self.leads
                and not issubclass(cls, ProcessApplication)
            ):
                raise TypeError(f"Not a process application class: {cls}")

    def _add_node(self, cls: Any) -> str:
        if not (isinstance(cls, type) and issubclass(cls, Application)):
            raise TypeError(f"A system's pipes hold Application classes, got {cls!r}")
        name = cls.name
        existing = self._classes.get(name)
        if existing is not None and existing is not cls:
            raise ValueError(
                f"Two applications in the system are named {name!r}: "
                f"{existing.__module__}.{existing.__qualname__} and "
                f"{cls.__module__}.{cls.__qualname__}"
            )
        self._classes[name] = cls
        self.nodes[name] = get_topic(cls)
        return name

    @property
    def leaders(self) -> List[str]:
        """Names of the applications that are followed."""
        return [name for name in self.nodes if name in self.leads]

    @property
    def leaders_only(self) -> List[str]:
        """Names of the applications that are followed and follow none."""
        return [name for name in self.leaders if name not in self.follows]

    @property
    def followers(self) -> List[str]:
        """Names of the applications that follow another."""
        return [name for name in self.nodes if name in self.follows]

    @property
    def processors(self) -> List[str]:
        """Names of the applications that both follow and are followed."""
        return [name for name in self.nodes if name in self.leads and name in self.follows]

    def get_app_cls(self, name: str) -> Type[Application[Any]]:
        """The class to construct for ``name``.

        A leader class that is not a :class:`Leader` (a plain application at
        the head of a pipe) is extended with :class:`Leader`, so that it can
        prompt its followers; the result is a subclass of the given class.
        """
        try:
            cls = self._classes[name]
        except KeyError:
            raise KeyError(f"No application named {name!r} in the system") from None
        if name not in self.leads or issubclass(cls, Leader):
            return cls
        derived = self._derived.get(name)
        if derived is None:
            namespace = {
                "name": cls.name,
                "__module__": cls.__module__,
                "__qualname__": cls.__qualname__,
                "__doc__": cls.__doc__,
            }
            derived = cast(Type[Application[Any]], type(cls.__name__, (Leader, cls), namespace))
            self._derived[name] = derived
        return derived

    def leader_cls(self, name: str) -> Type[Leader[Any]]:
        cls = self.get_app_cls(name)
        if not issubclass(cls, Leader):
            raise TypeError(f"{name!r} is not followed by any application in the system")
        return cls

    def follower_cls(self, name: str) -> Type[Follower[Any]]:
        cls = self.get_app_cls(name)
        if not issubclass(cls, Follower):
            raise TypeError(f"{name!r} does not follow any application in the system")
        return cls
