"""Plugins: the public face of the plugin registry, typed by the ports.

A plugin is a module (or object) with functions named like the hook
specifications of :mod:`eventsourcing.hookspecs`, decorated with
:data:`hookimpl` (import it from here). Distributions make their plugin known
through the ``eventsourcing`` entry-point group; the process-wide plugin
manager loads it on first use (:mod:`eventsourcing.registry`).

The ``resolve_*`` functions select a class by name (``sqlite``) or topic
(``eventsourcing.sqlite:Factory``), as ``PERSISTENCE_MODULE``,
``CIPHER_TOPIC`` and ``COMPRESSOR_TOPIC`` do, with the same messages.
"""

from __future__ import annotations

from typing import Dict, List

from eventsourcing.hookspecs import hookimpl
from eventsourcing.persistence import Cipher, Compressor, InfrastructureFactory, Transcoding
from eventsourcing.registry import (
    ENTRY_POINT_GROUP,
    KNOWN_DISTRIBUTIONS,
    KNOWN_MODULES,
    InstalledPlugin,
    PluginError,
    collect,
    get_plugin_manager,
    install_command,
    installed_plugins,
    resolve,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "KNOWN_DISTRIBUTIONS",
    "KNOWN_MODULES",
    "InstalledPlugin",
    "PluginError",
    "ciphers",
    "compressors",
    "get_plugin_manager",
    "hookimpl",
    "install_command",
    "installed_plugins",
    "persistence_modules",
    "resolve_cipher",
    "resolve_compressor",
    "resolve_persistence_module",
    "transcodings",
]


def persistence_modules() -> Dict[str, type[InfrastructureFactory]]:
    """Installed persistence modules, by name."""
    return collect("eventsourcing_persistence_modules", "persistence module")


def ciphers() -> Dict[str, type[Cipher]]:
    """Installed ciphers, by name."""
    return collect("eventsourcing_ciphers", "cipher")


def compressors() -> Dict[str, type[Compressor]]:
    """Installed compressors, by name."""
    return collect("eventsourcing_compressors", "compressor")


def transcodings() -> List[Transcoding]:
    """Transcodings contributed by every installed plugin."""
    result: List[Transcoding] = []
    for contributed in get_plugin_manager().hook.eventsourcing_transcodings():
        result.extend(contributed)
    return result


def resolve_persistence_module(
    value: str, variable: str = "PERSISTENCE_MODULE"
) -> type[InfrastructureFactory]:
    """Resolve a persistence module name (``sqlite``) or topic
    (``eventsourcing.sqlite:Factory`` or ``eventsourcing.sqlite``)."""
    return resolve(value, variable, "persistence module", InfrastructureFactory, "Factory")


def resolve_cipher(value: str, variable: str = "CIPHER_TOPIC") -> type[Cipher]:
    """Resolve a cipher name (``aes``) or topic (``eventsourcing.cipher:AESCipher``)."""
    return resolve(value, variable, "cipher", Cipher)


def resolve_compressor(value: str, variable: str = "COMPRESSOR_TOPIC") -> type[Compressor]:
    """Resolve a compressor name (``zlib``) or topic
    (``eventsourcing.compressor:ZlibCompressor``)."""
    return resolve(value, variable, "compressor", Compressor)
