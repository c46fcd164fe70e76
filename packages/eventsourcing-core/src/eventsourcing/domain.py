"""Domain models: event-sourced aggregates and their domain events.

An aggregate's state is decided by a sequence of immutable domain events.
Command methods trigger events; each event's ``mutate()`` evolves the
aggregate, and replaying the same events (or a snapshot and the events after
it) rebuilds an equal aggregate.

Two styles are supported and can be mixed: explicit event classes with
``apply()`` methods triggered by ``trigger_event()``, and the declarative
style, where the created event is defined from ``__init__`` (or from
dataclass-style annotations) and ``@event`` turns a method into an event
class whose ``apply()`` is the method body.

Each aggregate class has its own ``Event`` class that all its event classes
extend, so behaviour common to its events is written once (as in 9.1.9).

Work that can be done once is done when a class is defined: signatures are
inspected, and argument binders and command methods are compiled (by
:mod:`eventsourcing._codegen`), so that creating aggregates and calling
command methods stays cheap.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from abc import ABCMeta
from copy import deepcopy
from datetime import datetime, timedelta, tzinfo
from types import FunctionType
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    ClassVar,
    Dict,
    FrozenSet,
    Generic,
    Iterable,
    Iterator,
    List,
    Optional,
    Set,
    Tuple,
    Type,
    TypeVar,
    Union,
    cast,
    overload,
)
from uuid import UUID

from eventsourcing._codegen import (
    generate_dataclass_init,
    install_fast_init,
    make_function,
    name_in_argument_errors,
    new_uuid4,
    own_annotation_names,
    rebind_class_cells,
)
from eventsourcing.utils import EventSourcingError, get_topic, resolve_topic, upcast_state

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:
    try:
        from typing import dataclass_transform
    except ImportError:  # Python 3.10: the decorator only informs type checkers.

        def dataclass_transform(**_: Any) -> Callable[[Any], Any]:
            return lambda obj: obj


__all__ = [
    "TT",
    "TZINFO",
    "Aggregate",
    "AggregateCreated",
    "AggregateEvent",
    "AnyCallable",
    "BoundCommandMethodDecorator",
    "CommandMethodDecorator",
    "DecoratedEvent",
    "DecoratedObjType",
    "DomainEvent",
    "EventSourcingError",
    "EventSpecType",
    "InjectEventType",
    "MetaAggregate",
    "MetaDomainEvent",
    "OriginatorIDError",
    "OriginatorVersionError",
    "Snapshot",
    "T",
    "TAggregate",
    "TAggregateCreated",
    "TAggregateEvent",
    "TDomainEvent",
    "UnboundCommandMethodDecorator",
    "VersionError",
    "aggregate",
    "aggregate_has_many_created_event_classes",
    "create_utc_datetime_now",
    "decorated_event_classes",
    "decorated_methods",
    "event",
    "given_event_classes",
    "raise_missing_names_type_error",
    "triggers",
]

TZINFO: tzinfo = resolve_topic(os.getenv("TZINFO_TOPIC", "datetime:timezone.utc"))
"""Timezone of new event timestamps (UTC unless ``TZINFO_TOPIC`` names another).

