"""Settings for the command: the environment, ``--env`` files, opening a store.

A store is opened exactly as an application opens it: the persistence
module, cipher, compressor and transcodings are selected by
:meth:`InfrastructureFactory.construct` and :meth:`InfrastructureFactory.mapper`
from the same variables, with the same application-name prefixes. Only the
merging of sources is here: ``os.environ``, then the file (which wins, as an
application's ``env`` argument does).
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, TypeVar

from eventsourcing.cli.command import CommandError
from eventsourcing.persistence import (
    InfrastructureFactory,
    JSONTranscoder,
    Notification,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.plugins import persistence_modules, transcodings
from eventsourcing.popo import Factory as PopoFactory
from eventsourcing.utils import get_topic

__all__ = ["Store", "optional_table", "read_env_file", "redact", "settings"]

_SECRET_MARKERS = ("PASSWORD", "KEY", "SECRET", "TOKEN")

T = TypeVar("T")


def read_env_file(path: str) -> Dict[str, str]:
    """Read ``KEY=VALUE`` lines (blank lines and ``#`` comments ignored,
    ``export`` and matching quotes around the value allowed)."""
    try:
        with open(path, encoding="utf8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise CommandError(f"cannot read settings file {path!r}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise CommandError(f"settings file {path!r} is not UTF-8 text") from None
    values: Dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("export "):
            text = text[len("export ") :].lstrip()
        key, equals, value = text.partition("=")
        key, value = key.strip(), value.strip()
        if not equals or not key or not key.replace("_", "").replace(".", "").isalnum():
            raise CommandError(
                f"settings file {path!r} line {number}: expected KEY=VALUE, got {key!r}"
            )
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def settings(env_file: Optional[str]) -> Dict[str, str]:
    """The process environment, overlaid with ``env_file`` if given."""
    merged = dict(os.environ)
    if env_file is not None:
        merged.update(read_env_file(env_file))
    return merged


def redact(text: str, *envs: Mapping[str, str]) -> str:
    """``text`` with the value of every password, key or secret replaced by ``***``."""
    secrets = {
        value
        for env in envs
        for key, value in env.items()
        if len(value) >= 4 and any(marker in key.upper() for marker in _SECRET_MARKERS)
    }
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _read_only(env: Mapping[str, str]) -> Dict[str, str]:
    """``env`` with tables never created, whatever prefixed variable said otherwise."""
    key = InfrastructureFactory.CREATE_TABLE
    result = {k: v for k, v in env.items() if k != key and not k.endswith("_" + key)}
    result[key] = "false"
    return result


class Store:
    """One application's events, snapshots and tracking records, as settings select them.

    Opened read-only (no tables created) unless ``writable``. The in-memory
    ``popo`` module is refused: a new process would see an empty store.
    """

    def __init__(self, env: Mapping[str, str], app: str, writable: bool = False) -> None:
        self.app = app
        self.env = dict(env) if writable else _read_only(env)
        factory = InfrastructureFactory.construct(application_name=app, env=self.env)
        self.factory = factory
        try:
            if isinstance(factory, PopoFactory):
                raise CommandError(
                    "no durable persistence module is selected (PERSISTENCE_MODULE is "
                    "unset or 'popo', whose events live only in the memory of one "
                    "process): set PERSISTENCE_MODULE, or give the settings with --env FILE"
                )
            self.recorder = factory.process_recorder()
            self.snapshots = factory.aggregate_recorder("snapshots")
            transcoder = JSONTranscoder()
            for transcoding in transcodings():
                transcoder.register(transcoding)
            self.mapper = factory.mapper(transcoder=transcoder, application_name=app)
        except BaseException:
            factory.close()
            raise
        self.cipher = self.mapper.cipher
        self.compressor = self.mapper.compressor
        # Which key encrypts this store, to tell whether two stores share it
        # (a digest: the key itself is kept nowhere else).
        key = factory.getenv(InfrastructureFactory.CIPHER_KEY) if self.cipher else None
        self.cipher_identity = (
            (type(self.cipher), hashlib.sha256(key.encode()).hexdigest()) if key else None
        )

    def describe(self) -> str:
        """Which store this is, for messages (never a password or key)."""
        names = [n for n, c in persistence_modules().items() if c is type(self.factory)]
        module = names[0] if names else get_topic(type(self.factory))
        where = f"application {self.app!r}" if self.app else "no application name"
        return f"{module} store ({where})"

    def max_notification_id(self) -> int:
        """The largest notification ID; a store without an events table is refused."""
        try:
            return self.recorder.max_notification_id()
        except ProgrammingError as e:
            raise CommandError(f"no stored events found in the {self.describe()}: {e}") from e

    def notifications(
        self,
        start: int = 1,
        stop: Optional[int] = None,
        page: int = 10_000,
        topics: Sequence[str] = (),
    ) -> Iterator[List[Notification]]:
        """Pages of notifications with ``start <= id <= stop``, ascending."""
        while True:
            batch = self.recorder.select_notifications(start, page, stop=stop, topics=topics)
            if not batch:
                return
            yield batch
            if len(batch) < page:
                return
            start = batch[-1].id + 1

    def plaintext(self, state: bytes) -> bytes:
        """``state`` decrypted and decompressed (raises if it cannot be)."""
        if self.cipher is not None:
            state = self.cipher.decrypt(state)
        if self.compressor is not None:
            state = self.compressor.decompress(state)
        return state

    def decode_state(self, stored: StoredEvent) -> Any:
        """The stored state as the JSON value it was written as."""
        return json.loads(self.plaintext(stored.state))

    def close(self) -> None:
        self.factory.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def optional_table(read: Callable[[], List[T]]) -> List[T]:
    """``read()``, or nothing if its table does not exist (snapshots, tracking)."""
    try:
        return read()
    except ProgrammingError:
        return []
