"""Compressors for stored state (``ZlibCompressor`` is registered as ``zlib``)."""

from __future__ import annotations

import zlib
from typing import Any

from eventsourcing.persistence import Compressor, DataError

__all__ = ["ModuleCompressor", "ZlibCompressor"]


class ZlibCompressor(Compressor):
    """Compresses with zlib at the default level, byte-compatible with 9.1."""

    def compress(self, data: bytes) -> bytes:
        return zlib.compress(data)

    def decompress(self, data: bytes) -> bytes:
        try:
            return zlib.decompress(data)
        except zlib.error as e:
            raise DataError(f"Stored state could not be decompressed with zlib: {e}") from e


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