Read each time a timestamp is made, so assigning a ``tzinfo`` to
``eventsourcing.domain.TZINFO`` takes effect for events created afterwards.
"""


def create_utc_datetime_now() -> datetime:
    """Timezone-aware 'now', in the timezone ``TZINFO`` currently names."""
    return datetime.now(tz=TZINFO)


TAggregate = TypeVar("TAggregate", bound="Aggregate")
TDomainEvent = TypeVar("TDomainEvent", bound="DomainEvent")
TAggregateEvent = TypeVar("TAggregateEvent", bound="AggregateEvent[Any]")
TAggregateCreated = TypeVar("TAggregateCreated", bound="AggregateCreated[Any]")
TCommand = TypeVar("TCommand", bound=Callable[..., Any])
T = TypeVar("T")
TT = TypeVar("TT", bound=type)

# Type aliases of eventsourcing 9.1, kept for programs that annotate with them.
AnyCallable = Callable[..., None]
DecoratedObjType = TypeVar("DecoratedObjType", bound=Union[Callable[..., None], property])
InjectEventType = bool


class OriginatorIDError(EventSourcingError):
    """An event was applied to an aggregate with another ID (it is not in its sequence).

    Raised instead of applying the event, so the aggregate is unchanged.
    """


class OriginatorVersionError(EventSourcingError):
    """An event was applied to an aggregate whose version is not the one before it.

    Raised instead of applying the event, so the aggregate is unchanged.
    """


class VersionError(OriginatorVersionError):
    """The name eventsourcing 9.1.3 gave to :class:`OriginatorVersionError`.

    What is raised is a ``VersionError``, so code catching either name works.
    """


def raise_missing_names_type_error(missing_names: List[str], msg: str) -> None:
    """Raise ``TypeError(msg + names)``, the names listed as Python lists them.

    ``["'a'"]`` gives ``'a'``, two give ``'a' and 'b'``, more give
    ``'a', 'b', and 'c'`` (as in eventsourcing 9.1's argument errors).
    """
    if len(missing_names) <= 2:
        listed = " and ".join(missing_names)
    else:
        listed = ", ".join(missing_names[:-1]) + f", and {missing_names[-1]}"
    raise TypeError(msg + listed)


# ---------------------------------------------------------------------------
# Domain events
# ---------------------------------------------------------------------------


# The compiled mutate() methods of @event classes (see DecoratedEvent).
_decorated_mutates: Set[Callable[..., Any]] = set()


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
class MetaDomainEvent(ABCMeta):
    """Makes every domain event class a frozen dataclass.

    Event state lives in the instance ``__dict__`` (no ``__slots__``), which
    is what the mapper serialises and restores.
    """

    def __new__(
        mcs, name: str, bases: Tuple[type, ...], namespace: Dict[str, Any], **kwargs: Any
    ) -> MetaDomainEvent:
        if "__slots__" in namespace:
            raise TypeError(
                f"Domain event class {name!r} must not define __slots__: "
                "event state is kept in the instance __dict__"
            )
        cls: Any = super().__new__(mcs, name, bases, namespace, **kwargs)
        cls = dataclasses.dataclass(frozen=True)(cls)
        for refusal in ("__setattr__", "__delattr__"):
            # Inherit DomainEvent's refusals instead, so that a program can
            # still apply @dataclass(frozen=True) itself, as 9.1 allowed.
            if refusal not in namespace:
                delattr(cls, refusal)
        if "__init__" not in namespace:
            install_fast_init(cls)
        if "apply" in namespace and "mutate" not in namespace and cls.mutate in _decorated_mutates:
            # An @event class's compiled mutate() runs the method body without
            # calling apply(): a subclass with an apply() of its own needs the
            # mutate() that calls it.
            cls.mutate = AggregateEvent.mutate
        return cast(MetaDomainEvent, cls)


class DomainEvent(metaclass=MetaDomainEvent):
    """Something that happened to an originator (usually an aggregate).

    ``originator_id`` names the sequence the event belongs to,
    ``originator_version`` its position in that sequence, and ``timestamp``
    (timezone-aware) tells people roughly when it happened; order is decided
    by versions, never by timestamps.
    """

    originator_id: UUID
    originator_version: int
    timestamp: datetime

    @staticmethod
    def create_timestamp() -> datetime:
        """Timestamp for a new event (override to use another clock)."""
        return datetime.now(tz=TZINFO)

    def mutate(self, aggregate: Any) -> Any:
        """Evolve ``aggregate`` (or construct one) from this event.

        Declared here so that code replaying a mixed sequence (a snapshot
        followed by aggregate events) can be typed against the base class.
        """
        raise NotImplementedError(f"{type(self).__qualname__} does not mutate aggregates")


def _refuse_assignment(self: Any, name: str, value: Any) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _refuse_deletion(self: Any, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


# Every domain event is immutable; set after the class statement because
# dataclasses refuses a frozen class that defines these itself.
DomainEvent.__setattr__ = _refuse_assignment  # type: ignore[method-assign]
DomainEvent.__delattr__ = _refuse_deletion  # type: ignore[method-assign]


class AggregateEvent(DomainEvent, Generic[TAggregate]):
    """A decision made by an aggregate, the step from one version to the next."""

    def mutate(self, aggregate: Optional[TAggregate]) -> Optional[TAggregate]:
        """Apply this event to ``aggregate`` and advance its version.

        ``apply()`` runs first: if it raises, the aggregate's version and
        modified time are unchanged. Any object with ``id``, ``version`` and
        ``modified_on`` attributes can be mutated, not only aggregates.
        """
        raise NotImplementedError  # pragma: no cover - compiled from _MUTATE_SOURCE below

    def _mutate_object(self, obj: Any) -> Any:
        """Mutate an object that is not an Aggregate through its public attributes."""
        if obj is None:
            raise TypeError(
                f"{type(self).__qualname__} event needs an aggregate to mutate, got None"
            )
        if self.originator_id != obj.id or self.originator_version != obj.version + 1:
            self._raise_not_next(obj.id, obj.version)
        if self.apply(obj) is not None:  # type: ignore[func-returns-value]
            _raise_value_returned(type(self).apply)
        obj.version = self.originator_version
        obj.modified_on = self.timestamp
        return obj

    def _raise_not_next(self, current_id: Any, current_version: int) -> None:
        if self.originator_id != current_id:
            raise OriginatorIDError(
                f"{type(self).__qualname__} event has originator_id "
                f"{self.originator_id}, but is applied to aggregate {current_id}"
            )
        raise VersionError(
            f"{type(self).__qualname__} event has originator_version "
            f"{self.originator_version}, but aggregate {current_id} is at "
            f"version {current_version} (expected {current_version + 1})"
        )

    def apply(self, aggregate: TAggregate) -> None:
        """Change the aggregate's attributes according to this event (a no-op here)."""


def _different_ids(a: Any, b: Any) -> bool:
    try:
        return bool(a.int != b.int)
    except AttributeError:  # IDs that are not UUIDs
        return bool(a != b)


def _raise_value_returned(method: Callable[..., Any]) -> None:
    """Refuse a value returned by ``apply()``: it would be silently discarded (as 9.1.3 does)."""
    raise TypeError(
        f"Unexpected value returned from {method.__qualname__}(). "
        "Values returned from 'apply' methods are discarded."
    )


# How an aggregate event mutates an aggregate, written once and compiled for
# each use: AggregateEvent's mutate() calls self.apply(); the mutate() of each
# @event class calls the method body itself (and the inherited apply() first,
# if any), which saves a Python call per event replayed or triggered (see
# DecoratedEvent): replaying an @event event with a one-line body is 42 traced
# opcodes in two calls, where mutate() calling a generated apply() was 52 in
# three. This runs for every event, so it checks inline, with no
# copies into locals. An aggregate's events read from a store share its ID
# object (recorders hand each the ID asked for), so the identity test settles
# the ID check; otherwise the UUIDs' .int are compared (UUID.__eq__ is Python
# code). None, or an object that is not an Aggregate, is found by the
# AttributeError it raises.
_MUTATE_SOURCE = """\
try:
    if self.originator_version != aggregate._version + 1 or (
        self.originator_id is not aggregate._id
        and _es_different_ids(self.originator_id, aggregate._id)
    ):
        self._raise_not_next(aggregate._id, aggregate._version)
except AttributeError:
    return self._mutate_object(aggregate)
{apply}
aggregate._version = self.originator_version
aggregate._modified_on = self.timestamp
return aggregate"""

# The compiled mutate() methods, which return the aggregate they are given.
_LIBRARY_MUTATES: Set[Callable[..., Any]] = set()


def _compile_mutate(
    event_class: type, apply_lines: List[str], globals_: Dict[str, Any]
) -> Callable[..., Any]:
    """``mutate()`` for ``event_class``, applying the event with ``apply_lines``."""
    source = _MUTATE_SOURCE.replace("{apply}", "\n".join(apply_lines))
    mutate = make_function(
        "mutate",
        f"{event_class.__qualname__}.mutate",
        [_SELF_PARAM, _AGGREGATE_PARAM],
        "\n    ".join(source.splitlines()),
        {"_es_different_ids": _different_ids, "_es_returned": _raise_value_returned, **globals_},
    )
    mutate.__doc__ = AggregateEvent.mutate.__doc__
    mutate.__annotations__ = dict(AggregateEvent.mutate.__annotations__)
    _LIBRARY_MUTATES.add(mutate)
    return mutate


def mutate_returns_the_aggregate(event_class: type) -> bool:
    """Whether ``event_class.mutate()`` is the library's, which returns an aggregate.

    An overridden ``mutate()`` may return None (discarding the aggregate),
    which decides whether a saved aggregate can be cached or snapshotted.
    """
    return cast(Any, event_class).mutate in _LIBRARY_MUTATES


_SELF_PARAM = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
_AGGREGATE_PARAM = inspect.Parameter("aggregate", inspect.Parameter.POSITIONAL_OR_KEYWORD)
AggregateEvent.mutate = _compile_mutate(  # type: ignore[method-assign]
    AggregateEvent,
    ["if self.apply(aggregate) is not None: _es_returned(type(self).apply)"],
    {},
)


class AggregateCreated(AggregateEvent[TAggregate]):
    """The beginning of an aggregate; ``originator_topic`` locates its class."""

    originator_topic: str

    def mutate(self, aggregate: Optional[TAggregate]) -> TAggregate:
        """Construct the aggregate this event describes, then ``apply()`` this event.

        The aggregate's ``__init__`` receives the event's own attributes that
        it takes, and for parameters named ``id``, ``timestamp`` (or another
        attribute every created event has) the event's values.
        """
        if aggregate is not None:
            raise TypeError(
                f"{type(self).__qualname__} event constructs a new aggregate, "
                f"but was given {aggregate!r}"
            )
        kwargs = self.__dict__.copy()
        del kwargs["originator_id"], kwargs["originator_version"], kwargs["timestamp"]
        aggregate_class = resolve_topic(kwargs.pop("originator_topic"))
        obj = object.__new__(aggregate_class)
        obj.__base_init__(self.originator_id, self.originator_version, self.timestamp)
        if type(self) is not aggregate_class._init_takes_attributes_of:
            kwargs = self._init_arguments(aggregate_class, kwargs)
        obj.__init__(**kwargs)
        if obj._pending_events:
            raise TypeError(
                f"{aggregate_class.__qualname__}.__init__() must not trigger events: "
                "it runs again whenever the aggregate is reconstructed; set "
                "attributes directly instead"
            )
        apply = type(self).apply
        if apply is not _NO_APPLY and apply(self, obj) is not None:
            _raise_value_returned(apply)
        # Not typing.cast(): a Python call, for every aggregate created or replayed.
        return obj  # type: ignore[no-any-return]

    def _init_arguments(self, aggregate_class: Any, kwargs: Dict[str, Any]) -> Dict[str, Any]:
        """Arguments of ``__init__`` when they are not simply the event's own attributes.

        Parameters named ``id``, ``timestamp``... get the event's values, and
        attributes ``__init__`` does not take (e.g. set by the aggregate's
        base event class) are left out, as in 9.1.
        """
        for param_name, attribute_name in aggregate_class._init_event_attributes:
            kwargs[param_name] = self.__dict__[attribute_name]
        accepted = aggregate_class._init_param_names
        if accepted is not None:
            kwargs = {name: value for name, value in kwargs.items() if name in accepted}
        return kwargs


EventSpecType = Optional[Union[str, Type[AggregateEvent[Any]]]]
"""What ``@event`` takes: an event class name, an event class, or nothing (9.1's alias)."""


_NO_APPLY = AggregateEvent.apply
_LIBRARY_MUTATES.add(AggregateCreated.mutate)


class DecoratedEvent(AggregateEvent[Any]):
    """Base of event classes defined by ``@event``: applying runs the method body.

    The ``apply()`` of the classes it is combined with (the aggregate's
    ``Event`` class, or the event class given to ``@event``) runs first.
    Each decorated event class gets a generated ``apply()`` doing the same
    as this one without looking anything up, and a ``mutate()`` that runs
    those statements itself instead of calling ``apply()``: one Python call
    fewer for every event replayed or triggered.
    """

    _decorated_method: ClassVar[Callable[..., Any]]
    _decorated_params: ClassVar[Tuple[Tuple[str, bool], ...]]

    def apply(self, aggregate: Any) -> None:
        """Run the inherited ``apply()``, then the decorated method with this event's values."""
        super().apply(aggregate)
        args = []
        kwargs = {}
        for name, keyword_only in self._decorated_params:
            if keyword_only:
                kwargs[name] = getattr(self, name)
            else:
                args.append(getattr(self, name))
        if self._decorated_method(aggregate, *args, **kwargs) is not None:
            _raise_value_returned(self._decorated_method)


# Registries of eventsourcing 9.1, filled as aggregate classes are defined:
# event classes given to @event, the method of each decorated event class,
# the event class of each decorator, and the names of the created event
# classes of aggregate classes that define several (and so can't be called).
given_event_classes: Set[type] = set()
decorated_methods: Dict[type, Callable[..., Any]] = {}
decorated_event_classes: Dict[Any, type] = {}
aggregate_has_many_created_event_classes: Dict[type, List[str]] = {}


class Snapshot(DomainEvent):
    """The state of an aggregate at a version, to avoid replaying all its events.

    ``topic`` locates the aggregate class; ``state`` is the aggregate's
    attributes except its ID, version and pending events (plus
    ``class_version`` when the aggregate class is versioned above 1).
    """

    topic: str
    state: Dict[str, Any]

    @classmethod
    def take(cls, aggregate: Aggregate) -> Snapshot:
        """Snapshot ``aggregate`` as it is now.

        The state is deep-copied, so later changes to the aggregate do not
        leak into the snapshot.
        """
        state = aggregate.__dict__.copy()
        state.pop("_pending_events", None)
        originator_id = state.pop("_id")
        originator_version = state.pop("_version")
        state = deepcopy(state)
        aggregate_class = type(aggregate)
        class_version = getattr(aggregate_class, "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        return cls(
            originator_id=originator_id,
            originator_version=originator_version,
            timestamp=cls.create_timestamp(),
            topic=get_topic(aggregate_class),
            state=state,
        )

    def mutate(self, _: Any = None) -> Any:
        """Reconstruct the aggregate, upcasting old snapshot state first.

        Takes (and ignores) an aggregate argument so a snapshot can stand at
        the start of a list of events replayed with ``mutate()``.
        """
        aggregate_class = resolve_topic(self.topic)
        state = deepcopy(self.state)
        upcast_state(
            aggregate_class,
            state,
            lambda: f"snapshot of {self.originator_id} at version {self.originator_version}",
        )
        # The snapshot's own ID and version win over any in its state (9.1
        # programs build snapshots from a whole ``aggregate.__dict__``).
        state["_id"] = self.originator_id
        state["_version"] = self.originator_version
        state["_pending_events"] = []
        obj = object.__new__(aggregate_class)
        obj.__dict__.update(state)
        return obj


def _check_parameters(params: List[inspect.Parameter], method_name: str) -> None:
    """Refuse ``*args`` and ``**kwargs``: each argument becomes an event attribute.

    Messages here and below that eventsourcing 9.1 also raised keep its exact
    wording: programs' tests compare them with ``==`` and ``endswith()``.
    """
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            raise TypeError(f"*{p.name} not supported by decorator on {method_name}()")
        if p.kind is p.VAR_KEYWORD:
            raise TypeError(f"**{p.name} not supported by decorator on {method_name}()")


# Attributes every (created) event has. Parameters of these names receive
# the event's values rather than becoming attributes (as in 9.1).
_RESERVED_EVENT_FIELDS = frozenset(
    ("originator_id", "originator_version", "timestamp", "originator_topic")
)


def _define_event_class(
    aggregate_class: type,
    name: str,
    bases: Tuple[type, ...],
    params: List[inspect.Parameter],
) -> Any:
    """Define an event class on ``aggregate_class`` with one field per parameter."""
    annotations: Dict[str, Any] = {
        p.name: Any if p.annotation is p.empty else p.annotation for p in params
    }
    namespace = {
        "__annotations__": annotations,
        "__module__": aggregate_class.__module__,
        "__qualname__": f"{aggregate_class.__qualname__}.{name}",
    }
    event_class = type(bases[-1])(name, bases, namespace)
    setattr(aggregate_class, name, event_class)
    return event_class


def _event_field_names(event_class: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cast(Any, event_class))}


