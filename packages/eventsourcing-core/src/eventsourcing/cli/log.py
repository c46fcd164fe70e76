"""``eventsourcing log``: the notification log, one line per event; ``--follow`` tails it.

``--follow`` reads through the recorder's subscription
(:meth:`~eventsourcing.persistence.ApplicationRecorder.subscribe`), so it
prints events as they are committed (PostgreSQL: woken by LISTEN/NOTIFY;
SQLite: by commits in this process, and by polling for other processes'),
and ends cleanly on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from contextlib import contextmanager
from itertools import chain
from typing import Callable, Iterator, List, Optional, Sequence, TextIO

from eventsourcing.cli.command import Command, Context
from eventsourcing.cli.display import event_json, event_text
from eventsourcing.cli.progress import is_terminal
from eventsourcing.cli.settings import Store
from eventsourcing.persistence import Notification
from eventsourcing.subscription import Subscription

__all__ = ["LogCommand", "follow"]

_PAGE = 1000
# Signals that end ``log --follow``: after the events read so far are printed,
# with exit status 0 (following ends only this way, or at --limit).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Stop(Exception):
    """Raised in the main thread by a stop signal's handler."""


def follow(
    subscription: Subscription,
    write: Callable[[Notification], None],
    limit: Optional[int] = None,
) -> int:
    """Write what ``subscription`` yields, live, until ``limit`` events were
    written or SIGINT or SIGTERM arrives; return how many were written.

    The subscription is iterated in a thread of its own, and the main thread
    waits for it: a signal handler runs in the main thread, between two of its
    bytecodes, and there it must not call :meth:`Subscription.stop`, which
    takes locks the iteration may be holding at that moment. So the handler
    only raises; the main thread then stops the subscription (which wakes a
    waiting iteration at once: PostgreSQL's LISTEN, SQLite's commit signal)
    and waits for the thread to print what it has read.
    """
    written = 0
    failure: List[BaseException] = []
    # Waited for rather than Thread.join(): a join interrupted by an exception
    # takes the thread for finished (CPython's bpo-45274 handling).
    done = threading.Event()

    def run() -> None:
        nonlocal written
        try:
            for notification in subscription:
                write(notification)
                written += 1
                if written == limit:
                    break
        except BaseException as e:  # re-raised in the main thread
            failure.append(e)
        finally:
            done.set()

    threading.Thread(target=run, name="eventsourcing-log-follow", daemon=True).start()
    try:
        with _raising_on(STOP_SIGNALS):
            done.wait()
    except _Stop:
        pass
    # A second signal from here on has its usual effect (SIGINT: exit status 130).
    subscription.stop()
    done.wait()
    if failure:
        raise failure[0]
    return written


@contextmanager
def _raising_on(signals: Sequence[signal.Signals]) -> Iterator[None]:
    """Turn the first of ``signals`` into :class:`_Stop` in the main thread
    (elsewhere, signals cannot be handled: nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = False

    def handler(signum: int, frame: object) -> None:
        nonlocal stopping
        if not stopping:  # a second signal while stopping changes nothing
            stopping = True
            raise _Stop

    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        stopping = True  # not raised while the handlers are being put back
        for s, h in previous.items():
            signal.signal(s, h)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


class LogCommand(Command):
    name = "log"
    help = "print the notification log: ID, originator, version, topic, decoded state"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--from",
            dest="start",
            type=_positive,
            default=1,
            metavar="N",
            help="start at notification ID N (default 1)",
        )
        parser.add_argument("--limit", type=_positive, metavar="N", help="print at most N events")
        parser.add_argument(
            "--topic",
            action="append",
            default=[],
            metavar="T",
            help="only events with topic T (repeatable)",
        )
        parser.add_argument("--follow", action="store_true", help="keep printing new events")
        parser.add_argument("--json", action="store_true", help="one JSON object per line")

    def run(self, args: argparse.Namespace, context: Context) -> int:
        with Store(context.env, context.app()) as store:
            store.max_notification_id()  # a store without an events table is refused
            topics: List[str] = args.topic
            out = context.out
            # Progress only when the log goes to a file: on a terminal it is the output.
            progress = context.progress("log") if not is_terminal(out) else None

            def write(n: Notification) -> None:
                if args.json:
                    out.write(json.dumps(event_json(store, n)) + "\n")
                else:
                    out.write(event_text(store, n) + "\n")
                if progress is not None:
                    progress.advance(1)

            try:
                if args.follow:
                    with store.recorder.subscribe(gt=args.start - 1, topics=topics) as live:
                        follow(live, _flushed(write, out), args.limit)
                else:
                    pages = store.notifications(args.start, page=_PAGE, topics=topics)
                    for printed, n in enumerate(chain.from_iterable(pages)):
                        if args.limit is not None and printed >= args.limit:
                            break
                        write(n)
            finally:
                if progress is not None:
                    progress.close()
        return 0


def _flushed(write: Callable[[Notification], None], out: TextIO) -> Callable[[Notification], None]:
    """``write``, then flush: a follower reads each line as it is printed."""

    def write_and_flush(n: Notification) -> None:
        write(n)
        out.flush()

    return write_and_flush
