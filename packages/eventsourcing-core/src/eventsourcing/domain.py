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

Work that can be done once is done when a class is defined (signatures are
inspected, argument binders and command methods are generated), so that
creating aggregates and calling command methods stays cheap.
"""

from __future__ import annotations

import dataclasses
import importlib
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
    Generic,
    List,
    Optional,
    Tuple,
    Type,
    TypeVar,
    Union,
    cast,
    overload,
)
from uuid import UUID, SafeUUID, uuid4

from eventsourcing.utils import EventSourcingError, get_topic, resolve_topic

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:
    try:
        from typing import dataclass_transform
    except ImportError:  # Python 3.10: the decorator only informs type checkers.

        def dataclass_transform(**_: Any) -> Callable[[Any], Any]:
            return lambda obj: obj


__all__ = [
    "TZINFO",
    "Aggregate",
    "AggregateCreated",
    "AggregateEvent",
    "BoundCommandMethodDecorator",
    "CommandMethodDecorator",
    "DecoratedEvent",
    "DomainEvent",
    "EventSourcingError",
    "MetaAggregate",
    "MetaDomainEvent",
    "Snapshot",
    "TAggregate",
    "TAggregateCreated",
    "TAggregateEvent",
    "TDomainEvent",
    "UnboundCommandMethodDecorator",
    "VersionError",
    "aggregate",
    "create_utc_datetime_now",
    "event",
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


class VersionError(EventSourcingError):
    """An event was applied to an aggregate whose version is not the one before it.

    Raised instead of applying the event, so the aggregate is unchanged.
    """


# Aggregate classes by topic. Created events and snapshots look here first,
# so that classes which are not importable by name (defined in a function)
# can still be reconstructed in the process that defined them.
_aggregate_classes: Dict[str, type] = {}


def _resolve_aggregate_class(topic: str) -> Any:
    try:
        return _aggregate_classes[topic]
    except KeyError:
        return resolve_topic(topic)


# Version 4 UUIDs without UUID.__init__'s pure-Python argument handling (a
# third of the cost of creating an aggregate): the same random bits from
# os.urandom, with the version and variant set as uuid.uuid4() sets them.
_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (4 << 76) | (0x8000 << 48)
_set_attribute = object.__setattr__


def _fast_uuid4() -> UUID:
    new = object.__new__(UUID)
    _set_attribute(new, "int", (int.from_bytes(os.urandom(16), "big") & _V4_CLEAR) | _V4_SET)
    _set_attribute(new, "is_safe", SafeUUID.unknown)
    return new


def _choose_uuid4() -> Callable[[], UUID]:
    try:
        sample = _fast_uuid4()
        if UUID(str(sample)) == sample and sample.version == 4 and hash(sample):
            return _fast_uuid4
    except Exception:  # pragma: no cover - a Python whose UUID has other internals
        pass
    return uuid4  # pragma: no cover


_new_uuid4 = _choose_uuid4()


# ---------------------------------------------------------------------------
# Generated functions
# ---------------------------------------------------------------------------


def _make_function(
    name: str,
    qualname: str,
    params: List[inspect.Parameter],
    body: str,
    globals_: Dict[str, Any],
    annotations: Optional[Dict[str, Any]] = None,
) -> FunctionType:
    """Compile ``def name(params): body`` with the given parameters' kinds and defaults.

    Generated functions bind arguments at C speed and raise Python's own
    ``TypeError`` messages for missing or unexpected arguments.
    """
    parts: List[str] = []
    defaults: List[Any] = []
    kwdefaults: Dict[str, Any] = {}
    seen_positional_only = False
    added_star = False
    for p in params:
        if p.kind is p.POSITIONAL_ONLY:
            seen_positional_only = True
        elif seen_positional_only:
            parts.append("/")
            seen_positional_only = False
        if p.kind is p.KEYWORD_ONLY:
            if not added_star:
                parts.append("*")
                added_star = True
            if p.default is not p.empty:
                kwdefaults[p.name] = p.default
        elif p.default is not p.empty:
            defaults.append(p.default)
        parts.append(p.name)
    if seen_positional_only:
        parts.append("/")
    source = f"def {name}({', '.join(parts)}):\n    {body}\n"
    namespace: Dict[str, Any] = {}
    exec(compile(source, f"<eventsourcing.domain: {qualname}>", "exec"), globals_, namespace)
    func = cast(FunctionType, namespace[name])
    func.__defaults__ = tuple(defaults) or None
    func.__kwdefaults__ = kwdefaults or None
    func.__qualname__ = qualname
    code = func.__code__
    if hasattr(code, "co_qualname"):  # Python >= 3.11: used in TypeError messages
        replace: Any = code.replace
        func.__code__ = replace(co_qualname=qualname)
    if annotations is not None:
        func.__annotations__ = dict(annotations)
    return func


# ---------------------------------------------------------------------------
# Domain events
# ---------------------------------------------------------------------------


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
        if "__init__" not in namespace:
            _install_fast_init(cls)
        return cast(MetaDomainEvent, cls)


def _install_fast_init(cls: type) -> None:
    """Replace the frozen dataclass ``__init__`` with one writing ``__dict__`` directly.

    Frozen dataclasses set each field with ``object.__setattr__``; writing
    the instance dict is over twice as fast, and events are made on every
    command. Classes using ``__post_init__``, ``InitVar``, ``init=False``,
    keyword-only fields or default factories keep the dataclass ``__init__``.
    """
    if getattr(cls, "__post_init__", None) is not None:
        return
    fields = dataclasses.fields(cast(Any, cls))
    for f in cast(Any, cls).__dataclass_fields__.values():
        if f not in fields and repr(getattr(f, "_field_type", None)) != "_FIELD_CLASSVAR":
            return  # an InitVar (or a kind of pseudo-field unknown here)
    params = [inspect.Parameter("_es_self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for f in fields:
        if not f.init or f.kw_only or f.default_factory is not dataclasses.MISSING:
            return
        default = inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default
        params.append(
            inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default)
        )
    body = "\n    ".join(
        ["_es_dict = _es_self.__dict__"] + [f"_es_dict[{f.name!r}] = {f.name}" for f in fields]
    )
    init = _make_function("__init__", f"{cls.__qualname__}.__init__", params, body, {})
    init.__annotations__ = {f.name: f.type for f in fields}
    init.__annotations__["return"] = None
    cls.__init__ = init  # type: ignore[misc]


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


class AggregateEvent(DomainEvent, Generic[TAggregate]):
    """A decision made by an aggregate, the step from one version to the next."""

    def mutate(self, aggregate: Optional[TAggregate]) -> Optional[TAggregate]:
        """Apply this event to ``aggregate`` and advance its version.

        ``apply()`` runs first: if it raises, the aggregate's version and
        modified time are unchanged.
        """
        if aggregate is None:
            raise TypeError(
                f"{type(self).__qualname__} event needs an aggregate to mutate, got None"
            )
        next_version = aggregate._version + 1
        if self.originator_version != next_version:
            raise VersionError(
                f"{type(self).__qualname__} event has originator_version "
                f"{self.originator_version}, but aggregate {aggregate._id} is at "
                f"version {aggregate._version} (expected {next_version})"
            )
        self.apply(aggregate)
        aggregate._version = self.originator_version
        aggregate._modified_on = self.timestamp
        return aggregate

    def apply(self, aggregate: TAggregate) -> None:
        """Change the aggregate's attributes according to this event (a no-op here)."""


