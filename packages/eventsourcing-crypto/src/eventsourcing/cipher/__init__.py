"""AES-GCM cipher (placeholder until its own issue lands)."""

from __future__ import annotations

from eventsourcing.persistence import Cipher


class AESCipher(Cipher):
    """Placeholder: not built yet."""

    def __init__(self, cipher_key: str) -> None:
        raise NotImplementedError("AESCipher is not built yet")

    def encrypt(self, plaintext: bytes) -> bytes:
        raise NotImplementedError

    def decrypt(self, ciphertext: bytes) -> bytes:
        raise NotImplementedError
