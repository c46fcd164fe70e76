"""Persistence ports: transcoding, mapping, recorders, event store, factory.

Backends (``eventsourcing.popo``, ``eventsourcing.sqlite``,
``eventsourcing.postgres``, third-party plugins) implement the recorder ABCs
and :class:`InfrastructureFactory`; nothing here imports a backend.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import (
    Any,
    Callable,
    Dict,
    FrozenSet,
    Generic,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
    Union,
    cast,
    overload,
)
from uuid import UUID

from eventsourcing import registry
from eventsourcing.asyncadapter import (
    ThreadedAggregateRecorder,
    ThreadedApplicationRecorder,
    ThreadedProcessRecorder,
)
from eventsourcing.asyncports import (
    AsyncAggregateRecorder,
    AsyncApplicationRecorder,
    AsyncProcessRecorder,
)
from eventsourcing.errors import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
    RecordConflictError,
    WaitInterruptedError,
    _UndecodableType,
)
from eventsourcing.lease import Lease, LocalLease
from eventsourcing.subscription import Subscription
from eventsourcing.utils import (
    CloseOnExit,
    ConfigurationError,
    TopicError,
    get_topic,
    resolve_topic,
    strtobool,
    upcast_state,
)

__all__ = [
    "AggregateRecorder",
    "ApplicationRecorder",
    "Cipher",
    "Compressor",
    "DataError",
    "DatabaseError",
    "DatetimeAsISO",
    "DecimalAsStr",
    "DictFreeStates",
    "EventStore",
    "InfrastructureFactory",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "JSONTranscoder",
    "Mapper",
    "ModuleCompressor",
    "NotSupportedError",
    "Notification",
    "OperationalError",
    "PersistenceError",
    "ProcessRecorder",
    "ProgrammingError",
    "RecordConflictError",
    "Recorder",
    "Recording",
    "StoredEvent",
    "Tracking",
    "TrackingRecorder",
    "Transcoder",
    "Transcoding",
    "UUIDAsHex",
    "WaitInterruptedError",
    "make_notification",
    "make_stored_event",
]


# ---------------------------------------------------------------------------
# Transcoding
# ---------------------------------------------------------------------------


class Transcoding(ABC):
    """Converts one non-basic type to and from a JSON-compatible value.

    Subclasses set the class attributes ``type`` (the Python type) and
    ``name`` (the string written as ``_type_`` in stored state).
    """

    type: type
    name: str

    @abstractmethod
    def encode(self, obj: Any) -> Any:
        """Convert ``obj`` to a value the transcoder can encode."""

    @abstractmethod
    def decode(self, data: Any) -> Any:
        """Convert ``data`` back into an instance of ``type``."""


class DictFreeStates(List[Any]):
    """What :meth:`Transcoder.decode_many` may return for states none of
    whose values is a ``dict``, when the transcoder knows that as it decodes.

    The mapper looks through the values of every state it converts for a
    dict with ``_type_`` or ``_data_`` alone (a damaged transcoded value),
    and with this it need not (unless an upcast method has changed the
    state since): 0.24 us of the 2.8 us an event of a replay costs with
    msgspec (``hatch run bench --case "transcoder: replay msgspec /
    stdlib"`` on SQLite: 1.23-1.26x without, 1.37-1.39x with).
    """

    __slots__ = ()


class Transcoder(ABC):
    """Serialises event state to bytes and back."""

    @abstractmethod
    def register(self, transcoding: Transcoding) -> None:
        """Register a transcoding for a non-basic type."""

    @abstractmethod
    def encode(self, obj: Any) -> bytes:
        """Serialise ``obj`` to bytes."""

    @abstractmethod
    def decode(self, data: bytes) -> Any:
        """Deserialise bytes to an object."""

    def decode_many(self, data: Sequence[bytes]) -> List[Any]:
        """Deserialise each of ``data``, in order; raise if one cannot be.

        The mapper decodes the states of stored events read together with
        one call. This default calls :meth:`decode` for each; a transcoder
        may do better, and may return :class:`DictFreeStates`.
        """
        decode = self.decode
        return [decode(d) for d in data]


class JSONTranscoder(Transcoder):
    """JSON transcoder whose output matches eventsourcing 9.1 byte for byte.

    Non-basic objects are written as ``{"_type_": name, "_data_": ...}`` using
    the registered transcodings, recursively.
    """

    def __init__(self) -> None:
        self.types: Dict[type, Transcoding] = {}
        self.names: Dict[str, Transcoding] = {}
        self.encoder = json.JSONEncoder(default=self._encode_obj)
        self.decoder = json.JSONDecoder(object_hook=self._decode_obj)
        # json.JSONEncoder.encode() builds its C encoder on every call; build it
        # once (same C code, same bytes). Without circular-reference markers:
        # on RecursionError the standard encoder runs, to say what was wrong.
        self._c_encode = _make_c_encoder(self._encode_obj)
        self._scan_once: Callable[[str, int], Tuple[Any, int]] = cast(Any, self.decoder).scan_once

    def register(self, transcoding: Transcoding | type[Transcoding]) -> None:
        """Register ``transcoding`` (an instance, or a class taking no arguments).

        Registering again for the same type replaces the earlier transcoding,
        so an application can override a plugin's. A name already used for a
        different type is refused: stored data would decode ambiguously.
        """
        if isinstance(transcoding, type) and issubclass(transcoding, Transcoding):
            transcoding = transcoding()
        if not isinstance(transcoding, Transcoding):
            raise TypeError(f"Expected a Transcoding instance or subclass, got {transcoding!r}")
        cls = getattr(transcoding, "type", None)
        name = getattr(transcoding, "name", None)
        if not isinstance(cls, type) or not isinstance(name, str) or not name:
            raise TypeError(
                f"{type(transcoding).__name__} must set the class attributes 'type' "
                f"(a class) and 'name' (a non-empty str); got type={cls!r}, name={name!r}"
            )
        existing = self.names.get(name)
        if existing is not None and existing.type is not cls:
            raise ValueError(
                f"Transcoding name {name!r} is already registered for "
                f"{existing.type!r} by {type(existing).__name__}; cannot register "
                f"it for {cls!r} by {type(transcoding).__name__}"
            )
        self.types[cls] = transcoding
        self.names[name] = transcoding

    def encode(self, obj: Any) -> bytes:
        if self._c_encode is not None:
            try:
                return "".join(self._c_encode(obj, 0)).encode("utf8")
            except RecursionError:
                pass
        return self.encoder.encode(obj).encode("utf8")

    def decode(self, data: bytes) -> Any:
        text = data.decode("utf8")
        # What json.JSONDecoder.decode() does for a document without surrounding
        # whitespace; anything else takes the full path, which raises its errors.
        try:
            obj, end = self._scan_once(text, 0)
        except StopIteration:
            return self.decoder.decode(text)
        if end != len(text):
            return self.decoder.decode(text)
        return obj

    def _encode_obj(self, o: Any) -> Dict[str, Any]:
        try:
            transcoding = self.types[type(o)]
        except KeyError:
            raise TypeError(
                f"Object of type {type(o)} is not serializable. "
                "Please define and register a custom transcoding for this type."
            ) from None
        return {"_type_": transcoding.name, "_data_": transcoding.encode(o)}

    def _decode_obj(self, d: Dict[str, Any]) -> Any:
        if len(d) == 2 and "_type_" in d and "_data_" in d:
            name = d["_type_"]
            try:
                transcoding = self.names[name]
            except (KeyError, TypeError):
                raise TypeError(
                    f"Data serialized with name {name!r} is not deserializable. "
                    "Please register a custom transcoding for this type."
                ) from None
            return transcoding.decode(d["_data_"])
        return d


def _make_c_encoder(default: Any) -> Any:
    """Return json's C encoder configured as ``json.JSONEncoder(default=default)``
    without circular checks, or None where it is unavailable or behaves
    differently (another Python implementation or version)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    try:
        c_encode = make(
            None,  # markers: no circular check
            default,
            json.encoder.encode_basestring_ascii,  # ensure_ascii=True
            None,  # indent
            ": ",
            ", ",
            False,  # sort_keys
            False,  # skipkeys
            True,  # allow_nan
        )
        probe = {"a": [1, 2.5, None, True, "\u00e9"], "b": {"c": float("inf")}}
        if "".join(c_encode(probe, 0)) != json.JSONEncoder().encode(probe):
            return None  # pragma: no cover
    except Exception:  # pragma: no cover
        return None
    return c_encode


class UUIDAsHex(Transcoding):
    """Transcodes :class:`uuid.UUID` as its 32-character hex string."""

    type = UUID
    name = "uuid_hex"

    def encode(self, obj: UUID) -> str:
        return obj.hex

    def decode(self, data: str) -> UUID:
        return UUID(data)


class DecimalAsStr(Transcoding):
    """Transcodes :class:`decimal.Decimal` as a string."""

    type = Decimal
    name = "decimal_str"

    def encode(self, obj: Decimal) -> str:
        return str(obj)

    def decode(self, data: str) -> Decimal:
        try:
            return Decimal(data)
        except InvalidOperation:
            raise ValueError(f"Invalid decimal string: {data!r}") from None


class DatetimeAsISO(Transcoding):
    """Transcodes :class:`datetime.datetime` as an ISO 8601 string."""

    type = datetime
    name = "datetime_iso"

    def encode(self, obj: datetime) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> datetime:
        return datetime.fromisoformat(data)


# ---------------------------------------------------------------------------
# Stored events, notifications, tracking
# ---------------------------------------------------------------------------


# Stored events and notifications are made by the thousand on every batch
# save and read, and logs are read to the end. Their fields live in slots
# rather than an instance dict, so each is one object for the cyclic garbage
# collector, not two (the dict held a UUID, so it was tracked as well).
# Reading a log of 1,000,000 notifications from SQLite in pages of 500 went
# from 2,000 young and 15 full collections (0.29 s of 1.55 s) to 11 young
# collections and no full one (CPython 3.11).
#
# Constructing one: the dataclass's frozen __init__ sets each field with
# object.__setattr__ (0.69 us a stored event); the __init__ below sets the
# slots through their descriptors (0.39 us). The library's own code, which
# makes them from rows and events in bulk, calls make_stored_event() and
# make_notification() instead (0.22 and 0.25 us): they fill an unfrozen twin
# with the same slots, then give it the frozen class. With them the SQLite
# log read is 0.83x of one plain SELECT rather than 0.68x (``hatch run bench
# --case "floor: notifications / select"``).


@dataclass(frozen=True, slots=True, init=False)
class StoredEvent:
    """A domain event in the form a recorder stores it."""

    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes

    def __init__(
        self, originator_id: UUID, originator_version: int, topic: str, state: bytes
    ) -> None:
        _set_originator_id(self, originator_id)
        _set_originator_version(self, originator_version)
        _set_topic(self, topic)
        _set_state(self, state)


@dataclass(frozen=True, slots=True, init=False)
class Notification(StoredEvent):
    """A stored event with its position (``id``) in the application sequence."""

    id: int

    def __init__(
        self,
        originator_id: UUID,
        originator_version: int,
        topic: str,
        state: bytes,
        id: int,
    ) -> None:
        _set_n_originator_id(self, originator_id)
        _set_n_originator_version(self, originator_version)
        _set_n_topic(self, topic)
        _set_n_state(self, state)
        _set_n_id(self, id)


def _setter(cls: type, name: str) -> Callable[[Any, Any], None]:
    """The ``__set__`` of the slot ``cls.name``: a frozen ``__setattr__`` does not stop it.

    Looked up on each class: on Python 3.10, ``dataclass(slots=True)`` gives a
    subclass new slots for the fields it inherits.
    """
    setter: Callable[[Any, Any], None] = getattr(cls, name).__set__
    return setter


_set_originator_id = _setter(StoredEvent, "originator_id")
_set_originator_version = _setter(StoredEvent, "originator_version")
_set_topic = _setter(StoredEvent, "topic")
_set_state = _setter(StoredEvent, "state")
_set_n_originator_id = _setter(Notification, "originator_id")
_set_n_originator_version = _setter(Notification, "originator_version")
_set_n_topic = _setter(Notification, "topic")
_set_n_state = _setter(Notification, "state")
_set_n_id = _setter(Notification, "id")


class _UnfrozenStoredEvent(StoredEvent):
    # __class__ assignment needs the same slots; __delattr__ as well as
    # __setattr__ must be object's, or attribute stores take the slow path.
    __slots__ = ()
    __setattr__ = object.__setattr__
    __delattr__ = object.__delattr__


class _UnfrozenNotification(StoredEvent):
    __slots__ = Notification.__slots__  # whatever slots dataclass gave it (3.10 repeats the base's)
    __setattr__ = object.__setattr__
    __delattr__ = object.__delattr__


_new = object.__new__


def make_stored_event(
    originator_id: UUID, originator_version: int, topic: str, state: bytes
) -> StoredEvent:
    """The same as ``StoredEvent(originator_id, ..., state)``, made faster.

    For recorders and mappers that make stored events by the thousand.
    """
    e: Any = _new(_UnfrozenStoredEvent)
    e.originator_id = originator_id
    e.originator_version = originator_version
    e.topic = topic
    e.state = state
    e.__class__ = StoredEvent
    return e  # type: ignore[no-any-return]


def make_notification(
    originator_id: UUID, originator_version: int, topic: str, state: bytes, id: int
) -> Notification:
    """The same as ``Notification(originator_id, ..., id)``, made faster.

    For recorders that make notifications by the thousand, one per row read.
    """
    n: Any = _new(_UnfrozenNotification)
    n.originator_id = originator_id
    n.originator_version = originator_version
    n.topic = topic
    n.state = state
    n.id = id
    n.__class__ = Notification
    return n  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Tracking:
    """The position of a processed notification in an upstream application's log."""

    application_name: str
    notification_id: int


# ---------------------------------------------------------------------------
# Cipher and compressor ports
# ---------------------------------------------------------------------------


class Cipher(ABC):
    """Encrypts and decrypts stored state."""

    @abstractmethod
    def __init__(self, cipher_key: str) -> None:
        """Construct with the value of ``CIPHER_KEY``."""

    @abstractmethod
    def encrypt(self, plaintext: bytes) -> bytes:
        """Return ciphertext for ``plaintext``."""

    @abstractmethod
    def decrypt(self, ciphertext: bytes) -> bytes:
        """Return plaintext for ``ciphertext``; raise if it cannot be authenticated."""


class Compressor(ABC):
    """Compresses and decompresses stored state."""

    @abstractmethod
    def compress(self, data: bytes) -> bytes:
        """Return compressed bytes."""

    @abstractmethod
    def decompress(self, data: bytes) -> bytes:
        """Return decompressed bytes."""


class ModuleCompressor(Compressor):
    """Adapts a module with ``compress()`` and ``decompress()`` functions.

    eventsourcing 9.1 accepted such a module as ``COMPRESSOR_TOPIC``
    (``bz2``, ``lzma``); this keeps those configurations, and the state they
    stored, working. Any failure to decompress becomes :class:`DataError`.
    """

    def __init__(self, module: Any) -> None:
        self.module = module

    def compress(self, data: bytes) -> bytes:
        result: bytes = self.module.compress(data)
        return result

    def decompress(self, data: bytes) -> bytes:
        try:
            result: bytes = self.module.decompress(data)
        except Exception as e:
            name = getattr(self.module, "__name__", repr(self.module))
            raise DataError(f"Stored state could not be decompressed with {name}: {e}") from e
        return result


# ---------------------------------------------------------------------------
# Mapper
# ---------------------------------------------------------------------------

TDomainEvent = TypeVar("TDomainEvent")
TClass = TypeVar("TClass")


class Mapper(Generic[TDomainEvent]):
    """Maps domain events to stored events and back.

    Encoding order: transcode, compress, encrypt; decoding reverses it, then
    upcasts the state from its stored ``class_version`` to the class's
    current one (``upcast_vN_vN+1`` static methods), so that old stored
    events keep loading after their class evolved.
    """

    def __init__(
        self,
        transcoder: Transcoder,
        compressor: Optional[Compressor] = None,
        cipher: Optional[Cipher] = None,
    ) -> None:
        self.transcoder = transcoder
        self.compressor = compressor
        self.cipher = cipher

    def from_domain_event(self, domain_event: TDomainEvent) -> StoredEvent:
        """Convert a domain event to a stored event."""
        cls = type(domain_event)
        event_state = dict(domain_event.__dict__)
        try:
            originator_id = event_state.pop("originator_id")
            originator_version = event_state.pop("originator_version")
        except KeyError as e:
            raise TypeError(
                f"Cannot map {cls.__qualname__} object: a domain event has the "
                f"attributes originator_id and originator_version, {e} is missing"
            ) from None
        try:
            class_version = _event_classes[cls][0]
        except KeyError:
            class_version = _event_class(cls)[0]
        if class_version > 1:
            event_state["class_version"] = class_version
        stored_state = self.transcoder.encode(event_state)
        if self.compressor is not None:
            stored_state = self.compressor.compress(stored_state)
        if self.cipher is not None:
            stored_state = self.cipher.encrypt(stored_state)
        # Positional: made by the thousand on a batch save, and keywords cost more.
        return make_stored_event(originator_id, originator_version, get_topic(cls), stored_state)

    def to_domain_event(self, stored: StoredEvent) -> TDomainEvent:
        """Convert a stored event back to a domain event.

        Damaged state (also an unregistered ``_type_``) raises
        :class:`DataError`, an unknown topic
        :class:`~eventsourcing.utils.TopicError`, both naming the stored event.
        """
        return self._convert((stored,))[0]

    def to_domain_events(self, stored_events: Sequence[StoredEvent]) -> List[TDomainEvent]:
        """Convert stored events back to domain events, in order: what
        :meth:`to_domain_event` makes of each, and, if one cannot be
        converted, the error it raises for the first such.

        The event store converts what it reads a hundred stored events at a
        time: the per-event work of the mapper runs in one loop, and the
        transcoder decodes them with one :meth:`Transcoder.decode_many` call.
        """
        if type(self).to_domain_event is not Mapper.to_domain_event:
            # A subclass that converts events its own way keeps doing so.
            return [self.to_domain_event(s) for s in stored_events]
        try:
            return self._convert(stored_events)
        except Exception:
            if len(stored_events) < 2:
                raise
        # Which one: each converted alone, in order, raises the error that
        # to_domain_event() raises for the first that cannot be converted.
        return [self._convert((stored,))[0] for stored in stored_events]

    def _convert(self, stored_events: Sequence[StoredEvent]) -> List[TDomainEvent]:
        """The conversion of :meth:`to_domain_events`. Every error names its
        stored event, but a decoding error of more than one: which one that
        was is found by converting each alone."""
        cipher = self.cipher
        compressor = self.compressor
        classes = []
        stored_states = []
        for stored in stored_events:
            try:
                classes.append(resolve_topic(stored.topic))
            except TopicError as e:
                raise TopicError(
                    f"Cannot reconstruct stored event {stored.originator_id} "
                    f"version {stored.originator_version}: {e}"
                ) from e
            stored_state = stored.state
            if cipher is not None:
                try:
                    stored_state = cipher.decrypt(stored_state)
                except DataError as e:
                    # Keep the cipher's exception type, adding which event it was.
                    message = (
                        f"Cannot decrypt the state of stored event {stored.originator_id} "
                        f"version {stored.originator_version} (topic {stored.topic!r}): {e}"
                    )
                    try:
                        error = type(e)(message)
                    except Exception:
                        error = DataError(message)
                    raise error from e
            if compressor is not None:
                try:
                    stored_state = compressor.decompress(stored_state)
                except Exception as e:
                    raise DataError(
                        f"Cannot decompress the state of stored event "
                        f"{stored.originator_id} version {stored.originator_version} "
                        f"(topic {stored.topic!r}): {e}"
                    ) from e
            stored_states.append(stored_state)
        try:
            event_states = self.transcoder.decode_many(stored_states)
        except (ValueError, TypeError) as e:
            if len(stored_events) != 1:
                raise
            stored = stored_events[0]
            # Malformed JSON or UTF-8, a bad transcoded value, an unknown _type_
            # (a TypeError in eventsourcing 9.1: the error is one still).
            error_class = _UndecodableType if isinstance(e, TypeError) else DataError
            raise error_class(
                f"Cannot decode the state of stored event {stored.originator_id} "
                f"version {stored.originator_version} (topic {stored.topic!r}): {e}"
            ) from e
        domain_events: List[TDomainEvent] = []
        dict_free = type(event_states) is DictFreeStates
        for stored, cls, event_state in zip(stored_events, classes, event_states, strict=True):
            if not isinstance(event_state, dict):
                raise DataError(
                    f"The state of stored event {stored.originator_id} version "
                    f"{stored.originator_version} (topic {stored.topic!r}) is not a JSON "
                    f"object: {type(event_state).__name__}"
                )
            event_state["originator_id"] = stored.originator_id
            event_state["originator_version"] = stored.originator_version
            try:
                class_version, required = _event_classes[cls]
            except KeyError:
                class_version, required = _event_class(cls)
            # Most events were written by the class version that reads them: for
            # those, no call and no closure (fewer allocations, fewer collections).
            upcast = "class_version" in event_state or class_version != 1
            if upcast:
                upcast_state(cls, event_state, partial(_naming, stored))
            # The usual state has every required field and no dict among its
            # values (both tested in C; the second not if the transcoder said
            # so and no upcast method has been at the state since): the
            # field-by-field look is skipped.
            if not event_state.keys() >= required or (
                (upcast or not dict_free) and dict in map(type, event_state.values())
            ):
                damage = _damage(cls, event_state)
                if damage:
                    raise DataError(
                        f"The state of stored event {stored.originator_id} version "
                        f"{stored.originator_version} (topic {stored.topic!r}) is damaged: "
                        f"{damage}"
                    )
            domain_event: TDomainEvent = object.__new__(cls)
            domain_event.__dict__.update(event_state)
            domain_events.append(domain_event)
        return domain_events


def _naming(stored: StoredEvent) -> str:
    return f"stored event {stored.originator_id} version {stored.originator_version}"


def _damage(cls: type, event_state: Dict[str, Any]) -> str:
    """What makes ``event_state`` unusable by ``cls``; empty if nothing found.

    Plain JSON has no checksum: these checks find damage to its structure
    (a field name, a transcoded value's marker), which would otherwise fail
    later, far from the stored event, as a bare KeyError or TypeError. Damage
    inside a value (a changed digit) cannot be seen. A damaged
    ``originator_topic`` is not checked here (a follower may read events of
    aggregates it cannot import): it raises TopicError, naming the topic, when
    the aggregate is reconstructed.
    """
    required = _required_fields(cls)
    for name in required:
        if name not in event_state:  # the list only then: none made per sound event
            missing = [name for name in required if name not in event_state]
            return f"field(s) {', '.join(missing)} missing"
    for name, value in event_state.items():
        # A {"_type_": ..., "_data_": ...} pair whose marker was damaged.
        if type(value) is dict and len(value) == 2 and ("_type_" in value) != ("_data_" in value):
            return f"field {name!r} holds a damaged transcoded value {value!r}"
    return ""


# What the mapper reads of an event class for every event: its class_version
# (a class attribute, set where the class is defined) and its required fields.
# One dict lookup per event instead of getattr(cls, "class_version", 1), which
# costs 0.11 us where the attribute is missing (as on most event classes).
_event_classes: Dict[type, Tuple[int, FrozenSet[str]]] = {}


def _event_class(cls: type) -> Tuple[int, FrozenSet[str]]:
    facts = _event_classes.get(cls)
    if facts is None:
        facts = (getattr(cls, "class_version", 1), frozenset(_required_fields(cls)))
        _event_classes[cls] = facts
    return facts


_required_fields_cache: Dict[type, Tuple[str, ...]] = {}


def _required_fields(cls: type) -> Tuple[str, ...]:
    """The fields a ``cls`` instance needs in its state (dataclass fields without defaults)."""
    names = _required_fields_cache.get(cls)
    if names is None:
        names = tuple(
            f.name
            for f in (dataclasses.fields(cls) if dataclasses.is_dataclass(cls) else ())
            if f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
            and f.name not in ("originator_id", "originator_version")
        )
        _required_fields_cache[cls] = names
    return names


# ---------------------------------------------------------------------------
# Recorders
# ---------------------------------------------------------------------------


class Recorder(ABC):  # noqa: B024 (a marker base; subclasses add the abstract methods)
    """Abstract base class for stored event recorders."""

    def close(self) -> None:  # noqa: B027 (optional to override)
        """Stop this recorder: afterwards its methods raise :class:`InterfaceError`.

        Idempotent, and never stops a sibling: what the recorders of one
        factory share (a pool, connections to a file) is released when the
        last of them is closed, or when the factory is closed (see
        :mod:`eventsourcing.sharing`). What was recorded is kept.
        """


class AggregateRecorder(Recorder):
    """Records and retrieves the stored events of aggregates.

    ``insert_events`` accepts any ``Sequence[StoredEvent]``: a list, or a
    sequence whose items are produced lazily while the recorder consumes
    it (the event store passes domain events mapped on demand, so that a
    backend can send the first part of a large save while the rest is being
    mapped). If producing an item raises, that exception propagates and
    nothing of the call is recorded. A recorder may read the sequence more
    than once; each read gives the same items.
    """

    @abstractmethod
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Optional[Sequence[int]]:
        """Record ``stored_events`` atomically: all of them or none.

        A conflict on ``(originator_id, originator_version)`` raises
        :class:`IntegrityError` and records nothing of the batch; so does
        an exception raised while an item of the sequence is produced.
        """

    @abstractmethod
    def select_events(
        self,
        originator_id: UUID,
        gt: Optional[int] = None,
        lte: Optional[int] = None,
        desc: bool = False,
        limit: Optional[int] = None,
    ) -> List[StoredEvent]:
        """Return the stored events of one aggregate with ``gt < version <= lte``.

        Ascending by version, or descending if ``desc``; then at most
        ``limit`` of them, so ``desc=True, limit=1`` gives the latest.
        """


class ApplicationRecorder(AggregateRecorder):
    """Also records events in a total order, readable as notifications."""

    @abstractmethod
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Optional[Sequence[int]]:
        """Record ``stored_events`` atomically and return their notification IDs."""

    @abstractmethod
    def select_notifications(
        self,
        start: int,
        limit: int,
        stop: Optional[int] = None,
        topics: Sequence[str] = (),
    ) -> List[Notification]:
        """Return up to ``limit`` notifications with ``start <= id`` (and
        ``id <= stop``), ascending, optionally only those with the given topics."""

    @abstractmethod
    def max_notification_id(self) -> int:
        """Return the largest notification ID recorded, or 0."""

    def subscribe(self, gt: Optional[int] = None, topics: Sequence[str] = ()) -> Subscription:
        """Iterate over the notifications after ``gt`` (with one of ``topics``,
        if given): those recorded, then new ones as they are committed, until
        the subscription is stopped.

        This default polls :meth:`select_notifications`; backends that can
        hear of commits override it to deliver new events sooner.
        """
        return Subscription(self, gt=gt, topics=topics)


class ProcessRecorder(ApplicationRecorder):
    """Also records, atomically with events, which notification was processed.

    ``insert_events(stored_events, tracking=Tracking(...))`` records both or
    neither; a repeated tracking record raises :class:`IntegrityError`.
    ``insert_events(stored_events, trackings=[...])`` records the events with
    the tracking records of several notifications (a page processed in one
    transaction), all or none, if :attr:`max_trackings_per_insert` allows.
    """

    max_trackings_per_insert: Optional[int] = 1
    """Most tracking records one ``insert_events`` call takes (``None``: no
    limit). A recorder that only knows ``tracking=`` keeps the default 1, and
    is given pages of one notification: processing stays exactly once."""

    def lease(self, follower_name: str, leader_name: str) -> Lease:
        """The lease that lets one process at a time consume ``leader_name`` for
        ``follower_name`` in this recorder's database (see :mod:`eventsourcing.lease`).

        This default only excludes runners of this process; backends whose
        database other processes share override it.
        """
        return LocalLease(follower_name, leader_name, scope=self)

    @abstractmethod
    def max_tracking_id(self, application_name: str) -> int:
        """Return the last notification ID processed from ``application_name``, or 0."""

    @abstractmethod
    def has_tracking_id(self, application_name: str, notification_id: int) -> bool:
        """Return whether that notification of ``application_name`` was processed."""


class TrackingRecorder(Recorder):
    """Records which notifications of upstream applications were processed.

    A materialised view subclasses a backend's tracking recorder and writes
    its own tables and the tracking records of the notifications that made
    the change in one transaction: each notification's effect happens once.
    Unlike :meth:`ProcessRecorder.max_tracking_id`, :meth:`max_tracking_id`
    here returns ``None`` when nothing was processed (as eventsourcing 9.5).
    """

    @abstractmethod
    def insert_tracking(self, tracking: Tracking) -> None:
        """Record ``tracking``; a repeated record raises :class:`IntegrityError`."""

    @abstractmethod
    def max_tracking_id(self, application_name: str) -> Optional[int]:
        """Return the last notification ID processed from ``application_name``, or None."""

    def has_tracking_id(self, application_name: str, notification_id: Optional[int]) -> bool:
        """Whether processing reached ``notification_id`` (always, for None)."""
        if notification_id is None:
            return True
        max_id = self.max_tracking_id(application_name)
        return max_id is not None and max_id >= notification_id

    def wait(
        self,
        application_name: str,
        notification_id: Optional[int],
        timeout: float = 1.0,
        interrupt: Optional[threading.Event] = None,
    ) -> None:
        """Return once :meth:`has_tracking_id` is true (read-your-writes for a view).

        Raises :class:`TimeoutError` after ``timeout`` seconds, and
        :class:`WaitInterruptedError` if ``interrupt`` is set first. Polls,
        backing off up to a tenth of a second; backends may wait for a signal.
        """
        deadline = time.monotonic() + timeout
        delay = 0.001
        while not self.has_tracking_id(application_name, notification_id):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"Timed out after {timeout:g}s waiting for notification "
                    f"{notification_id} of {application_name!r} to be processed"
                )
            pause = min(delay, remaining)
            if interrupt is not None:
                if interrupt.wait(pause):
                    raise WaitInterruptedError(
                        f"Interrupted while waiting for notification {notification_id} "
                        f"of {application_name!r} to be processed"
                    )
            else:
                time.sleep(pause)
            delay = min(delay * 2, 0.1)