def _inherited_apply(event_class: type, after: type) -> Optional[Callable[..., Any]]:
    """The ``apply()`` next after ``after`` in the MRO, or None if that is the no-op."""
    mro = event_class.__mro__
    for klass in mro[mro.index(after) + 1 :]:
        apply = klass.__dict__.get("apply")
        if apply is not None:
            return None if apply is AggregateEvent.apply else cast(Callable[..., Any], apply)
    return None  # pragma: no cover - AggregateEvent defines apply()


# ---------------------------------------------------------------------------
# The @event decorator
# ---------------------------------------------------------------------------


def _event_name_from_method(method_name: str) -> str:
    """``name_updated`` -> ``NameUpdated``, as 9.1 names it (so stored topics match)."""
    return "".join(part.capitalize() for part in method_name.split("_"))


class CommandMethodDecorator:
    """Marks an aggregate method as triggering an event; resolved when the class is made.

    The aggregate class replaces it with a generated command method of the
    same signature (or a property whose setter is one), and defines the
    event class whose ``apply()`` calls the original method body.
    """

    def __init__(
        self,
        method: Any,
        event_name: Optional[str] = None,
        event_class: Optional[type] = None,
    ) -> None:
        self.decorated_property: Optional[property] = None
        if isinstance(method, property):
            if method.fset is None:
                getter_name = getattr(method.fget, "__name__", "?")
                raise TypeError(f"@event can't decorate {getter_name}() property getter")
            if event_name is None and event_class is None:
                raise TypeError(
                    f"@event on {method.fset.__name__}() setter requires event name or class"
                )
            self.decorated_property = method
            method = method.fset
        if not isinstance(method, FunctionType):
            raise TypeError(f"{method} is not a function or property")
        self.method = method
        self.event_class = event_class
        self.name_given = event_class is not None or event_name is not None
        self.event_name = (
            event_class.__name__
            if event_class is not None
            else event_name or _event_name_from_method(method.__name__)
        )
        signature = inspect.signature(method)
        params = list(signature.parameters.values())
        what = f"@event decorated method {method.__qualname__}()"
        _check_parameters(params, method.__name__)
        if not params or params[0].kind not in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            raise TypeError(f"{what} must take the aggregate as its first argument")
        self.params = params
        self.what = what
        self.__wrapped__ = method
        self.__name__ = method.__name__
        self.__qualname__ = method.__qualname__
        self.__doc__ = method.__doc__

    def __call__(self, aggregate: Any, *args: Any, **kwargs: Any) -> None:
        """Explain the misuse: an aggregate class replaces its decorators when defined."""
        if not isinstance(aggregate, Aggregate):
            raise TypeError(
                f"{self.__qualname__}() was called on {type(aggregate).__qualname__}, "
                "which is not an Aggregate; subclass Aggregate or use the @aggregate "
                "class decorator"
            )
        raise TypeError(
            f"{self.__qualname__}() was not defined in the body of "
            f"{type(aggregate).__qualname__}; @event methods must be defined in the "
            "class statement so their event classes are defined with the class"
        )

    def __get__(self, obj: Any, objtype: Optional[type] = None) -> Any:
        if obj is None:
            return UnboundCommandMethodDecorator(self)
        return BoundCommandMethodDecorator(self, obj)

    def _install(
        self, aggregate_class: type, attribute_name: str, declared: Dict[type, type]
    ) -> Callable[..., Any]:
        """Define the event class and return the generated command method.

        ``declared`` maps event classes of the aggregate's class body to the
        classes now on the aggregate (extended to subclass its ``Event``).
        """
        params = self.params[1:]
        field_params = [p for p in params if p.name not in _RESERVED_EVENT_FIELDS]
        given: Any = self.event_class
        if given is not None:
            if issubclass(given, AggregateCreated):
                raise TypeError(f"{given} is subclass of AggregateCreated")
            if given in given_event_classes:
                raise TypeError(f"{given.__name__} event class used in more than one decorator")
            missing = [p.name for p in field_params if p.name not in _event_field_names(given)]
            if missing:
                raise TypeError(
                    f"{self.what} has parameters {missing} which are not attributes "
                    f"of event class {given.__qualname__}"
                )
            given_event_classes.add(given)
        if given is not None and given not in declared:
            # A class defined elsewhere (not in the aggregate's class body) is
            # used itself, so that the topic it is stored under stays the same.
            event_class: Any = given
            own_apply = given.__dict__.get("apply")
            base_apply = own_apply if own_apply is not None else _inherited_apply(given, given)
        else:
            if given is not None:
                bases: Tuple[type, ...] = (DecoratedEvent, declared[given])
            else:
                if self.event_name in aggregate_class.__dict__:
                    raise TypeError(
                        f"{self.event_name} event already defined on {aggregate_class.__name__}"
                    )
                bases = (DecoratedEvent, cast(Any, aggregate_class).Event)
            event_class = _define_event_class(aggregate_class, self.event_name, bases, field_params)
            base_apply = _inherited_apply(event_class, DecoratedEvent)
        event_class._decorated_method = staticmethod(self.method)
        event_class._decorated_params = tuple((p.name, p.kind is p.KEYWORD_ONLY) for p in params)
        apply_lines = self._apply_lines(params, base_apply)
        apply_globals = {"_es_method": self.method, "_es_base": base_apply}
        event_class.apply = self._make_apply(event_class, apply_lines, apply_globals)
        if event_class.mutate is AggregateEvent.mutate:  # not a class's own mutate()
            event_class.mutate = _compile_mutate(event_class, apply_lines, apply_globals)
            _decorated_mutates.add(event_class.mutate)
        decorated_methods[event_class] = self.method
        decorated_event_classes[self] = event_class
        return self._make_command(aggregate_class, attribute_name, event_class, field_params)

    def _apply_lines(
        self, params: List[inspect.Parameter], base_apply: Optional[Callable[..., Any]]
    ) -> List[str]:
        """Statements applying the event: the inherited ``apply()``, then the method body."""
        args = ", ".join(
            f"{p.name}=self.{p.name}" if p.kind is p.KEYWORD_ONLY else f"self.{p.name}"
            for p in params
        )
        call = f"_es_method(aggregate, {args})" if args else "_es_method(aggregate)"
        lines = [f"if {call} is not None: _es_returned(_es_method)"]
        if base_apply is not None:
            lines.insert(0, "if _es_base(self, aggregate) is not None: _es_returned(_es_base)")
        return lines

    def _make_apply(
        self, event_class: type, apply_lines: List[str], globals_: Dict[str, Any]
    ) -> Callable[..., Any]:
        func = make_function(
            "apply",
            f"{event_class.__qualname__}.apply",
            [_SELF_PARAM, _AGGREGATE_PARAM],
            "\n    ".join(apply_lines),
            {"_es_returned": _raise_value_returned, **globals_},
        )
        func.__doc__ = f"Apply by running {self.method.__qualname__}()."
        return func

    def _make_command(
        self,
        aggregate_class: type,
        attribute_name: str,
        event_class: type,
        field_params: List[inspect.Parameter],
    ) -> Callable[..., Any]:
        self_name = self.params[0].name
        kwargs = ", ".join(f"{p.name}={p.name}" for p in field_params)
        body = f"{self_name}.trigger_event(_es_event_class, {kwargs})"
        func = make_function(
            self.method.__name__,
            name_in_argument_errors(
                self.method.__name__, f"{aggregate_class.__qualname__}.{attribute_name}"
            ),
            self.params,
            body,
            {"_es_event_class": event_class},
            annotations=self.method.__annotations__,
        )
        func.__doc__ = self.method.__doc__
        func.__module__ = self.method.__module__
        func.__wrapped__ = self.method  # type: ignore[attr-defined]
        func.event_class = event_class  # type: ignore[attr-defined]
        return func


