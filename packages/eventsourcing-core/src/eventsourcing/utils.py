"""Small utilities shared by every layer: topics, retries, booleans."""

from __future__ import annotations

import functools
import importlib
import sys
import time
from random import random
from threading import Lock
from types import ModuleType, TracebackType
from typing import Any, Callable, Optional, Sequence, Type, TypeVar, cast

__all__ = [
    "CloseOnExit",
    "ConfigurationError",
    "EventSourcingError",
    "TopicError",
    "clear_topic_cache",
    "get_method_name",
    "get_module",
    "get_topic",
    "is_py310",
    "random",
    "register_topic",
    "resolve_attr",
    "resolve_topic",
    "retry",
    "strtobool",
    "upcast_state",
]


class EventSourcingError(Exception):
    """Base class of the exceptions this library raises for reasons of its own.

    Each keeps its other bases (a :class:`ConfigurationError` is also a
    ``ValueError``), so existing ``except`` clauses keep working; one
    ``except EventSourcingError`` catches them all.
    """


TCloseOnExit = TypeVar("TCloseOnExit", bound="CloseOnExit")


class CloseOnExit:
    """Mixin: a ``with`` block over the object ends by calling its ``close()``.

    For the library's resources (applications, factories, subscriptions),
    so that each says what closing means once, in ``close()``.
    """

    def close(self) -> None:
        """Release what the object holds (subclasses say what)."""

    def __enter__(self: TCloseOnExit) -> TCloseOnExit:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc_val: Optional[BaseException],
        exc_tb: Optional[TracebackType],
    ) -> None:
        self.close()


class TopicError(EventSourcingError):
    """Raised when a topic cannot be resolved to a Python object."""


class ConfigurationError(ValueError, EnvironmentError, EventSourcingError):
    """Raised when a configuration value (usually from the environment) is invalid.

    Messages name the variable, the value and what is accepted, so the error
    can be fixed without reading the source. Also an ``EnvironmentError``,
    which is what eventsourcing 9.1 raised for invalid settings.
    """


_type_cache: dict[type, str] = {}
_topic_cache: dict[str, Any] = {}
_topic_cache_lock = Lock()


def get_topic(cls: type) -> str:
    """Return the topic (``module:QualName``) that locates ``cls``.

    Topics are written into every stored event, so they are cached: computing
    one is on the hot path of every save. The class is also remembered under
    its topic, so that what a class wrote can be read back in the same
    process even when the class cannot be imported by name (it was defined
    in a function, a test or a notebook cell), as in eventsourcing 9.1.
    """
    try:
        return _type_cache[cls]
    except KeyError:
        topic = f"{cls.__module__}:{cls.__qualname__}"
        with _topic_cache_lock:
            cached = _topic_cache.get(topic)
            if cached is None or _is_earlier_definition(cached, topic):
                # A class defined again (the function ran again, the module
                # was reloaded) replaces the earlier definition.
                _topic_cache[topic] = cls
            _type_cache[cls] = topic
        return topic


def _is_earlier_definition(obj: Any, topic: str) -> bool:
    """Whether ``obj`` is a class whose own topic is ``topic`` (not a registered alias)."""
    return (
        isinstance(obj, type)
        and obj.__module__ == topic.partition(":")[0]
        and obj.__qualname__ == topic.partition(":")[2]
    )


def register_topic(topic: str, obj: Any) -> None:
    """Make ``topic`` resolve to ``obj``.

    Lets stored events keep resolving after a class or module was renamed or
    moved. ``topic`` is a whole topic (``"oldmodule:OldName"``), a module or
    package name (``"oldpackage"`` also resolves ``"oldpackage.mod:Name"``
    in the renamed package), or a class whose nested classes move with it
    (``"mod:OldName"`` also resolves ``"mod:OldName.Created"``). Registering
    a topic twice with different objects is an error, because stored data
    would become ambiguous.
    """
    with _topic_cache_lock:
        existing = _topic_cache.get(topic)
        if existing is not None and existing is not obj:
            raise TopicError(
                f"Object {existing!r} is already registered for topic {topic!r}, "
                f"so refusing to register {obj!r}"
            )
        _topic_cache[topic] = obj


def clear_topic_cache() -> None:
    """Forget resolved and registered topics (useful in tests)."""
    with _topic_cache_lock:
        _topic_cache.clear()
        _type_cache.clear()


def resolve_topic(topic: str) -> Any:
    """Return the object located by ``topic`` (``module:QualName`` or ``module``).

    Registered topics are used first: the whole topic, then the longest
    registered class prefix of the qualified name, then the longest
    registered module or package prefix of the module name. Raises
    :class:`TopicError` naming the topic and the reason it failed.
    """
    try:
        return _topic_cache[topic]
    except KeyError:
        pass
    if not isinstance(topic, str) or not topic:
        raise TopicError(f"Invalid topic {topic!r}: a topic is a non-empty string")
    module_name, _, attr_path = topic.partition(":")
    parts = attr_path.split(".") if attr_path else []
    obj: Any = None
    for i in range(len(parts) - 1, 0, -1):
        obj = _topic_cache.get(f"{module_name}:{'.'.join(parts[:i])}")
        if obj is not None:
            parts = parts[i:]
            break
    if obj is None:
        obj = _resolve_module(topic, module_name)
    for part in parts:
        try:
            obj = getattr(obj, part)
        except AttributeError as e:
            # 9.1's wording, which programs' tests compare.
            raise TopicError(f"Failed to resolve topic {topic!r}: {e}") from e
    with _topic_cache_lock:
        _topic_cache.setdefault(topic, obj)
    return obj


