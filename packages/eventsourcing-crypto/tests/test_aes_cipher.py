"""AESCipher on its own: keys, round trips, the standard format, tampering."""

from __future__ import annotations

from base64 import b64decode, b64encode

import pytest

from eventsourcing.cipher import AESCipher, DecryptionError
from eventsourcing.persistence import Cipher, DataError, PersistenceError

# Known answers from "The Galois/Counter Mode of Operation (GCM)", McGrew and
# Viega (the GCM specification, reproduced in NIST SP 800-38D's validation
# material), Appendix B: the test cases with a 96-bit IV and no additional
# authenticated data, which is how AESCipher uses GCM.
_K128 = "feffe9928665731c6d6a8f9467308308"
_IV = "cafebabefacedbaddecaf888"
_P64 = (
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
)
GCM_SPEC_VECTORS = [
    # (name, key, iv, plaintext, ciphertext, tag)
    ("test case 1", "00" * 16, "00" * 12, "", "", "58e2fccefa7e3061367f1d57a4e7455a"),
    (
        "test case 2",
        "00" * 16,
        "00" * 12,
        "00" * 16,
        "0388dace60b6a392f328c2b971b2fe78",
        "ab6e47d42cec13bdf53a67b21257bddf",
    ),
    (
        "test case 3",
        _K128,
        _IV,
        _P64,
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
        "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
        "4d5c2af327cd64a62cf35abd2ba6fab4",
    ),
    (
        "test case 9",
        _K128 + _K128[:16],
        _IV,
        _P64,
        "3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c"
        "7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710acade256",
        "9924a7c8587336bfb118024db8674a14",
    ),
    (
        "test case 15",
        _K128 + _K128,
        _IV,
        _P64,
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
        "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
        "b094dac5d93471bdec1a502270e3cc6c",
    ),
]


class FixedNonceCipher(AESCipher):
    """Real AES-GCM with a chosen nonce, only to compare with published vectors."""

    def __init__(self, cipher_key: str, nonce: bytes) -> None:
        super().__init__(cipher_key)
        self.nonce = nonce

    def random_bytes(self, num_bytes: int) -> bytes:  # type: ignore[override]
        assert num_bytes == len(self.nonce)
        return self.nonce


def key_of(hex_key: str) -> str:
    return b64encode(bytes.fromhex(hex_key)).decode()


@pytest.mark.parametrize(
    "name, key, iv, plaintext, ciphertext, tag",
    GCM_SPEC_VECTORS,
    ids=[v[0] for v in GCM_SPEC_VECTORS],
)
def test_known_answers_from_the_gcm_specification(
    name: str, key: str, iv: str, plaintext: str, ciphertext: str, tag: str
) -> None:
    expected = bytes.fromhex(iv + tag + ciphertext)
    encrypted = FixedNonceCipher(key_of(key), bytes.fromhex(iv)).encrypt(bytes.fromhex(plaintext))
    assert encrypted.hex() == expected.hex()
    # And the published bytes, laid out as nonce + tag + data, decrypt.
    assert AESCipher(key_of(key)).decrypt(expected) == bytes.fromhex(plaintext)


def test_is_a_cipher_and_its_error_is_a_persistence_data_error() -> None:
    assert issubclass(AESCipher, Cipher)
    assert issubclass(DecryptionError, DataError)
    assert issubclass(DecryptionError, PersistenceError)


@pytest.mark.parametrize("num_bytes", [16, 24, 32])
def test_create_key_makes_base64_of_the_requested_size(num_bytes: int) -> None:
    key = AESCipher.create_key(num_bytes)
    assert isinstance(key, str)
    assert len(b64decode(key, validate=True)) == num_bytes
    assert key != AESCipher.create_key(num_bytes)  # random, not fixed


@pytest.mark.parametrize("num_bytes", [0, 8, 15, 17, 31, 33, 64, -16, True])
def test_create_key_rejects_other_sizes_naming_the_accepted_ones(num_bytes: int) -> None:
    with pytest.raises(ValueError, match="accepted sizes are 16, 24, 32 bytes"):
        AESCipher.create_key(num_bytes)


@pytest.mark.parametrize("num_bytes", [16, 24, 32])
@pytest.mark.parametrize("plaintext", [b"", b"x", b'{"name": "Alice"}', bytes(range(256)) * 40])
def test_round_trip(num_bytes: int, plaintext: bytes) -> None:
    cipher = AESCipher(AESCipher.create_key(num_bytes))
    ciphertext = cipher.encrypt(plaintext)
    assert len(ciphertext) == 12 + 16 + len(plaintext)
    assert cipher.decrypt(ciphertext) == plaintext
    # A fresh nonce each time: equal plaintexts do not give equal ciphertexts.
    again = cipher.encrypt(plaintext)
    assert again[:12] != ciphertext[:12]
    assert cipher.decrypt(again) == plaintext