class UnboundCommandMethodDecorator:
    """A decorated method looked up on a class that was not made an aggregate."""

    def __init__(self, event_decorator: CommandMethodDecorator) -> None:
        self.event_decorator = event_decorator
        self.__qualname__ = event_decorator.__qualname__
        self.__name__ = event_decorator.__name__

    def __call__(self, aggregate: Any, *args: Any, **kwargs: Any) -> None:
        self.event_decorator(aggregate, *args, **kwargs)


class BoundCommandMethodDecorator:
    """A decorated method looked up on an object that was not made an aggregate."""

    def __init__(self, event_decorator: CommandMethodDecorator, aggregate: Any) -> None:
        self.event_decorator = event_decorator
        self.aggregate = aggregate

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.event_decorator(self.aggregate, *args, **kwargs)


@overload
def event(arg: str) -> Callable[[TCommand], TCommand]: ...


@overload
def event(arg: Type[AggregateEvent[Any]]) -> Callable[[TCommand], TCommand]: ...


@overload
def event(arg: None = None) -> Callable[[TCommand], TCommand]: ...


@overload
def event(arg: TCommand) -> TCommand: ...


def event(arg: Any = None) -> Any:
    """Make a method trigger an event whose ``apply()`` is the method body.

    Use bare (the event class name comes from the method name:
    ``name_updated`` gives ``NameUpdated``), with the name of the event
    class to define, or with an event class to use. The method keeps its
    signature; calling it creates the event from the arguments and applies
    it, so an exception raised by the body leaves no event and no change of
    version behind.
    """
    if isinstance(arg, str):
        if arg == "":
            raise ValueError("Can't use empty string as name of event class")
        if not arg.isidentifier():
            raise TypeError(f"@event name {arg!r} is not a valid class name")
        name = arg
        return lambda method: CommandMethodDecorator(method, event_name=name)
    if isinstance(arg, type) and issubclass(arg, AggregateEvent):
        event_class = arg
        return lambda method: CommandMethodDecorator(method, event_class=event_class)
    if arg is None:
        return lambda method: CommandMethodDecorator(method)
    if isinstance(arg, (FunctionType, property)):
        return CommandMethodDecorator(arg)
    raise TypeError(f"{arg} is not a str, aggregate event class, function, or property")


