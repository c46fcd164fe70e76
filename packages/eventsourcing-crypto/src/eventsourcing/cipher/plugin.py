"""Plugin registering the AES-GCM cipher as ``aes``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from eventsourcing.plugins import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from eventsourcing.persistence import Cipher


@hookimpl
def eventsourcing_ciphers() -> Mapping[str, type[Cipher]]:
    # Deferred on purpose: pycryptodome is only needed once a cipher is selected.
    from eventsourcing.cipher import AESCipher

    return {"aes": AESCipher}