class AggregateCreated(AggregateEvent[TAggregate]):
    """The beginning of an aggregate; ``originator_topic`` locates its class."""

    originator_topic: str

    def mutate(self, aggregate: Optional[TAggregate]) -> TAggregate:
        """Construct the aggregate this event describes.

        The aggregate's ``__init__`` receives the event's own attributes (and
        ``id`` if it asks for it); ``apply()`` is not called.
        """
        if aggregate is not None:
            raise TypeError(
                f"{type(self).__qualname__} event constructs a new aggregate, "
                f"but was given {aggregate!r}"
            )
        kwargs = self.__dict__.copy()
        originator_id = kwargs.pop("originator_id")
        originator_version = kwargs.pop("originator_version")
        timestamp = kwargs.pop("timestamp")
        aggregate_class = _resolve_aggregate_class(kwargs.pop("originator_topic"))
        obj = object.__new__(aggregate_class)
        obj.__base_init__(originator_id, originator_version, timestamp)
        if aggregate_class._init_mentions_id:
            kwargs["id"] = originator_id
        obj.__init__(**kwargs)
        if obj._pending_events:
            raise TypeError(
                f"{aggregate_class.__qualname__}.__init__() must not trigger events: "
                "it runs again whenever the aggregate is reconstructed; set "
                "attributes directly instead"
            )
        return cast(TAggregate, obj)


