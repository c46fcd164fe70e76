"""Encryption is an optional distribution: without it, asking for it says what to install.

Installs eventsourcing-core alone into a new virtual environment (pluggy and
hatchling come from the package registry), probes every way of selecting
the AES cipher, then installs eventsourcing-crypto into the same environment
and probes again, so the failure is shown to be caused by the missing package.
"""

from __future__ import annotations

import json
import subprocess
import venv
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]

PROBE = r"""
import importlib.util, json
from eventsourcing.persistence import InfrastructureFactory, JSONTranscoder

KEY = "AAAAAAAAAAAAAAAAAAAAAA=="  # 16 zero bytes, base64
result = {"crypto_spec": importlib.util.find_spec("Crypto") is not None}
for name, env in [
    ("name", {"CIPHER_TOPIC": "aes", "CIPHER_KEY": KEY}),
    ("topic", {"CIPHER_TOPIC": "eventsourcing.cipher:AESCipher", "CIPHER_KEY": KEY}),
    ("key-only", {"CIPHER_KEY": KEY}),
]:
    try:
        mapper = InfrastructureFactory.construct(env=env).mapper(JSONTranscoder())
    except Exception as e:
        result[name] = {"error": type(e).__name__, "message": str(e)}
    else:
        cipher = mapper.cipher
        result[name] = {
            "cipher": type(cipher).__module__ + ":" + type(cipher).__qualname__,
            "round_trip": cipher.decrypt(cipher.encrypt(b"probe")).decode(),
        }
print(json.dumps(result))
"""


def _pip_install(python: Path, *packages: Path) -> None:
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        + [str(p) for p in packages],
        check=True,
        capture_output=True,
        timeout=600,
    )


def _probe(python: Path, cwd: Path) -> dict[str, Any]:
    out = subprocess.run(
        [str(python), "-c", PROBE], check=True, capture_output=True, text=True, cwd=cwd
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


@pytest.mark.slow
def test_core_without_crypto_says_to_install_it(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    _pip_install(python, ROOT / "packages" / "eventsourcing-core")

    without = _probe(python, tmp_path)
    assert without["crypto_spec"] is False
    assert without["name"]["error"] == "ConfigurationError"
    assert without["name"]["message"].startswith("CIPHER_TOPIC='aes' is not an installed cipher")
    assert without["key-only"]["error"] == "ConfigurationError"
    assert without["key-only"]["message"].startswith(
        "CIPHER_KEY is set without CIPHER_TOPIC, which selects the default cipher 'aes'"
    )
    assert without["topic"]["error"] == "TopicError"
    for name in ("name", "topic", "key-only"):
        assert "pip install eventsourcing-crypto" in without[name]["message"]

    _pip_install(python, ROOT / "packages" / "eventsourcing-crypto")
    with_crypto = _probe(python, tmp_path)
    assert with_crypto["crypto_spec"] is True
    for name in ("name", "topic", "key-only"):
        assert with_crypto[name] == {
            "cipher": "eventsourcing.cipher:AESCipher",
            "round_trip": "probe",
        }
