"""The core's plugin: the in-memory backend, zlib, default transcodings.

Loaded like every other plugin, from the ``eventsourcing`` entry-point group
(``core = "eventsourcing.builtin"`` in eventsourcing-core's metadata), and
registered first (see :mod:`eventsourcing.registry`).
"""

from __future__ import annotations

from typing import Iterable, Mapping

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


@hookimpl
def eventsourcing_persistence_modules() -> Mapping[str, type[InfrastructureFactory]]:
    return {"popo": Factory}


@hookimpl
def eventsourcing_compressors() -> Mapping[str, type[Compressor]]:
    return {"zlib": ZlibCompressor}


@hookimpl
def eventsourcing_transcodings() -> Iterable[Transcoding]:
    return [UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()]