triggers = event


# ---------------------------------------------------------------------------
# Aggregates
# ---------------------------------------------------------------------------


_RESERVED_AGGREGATE_ATTRIBUTES = frozenset(
    ("version", "created_on", "modified_on", "pending_events")
)


@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
class MetaAggregate(ABCMeta):
    """Prepares aggregate classes: event classes, ``__init__``, ``@event`` methods."""

    _created_event_class: Type[AggregateCreated[Any]]
    _init_event_attributes: Tuple[Tuple[str, str], ...]
    _init_param_names: Optional[FrozenSet[str]]
    _init_takes_attributes_of: Any
    _bind_init: Callable[..., Dict[str, Any]]
    _create_id_params: Optional[Tuple[str, ...]]

    def __new__(
        mcs,
        name: str,
        bases: Tuple[type, ...],
        namespace: Dict[str, Any],
        *,
        created_event_name: Optional[str] = None,
    ) -> MetaAggregate:
        init = namespace.get("__init__")
        init_event_decorator: Optional[CommandMethodDecorator] = None
        if isinstance(init, CommandMethodDecorator):
            init_event_decorator = init
            namespace = dict(namespace)
            namespace["__init__"] = init.method
        cls = super().__new__(mcs, name, bases, namespace)
        if not any(isinstance(b, MetaAggregate) for b in bases):
            # The Aggregate base class itself.
            dataclasses.dataclass(init=False, eq=False, repr=False)(cast(Any, cls))
            return cls
        for attr in ("__eq__", "__repr__"):
            # Keep aggregate equality and repr if @dataclass is applied later.
            if attr not in namespace:
                setattr(cls, attr, getattr(cls, attr))
        if "__init__" not in namespace and own_annotation_names(cls):
            generate_dataclass_init(cls, _RESERVED_AGGREGATE_ATTRIBUTES)
        else:
            # Every aggregate class is a dataclass, as in 9.1 (fields() works).
            dataclasses.dataclass(init=False, eq=False, repr=False)(cast(Any, cls))

        # The aggregate's base event class: every event class of the aggregate
        # extends it, so that its apply() runs for all of them (as in 9.1).
        declared = mcs._extend_event_classes(cls)

        all_init_params = list(inspect.signature(cast(Any, cls).__init__).parameters.values())
        init_params = all_init_params[1:]
        reserved = _RESERVED_EVENT_FIELDS | {"id"}
        cls._init_event_attributes = tuple(
            (p.name, "originator_id" if p.name == "id" else p.name)
            for p in init_params
            if p.name in reserved
        )
        if any(p.kind is p.VAR_KEYWORD for p in init_params):
            cls._init_param_names = None
        else:
            cls._init_param_names = frozenset(p.name for p in init_params)

        # The created event class.
        created_event_class = mcs._given_created_event_class(
            cls, init_event_decorator, created_event_name
        )
        if init_event_decorator is not None and created_event_class is None:
            created_event_name = init_event_decorator.event_name
        if created_event_class is None:
            created_event_class = mcs._find_created_event_class(
                cls, created_event_name, init_params
            )
        cls._created_event_class = created_event_class
        # Created events of this class whose attributes __init__ takes as they are.
        simple = not cls._init_event_attributes and (
            cls._init_param_names is None
            or isinstance(created_event_class, _AmbiguousCreated)
            or _event_field_names(created_event_class) - _RESERVED_EVENT_FIELDS
            <= cls._init_param_names
        )
        cls._init_takes_attributes_of = created_event_class if simple else None

        # Binding arguments of calls to the class.
        mcs._define_bind_init(cls, all_init_params)

        # Arguments of create_id(): () for the default (none), None for all
        # creation arguments (it takes **kwargs), else the names it takes.
        create_id = cls.create_id
        if create_id is Aggregate.create_id:
            cls._create_id_params = ()
        else:
            id_params = list(inspect.signature(create_id).parameters.values())
            if any(p.kind is p.VAR_KEYWORD for p in id_params):
                cls._create_id_params = None
            else:
                cls._create_id_params = tuple(p.name for p in id_params)

        # @event decorated methods and property setters.
        for attribute_name, value in list(namespace.items()):
            if isinstance(value, CommandMethodDecorator):
                command: Any = value._install(cls, attribute_name, declared)
                prop = value.decorated_property
                if prop is not None:
                    command = property(prop.fget, command, prop.fdel, prop.__doc__)
                setattr(cls, attribute_name, command)
            elif isinstance(value, property):
                if isinstance(value.fget, CommandMethodDecorator):
                    raise TypeError(f"@event can't decorate {attribute_name}() property getter")
                if isinstance(value.fset, CommandMethodDecorator):
                    if not value.fset.name_given:
                        raise TypeError(
                            f"@event under {attribute_name}() property setter requires "
                            "event class name"
                        )
                    fset = value.fset._install(cls, attribute_name, declared)
                    setattr(
                        cls,
                        attribute_name,
                        property(value.fget, fset, value.fdel, value.__doc__),
                    )

        get_topic(cls)  # so that the class resolves from its topic even if not importable
        return cls

    def __init__(
        cls,
        name: str,
        bases: Tuple[type, ...],
        namespace: Dict[str, Any],
        *,
        created_event_name: Optional[str] = None,
    ) -> None:
        super().__init__(name, bases, namespace)

    if TYPE_CHECKING:
        # Event classes defined by @event("Name") exist only at run time;
        # this lets type checkers accept ``MyAggregate.Name`` (typed Any).
        def __getattr__(cls, name: str) -> Any: ...

    @staticmethod
    def _extend_event_classes(cls: Any) -> Dict[type, type]:
        """Give ``cls`` its own ``Event`` class, and make its event classes extend it.

        Returns the event classes of the class body, each mapped to the class
        now on the aggregate (a subclass of it with the same name and topic,
        where it did not already extend the aggregate's ``Event``).
        """
        base_event = cls.__dict__.get("Event")
        if not (isinstance(base_event, type) and issubclass(base_event, AggregateEvent)):
            base_event = _define_event_class(cls, "Event", (cls.Event,), [])
        declared: Dict[type, type] = {}
        for name, value in list(cls.__dict__.items()):
            if (
                name == "Event"
                or name.lower() == name
                or not isinstance(value, type)
                or not issubclass(value, AggregateEvent)
            ):
                continue
            if issubclass(value, base_event):
                declared[value] = value
            else:
                declared[value] = _define_event_class(cls, name, (value, base_event), [])
        return declared

    @staticmethod
    def _given_created_event_class(
        cls: Any,
        init_event_decorator: Optional[CommandMethodDecorator],
        created_event_name: Optional[str],
    ) -> Any:
        """The created event class named by ``_created_event_class`` or by @event on __init__."""
        given = cls.__dict__.get("_created_event_class")
        if given is not None:
            if not (isinstance(given, type) and issubclass(given, AggregateCreated)):
                raise TypeError(f"{given} not subclass of AggregateCreated")
            # The class of the body may have been extended: use the one on cls.
            given = getattr(cls, given.__name__, given)
            if created_event_name:
                raise TypeError("Can't use both '_created_event_class' and 'created_event_name'")
        if init_event_decorator is None:
            return given
        if created_event_name:
            raise TypeError("Can't use both 'created_event_name' and decorator on __init__")
        if given is not None:
            raise TypeError("Can't use both '_created_event_class' and decorator on __init__")
        if init_event_decorator.event_class is not None:
            decorated = init_event_decorator.event_class
            created = getattr(cls, decorated.__name__, decorated)
            if not (isinstance(created, type) and issubclass(created, AggregateCreated)):
                raise TypeError(f"{created} not subclass of AggregateCreated")
            if decorated.__name__ not in cls.__dict__:
                setattr(cls, decorated.__name__, created)
            return created
        if not init_event_decorator.name_given:
            raise TypeError("Decorator on __init__ has neither event name nor class")
        return None

    @staticmethod
    def _find_created_event_class(
        cls: Any,
        created_event_name: Optional[str],
        init_params: List[inspect.Parameter],
    ) -> Any:
        """Choose the created event class, defining one when none is declared."""
        base_event = cls.Event
        declared = {
            key: value
            for key, value in cls.__dict__.items()
            if isinstance(value, type) and issubclass(value, AggregateCreated)
        }
        inherited = getattr(cls, "_created_event_class", None)
        if created_event_name is not None:
            if created_event_name in declared:
                return declared[created_event_name]
        elif len(declared) == 1:
            return next(iter(declared.values()))
        elif len(declared) > 1:
            names = list(declared)
            aggregate_has_many_created_event_classes[cls] = names
            return _AmbiguousCreated(cls, names)
        elif "__init__" not in cls.__dict__ and inherited is not None:
            # Each aggregate class has a created event class of its own (so
            # stored topics name the aggregate), extending the inherited one.
            return _define_event_class(
                cls, inherited.__name__, _with_base(inherited, base_event), []
            )
        # Define one from the __init__ signature.
        _check_parameters(init_params, "__init__")
        params = [p for p in init_params if p.name != "id" and p.name not in _RESERVED_EVENT_FIELDS]
        # Extend a declared or inherited created event class if the init
        # arguments cover its attributes, so its methods and upcasters apply.
        base: Any = Aggregate.Created
        base_fields = _event_field_names(base) | _event_field_names(base_event)
        param_names = {p.name for p in params}
        for candidate in [*declared.values(), inherited]:
            if candidate is not None and candidate is not base:
                if _event_field_names(candidate) - base_fields <= param_names:
                    base = candidate
                    break
        return _define_event_class(
            cls, created_event_name or "Created", _with_base(base, base_event), params
        )

    @staticmethod
    def _define_bind_init(cls: Any, all_init_params: List[inspect.Parameter]) -> None:
        """Compile the function that turns a call's arguments into created event attributes.

        Parameters named as event attributes (``timestamp``...) are accepted
        and dropped: the event's own values stand for them.
        """
        if isinstance(cls._created_event_class, _AmbiguousCreated):
            cls._bind_init = staticmethod(cls._created_event_class.refuse)
            return
        init_params = all_init_params[1:]
        variable = [p for p in init_params if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if variable:
            signature = inspect.signature(cls.__init__)

            def bind_init(*args: Any, **kwargs: Any) -> Dict[str, Any]:
                bound = signature.bind(*args, **kwargs)
                bound.apply_defaults()
                arguments = dict(bound.arguments)
                arguments.pop(next(iter(signature.parameters)))
                for p in variable:
                    value = arguments.pop(p.name)
                    if p.kind is p.VAR_KEYWORD:
                        arguments.update(value)
                    elif value:
                        raise TypeError(
                            f"{cls.__name__}.__init__() got unexpected positional arguments"
                        )
                for name in _RESERVED_EVENT_FIELDS:
                    arguments.pop(name, None)
                return arguments

            cls._bind_init = staticmethod(bind_init)
        else:
            items = ", ".join(
                f"{p.name!r}: {p.name}" for p in init_params if p.name not in _RESERVED_EVENT_FIELDS
            )
            cls._bind_init = staticmethod(
                make_function(
                    "__init__",
                    name_in_argument_errors("__init__", f"{cls.__qualname__}.__init__"),
                    all_init_params,
                    f"return {{{items}}}",
                    {},
                )
            )


def _with_base(event_class: type, base_event: type) -> Tuple[type, ...]:
    """Bases of a subclass of ``event_class`` that also extends ``base_event``."""
    return (event_class,) if issubclass(event_class, base_event) else (event_class, base_event)


class _AmbiguousCreated:
    """Stands for the created event class of an aggregate class that declares several.

    Calling such a class is refused (9.1 refuses it when it is called, not
    when it is defined): its class methods choose with ``_create()``.
    """

    def __init__(self, cls: type, names: List[str]) -> None:
        listed = "', '".join(names)
        self.message = (
            f"Can't decide which of many \"created\" event classes to use: '{listed}'. "
            "Please use class arg 'created_event_name' or @event decorator on __init__ method."
        )

    def refuse(self, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        raise TypeError(self.message)


class Aggregate(metaclass=MetaAggregate):
    """Base class of event-sourced aggregate roots.

    Subclasses are created by calling the class (the created event is
    defined from ``__init__``), or by a class method calling ``_create()``.
    Command methods trigger events with ``trigger_event()`` or are decorated
    with ``@event``; ``collect_events()`` hands the new events to be saved.
    """

    INITIAL_VERSION: ClassVar[int] = 1

    class Event(AggregateEvent[TAggregate]):
        """Base class of an aggregate's events (generic: ``Aggregate.Event["Page"]``).

        Each aggregate class has its own ``Event`` class, and all its event
        classes extend it, so an ``apply()`` defined on it runs for them all.
        """

    class Created(Event[TAggregate], AggregateCreated[TAggregate]):
        """The aggregate was created."""

    def __init__(self) -> None:
        """Initialise the aggregate's own attributes (none here)."""

    def __base_init__(self, id: UUID, version: int, timestamp: datetime) -> None:
        """Set the ID, version and times, and start an empty list of pending events."""
        self._id = id
        self._version = version
        self._created_on = timestamp
        self._modified_on = timestamp
        self._pending_events: List[AggregateEvent[Any]] = []

    @staticmethod
    def create_id(*args: Any, **kwargs: Any) -> UUID:
        """ID for a new aggregate: a random version 4 UUID.

        Override with a method taking some of ``__init__``'s arguments to
        derive the ID from them (e.g. a version 5 UUID from a name).
        """
        return new_uuid4()

    @classmethod
    def _create(
        cls: Type[TAggregate],
        event_class: Type[AggregateCreated[Any]],
        *,
        id: Optional[UUID] = None,
        **kwargs: Any,
    ) -> TAggregate:
        """Create a new aggregate from a new created event of ``event_class``.

        ``id`` defaults to ``create_id()`` (given the keyword arguments it
        names); the keyword arguments become attributes of the event and
        arguments of ``__init__``.
        """
        if id is None:
            id_params = cls._create_id_params
            if id_params is None:
                id = cls.create_id(**kwargs)
            elif not id_params:
                id = cls.create_id()
            else:
                # Pass the arguments that were given; create_id()'s defaults
                # stand in for the others (as in 9.1).
                given = {name: kwargs[name] for name in id_params if name in kwargs}
                if len(given) == len(id_params):
                    id = cls.create_id(**given)
                else:
                    try:
                        id = cls.create_id(**given)
                    except TypeError as e:
                        missing = next(name for name in id_params if name not in kwargs)
                        raise TypeError(
                            f"{cls.__qualname__}.create_id() needs argument {missing!r}, "
                            f"which was not given when creating the aggregate"
                        ) from e
        try:
            created_event = event_class(
                originator_topic=get_topic(cls),
                originator_id=id,
                originator_version=cls.INITIAL_VERSION,
                timestamp=event_class.create_timestamp(),
                **kwargs,
            )
        except TypeError as e:
            raise TypeError(f"Unable to construct '{event_class.__name__}' event: {e}") from None
        obj = created_event.mutate(None)
        obj._pending_events.append(created_event)
        # Not typing.cast(): a Python call, for every aggregate created.
        return obj  # type: ignore[no-any-return]

    @property
    def id(self) -> UUID:
        """The ID of the aggregate (fixed when it is created)."""
        return self._id

    @id.setter
    def id(self, value: UUID) -> None:
        self._set_id(value)

    def _set_id(self, value: UUID) -> None:
        try:
            current = self.__dict__["_id"]
        except KeyError:
            self._id = value
            return
        if value != current:
            raise AttributeError(
                f"The ID of {type(self).__qualname__} {current} cannot be changed to {value}"
            )

    @property
    def version(self) -> int:
        """The version of the aggregate: the originator_version of its last event."""
        return self._version

    @version.setter
    def version(self, value: int) -> None:
        self._version = value

    @property
    def created_on(self) -> datetime:
        """When the aggregate was created (its first event's timestamp)."""
        return self._created_on

    @property
    def modified_on(self) -> datetime:
        """When the aggregate was last changed (its last event's timestamp)."""
        return self._modified_on

    @modified_on.setter
    def modified_on(self, value: datetime) -> None:
        self._modified_on = value

    @property
    def pending_events(self) -> List[AggregateEvent[Any]]:
        """Events triggered but not yet collected."""
        return self._pending_events

    def trigger_event(self, event_class: Type[AggregateEvent[Any]], **kwargs: Any) -> None:
        """Create the next event of ``event_class``, apply it, and keep it as pending.

        The keyword arguments become the event's attributes. If applying the
        event raises, nothing is kept and the aggregate's version is unchanged.
        Timestamps of one aggregate's events never go backwards.
        """
        timestamp = event_class.create_timestamp()
        if timestamp <= self._modified_on:
            timestamp = self._modified_on + _ONE_MICROSECOND
        try:
            new_event = event_class(
                originator_id=self._id,
                originator_version=self._version + 1,
                timestamp=timestamp,
                **kwargs,
            )
        except TypeError as e:
            raise TypeError(f"Can't construct event {event_class}: {e}") from None
        new_event.mutate(self)
        self._pending_events.append(new_event)

    def collect_events(self) -> List[AggregateEvent[Any]]:
        """Return the pending events and start a new, empty list."""
        collected = self._pending_events
        self._pending_events = []
        return collected

    def __eq__(self, other: Any) -> bool:
        """Same class, ID, version and attributes (pending events are not compared)."""
        if type(self) is not type(other):
            return False
        mine = self.__dict__.copy()
        mine.pop("_pending_events", None)
        theirs = other.__dict__.copy()
        theirs.pop("_pending_events", None)
        return bool(mine == theirs)

    def __repr__(self) -> str:
        attrs = [
            f"{key.lstrip('_')}={value!r}"
            for key, value in self.__dict__.items()
            if key != "_pending_events"
        ]
        return f"{type(self).__name__}({', '.join(attrs)})"


_ONE_MICROSECOND = timedelta(microseconds=1)

# The base Aggregate class: its own created event class and binder.
Aggregate._created_event_class = Aggregate.Created
Aggregate._init_event_attributes = ()
Aggregate._init_param_names = frozenset()
Aggregate._init_takes_attributes_of = Aggregate.Created
Aggregate._create_id_params = ()
Aggregate._bind_init = staticmethod(
    make_function(
        "__init__",
        "Aggregate.__init__",
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)],
        "return {}",
        {},
    )
)
get_topic(Aggregate)


