"""``eventsourcing log``: the notification log, one line per event; ``--follow`` tails it."""

from __future__ import annotations

import argparse
import json
import threading
from itertools import chain
from typing import Iterable, Iterator, List, Optional, Sequence

from eventsourcing.cli.command import Command, Context
from eventsourcing.cli.display import event_json, event_text
from eventsourcing.cli.progress import is_terminal
from eventsourcing.cli.settings import Store
from eventsourcing.persistence import ApplicationRecorder, Notification

__all__ = ["LogCommand", "follow"]

_PAGE = 1000
# How often --follow looks for new events.
POLL_INTERVAL = 0.5


def follow(
    recorder: ApplicationRecorder,
    start: int,
    topics: Sequence[str] = (),
    stop: Optional[threading.Event] = None,
) -> Iterator[Notification]:
    """Notifications from ``start`` on, waiting for new ones, until ``stop`` is set.

    Reads pages with ``select_notifications`` and, at the end of the log,
    polls. The one place to switch to ``ApplicationRecorder.subscribe`` when
    recorders offer it.
    """
    stop = stop or threading.Event()
    while not stop.is_set():
        batch = recorder.select_notifications(start, _PAGE, topics=topics)
        yield from batch
        if batch:
            start = batch[-1].id + 1
        if len(batch) < _PAGE:
            stop.wait(POLL_INTERVAL)


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
            notifications: Iterable[Notification]
            if args.follow:
                notifications = follow(store.recorder, args.start, topics)
            else:
                pages = store.notifications(args.start, page=_PAGE, topics=topics)
                notifications = chain.from_iterable(pages)
            out = context.out
            # Progress only when the log goes to a file: on a terminal it is the output.
            progress = context.progress("log") if not is_terminal(out) else None
            printed = 0
            for n in notifications:
                if args.limit is not None and printed >= args.limit:
                    break
                if args.json:
                    out.write(json.dumps(event_json(store, n)) + "\n")
                else:
                    out.write(event_text(store, n) + "\n")
                printed += 1
                if progress is not None:
                    progress.advance(1)
                if args.follow:
                    out.flush()
            if progress is not None:
                progress.close()
        return 0