# ---------------------------------------------------------------------------
# Recordings
# ---------------------------------------------------------------------------


class Recording:
    """A domain event and the notification it was recorded as.

    ``notification`` is ``None`` when the recorder does not number events
    (an aggregate recorder). A save of thousands of events returns thousands
    of recordings, most never looked at, so the notification is made from
    the stored event only when first asked for.
    """

    __slots__ = ("_id", "_notification", "_stored", "domain_event")

    def __init__(self, domain_event: Any, notification: Optional[Notification]) -> None:
        self.domain_event = domain_event
        self._notification = notification
        self._stored: Optional[StoredEvent] = None
        self._id = 0

    @classmethod
    def _of(cls, domain_event: Any, stored: StoredEvent, notification_id: int) -> Recording:
        recording = cls(domain_event, None)
        recording._stored = stored
        recording._id = notification_id
        return recording

    @property
    def notification(self) -> Optional[Notification]:
        if self._notification is None and self._stored is not None:
            s = self._stored
            self._notification = make_notification(
                s.originator_id, s.originator_version, s.topic, s.state, self._id
            )
        return self._notification

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and self.domain_event == other.domain_event
            and self.notification == other.notification
        )

    def __hash__(self) -> int:
        return hash((self.domain_event, self.notification))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(domain_event={self.domain_event!r}, "
            f"notification={self.notification!r})"
        )