def test_another_instance_with_the_same_key_decrypts() -> None:
    key = AESCipher.create_key(16)
    assert AESCipher(key).decrypt(AESCipher(key).encrypt(b"shared")) == b"shared"


def test_key_surrounded_by_whitespace_is_accepted() -> None:
    key = AESCipher.create_key(24)
    ciphertext = AESCipher(key).encrypt(b"data")
    assert AESCipher(f" {key}\n").decrypt(ciphertext) == b"data"


@pytest.mark.parametrize(
    "bad_key, message",
    [
        ("", "accepted sizes are 16, 24, 32 bytes"),
        (b64encode(b"k" * 20).decode(), "accepted sizes are 16, 24, 32 bytes"),
        ("not base64!", "not valid base64"),
        ("abc", "not valid base64"),
        ("clé" * 8, "not valid base64"),
    ],
)
def test_invalid_keys_are_value_errors(bad_key: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        AESCipher(bad_key)
    if bad_key:
        assert bad_key not in str(info.value)  # the key is a secret


def test_key_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="base64 str"):
        AESCipher(b64encode(b"k" * 16))  # type: ignore[arg-type]


def test_repr_does_not_reveal_the_key() -> None:
    key = AESCipher.create_key(32)
    assert key not in repr(AESCipher(key))
    assert "256-bit" in repr(AESCipher(key))


AUTH_MESSAGE = "could not be authenticated"


def test_wrong_key_fails_clearly() -> None:
    ciphertext = AESCipher(AESCipher.create_key(32)).encrypt(b"secret state")
    with pytest.raises(DecryptionError, match=AUTH_MESSAGE):
        AESCipher(AESCipher.create_key(32)).decrypt(ciphertext)


@pytest.mark.parametrize("position", ["nonce", "tag", "data"])
def test_any_flipped_bit_fails_clearly(position: str) -> None:
    cipher = AESCipher(AESCipher.create_key(16))
    ciphertext = cipher.encrypt(b"0123456789abcdef")
    index = {"nonce": 3, "tag": 12 + 7, "data": 28 + 5}[position]
    for bit in range(8):
        damaged = bytearray(ciphertext)
        damaged[index] ^= 1 << bit
        with pytest.raises(DecryptionError, match=AUTH_MESSAGE):
            cipher.decrypt(bytes(damaged))


@pytest.mark.parametrize("length", [0, 1, 11, 12, 20, 27])
def test_truncated_nonce_or_tag_fails_clearly(length: int) -> None:
    cipher = AESCipher(AESCipher.create_key(16))
    ciphertext = cipher.encrypt(b"payload")
    with pytest.raises(DecryptionError, match=f"{AUTH_MESSAGE}.*too short"):
        cipher.decrypt(ciphertext[:length])


def test_truncated_or_extended_data_fails_clearly() -> None:
    cipher = AESCipher(AESCipher.create_key(16))
    ciphertext = cipher.encrypt(b"payload")
    for damaged in (ciphertext[:-1], ciphertext[:28], ciphertext + b"\x00"):
        with pytest.raises(DecryptionError, match=AUTH_MESSAGE):
            cipher.decrypt(damaged)


def test_plaintext_that_was_never_encrypted_fails_clearly() -> None:
    cipher = AESCipher(AESCipher.create_key(16))
    with pytest.raises(DecryptionError, match=AUTH_MESSAGE):
        cipher.decrypt(b'{"name": "not encrypted at all, but long enough"}')


# eventsourcing 9.1.9's public AESCipher API and error type.


def test_a_wrong_key_is_caught_as_value_error_as_in_91_with_the_clearer_message() -> None:
    ciphertext = AESCipher(AESCipher.create_key(16)).encrypt(b"secret")
    with pytest.raises(ValueError, match="encrypted with a different key") as info:
        AESCipher(AESCipher.create_key(16)).decrypt(ciphertext)
    assert isinstance(info.value, DataError)


def test_key_sizes_and_check_key_size_are_public_as_in_91() -> None:
    assert tuple(AESCipher.KEY_SIZES) == (16, 24, 32)
    for size in AESCipher.KEY_SIZES:
        AESCipher.check_key_size(size)
    with pytest.raises(ValueError, match="Invalid AES key size: 20 bytes"):
        AESCipher.check_key_size(20)


def test_random_bytes_gives_fresh_bytes_of_the_requested_length() -> None:
    first, second = AESCipher.random_bytes(12), AESCipher.random_bytes(12)
    assert len(first) == len(second) == 12
    assert first != second


def test_construct_cipher_makes_the_gcm_cipher_that_encrypt_uses() -> None:
    cipher = AESCipher(AESCipher.create_key(32))
    nonce = AESCipher.random_bytes(12)
    encrypted, tag = cipher.construct_cipher(nonce).encrypt_and_digest(b"state")
    # Bytes laid out as encrypt() lays them out decrypt with the same key.
    assert cipher.decrypt(nonce + tag + encrypted) == b"state"
