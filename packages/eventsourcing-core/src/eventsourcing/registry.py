"""The plugin registry: one plugin manager, and selection of a plugin by name or topic.

One :class:`pluggy.PluginManager` serves the whole process. It is created on
first use and loads the ``eventsourcing`` entry-point group once: the core's
own plugin (``core``: ``popo``, ``zlib`` and the default transcodings) first,
then every other, first-party or third-party, in the same way.

The selection policy is here too, in one place: a configuration value such
as ``PERSISTENCE_MODULE=sqlite`` is a registered name or a topic, and every
mistake gets the same kind of message (the variable, the value, what is
installed, which distribution to install). It knows no port classes: the
caller (:class:`eventsourcing.persistence.InfrastructureFactory`, or the
typed functions of :mod:`eventsourcing.plugins`) passes the class a
selected one must be a subclass of. So :mod:`eventsourcing.persistence` can
use the registry without the registry importing it.
"""

from __future__ import annotations

import importlib.metadata
import threading
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Dict, Iterable, List, Mapping, Optional

import pluggy

from eventsourcing import hookspecs
from eventsourcing.hookspecs import PROJECT_NAME
from eventsourcing.utils import ConfigurationError, EventSourcingError, TopicError, resolve_topic

__all__ = [
    "BUILTIN_PLUGIN_NAME",
    "ENTRY_POINT_GROUP",
    "InstalledPlugin",
    "PluginError",
    "collect",
    "get_plugin_manager",
    "install_command",
    "installed_plugins",
    "resolve",
]

ENTRY_POINT_GROUP = PROJECT_NAME
BUILTIN_PLUGIN_NAME = "core"

# Names of plugins shipped by this project's distributions, so that an error
# can say which distribution to install.
KNOWN_DISTRIBUTIONS: Dict[str, Dict[str, str]] = {
    "persistence module": {
        "popo": "eventsourcing-core",
        "sqlite": "eventsourcing-sqlite",
        "postgres": "eventsourcing-postgres",
    },
    "cipher": {"aes": "eventsourcing-crypto"},
    "compressor": {"zlib": "eventsourcing-core"},
}
KNOWN_MODULES: Dict[str, str] = {
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


class PluginError(EventSourcingError):
    """Raised when installed plugins are in conflict or cannot be loaded."""


@dataclass(frozen=True)
class InstalledPlugin:
    """A plugin loaded from the ``eventsourcing`` entry-point group, and where it came from."""

    name: str  # the entry point's name, also the plugin's name in the manager
    value: str  # what the entry point loads, such as "eventsourcing.sqlite.plugin"
    distribution: str  # such as "eventsourcing-sqlite"
    version: str


_lock = threading.RLock()
_manager: Optional[pluggy.PluginManager] = None
_installed: List[InstalledPlugin] = []


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
            _installed[:] = _load_entry_points(manager)
            _manager = manager
        return _manager


def installed_plugins() -> List[InstalledPlugin]:
    """The plugins loaded from entry points, with their distribution and version."""
    get_plugin_manager()
    return list(_installed)


def _load_entry_points(manager: pluggy.PluginManager) -> List[InstalledPlugin]:
    loaded: List[InstalledPlugin] = []
    entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    # The core's plugin first: pluggy calls implementations registered later
    # first, so any other plugin's transcodings are registered before the
    # core's defaults, as they were when the core registered its own.
    for ep in sorted(entry_points, key=lambda ep: ep.name != BUILTIN_PLUGIN_NAME):
        if manager.get_plugin(ep.name) is not None or manager.is_blocked(ep.name):
            continue
        dist = ep.dist
        installed = InstalledPlugin(
            name=ep.name,
            value=ep.value,
            distribution=getattr(dist, "name", None) or "an unknown distribution",
            version=getattr(dist, "version", None) or "unknown",
        )
        try:
            plugin = ep.load()
        except Exception as e:
            raise PluginError(
                f"Failed to load eventsourcing plugin {ep.name!r} ({ep.value}) from "
                f"{installed.distribution} {installed.version}: {e}"
            ) from e
        manager.register(plugin, name=ep.name)
        loaded.append(installed)
    return loaded


def collect(hook_name: str, kind: str) -> Dict[str, Any]:
    """Call one naming hook on every plugin, refusing duplicate names."""
    manager = get_plugin_manager()
    hook = getattr(manager.hook, hook_name)
    found: Dict[str, Any] = {}
    owners: Dict[str, str] = {}
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


# The naming hook of each kind of plugin.
HOOKS = {
    "persistence module": "eventsourcing_persistence_modules",
    "cipher": "eventsourcing_ciphers",
    "compressor": "eventsourcing_compressors",
}


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


def resolve(
    value: str,
    variable: str,
    kind: str,
    base: type[Any],
    module_attr: Optional[str] = None,
) -> type[Any]:
    """The ``base`` subclass that ``value`` selects: a name registered for ``kind``
    (one of :data:`HOOKS`), a topic, or a module (its ``module_attr``, or the one
    class of that kind it provides)."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(
            f"{variable}={value!r} is not valid: expected the name of an installed "
            f"{kind} or a topic such as 'package.module:Class'"
        )
    value = value.strip()

    def registry() -> Mapping[str, Any]:
        return collect(HOOKS[kind], kind)

    if not _is_topic(value):
        installed = registry()
        try:
            found: type[Any] = installed[value]
            return found
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
    return obj
