"""Compressors for stored state (``ZlibCompressor`` is registered as ``zlib``).

``ModuleCompressor`` (9.1's module-as-compressor, ``COMPRESSOR_TOPIC=bz2``)
lives beside the ``Compressor`` port in :mod:`eventsourcing.persistence`,
which selects it, and is importable from here too.
"""

from __future__ import annotations

import zlib

from eventsourcing.persistence import Compressor, DataError, ModuleCompressor

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