# Saves of up to this many events are mapped before the insert: they fit in
# one statement of each backend, so mapping on demand (which overlaps mapping
# with sending, for large saves) would only add the cost of the wrapper.
_MAPPED_AT_ONCE = 100


# Replaying, stored events are converted this many at a time: enough for one
# call to take the place of a call per event, few enough that the garbage
# collector finds few survivors. Whole pages of 1,000 domain events alive at
# once made collections slow the first replay of 10,000 events (SQLite, median
# of 5: 268,000 events/s against 348,000 in hundreds; 320,000 one at a time).
_CONVERTED_AT_ONCE = 100


class _MappedEvents(Sequence[StoredEvent]):
    """Domain events mapped to stored events on first use, and kept.

    Reading an item or a slice maps up to its end, so a recorder that sends
    a large save a slice at a time maps each slice just before sending it,
    while the database works on the previous one. Mapped events are kept:
    reading again (a retry after a lost connection) gives the same objects.
    """

    __slots__ = ("_domain_events", "_from_domain_event", "_mapped")

    def __init__(self, mapper: Mapper[Any], domain_events: Sequence[Any]) -> None:
        self._from_domain_event = mapper.from_domain_event
        self._domain_events = domain_events
        self._mapped: List[StoredEvent] = []

    def _map_to(self, stop: int) -> List[StoredEvent]:
        mapped = self._mapped
        start = len(mapped)
        if start < stop:
            from_domain_event = self._from_domain_event
            mapped.extend([from_domain_event(e) for e in self._domain_events[start:stop]])
        return mapped

    def all(self) -> List[StoredEvent]:
        """Every stored event, mapping what was not mapped yet."""
        return self._map_to(len(self._domain_events))

    def __len__(self) -> int:
        return len(self._domain_events)

    @overload
    def __getitem__(self, index: int) -> StoredEvent: ...

    @overload
    def __getitem__(self, index: slice) -> List[StoredEvent]: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[StoredEvent, List[StoredEvent]]:
        if isinstance(index, slice):
            stop = index.indices(len(self._domain_events))[1]
        elif index < 0:
            stop = len(self._domain_events)
        else:
            stop = index + 1
        return self._map_to(stop)[index]

    def __iter__(self) -> Iterator[StoredEvent]:
        return iter(self.all())