class DecoratedEvent(AggregateEvent[Any]):
    """Base of event classes defined by ``@event``: applying runs the method body."""

    _decorated_method: ClassVar[Callable[..., Any]]
    _decorated_params: ClassVar[Tuple[Tuple[str, bool], ...]]

    def apply(self, aggregate: Any) -> None:
        """Call the decorated method with this event's attribute values."""
        args = []
        kwargs = {}
        for name, keyword_only in self._decorated_params:
            if keyword_only:
                kwargs[name] = getattr(self, name)
            else:
                args.append(getattr(self, name))
        self._decorated_method(aggregate, *args, **kwargs)


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
        aggregate_class = _resolve_aggregate_class(self.topic)
        state = deepcopy(self.state)
        from_version = state.pop("class_version", 1)
        class_version = getattr(aggregate_class, "class_version", 1)
        while from_version < class_version:
            upcast_name = f"upcast_v{from_version}_v{from_version + 1}"
            upcast = getattr(aggregate_class, upcast_name, None)
            if upcast is None:
                raise TypeError(
                    f"Cannot upcast snapshot of {aggregate_class.__qualname__} from "
                    f"version {from_version}: {upcast_name}() is not defined"
                )
            upcast(state)
            from_version += 1
        obj = object.__new__(aggregate_class)
        obj.__dict__.update(
            _id=self.originator_id, _version=self.originator_version, **state, _pending_events=[]
        )
        return obj


def _check_parameters(params: List[inspect.Parameter], what: str) -> None:
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            raise TypeError(
                f"{what} has variable positional parameter *{p.name}, which can't be "
                "mapped to event attributes; declare each argument explicitly"
            )
        if p.kind is p.VAR_KEYWORD:
            raise TypeError(
                f"{what} has variable keyword parameter **{p.name}, which can't be "
                "mapped to event attributes; declare each argument explicitly"
            )


_RESERVED_EVENT_FIELDS = frozenset(
    ("originator_id", "originator_version", "timestamp", "originator_topic")
)


def _define_event_class(
    aggregate_class: type,
    name: str,
    bases: Tuple[type, ...],
    params: List[inspect.Parameter],
    what: str,
) -> Any:
    """Define an event class on ``aggregate_class`` with one field per parameter."""
    annotations: Dict[str, Any] = {}
    for p in params:
        if p.name in _RESERVED_EVENT_FIELDS:
            raise TypeError(
                f"{what} has parameter {p.name!r}, which is the name of a "
                "domain event attribute; rename the parameter"
            )
        annotations[p.name] = Any if p.annotation is p.empty else p.annotation
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


# ---------------------------------------------------------------------------
# The @event decorator
# ---------------------------------------------------------------------------


def _event_name_from_method(method_name: str) -> str:
    """``name_updated`` -> ``NameUpdated`` (leading underscores dropped)."""
    return "".join(part[:1].upper() + part[1:] for part in method_name.split("_"))


