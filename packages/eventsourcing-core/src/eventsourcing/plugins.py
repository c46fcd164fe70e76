"""The plugin manager, and selection of plugins by name or topic.

One :class:`pluggy.PluginManager` serves the whole process. It is created on
first use, registers the core's built-in plugin (``popo``, ``zlib`` and the
default transcodings) and then loads the ``eventsourcing`` entry-point group
once. Hook specifications live in :mod:`eventsourcing.hookspecs`.

Configuration values such as ``PERSISTENCE_MODULE=sqlite`` are resolved here,
so that every backend is selected in the same way and every mistake gets the
same kind of message: the variable, the value, what is installed, and which
distribution to install.
"""

from __future__ import annotations

import importlib.metadata
import threading
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, TypeVar, cast

import pluggy

from eventsourcing import hookspecs
from eventsourcing.hookspecs import PROJECT_NAME, hookimpl
from eventsourcing.utils import ConfigurationError, TopicError, resolve_topic

if TYPE_CHECKING:  # pragma: no cover
    from eventsourcing.persistence import (
        Cipher,
        Compressor,
        InfrastructureFactory,
        Transcoding,
    )

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginError",
    "ciphers",
    "compressors",
    "get_plugin_manager",
    "hookimpl",
    "install_command",
    "persistence_modules",
    "resolve_cipher",
    "resolve_compressor",
    "resolve_persistence_module",
    "transcodings",
]

ENTRY_POINT_GROUP = PROJECT_NAME
BUILTIN_PLUGIN_NAME = "core"

# Names of plugins shipped by this project's distributions, so that an error
# can say which distribution to install.
KNOWN_DISTRIBUTIONS: dict[str, dict[str, str]] = {
    "persistence module": {
        "popo": "eventsourcing-core",
        "sqlite": "eventsourcing-sqlite",
        "postgres": "eventsourcing-postgres",
    },
    "cipher": {"aes": "eventsourcing-crypto"},
    "compressor": {"zlib": "eventsourcing-core"},
}
KNOWN_MODULES: dict[str, str] = {
    "eventsourcing.sqlite": "eventsourcing-sqlite",
    "eventsourcing.postgres": "eventsourcing-postgres",
    "eventsourcing.cipher": "eventsourcing-crypto",
}


def install_command(distribution: str) -> str:
    """How to install one of this project's distributions, for error messages.

    The distributions are not published on a package index yet, so the
    command that works today (from a clone of the repository) follows the name.
    """
    if distribution == "eventsourcing-conformance":
        folder = "conformance"
    else:
        folder = f"packages/{distribution}"
    return f"pip install {distribution} (from a clone of the repository: pip install ./{folder})"


class PluginError(Exception):
    """Raised when installed plugins are in conflict or cannot be loaded."""


_lock = threading.RLock()
_manager: pluggy.PluginManager | None = None


def get_plugin_manager() -> pluggy.PluginManager:
    """Return the process-wide plugin manager, loading plugins on first use."""
    global _manager
    manager = _manager
    if manager is not None:
        return manager
    with _lock:
        if _manager is None:
            manager = pluggy.PluginManager(PROJECT_NAME)
            manager.add_hookspecs(hookspecs)
            from eventsourcing import builtin

            manager.register(builtin, name=BUILTIN_PLUGIN_NAME)
            _load_entry_points(manager)
            _manager = manager
        return _manager


def _load_entry_points(manager: pluggy.PluginManager) -> None:
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if manager.get_plugin(ep.name) is not None or manager.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
        except Exception as e:
            dist = getattr(ep.dist, "name", "an unknown distribution")
            raise PluginError(
                f"Failed to load eventsourcing plugin {ep.name!r} ({ep.value}) from {dist}: {e}"
            ) from e
        manager.register(plugin, name=ep.name)


_T = TypeVar("_T")


def _collect(hook_name: str, kind: str) -> dict[str, Any]:
    """Call one naming hook on every plugin, refusing duplicate names."""
    manager = get_plugin_manager()
    hook = getattr(manager.hook, hook_name)
    found: dict[str, Any] = {}
    owners: dict[str, str] = {}
    # Call implementations one by one, so that a duplicate can name both plugins.
    for impl in hook.get_hookimpls():
        try:
            result = impl.function()
        except Exception as e:
            raise PluginError(
                f"eventsourcing plugin {impl.plugin_name!r} failed to list its {kind}s: {e!r}"
            ) from e
        if not result:
            continue
        for name, obj in dict(result).items():
            if name in found:
                raise PluginError(
                    f"{kind.capitalize()} name {name!r} is claimed by two plugins: "
                    f"{owners[name]!r} and {impl.plugin_name!r}"
                )
            found[name] = obj
            owners[name] = impl.plugin_name
    return found