def map_on_demand(
    mapper: Mapper[Any], events: Sequence[Any]
) -> Tuple[Sequence[Any], _MappedEvents]:
    """The events as a sequence, and their stored events mapped on demand:
    what an event store (sync or async) passes to ``insert_events``."""
    if not isinstance(events, (list, tuple)):
        events = list(events)
    return events, _MappedEvents(mapper, events)


def recordings(
    events: Sequence[Any], stored_events: Sequence[StoredEvent], ids: Optional[Sequence[int]]
) -> List[Recording]:
    """What an event store's ``put`` returns, from what ``insert_events`` returned."""
    if ids is None or len(ids) != len(events):
        return [Recording(e, None) for e in events]
    if type(stored_events) is _MappedEvents:  # (isinstance of an ABC subclass is Python code)
        stored_events = stored_events.all()
    of = Recording._of
    return [of(e, s, i) for e, s, i in zip(events, stored_events, ids, strict=True)]


# ---------------------------------------------------------------------------
# Event store
# ---------------------------------------------------------------------------


class EventStore(Generic[TDomainEvent]):
    """Stores and retrieves domain events, through a mapper and a recorder.

    :meth:`put` is the one door through which an application writes: its
    saves, a process application's events with their tracking record, and
    snapshots.
    """

    # Events read per select_events() call by get(): replaying a long history
    # holds one page of stored events at a time, not all of them.
    page_size = 1000

    def __init__(self, mapper: Mapper[TDomainEvent], recorder: AggregateRecorder) -> None:
        self.mapper = mapper
        self.recorder = recorder

    def put(self, events: Sequence[TDomainEvent], **kwargs: Any) -> List[Recording]:
        """Map ``events``, record them in one atomic insert, and return what was recorded.

        The recorder gets the events mapped on demand (see
        :class:`AggregateRecorder`): if mapping one fails, the exception
        propagates and nothing is recorded. ``kwargs`` (``tracking=...``)
        go to the recorder's ``insert_events``.
        """
        if not isinstance(events, (list, tuple)):
            events = list(events)
        stored_events: Sequence[StoredEvent]
        if len(events) <= _MAPPED_AT_ONCE:
            from_domain_event = self.mapper.from_domain_event
            stored_events = [from_domain_event(e) for e in events]
        else:
            events, stored_events = map_on_demand(self.mapper, events)
        ids = self.recorder.insert_events(stored_events, **kwargs)
        return recordings(events, stored_events, ids)

    def get(
        self,
        originator_id: UUID,
        gt: Optional[int] = None,
        lte: Optional[int] = None,
        desc: bool = False,
        limit: Optional[int] = None,
    ) -> Iterator[TDomainEvent]:
        """Retrieve the domain events of one aggregate sequence.

        The first page is read at once (so a bad argument fails here), later
        pages as the iterator reaches them; stored events are converted a
        hundred at a time (:meth:`Mapper.to_domain_events`).
        """
        page_size = self.page_size
        first = self.recorder.select_events(
            originator_id,
            gt=gt,
            lte=lte,
            desc=desc,
            limit=page_size if limit is None or limit > page_size else limit,
        )
        if len(first) < page_size or (limit is not None and limit <= page_size):
            return self._domain_events(iter((first,)))
        return self._domain_events(self._pages(first, originator_id, gt, lte, desc, limit))

    def _domain_events(self, pages: Iterator[List[StoredEvent]]) -> Iterator[TDomainEvent]:
        """The domain events of ``pages``, converted some at a time."""
        mapper = self.mapper
        size = _CONVERTED_AT_ONCE
        for page in pages:
            for start in range(0, len(page), size):
                stored_events = page[start : start + size]
                try:
                    domain_events = mapper.to_domain_events(stored_events)
                except Exception:
                    # The events before the one that cannot be converted are
                    # given, then its error raised, as when converted one by one.
                    yield from map(mapper.to_domain_event, stored_events)
                    raise
                yield from domain_events
            del page  # one page held at a time, while the next is read

    def _pages(
        self,
        page: List[StoredEvent],
        originator_id: UUID,
        gt: Optional[int],
        lte: Optional[int],
        desc: bool,
        limit: Optional[int],
    ) -> Iterator[List[StoredEvent]]:
        page_size = self.page_size
        while True:
            yield page
            if limit is not None:
                limit -= len(page)
            if len(page) < page_size or limit == 0:
                return
            last = page[-1].originator_version
            if desc:
                lte = last - 1
            else:
                gt = last
            del page  # only one page held at a time
            page = self.recorder.select_events(
                originator_id,
                gt=gt,
                lte=lte,
                desc=desc,
                limit=page_size if limit is None else min(limit, page_size),
            )


