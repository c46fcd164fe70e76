"""Compressors for stored state (registered as ``zlib``)."""

from __future__ import annotations

import zlib

from eventsourcing.persistence import Compressor, DataError

__all__ = ["ZlibCompressor"]


class ZlibCompressor(Compressor):
    """Compresses with zlib at the default level (as eventsourcing 9.1 does)."""

    def compress(self, data: bytes) -> bytes:
        return zlib.compress(data)

    def decompress(self, data: bytes) -> bytes:
        try:
            return zlib.decompress(data)
        except zlib.error as e:
            raise DataError(f"Stored state could not be decompressed with zlib: {e}") from e