def persistence_modules() -> dict[str, type[InfrastructureFactory]]:
    """Installed persistence modules, by name."""
    return _collect("eventsourcing_persistence_modules", "persistence module")


def ciphers() -> dict[str, type[Cipher]]:
    """Installed ciphers, by name."""
    return _collect("eventsourcing_ciphers", "cipher")


def compressors() -> dict[str, type[Compressor]]:
    """Installed compressors, by name."""
    return _collect("eventsourcing_compressors", "compressor")


def transcodings() -> list[Transcoding]:
    """Transcodings contributed by every installed plugin."""
    manager = get_plugin_manager()
    result: list[Transcoding] = []
    for contributed in manager.hook.eventsourcing_transcodings():
        result.extend(contributed)
    return result


def _is_topic(value: str) -> bool:
    return ":" in value or "." in value


def _install_hint(kind: str, value: str, installed: Iterable[str]) -> str:
    known = KNOWN_DISTRIBUTIONS.get(kind, {})
    if value in known:
        return f" To use {value!r}, install it: {install_command(known[value])}"
    others = [f"{n!r} ({d})" for n, d in known.items() if n not in installed]
    if others:
        how = install_command("<distribution>")
        return f" Also available: {', '.join(others)}; install one with {how}."
    return ""


def _resolve(
    value: str,
    variable: str,
    kind: str,
    registry: Callable[[], Mapping[str, type[_T]]],
    base: Any,
    module_attr: str | None,
) -> type[_T]:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(
            f"{variable}={value!r} is not valid: expected the name of an installed "
            f"{kind} or a topic such as 'package.module:Class'"
        )
    value = value.strip()
    if not _is_topic(value):
        installed = registry()
        try:
            return installed[value]
        except KeyError:
            names = ", ".join(sorted(installed)) or "none"
            raise ConfigurationError(
                f"{variable}={value!r} is not an installed {kind}; installed: {names}."
                + _install_hint(kind, value, installed)
            ) from None
    try:
        obj = resolve_topic(value)
    except TopicError as e:
        module_name = value.partition(":")[0]
        hint = ""
        for prefix, dist in KNOWN_MODULES.items():
            if module_name == prefix or module_name.startswith(prefix + "."):
                hint = f" To use {prefix}, install it: {install_command(dist)}"
        raise TopicError(f"{variable}={value!r} cannot be used: {e}.{hint}") from e
    if isinstance(obj, ModuleType):
        candidate = getattr(obj, module_attr, None) if module_attr else None
        if candidate is None:
            # A module that provides exactly one registered class of this kind.
            matches = [c for c in registry().values() if c.__module__ == obj.__name__]
            if len(matches) != 1:
                raise ConfigurationError(
                    f"{variable}={value!r} names a module; expected a topic of a "
                    f"{base.__name__} subclass such as '{obj.__name__}:ClassName'"
                )
            candidate = matches[0]
        obj = candidate
    if not (isinstance(obj, type) and issubclass(obj, base)):
        raise ConfigurationError(
            f"{variable}={value!r} resolves to {obj!r}, which is not a {base.__name__} subclass"
        )
    return cast("type[_T]", obj)


def resolve_persistence_module(
    value: str, variable: str = "PERSISTENCE_MODULE"
) -> type[InfrastructureFactory]:
    """Resolve a persistence module name (``sqlite``) or topic
    (``eventsourcing.sqlite:Factory`` or ``eventsourcing.sqlite``)."""
    from eventsourcing.persistence import InfrastructureFactory

    return _resolve(
        value,
        variable,
        "persistence module",
        persistence_modules,
        InfrastructureFactory,
        "Factory",
    )


def resolve_cipher(value: str, variable: str = "CIPHER_TOPIC") -> type[Cipher]:
    """Resolve a cipher name (``aes``) or topic (``eventsourcing.cipher:AESCipher``)."""
    from eventsourcing.persistence import Cipher

    return _resolve(value, variable, "cipher", ciphers, Cipher, None)


def resolve_compressor(value: str, variable: str = "COMPRESSOR_TOPIC") -> type[Compressor]:
    """Resolve a compressor name (``zlib``) or topic
    (``eventsourcing.compressor:ZlibCompressor``)."""
    from eventsourcing.persistence import Compressor

    return _resolve(value, variable, "compressor", compressors, Compressor, None)
