"""Small utilities shared by every layer: topics, retries, booleans."""

from __future__ import annotations

import functools
import importlib
import time
from random import random
from threading import Lock
from typing import Any, Callable, Sequence, TypeVar, cast

__all__ = [
    "ConfigurationError",
    "EventSourcingError",
    "TopicError",
    "clear_topic_cache",
    "get_topic",
    "random",
    "register_topic",
    "resolve_topic",
    "retry",
    "strtobool",
]


class EventSourcingError(Exception):
    """Base class of the exceptions this library raises for reasons of its own.

    Each keeps its other bases (a :class:`ConfigurationError` is also a
    ``ValueError``), so existing ``except`` clauses keep working; one
    ``except EventSourcingError`` catches them all.
    """


class TopicError(EventSourcingError):
    """Raised when a topic cannot be resolved to a Python object."""


class ConfigurationError(ValueError, EventSourcingError):
    """Raised when a configuration value (usually from the environment) is invalid.

    Messages name the variable, the value and what is accepted, so the error
    can be fixed without reading the source.
    """


_type_cache: dict[type, str] = {}
_topic_cache: dict[str, Any] = {}
_topic_cache_lock = Lock()


def get_topic(cls: type) -> str:
    """Return the topic (``module:QualName``) that locates ``cls``.

    Topics are written into every stored event, so they are cached: computing
    one is on the hot path of every save.
    """
    try:
        return _type_cache[cls]
    except KeyError:
        topic = f"{cls.__module__}:{cls.__qualname__}"
        _type_cache[cls] = topic
        return topic


def register_topic(topic: str, obj: Any) -> None:
    """Make ``topic`` resolve to ``obj``.

    Lets stored events keep resolving after a class or module was renamed or
    moved. Registering a topic (or module prefix) twice with different
    objects is an error, because stored data would become ambiguous.
    """
    with _topic_cache_lock:
        existing = _topic_cache.get(topic)
        if existing is not None and existing is not obj:
            raise TopicError(
                f"Topic {topic!r} is already registered for {existing!r}; "
                f"cannot register it again for {obj!r}"
            )
        _topic_cache[topic] = obj


def clear_topic_cache() -> None:
    """Forget resolved and registered topics (useful in tests)."""
    with _topic_cache_lock:
        _topic_cache.clear()
        _type_cache.clear()


def resolve_topic(topic: str) -> Any:
    """Return the object located by ``topic`` (``module:QualName`` or ``module``).

    Raises :class:`TopicError` naming the topic and the reason it failed.
    """
    try:
        return _topic_cache[topic]
    except KeyError:
        pass
    if not isinstance(topic, str) or not topic:
        raise TopicError(f"Invalid topic {topic!r}: a topic is a non-empty string")
    module_name, _, attr_path = topic.partition(":")
    # A registered module prefix (e.g. a renamed module) takes precedence.
    registered = _topic_cache.get(module_name)
    if registered is not None and hasattr(registered, "__name__"):
        module_name = registered.__name__
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as e:
        raise TopicError(
            f"Failed to resolve topic {topic!r}: module {module_name!r} could not be imported ({e})"
        ) from e
    if attr_path:
        for part in attr_path.split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError as e:
                raise TopicError(
                    f"Failed to resolve topic {topic!r}: {part!r} not found "
                    f"in {getattr(obj, '__name__', obj)!r}"
                ) from e
    with _topic_cache_lock:
        _topic_cache[topic] = obj
    return obj


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
    if not isinstance(max_attempts, int) or max_attempts < 1:
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
