"""``eventsourcing verify``: read every stored event and snapshot and check them.

Checks: each event decodes (cipher, compressor, transcoder) into its class
when the class's module is importable here (otherwise the state alone is
decoded, and the topic is reported as not checked); versions are contiguous
per aggregate; notification IDs strictly increase; snapshots decode and are
not beyond their aggregate's last event. Never writes.
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple
from uuid import UUID

from eventsourcing.cli.command import Command, CommandError, Context
from eventsourcing.cli.progress import Progress
from eventsourcing.cli.settings import Store
from eventsourcing.copying import EventScanning
from eventsourcing.persistence import Notification, ProgrammingError, StoredEvent
from eventsourcing.utils import TopicError, get_topic

__all__ = ["Verification", "VerifyCommand"]

# Problems kept for printing; beyond this only counted (a damaged store of
# millions of events must not exhaust memory).
_KEPT = 10_000
_PAGE = 10_000


class _Opaque:
    """Stands in for an event class whose module is not importable here."""


_OPAQUE_TOPIC = get_topic(_Opaque)


class Verification:
    """The state of one verification: counts, problems found, topics not checked."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.events = 0
        self.snapshots = 0
        self.gaps = 0
        self.first_id = 0
        self.last_id = 0
        self.versions: Dict[UUID, int] = {}  # last version seen, per aggregate
        # First (version, notification ID) seen, per aggregate.
        self.first_versions: Dict[UUID, Tuple[int, int]] = {}
        self.problems: List[str] = []
        self.problem_count = 0
        # Events and snapshots that failed to decode: said once if all of them did.
        self.undecodable: List[str] = []
        self.undecodable_count = 0
        self.decrypt_failures = 0
        self.unimportable: Dict[str, bool] = {}  # topic -> module importable here
        # Topics whose classes cannot be imported here: their states are decoded alone.
        self.stand_ins: Set[str] = set()
        self.snapshots_checked = True

    def problem(self, text: str) -> None:
        self.problem_count += 1
        if len(self.problems) < _KEPT:
            self.problems.append(text)

    def check_notifications(self, batch: Sequence[Notification]) -> None:
        """Check a page of notifications, following on from the pages before.

        The usual case (the next ID, the next version) takes the fewest steps:
        this loop runs once per event of the store.
        """
        to_domain_event = self.store.mapper.to_domain_event
        versions = self.versions
        stand_ins = self.stand_ins
        last_id = self.last_id
        if last_id == 0 and batch:
            self.first_id = batch[0].id
        for n in batch:
            nid = n.id
            if nid != last_id + 1:
                if nid <= last_id:
                    self.problem(
                        f"notification ID {nid} ({n.originator_id} v{n.originator_version}) "
                        f"does not follow {last_id}"
                    )
                else:
                    if last_id:
                        self.gaps += nid - last_id - 1
                    last_id = nid
            else:
                last_id = nid
            originator_id = n.originator_id
            version = n.originator_version
            previous = versions.get(originator_id)
            if previous != version - 1:
                if previous is None:
                    self.first_versions[originator_id] = (version, nid)
                else:
                    self.problem(
                        f"{originator_id} v{version}: version follows v{previous} "
                        f"(notification ID {nid})"
                    )
            versions[originator_id] = version
            if n.topic in stand_ins:
                self._decode_state(n, "event")
                continue
            try:
                to_domain_event(n)
            except Exception as e:
                self._failed(n, e, "event")
        self.last_id = last_id
        self.events += len(batch)

    def check_snapshots_page(self, batch: Sequence[StoredEvent]) -> None:
        to_domain_event = self.store.mapper.to_domain_event
        for s in batch:
            if s.topic in self.stand_ins:
                self._decode_state(s, "snapshot")
                continue
            try:
                to_domain_event(s)
            except Exception as e:
                self._failed(s, e, "snapshot")

    def check_range(self, start: int, stop: int) -> None:
        """Check the notifications with IDs from ``start`` to ``stop``."""
        for batch in self.store.notifications(start, stop=stop, page=_PAGE):
            self.check_notifications(batch)

    def absorb(self, later: Verification) -> None:
        """Add what was found in a range of IDs after this one's."""
        if later.events:
            if self.last_id:
                self.gaps += later.first_id - self.last_id - 1
            else:
                self.first_id = later.first_id
            self.last_id = later.last_id
        for originator_id, (first, nid) in later.first_versions.items():
            previous = self.versions.get(originator_id)
            if previous is None:
                self.first_versions[originator_id] = (first, nid)
            elif first != previous + 1:
                self.problem(
                    f"{originator_id} v{first}: version follows v{previous} (notification ID {nid})"
                )
        self.versions.update(later.versions)
        self.events += later.events
        self.gaps += later.gaps
        for text in later.problems:
            self.problem(text)
        self.problem_count += later.problem_count - len(later.problems)
        self.undecodable += later.undecodable[: _KEPT - len(self.undecodable)]
        self.undecodable_count += later.undecodable_count
        self.decrypt_failures += later.decrypt_failures
        self.unimportable.update(later.unimportable)

    def __getstate__(self) -> Dict[str, object]:
        # Sent back from a worker process without its store.
        return {k: v for k, v in self.__dict__.items() if k != "store"}

    def _failed(self, stored: StoredEvent, error: Exception, kind: str) -> None:
        if isinstance(error, TopicError) and not self._importable(stored.topic):
            # The class cannot be checked here: from now on, decode the state alone.
            self.stand_ins.add(stored.topic)
            self._decode_state(stored, kind)
            return
        self._undecodable(stored, error, kind)

    def _decode_state(self, stored: StoredEvent, kind: str) -> None:
        stand_in = StoredEvent(
            stored.originator_id, stored.originator_version, _OPAQUE_TOPIC, stored.state
        )
        try:
            self.store.mapper.to_domain_event(stand_in)
        except Exception as e:
            self._undecodable(stored, e, kind)

    def _undecodable(self, stored: StoredEvent, error: Exception, kind: str) -> None:
        text = f"{stored.originator_id} v{stored.originator_version} ({kind}): {error}"
        self.undecodable_count += 1
        if len(self.undecodable) < _KEPT:
            self.undecodable.append(text)
        cipher = self.store.cipher
        if cipher is not None and not _decrypts(cipher, stored.state):
            self.decrypt_failures += 1

    def _importable(self, topic: str) -> bool:
        known = self.unimportable.get(topic)
        if known is None:
            module = topic.partition(":")[0]
            # The command's own __main__ is not the module that wrote the event.
            known = module != "__main__"
            if known:
                try:
                    importlib.import_module(module)
                except ImportError:
                    known = False
            self.unimportable[topic] = known
        return known

    def check_snapshots(self) -> None:
        recorder = self.store.snapshots
        if not isinstance(recorder, EventScanning):
            self.snapshots_checked = False
            return
        after: Optional[tuple[UUID, int]] = None
        while True:
            try:
                batch = recorder.scan_stored_events(after, limit=_PAGE)
            except ProgrammingError:
                return  # no snapshots table: nothing to check
            if not batch:
                return
            self.snapshots += len(batch)
            for s in batch:
                last = self.versions.get(s.originator_id)
                if last is None or s.originator_version > last:
                    self.problem(
                        f"{s.originator_id} v{s.originator_version} (snapshot): beyond the "
                        f"aggregate's last event ({'none' if last is None else f'v{last}'})"
                    )
            self.check_snapshots_page(batch)
            after = (batch[-1].originator_id, batch[-1].originator_version)

    def report(self) -> List[str]:
        """The problems, each on a line; decode failures of every event said once."""
        lines = list(self.problems)
        stored = self.events + self.snapshots
        if self.undecodable_count and self.undecodable_count == stored:
            what = f"every stored event and snapshot ({stored:,})"
            if self.decrypt_failures == stored:
                lines.append(
                    f"{what} failed to decrypt: the cipher key is not this store's "
                    "(check CIPHER_KEY)"
                )
            else:
                lines.append(
                    f"{what} failed to decode, e.g. {self.undecodable[0]} "
                    "(check CIPHER_KEY and COMPRESSOR_TOPIC)"
                )
        else:
            lines.extend(self.undecodable)
        hidden = self.problem_count - len(self.problems)
        if self.undecodable_count != stored:
            hidden += self.undecodable_count - len(self.undecodable)
        if hidden > 0:
            lines.append(f"... and {hidden:,} more problems")
        return lines

    def failed(self) -> bool:
        return bool(self.problem_count or self.undecodable_count)

    def summary(self) -> str:
        ids = f"IDs {self.first_id}..{self.last_id}, " if self.events else ""
        text = (
            f"{self.events:,} events of {len(self.versions):,} aggregates ({ids}"
            f"{self.gaps:,} missing IDs), {self.snapshots:,} snapshots"
        )
        problems = self.problem_count + self.undecodable_count
        text += f": {problems:,} problems" if problems else ": no problems"
        unchecked = sorted(t for t, ok in self.unimportable.items() if not ok)
        if unchecked:
            text += (
                f"; {len(unchecked)} topics not importable here (state decoded, class "
                f"not checked): {', '.join(unchecked)}"
            )
        if not self.snapshots_checked:
            text += "; snapshots not checked (the recorder cannot list them)"
        return text