class CommandMethodDecorator:
    """Marks an aggregate method as triggering an event; resolved when the class is made.

    The aggregate class replaces it with a generated command method of the
    same signature, and defines (or adopts) the event class whose
    ``apply()`` calls the original method body.
    """

    def __init__(
        self,
        method: Callable[..., Any],
        event_name: Optional[str] = None,
        event_class: Optional[type] = None,
    ) -> None:
        if isinstance(method, (staticmethod, classmethod)):
            raise TypeError(
                f"@event can't decorate {type(method).__name__} {method.__func__!r}: "
                "events are triggered by aggregate instance methods"
            )
        if isinstance(method, property):
            raise TypeError(
                "@event can't decorate a property object; decorate the setter "
                "function instead (put @event below @<name>.setter)"
            )
        if not isinstance(method, FunctionType):
            raise TypeError(f"@event can only decorate a function, got {method!r}")
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
        _check_parameters(params, what)
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

    def _install(self, aggregate_class: type, attribute_name: str) -> Callable[..., Any]:
        """Define the event class and return the generated command method."""
        params = self.params[1:]
        field_params = params
        if self.event_class is not None:
            event_class: Any = self.event_class
            if not (isinstance(event_class, type) and issubclass(event_class, AggregateEvent)):
                raise TypeError(f"{self.what}: {event_class!r} is not an AggregateEvent class")
            if event_class.__dict__.get("_decorated_method") is not None:
                raise TypeError(
                    f"{self.what}: event class {event_class.__qualname__} is already "
                    "used by another @event decorated method"
                )
            if "apply" in event_class.__dict__:
                raise TypeError(
                    f"{self.what}: event class {event_class.__qualname__} defines its own "
                    "apply(); the decorated method body is its apply(), so remove one of them"
                )
            missing = [p.name for p in params if p.name not in _event_field_names(event_class)]
            if missing:
                raise TypeError(
                    f"{self.what} has parameters {missing} which are not attributes "
                    f"of event class {event_class.__qualname__}"
                )
        else:
            existing = aggregate_class.__dict__.get(self.event_name)
            if existing is not None:
                raise TypeError(
                    f"{self.what}: {aggregate_class.__qualname__} already has an attribute "
                    f"named {self.event_name!r}; give the event class to @event instead "
                    "of its name, or choose another name"
                )
            base = getattr(aggregate_class, "Event", AggregateEvent)
            bases = (base,) if issubclass(base, DecoratedEvent) else (DecoratedEvent, base)
            event_class = _define_event_class(
                aggregate_class, self.event_name, bases, field_params, self.what
            )
        event_class._decorated_method = staticmethod(self.method)
        event_class._decorated_params = tuple((p.name, p.kind is p.KEYWORD_ONLY) for p in params)
        event_class.apply = self._make_apply(event_class, params)
        return self._make_command(aggregate_class, attribute_name, event_class, params)

    def _make_apply(self, event_class: type, params: List[inspect.Parameter]) -> Callable[..., Any]:
        args = ", ".join(
            f"{p.name}=self.{p.name}" if p.kind is p.KEYWORD_ONLY else f"self.{p.name}"
            for p in params
        )
        call = f"_es_method(aggregate, {args})" if args else "_es_method(aggregate)"
        aggregate_param = inspect.Parameter("aggregate", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        func = _make_function(
            "apply",
            f"{event_class.__qualname__}.apply",
            [self_param, aggregate_param],
            call,
            {"_es_method": self.method},
        )
        func.__doc__ = f"Apply by running {self.method.__qualname__}()."
        return func

    def _make_command(
        self,
        aggregate_class: type,
        attribute_name: str,
        event_class: type,
        params: List[inspect.Parameter],
    ) -> Callable[..., Any]:
        self_name = self.params[0].name
        kwargs = ", ".join(f"{p.name}={p.name}" for p in params)
        body = f"{self_name}.trigger_event(_es_event_class, {kwargs})"
        func = _make_function(
            self.method.__name__,
            f"{aggregate_class.__qualname__}.{attribute_name}",
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
        if not arg.isidentifier():
            raise TypeError(f"@event name {arg!r} is not a valid class name")
        name = arg
        return lambda method: CommandMethodDecorator(method, event_name=name)
    if isinstance(arg, type):
        if not issubclass(arg, AggregateEvent):
            raise TypeError(
                f"@event was given class {arg.__qualname__}, which is not an "
                "AggregateEvent subclass"
            )
        event_class = arg
        return lambda method: CommandMethodDecorator(method, event_class=event_class)
    if arg is None:
        return lambda method: CommandMethodDecorator(method)
    if isinstance(arg, FunctionType):
        return CommandMethodDecorator(arg)
    if isinstance(arg, (property, staticmethod, classmethod)):
        return CommandMethodDecorator(cast(Any, arg))  # raises a TypeError explaining the misuse
    raise TypeError(
        f"@event expects an event class name, an AggregateEvent class, or a "
        f"method to decorate, got {arg!r}"
    )


triggers = event


# ---------------------------------------------------------------------------
# Aggregates
# ---------------------------------------------------------------------------


class _IdField(dataclasses.Field):  # type: ignore[type-arg]
    """Dataclass field for an ``id`` annotation on an aggregate class.

    Lets a generated ``__init__`` accept ``id`` and assign it (consistently
    with the ID already given by the created event), while telling
    ``dataclasses`` that the field has no default.
    """

    __slots__ = ()

    def __get__(self, obj: Any, objtype: Optional[type] = None) -> Any:
        if obj is None:
            return self
        return obj._id

    def __set__(self, obj: Any, value: Any) -> None:
        Aggregate._set_id(obj, value)


def _new_id_field() -> Any:
    field = dataclasses.field()
    field.__class__ = _IdField
    return field


try:
    _annotationlib: Any = importlib.import_module("annotationlib")  # Python >= 3.14
except ImportError:
    _annotationlib = None


def _own_annotation_names(cls: type) -> List[str]:
    """Names annotated in the class body itself, without evaluating the annotations."""
    if _annotationlib is None:
        return list(inspect.get_annotations(cls))
    return list(_annotationlib.get_annotations(cls, format=_annotationlib.Format.FORWARDREF))


_RESERVED_AGGREGATE_ATTRIBUTES = frozenset(
    ("version", "created_on", "modified_on", "pending_events")
)


def _generate_dataclass_init(cls: type) -> None:
    """Give ``cls`` an ``__init__`` from its annotations, as ``@dataclass`` would.

    The annotations and ``field()`` objects are left on the class so that
    applying ``@dataclass`` afterwards (for IDEs) sees the same fields.
    """
    annotations = _own_annotation_names(cls)
    restore: Dict[str, Any] = {}
    for name in annotations:
        if name in _RESERVED_AGGREGATE_ATTRIBUTES:
            raise TypeError(
                f"{cls.__qualname__} annotates {name!r}, which is an Aggregate "
                "property; choose another attribute name"
            )
        value = cls.__dict__.get(name, dataclasses.MISSING)
        if name == "id" and value is dataclasses.MISSING:
            value = _new_id_field()
            setattr(cls, name, value)
        elif value is dataclasses.MISSING and hasattr(cls, name):
            # Don't let an inherited attribute be taken as the field's default.
            value = dataclasses.field()
            setattr(cls, name, value)
        if isinstance(value, dataclasses.Field):
            restore[name] = value
    dataclasses.dataclass(eq=False, repr=False)(cls)
    for name, value in restore.items():
        setattr(cls, name, value)


@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
class MetaAggregate(ABCMeta):
    """Prepares aggregate classes: created event, ``__init__``, ``@event`` methods."""

    _created_event_class: Type[AggregateCreated[Any]]
    _init_mentions_id: bool
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
            return cls  # the Aggregate base class itself
        for attr in ("__eq__", "__repr__"):
            # Keep aggregate equality and repr if @dataclass is applied later.
            if attr not in namespace:
                setattr(cls, attr, getattr(cls, attr))
        if "__init__" not in namespace and _own_annotation_names(cls):
            _generate_dataclass_init(cls)

        all_init_params = list(inspect.signature(cast(Any, cls).__init__).parameters.values())
        init_params = all_init_params[1:]
        cls._init_mentions_id = any(p.name == "id" for p in init_params)

        # The created event class.
        if init_event_decorator is not None:
            if init_event_decorator.event_class is not None:
                given = init_event_decorator.event_class
                if not issubclass(given, AggregateCreated):
                    raise TypeError(
                        f"@event on {name}.__init__ was given {given.__qualname__}, "
                        "which is not an AggregateCreated class"
                    )
                if given.__name__ not in namespace:
                    setattr(cls, given.__name__, given)
            if init_event_decorator.name_given:
                created_event_name = init_event_decorator.event_name
        cls._created_event_class = mcs._find_created_event_class(
            cls, namespace, created_event_name, init_params
        )

        # Binding arguments of calls to the class.
        what = f"{name}.__init__()"
        variable = [p for p in init_params if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if variable:
            signature = inspect.signature(cast(Any, cls).__init__)

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
                        raise TypeError(f"{what} got unexpected positional arguments")
                return arguments

            cls._bind_init = staticmethod(bind_init)
        else:
            items = ", ".join(f"{p.name!r}: {p.name}" for p in init_params)
            cls._bind_init = staticmethod(
                _make_function(
                    "__init__",
                    f"{cls.__qualname__}.__init__",
                    all_init_params,
                    f"return {{{items}}}",
                    {},
                )
            )

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
                setattr(cls, attribute_name, value._install(cls, attribute_name))
            elif isinstance(value, property):
                if isinstance(value.fget, CommandMethodDecorator):
                    raise TypeError(
                        f"@event can't decorate the getter of property "
                        f"{name}.{attribute_name}; decorate its setter"
                    )
                if isinstance(value.fset, CommandMethodDecorator):
                    fset = value.fset._install(cls, attribute_name)
                    setattr(
                        cls,
                        attribute_name,
                        property(value.fget, fset, value.fdel, value.__doc__),
                    )

        _aggregate_classes[get_topic(cls)] = cls
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
    def _find_created_event_class(
        cls: Any,
        namespace: Dict[str, Any],
        created_event_name: Optional[str],
        init_params: List[inspect.Parameter],
    ) -> Any:
        """Choose the created event class, defining one when none is declared."""
        declared = {
            key: value
            for key, value in namespace.items()
            if isinstance(value, type) and issubclass(value, AggregateCreated)
        }
        inherited = getattr(cls, "_created_event_class", None)
        if created_event_name is not None:
            if created_event_name in declared:
                return declared[created_event_name]
        elif len(declared) == 1:
            return next(iter(declared.values()))
        elif len(declared) > 1:
            raise TypeError(
                f"{cls.__qualname__} defines several created event classes "
                f"({', '.join(sorted(declared))}); say which one new aggregates "
                "use with the class argument created_event_name"
            )
        elif "__init__" not in cls.__dict__ and inherited is not None:
            # Each aggregate class has a created event class of its own (so
            # stored topics name the aggregate), extending the inherited one.
            return _define_event_class(
                cls, inherited.__name__, (inherited,), [], f"{cls.__qualname__}.__init__()"
            )
        # Define one from the __init__ signature.
        what = f"{cls.__qualname__}.__init__()"
        params = [p for p in init_params if p.name != "id"]
        _check_parameters(params, what)
        # Extend a declared or inherited created event class if the init
        # arguments cover its attributes, so its methods and upcasters apply.
        base: Any = Aggregate.Created
        base_fields = _event_field_names(base)
        param_names = {p.name for p in params}
        for candidate in [*declared.values(), inherited]:
            if candidate is not None and candidate is not base:
                if _event_field_names(candidate) - base_fields <= param_names:
                    base = candidate
                    break
        return _define_event_class(cls, created_event_name or "Created", (base,), params, what)


class Aggregate(metaclass=MetaAggregate):
    """Base class of event-sourced aggregate roots.

    Subclasses are created by calling the class (the created event is
    defined from ``__init__``), or by a class method calling ``_create()``.
    Command methods trigger events with ``trigger_event()`` or are decorated
    with ``@event``; ``collect_events()`` hands the new events to be saved.
    """

    INITIAL_VERSION: ClassVar[int] = 1

    class Event(AggregateEvent[Any]):
        """Base class of an aggregate's events."""

    class Created(Event, AggregateCreated[Any]):
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
        return _new_uuid4()

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
            raise TypeError(
                f"Unable to construct {event_class.__qualname__} event for "
                f"{cls.__qualname__} with arguments {sorted(kwargs)}: {e}"
            ) from None
        obj = created_event.mutate(None)
        obj._pending_events.append(created_event)
        return cast(TAggregate, obj)

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
            raise TypeError(
                f"Unable to construct {event_class.__qualname__} event with "
                f"arguments {sorted(kwargs)}: {e}"
            ) from None
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
Aggregate._init_mentions_id = False
Aggregate._create_id_params = ()
Aggregate._bind_init = staticmethod(
    _make_function(
        "__init__",
        "Aggregate.__init__",
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)],
        "return {}",
        {},
    )
)
_aggregate_classes[get_topic(Aggregate)] = Aggregate


def _metaaggregate_call(cls: Any, *args: Any, **kwargs: Any) -> Any:
    """Calling an aggregate class creates an aggregate from a new created event."""
    return cls._create(cls._created_event_class, **cls._bind_init(cls, *args, **kwargs))


# Assigned after the class statement so that type checkers keep checking
# calls to aggregate classes against each class's __init__ signature.
MetaAggregate.__call__ = _metaaggregate_call  # type: ignore[method-assign,assignment]


TClass = TypeVar("TClass", bound=type)


def _rebind_class_cells(values: Any, original: type, new_class: type) -> None:
    """Point zero-argument ``super()`` in the class body's functions at ``new_class``.

    Methods defined in a class body refer to that class through a
    ``__class__`` cell; the class replaced by ``@aggregate`` is not in the
    new class's MRO, so ``super()`` would fail without this.
    """
    for value in values:
        if isinstance(value, CommandMethodDecorator):
            functions: List[Any] = [value.method]
        elif isinstance(value, (staticmethod, classmethod)):
            functions = [value.__func__]
        elif isinstance(value, property):
            functions = [getattr(f, "method", f) for f in (value.fget, value.fset, value.fdel)]
        else:
            functions = [value]
        for func in functions:
            code = getattr(func, "__code__", None)
            closure = getattr(func, "__closure__", None)
            if code is None or not closure or "__class__" not in code.co_freevars:
                continue
            cell = closure[code.co_freevars.index("__class__")]
            if cell.cell_contents is original:
                cell.cell_contents = new_class


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
        _rebind_class_cells(namespace.values(), original, new_class)
        return new_class

    if cls is None:
        return decorator
    return decorator(cls)
