"""The core's plugin: the in-memory backend, zlib, default transcodings,
and the ``eventsourcing`` command's own subcommands.

Loaded like every other plugin, from the ``eventsourcing`` entry-point group
(``core = "eventsourcing.builtin"`` in eventsourcing-core's metadata), and
registered first (see :mod:`eventsourcing.registry`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Mapping

from eventsourcing.compressor import ZlibCompressor
from eventsourcing.persistence import (
    Compressor,
    DatetimeAsISO,
    DecimalAsStr,
    InfrastructureFactory,
    Transcoding,
    UUIDAsHex,
)
from eventsourcing.plugins import hookimpl
from eventsourcing.popo import Factory

if TYPE_CHECKING:  # pragma: no cover
    from eventsourcing.cli.command import Command


@hookimpl
def eventsourcing_persistence_modules() -> Mapping[str, type[InfrastructureFactory]]:
    return {"popo": Factory}


@hookimpl
def eventsourcing_compressors() -> Mapping[str, type[Compressor]]:
    return {"zlib": ZlibCompressor}


@hookimpl
def eventsourcing_transcodings() -> Iterable[Transcoding]:
    return [UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()]


@hookimpl
def eventsourcing_commands() -> Iterable[Command]:
    from eventsourcing.cli.builtin import COMMANDS  # deferred: see tests/test_import_graph.py

    return [command() for command in COMMANDS]
