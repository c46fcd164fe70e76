"""The core's built-in plugin: the in-memory backend, zlib, default transcodings,
and the ``eventsourcing`` command's own subcommands.

Registered by :func:`eventsourcing.plugins.get_plugin_manager` under the name
``core``. Imports are deferred to the hook calls so that loading plugins
stays cheap and free of import cycles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Mapping

from eventsourcing.hookspecs import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from eventsourcing.cli.command import Command
    from eventsourcing.persistence import Compressor, InfrastructureFactory, Transcoding


@hookimpl
def eventsourcing_persistence_modules() -> Mapping[str, type[InfrastructureFactory]]:
    from eventsourcing.popo import Factory

    return {"popo": Factory}


@hookimpl
def eventsourcing_compressors() -> Mapping[str, type[Compressor]]:
    from eventsourcing.compressor import ZlibCompressor

    return {"zlib": ZlibCompressor}


@hookimpl
def eventsourcing_transcodings() -> Iterable[Transcoding]:
    from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, UUIDAsHex

    return [UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()]


@hookimpl
def eventsourcing_commands() -> Iterable[Command]:
    from eventsourcing.cli.builtin import COMMANDS

    return [command() for command in COMMANDS]