def _resolve_module(topic: str, module_name: str) -> Any:
    """The module named in ``topic``, following a registered module or package prefix."""
    names = module_name.split(".")
    for i in range(len(names), 0, -1):
        registered = _topic_cache.get(".".join(names[:i]))
        if registered is not None:
            if i == len(names):
                return registered
            module_name = ".".join([registered.__name__, *names[i:]])
            break
    try:
        return importlib.import_module(module_name)
    except ImportError as e:
        raise TopicError(f"Failed to resolve topic {topic!r}: {e}") from e


def upcast_state(cls: type, state: dict[str, Any], what: Callable[[], str]) -> None:
    """Bring ``state`` written by an older version of ``cls`` up to its ``class_version``.

    Used for stored events and snapshots alike: pops ``"class_version"``
    (absent means 1, as 9.1 writes it) and calls the class's static methods
    ``upcast_v1_v2(state)``, ``upcast_v2_v3(state)``... in turn. A missing
    one raises ``AttributeError``, as in 9.1, naming the class, the method
    and ``what()`` was being read (a callable: a replay reads thousands of
    events, and formatting a UUID for each costs more than decoding some).
    """
    from_version = state.pop("class_version", 1)
    class_version = getattr(cls, "class_version", 1)
    while from_version < class_version:
        method_name = f"upcast_v{from_version}_v{from_version + 1}"
        upcast = getattr(cls, method_name, None)
        if upcast is None:
            raise AttributeError(
                f"{cls.__qualname__} has class_version {class_version} but no "
                f"method {method_name}() to upcast the state of {what()}"
            )
        upcast(state)
        from_version += 1


TCallable = TypeVar("TCallable", bound=Callable[..., Any])


def retry(
    exc: type[BaseException] | Sequence[type[BaseException]] = Exception,
    max_attempts: int = 1,
    wait: float = 0,
    stall: float = 0,
    verbose: bool = False,
) -> Callable[[TCallable], TCallable]:
    """Retry the decorated callable when it raises one of ``exc``.

    ``max_attempts`` is the total number of calls (as in eventsourcing 9.1);
    about ``wait`` seconds (with 5% jitter, so that competing retriers spread
    out) pass between attempts, and ``stall`` seconds before the first. Can be
    used bare (``@retry``) or with arguments.
    """
    if isinstance(exc, type) and issubclass(exc, BaseException):
        exceptions: tuple[type[BaseException], ...] = (exc,)
    elif isinstance(exc, (list, tuple)):
        exceptions = tuple(exc)
        for e in exceptions:
            if not (isinstance(e, type) and issubclass(e, BaseException)):
                raise TypeError(f"retry() expected exception classes, got {e!r}")
    elif callable(exc):
        # Used bare: @retry
        return cast(Callable[[TCallable], TCallable], retry()(exc))
    else:
        raise TypeError(f"retry() expected exception classes, got {exc!r}")
    # Types as eventsourcing 9.1 checks them (TypeError), then the range.
    if not isinstance(max_attempts, int) or isinstance(max_attempts, bool):
        raise TypeError(f"'max_attempts' must be an int: {max_attempts!r}")
    for name, value in (("wait", wait), ("stall", stall)):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise TypeError(f"'{name}' must be a float: {value!r}")
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be an int >= 1, got {max_attempts!r}")

    def decorator(func: TCallable) -> TCallable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if stall:
                time.sleep(stall)
            attempts = 0
            while True:
                try:
                    return func(*args, **kwargs)
                except exceptions:
                    attempts += 1
                    if attempts >= max_attempts:
                        raise
                    if verbose:
                        print(
                            f"{func.__qualname__}: attempt {attempts} failed, retrying in {wait}s"
                        )
                    if wait:
                        time.sleep(wait * (1 + 0.1 * (random() - 0.5)))

        return cast(TCallable, wrapper)

    return decorator


_TRUE = frozenset(("y", "yes", "t", "true", "on", "1"))
_FALSE = frozenset(("n", "no", "f", "false", "off", "0"))


def strtobool(val: str) -> bool:
    """Interpret a configuration string as a boolean.

    True: 'y', 'yes', 't', 'true', 'on', '1'; false: 'n', 'no', 'f',
    'false', 'off', '0' (case-insensitive). Anything else: ``ValueError``.
    """
    if not isinstance(val, str):
        raise TypeError(f"strtobool() expected a str, got {type(val).__name__}")
    lowered = val.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(
        f"invalid truth value {val!r}: expected one of "
        "'y', 'yes', 't', 'true', 'on', '1', 'n', 'no', 'f', 'false', 'off', '0'"
    )


# ---------------------------------------------------------------------------
# Helpers that eventsourcing 9.1 exported from this module; kept so that code
# importing them runs unchanged.
# ---------------------------------------------------------------------------


def get_module(module_name: str) -> ModuleType:
    """Import and return the module named ``module_name`` (9.1.3's helper)."""
    return importlib.import_module(module_name)


def resolve_attr(obj: Any, path: str) -> Any:
    """Follow the dotted attribute ``path`` from ``obj`` (``""`` gives ``obj``).

    Raises ``AttributeError`` naming the first attribute that is missing.
    """
    for name in path.split(".") if path else ():
        obj = getattr(obj, name)
    return obj


def is_py310() -> bool:
    """Whether this is Python 3.10 (9.1.9 names methods differently there)."""
    return sys.version_info[:2] == (3, 10)


def get_method_name(method: Callable[..., Any]) -> str:
    """The name 9.1.9 gives a method: its qualified name on Python 3.10, else its name.

    9.1.9 used it to word error messages the same way on each Python version;
    tests written for 9.1.9 build their expected messages with it.
    """
    return method.__qualname__ if is_py310() else method.__name__