def _decrypts(cipher: object, state: bytes) -> bool:
    try:
        cipher.decrypt(state)  # type: ignore[attr-defined]
    except Exception:
        return False
    return True


def _verify_range(env: Mapping[str, str], app: str, start: int, stop: int) -> Verification:
    """In a worker process: check one range of notification IDs."""
    with Store(env, app) as store:
        verification = Verification(store)
        verification.check_range(start, stop)
        return verification


class VerifyCommand(Command):
    name = "verify"
    help = "read every event and snapshot and check that the store is sound (never writes)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--jobs",
            type=int,
            metavar="N",
            default=1,
            help="check the events in N processes, each a range of notification IDs "
            "(default 1): decoding is CPU-bound, so this helps on a machine with idle CPUs",
        )

    def run(self, args: argparse.Namespace, context: Context) -> int:
        jobs = args.jobs
        if jobs < 1:
            raise CommandError(f"--jobs must be at least 1, got {jobs}")
        app = context.app()
        with Store(context.env, app) as store:
            last = store.max_notification_id()
            verification = Verification(store)
            progress = context.progress("verify", total=last)
            try:
                if jobs > 1:
                    self._in_parallel(verification, context, app, last, jobs, progress)
                else:
                    for batch in store.notifications(page=_PAGE):
                        verification.check_notifications(batch)
                        progress.advance(len(batch), batch[-1].id)
                verification.check_snapshots()
            finally:
                progress.close()
            for line in verification.report():
                context.out.write(line + "\n")
            context.out.write(f"verified {store.describe()}: {verification.summary()}\n")
            return 1 if verification.failed() else 0

    @staticmethod
    def _in_parallel(
        verification: Verification,
        context: Context,
        app: str,
        last: int,
        jobs: int,
        progress: Progress,
    ) -> None:
        """Decoding is most of the work and needs a CPU: split the IDs into
        ranges, check each in a worker process, and join the results in order
        (versions that continue across ranges are checked when joining).

        Measured on 1,000,000 events (2 CPUs shared with other work, load 8):
        one process 10.4 s CPU, 29.9 s wall; two workers 12.3 s CPU in all,
        35.6 s wall. So it pays only where CPUs are idle: not the default.
        """
        size = max(1, -(-last // (jobs * 4)))
        ranges = [(start, min(start + size - 1, last)) for start in range(1, last + 1, size)]
        # "spawn": a worker must not inherit the parent's connections or threads.
        workers = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))
        with workers:
            env = dict(context.env)
            futures = [workers.submit(_verify_range, env, app, a, b) for a, b in ranges]
            for future, (_, stop) in zip(futures, ranges, strict=True):
                part = future.result()
                verification.absorb(part)
                progress.advance(part.events, stop)