# ---------------------------------------------------------------------------
# Infrastructure factory
# ---------------------------------------------------------------------------

TInfrastructureFactory = TypeVar("TInfrastructureFactory", bound="InfrastructureFactory")
TTrackingRecorder = TypeVar("TTrackingRecorder", bound=TrackingRecorder)
TF = TypeVar("TF", bound="InfrastructureFactory")  # 9.1's name for such a type variable


class InfrastructureFactory(CloseOnExit, ABC):
    """Constructs the persistence objects of one application.

    Concrete factories come from persistence modules (backends), selected by
    ``PERSISTENCE_MODULE`` (or the older ``INFRASTRUCTURE_FACTORY``), by name
    or topic; see :mod:`eventsourcing.plugins`.
    """

    PERSISTENCE_MODULE = "PERSISTENCE_MODULE"
    INFRASTRUCTURE_FACTORY = "INFRASTRUCTURE_FACTORY"
    TOPIC = INFRASTRUCTURE_FACTORY  # 9.1's name for the variable
    DEFAULT_PERSISTENCE_MODULE = "popo"
    MAPPER_TOPIC = "MAPPER_TOPIC"
    TRANSCODER_TOPIC = "TRANSCODER_TOPIC"
    CIPHER_TOPIC = "CIPHER_TOPIC"
    CIPHER_KEY = "CIPHER_KEY"
    DEFAULT_CIPHER = "aes"
    COMPRESSOR_TOPIC = "COMPRESSOR_TOPIC"
    IS_SNAPSHOTTING_ENABLED = "IS_SNAPSHOTTING_ENABLED"
    CREATE_TABLE = "CREATE_TABLE"

    @classmethod
    def construct(
        cls,
        application_name: str = "",
        env: Optional[Mapping[str, str]] = None,
    ) -> InfrastructureFactory:
        """Construct the factory selected by the environment (default ``popo``)."""
        if env is None:
            env = os.environ
        # Prefixed variables first, then the unprefixed ones; the newer name
        # before the older at each level. An empty value counts as unset, as
        # it did in eventsourcing 9.1.
        keys = (cls.PERSISTENCE_MODULE, cls.INFRASTRUCTURE_FACTORY)
        variables = [v for key in keys for v in _env_keys(key, application_name)[:-1]]
        variables += list(keys)
        for variable in variables:
            value = env.get(variable)
            if value is not None and value.strip():
                factory_cls = _resolve_persistence_module(value, variable)
                break
        else:
            factory_cls = _resolve_persistence_module(
                cls.DEFAULT_PERSISTENCE_MODULE, cls.PERSISTENCE_MODULE
            )
        return factory_cls(application_name=application_name, env=env)

    def __init__(self, application_name: str, env: Mapping[str, str]) -> None:
        self.application_name = application_name
        self.env = env

    def getenv(
        self, key: str, default: Optional[str] = None, application_name: str = ""
    ) -> Optional[str]:
        """Return the value of ``key``, preferring the application-prefixed key
        (``WORLDS_KEY`` for application ``Worlds``)."""
        found = _getenv(self.env, key, application_name or self.application_name)
        return default if found is None else found[1]

    def getenv_bool(self, key: str, default: bool = False) -> bool:
        """Read a boolean setting; an invalid value names the key and accepted values."""
        value = self.getenv(key)
        if value is None or value.strip() == "":
            return default
        try:
            return strtobool(value)
        except ValueError:
            raise ConfigurationError(
                f"{self._variable(key)}={value!r} is not a valid boolean: expected one of "
                "'y', 'yes', 't', 'true', 'on', '1', 'n', 'no', 'f', 'false', 'off', '0'"
            ) from None

    def getenv_int(
        self, key: str, default: Optional[int] = None, minimum: Optional[int] = None
    ) -> Optional[int]:
        """Read an integer setting; an invalid value names the key and what is accepted."""
        value = self.getenv(key)
        if value is None or value.strip() == "":
            return default
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or (minimum is not None and number < minimum):
            accepted = "an integer" if minimum is None else f"an integer >= {minimum}"
            raise ConfigurationError(
                f"{self._variable(key)}={value!r} is not valid: expected {accepted}"
            )
        return number

    def getenv_float(
        self, key: str, default: Optional[float] = None, minimum: Optional[float] = None
    ) -> Optional[float]:
        """Read a number setting; an invalid value names the key and what is accepted."""
        value = self.getenv(key)
        if value is None or value.strip() == "":
            return default
        try:
            number: Optional[float] = float(value)
        except ValueError:
            number = None
        if number is None or (minimum is not None and number < minimum):
            accepted = "a number" if minimum is None else f"a number >= {minimum}"
            raise ConfigurationError(
                f"{self._variable(key)}={value!r} is not valid: expected {accepted}"
            )
        return number

    def _variable(self, key: str, application_name: str = "") -> str:
        """The variable that holds ``key`` (for messages), prefixed if that is set."""
        found = _getenv(self.env, key, application_name or self.application_name)
        return key if found is None else found[0]

    def mapper(
        self,
        transcoder: Transcoder,
        application_name: str = "",
        mapper_class: Type[Mapper[Any]] = Mapper,
    ) -> Mapper[Any]:
        """Construct a mapper with the configured cipher and compressor."""
        application_name = application_name or self.application_name
        mapper_class = self._class_setting(
            self.MAPPER_TOPIC, Mapper, application_name, mapper_class
        )
        return mapper_class(
            transcoder=transcoder,
            cipher=self.cipher(application_name),
            compressor=self.compressor(application_name),
        )

    def transcoder(self, application_name: str = "") -> Transcoder:
        """Construct the transcoder selected by ``TRANSCODER_TOPIC`` (default
        :class:`JSONTranscoder`), with no transcodings registered yet."""
        application_name = application_name or self.application_name
        return self._class_setting(
            self.TRANSCODER_TOPIC, Transcoder, application_name, JSONTranscoder
        )()

    def _class_setting(
        self, key: str, base: type, application_name: str, default: Type[TClass]
    ) -> Type[TClass]:
        """The subclass of ``base`` named by the topic in setting ``key``, else ``default``."""
        found = _getenv(self.env, key, application_name)
        if found is None or not found[1].strip():
            return default
        variable, topic = found
        try:
            cls = resolve_topic(topic.strip())
        except TopicError as e:
            raise TopicError(f"{variable}={topic!r} cannot be used: {e}") from e
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise ConfigurationError(
                f"{variable}={topic!r} resolves to {cls!r}, which is not a "
                f"{base.__name__} subclass: expected a topic such as 'package.module:Class'"
            )
        return cast(Type[TClass], cls)

    def cipher(self, application_name: str = "") -> Optional[Cipher]:
        """Construct the cipher selected by ``CIPHER_TOPIC`` (name or topic).

        ``CIPHER_KEY`` alone selects the default cipher (``aes``), as in
        eventsourcing 9.1. A selected cipher without a key is an error.
        """
        application_name = application_name or self.application_name
        topic = self.getenv(self.CIPHER_TOPIC, application_name=application_name)
        key = self.getenv(self.CIPHER_KEY, application_name=application_name)
        if not topic:
            if not key:
                return None
            topic = self.DEFAULT_CIPHER
            try:
                cipher_cls = registry.resolve(topic, self.CIPHER_TOPIC, "cipher", Cipher)
            except ConfigurationError as e:
                raise ConfigurationError(
                    f"{self._variable(self.CIPHER_KEY, application_name)} is set without "
                    f"{self.CIPHER_TOPIC}, which selects the default cipher "
                    f"{topic!r}: {e}"
                ) from e
        else:
            variable = self._variable(self.CIPHER_TOPIC, application_name)
            cipher_cls = registry.resolve(topic, variable, "cipher", Cipher)
        if not key:
            raise ConfigurationError(
                f"{self._variable(self.CIPHER_TOPIC, application_name)}={topic!r} selects "
                f"a cipher but {self.CIPHER_KEY} is not set: set it to a key made with "
                f"{cipher_cls.__name__}.create_key()"
            )
        try:
            cipher: Cipher = cipher_cls(key)
        except (ValueError, TypeError) as e:
            raise ConfigurationError(
                f"{self._variable(self.CIPHER_KEY, application_name)} is not a valid key for "
                f"{cipher_cls.__name__}: {e}"
            ) from e
        return cipher

    def compressor(self, application_name: str = "") -> Optional[Compressor]:
        """Construct the compressor selected by ``COMPRESSOR_TOPIC`` (name or topic)."""
        application_name = application_name or self.application_name
        found = _getenv(self.env, self.COMPRESSOR_TOPIC, application_name)
        if found is None or not found[1].strip():
            return None
        variable, topic = found
        try:
            compressor_cls: Type[Compressor] = registry.resolve(
                topic, variable, "compressor", Compressor
            )
        except ConfigurationError:
            # eventsourcing 9.1 also accepted a module with compress() and
            # decompress() functions (``COMPRESSOR_TOPIC=bz2``).
            module = _compressor_module(topic.strip())
            if module is None:
                raise
            return ModuleCompressor(module)
        return compressor_cls()

    @staticmethod
    def event_store(**kwargs: Any) -> EventStore[Any]:
        """Construct an event store."""
        return EventStore(**kwargs)

    @abstractmethod
    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        """Construct an aggregate recorder (``purpose`` names the table: events, snapshots)."""

    @abstractmethod
    def application_recorder(self) -> ApplicationRecorder:
        """Construct an application recorder."""

    @abstractmethod
    def process_recorder(self) -> ProcessRecorder:
        """Construct a process recorder."""

    # The async ports (eventsourcing.asyncio): by default the sync recorders
    # in the core's thread-offloading adapter; a backend overrides these to
    # go native.

    def async_aggregate_recorder(self, purpose: str = "events") -> AsyncAggregateRecorder:
        """Construct an async aggregate recorder (default: the sync one, in a thread)."""
        return ThreadedAggregateRecorder(self.aggregate_recorder(purpose))

    def async_application_recorder(self) -> AsyncApplicationRecorder:
        """Construct an async application recorder (default: the sync one, in a thread)."""
        return ThreadedApplicationRecorder(self.application_recorder())

    def async_process_recorder(self) -> AsyncProcessRecorder:
        """Construct an async process recorder (default: the sync one, in a thread)."""
        return ThreadedProcessRecorder(self.process_recorder())

    def tracking_recorder(
        self, tracking_recorder_class: Optional[Type[TTrackingRecorder]] = None
    ) -> TTrackingRecorder:
        """Construct a tracking recorder (a materialised view) of this backend.

        ``tracking_recorder_class`` is a subclass of the backend's own tracking
        recorder (a view with its own tables); by default, the plain one.
        """
        raise NotSupportedError(
            f"The persistence module {type(self).__module__}:{type(self).__qualname__} "
            "does not construct tracking recorders: it cannot host projections"
        )

    def _tracking_recorder_class(
        self, requested: Optional[Type[TTrackingRecorder]], base: Type[TrackingRecorder]
    ) -> Type[TTrackingRecorder]:
        """``requested`` (default ``base``), if it is a concrete subclass of ``base``."""
        cls: Any = base if requested is None else requested
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise TypeError(
                f"{cls!r} cannot be constructed by the persistence module "
                f"{type(self).__module__}: a view class of this backend subclasses "
                f"{base.__module__}:{base.__qualname__}"
            )
        if getattr(cls, "__abstractmethods__", None):
            missing = ", ".join(sorted(cls.__abstractmethods__))
            raise TypeError(f"{cls.__qualname__} is abstract: it does not implement {missing}")
        return cast(Type[TTrackingRecorder], cls)

    def is_snapshotting_enabled(self) -> bool:
        """Whether ``IS_SNAPSHOTTING_ENABLED`` is true (default: false)."""
        return self.getenv_bool(self.IS_SNAPSHOTTING_ENABLED, default=False)

    def env_create_table(self) -> bool:
        """Whether ``CREATE_TABLE`` is true (default: true): recorders create their tables."""
        return self.getenv_bool(self.CREATE_TABLE, default=True)

    def close(self) -> None:
        """Release connections, pools or files held by this factory (idempotent)."""