def _metaaggregate_call(cls: Any, *args: Any, **kwargs: Any) -> Any:
    """Calling an aggregate class creates an aggregate from a new created event."""
    return cls._create(cls._created_event_class, **cls._bind_init(cls, *args, **kwargs))


# Assigned after the class statement so that type checkers keep checking
# calls to aggregate classes against each class's __init__ signature.
MetaAggregate.__call__ = _metaaggregate_call  # type: ignore[method-assign,assignment]


TClass = TypeVar("TClass", bound=type)


def _class_body_functions(values: Iterable[Any]) -> Iterator[Any]:
    """The functions of a class body's attributes (methods, properties, decorators)."""
    for value in values:
        if isinstance(value, CommandMethodDecorator):
            yield value.method
            if value.decorated_property is not None:
                yield value.decorated_property.fget
                yield value.decorated_property.fdel
        elif isinstance(value, (staticmethod, classmethod)):
            yield value.__func__
        elif isinstance(value, property):
            yield from (getattr(f, "method", f) for f in (value.fget, value.fset, value.fdel))
        else:
            yield value


@overload
def aggregate(cls: TClass) -> TClass: ...


@overload
def aggregate(
    cls: None = None, *, created_event_name: Optional[str] = None
) -> Callable[[TClass], TClass]: ...


def aggregate(
    cls: Optional[type] = None, *, created_event_name: Optional[str] = None
) -> Union[type, Callable[[Any], Any]]:
    """Make a plain class an aggregate, as if it inherited from ``Aggregate``.

    ``created_event_name`` names the created event class. Inheriting from
    ``Aggregate`` is preferable where type checkers should see its methods.
    """

    def decorator(original: type) -> type:
        if not isinstance(original, type):
            raise TypeError(f"@aggregate decorates classes, got {original!r}")
        if issubclass(original, Aggregate):
            raise TypeError(f"{original.__qualname__} is already an Aggregate")
        namespace = dict(original.__dict__)
        namespace.pop("__dict__", None)
        namespace.pop("__weakref__", None)
        namespace["__qualname__"] = original.__qualname__
        bases = (*(b for b in original.__bases__ if b is not object), Aggregate)
        new_class = MetaAggregate(
            original.__name__, bases, namespace, created_event_name=created_event_name
        )
        rebind_class_cells(_class_body_functions(namespace.values()), original, new_class)
        return new_class

    if cls is None:
        return decorator
    return decorator(cls)
