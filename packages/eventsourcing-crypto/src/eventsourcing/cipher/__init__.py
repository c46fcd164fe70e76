"""AES-GCM cipher for stored state, registered as the cipher named ``aes``.

The byte format is the one eventsourcing 9.1 writes, so stored events can be
read by either library: a 12-byte nonce, the 16-byte GCM tag, then the
encrypted data. The key is the base64 encoding of 16, 24 or 32 random bytes.

pycryptodome is imported when a cipher is constructed, not with this module:
the plugin that registers ``aes`` (:mod:`eventsourcing.cipher.plugin`) is a
module of this package, and every process that loads plugins (every
application, ``eventsourcing --help``) would otherwise pay for importing it
(about 10 ms of CPU), a cipher selected or not.
"""

from __future__ import annotations

import binascii
import os
from base64 import b64decode, b64encode
from typing import Any

from eventsourcing.persistence import Cipher, DataError

__all__ = ["KEY_SIZES", "NONCE_SIZE", "TAG_SIZE", "AESCipher", "DecryptionError"]

KEY_SIZES = (16, 24, 32)
NONCE_SIZE = 12
TAG_SIZE = 16

_ACCEPTED_SIZES = ", ".join(str(n) for n in KEY_SIZES)


class DecryptionError(DataError, ValueError):
    """Stored state could not be authenticated: damaged, truncated or wrong key.

    A :class:`~eventsourcing.persistence.DataError`, so that code handling
    persistence errors also handles state it cannot trust; and a ``ValueError``,
    which is what eventsourcing 9.1's cipher raised, so 9.1 code that catches
    that keeps working.
    """


class AESCipher(Cipher):
    """Authenticated encryption with AES in GCM mode (pycryptodome).

    GCM authenticates as well as encrypts, so a wrong key or altered bytes
    are detected and reported instead of yielding garbage plaintext.
    """

    KEY_SIZES = KEY_SIZES

    def __init__(self, cipher_key: str) -> None:
        if not isinstance(cipher_key, str):
            raise TypeError(
                f"cipher_key must be a base64 str (see AESCipher.create_key()), "
                f"got {type(cipher_key).__name__}"
            )
        try:
            key = b64decode(cipher_key.strip().encode("ascii"), validate=True)
        except (UnicodeEncodeError, binascii.Error):
            # Never echo the key: it is a secret.
            raise ValueError(
                "cipher_key is not valid base64 (make one with AESCipher.create_key())"
            ) from None
        self.check_key_size(len(key))
        self._key = key
        from Crypto.Cipher import AES  # deferred: see the module's docstring

        self._aes = AES

    @staticmethod
    def create_key(num_bytes: int) -> str:
        """Return a new random key of ``num_bytes`` (16, 24 or 32), as base64."""
        AESCipher.check_key_size(num_bytes)
        return b64encode(AESCipher.random_bytes(num_bytes)).decode("ascii")

    @staticmethod
    def check_key_size(num_bytes: int) -> None:
        """Raise ``ValueError`` unless ``num_bytes`` is an AES key size."""
        if isinstance(num_bytes, bool) or num_bytes not in KEY_SIZES:
            raise ValueError(
                f"Invalid AES key size: {num_bytes!r} bytes; "
                f"accepted sizes are {_ACCEPTED_SIZES} bytes"
            )

    @staticmethod
    def random_bytes(num_bytes: int) -> bytes:
        """Cryptographically strong random bytes, for keys and nonces."""
        # What pycryptodome's get_random_bytes() is.
        return os.urandom(num_bytes)

    def construct_cipher(self, nonce: bytes) -> Any:
        """A new AES-GCM cipher object for this key and ``nonce``.

        A GCM cipher object encrypts or decrypts one message only, so each
        call to :meth:`encrypt` and :meth:`decrypt` constructs its own. That
        is most of their cost (measured 60 to 90 µs per 200-byte state, the
        same as pycryptodome's calls alone, within the noise): pycryptodome
        builds three AES objects and a GHASH table per message, and keeping
        those of a key between messages would need its private modules.
        """
        return self._aes.new(self._key, self._aes.MODE_GCM, nonce=nonce)

    def encrypt(self, plaintext: bytes) -> bytes:
        """Return nonce + tag + ciphertext of ``plaintext``."""
        # A fresh random nonce: GCM is only secure if a nonce is never reused.
        nonce = self.random_bytes(NONCE_SIZE)
        aes = self.construct_cipher(nonce)
        encrypted: bytes
        tag: bytes
        encrypted, tag = aes.encrypt_and_digest(plaintext)
        return nonce + tag + encrypted

    def decrypt(self, ciphertext: bytes) -> bytes:
        """Return the plaintext; raise :class:`DecryptionError` unless authentic."""
        if len(ciphertext) < NONCE_SIZE + TAG_SIZE:
            raise DecryptionError(
                f"Stored state could not be authenticated: {len(ciphertext)} bytes "
                f"is too short to hold the {NONCE_SIZE}-byte nonce and "
                f"{TAG_SIZE}-byte tag (damaged or not encrypted with AESCipher)"
            )
        nonce = ciphertext[:NONCE_SIZE]
        tag = ciphertext[NONCE_SIZE : NONCE_SIZE + TAG_SIZE]
        encrypted = ciphertext[NONCE_SIZE + TAG_SIZE :]
        aes = self.construct_cipher(nonce)
        try:
            plaintext: bytes = aes.decrypt_and_verify(encrypted, tag)
        except ValueError as e:
            raise DecryptionError(
                "Stored state could not be authenticated: the ciphertext is damaged "
                "or was encrypted with a different key"
            ) from e
        return plaintext

    def __repr__(self) -> str:
        # Never show the key.
        return f"{type(self).__name__}(<{len(self._key) * 8}-bit key>)"