def _resolve_persistence_module(value: str, variable: str) -> Type[InfrastructureFactory]:
    return registry.resolve(value, variable, "persistence module", InfrastructureFactory, "Factory")


def _env_keys(key: str, application_name: str) -> tuple[str, ...]:
    """The variables that may hold ``key``, in order of precedence.

    ``WORLDS_KEY`` for application ``Worlds``; for a name with characters
    that a shell variable cannot hold (``my.app``), the 9.1 form
    (``MY.APP_KEY``) and then the shell-safe form (``MY_APP_KEY``).
    """
    if not application_name:
        return (key,)
    upper = application_name.upper()
    safe = "".join(c if c.isalnum() or c == "_" else "_" for c in upper)
    if safe == upper:
        return (f"{upper}_{key}", key)
    return (f"{upper}_{key}", f"{safe}_{key}", key)


def _getenv(env: Mapping[str, str], key: str, application_name: str) -> Optional[tuple[str, str]]:
    """Return ``(variable, value)`` for ``key``, the prefixed variables first."""
    for variable in _env_keys(key, application_name):
        value = env.get(variable)
        if value is not None:
            return variable, value
    return None


def _compressor_module(topic: str) -> Any:
    """The object a 9.1-style compressor topic names, if it can compress."""
    try:
        obj = resolve_topic(topic)
    except TopicError:
        return None
    if (
        callable(getattr(obj, "compress", None))
        and callable(getattr(obj, "decompress", None))
        and not isinstance(obj, type)
    ):
        return obj
    return None
