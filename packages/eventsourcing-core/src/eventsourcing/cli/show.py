"""``eventsourcing show ID``: one aggregate's events, decoded, and its snapshots."""

from __future__ import annotations

import argparse
import json
from uuid import UUID

from eventsourcing.cli.command import Command, CommandError, Context
from eventsourcing.cli.display import event_json, event_text
from eventsourcing.cli.settings import Store, optional_table

__all__ = ["ShowCommand"]


class ShowCommand(Command):
    name = "show"
    help = "print one aggregate's events (decoded) and its snapshots"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("originator_id", metavar="ORIGINATOR_ID", help="the aggregate's ID")
        parser.add_argument("--json", action="store_true", help="one JSON object per line")

    def run(self, args: argparse.Namespace, context: Context) -> int:
        try:
            originator_id = UUID(args.originator_id)
        except ValueError:
            raise CommandError(f"ORIGINATOR_ID {args.originator_id!r} is not a UUID") from None
        with Store(context.env, context.app()) as store:
            store.max_notification_id()  # a store without an events table is refused
            events = store.recorder.select_events(originator_id)
            snapshots = optional_table(lambda: store.snapshots.select_events(originator_id))
            out = context.out
            for kind, stored_events in (("event", events), ("snapshot", snapshots)):
                for stored in stored_events:
                    if args.json:
                        out.write(json.dumps({"kind": kind, **event_json(store, stored)}) + "\n")
                    else:
                        out.write(f"{kind:<8}  {event_text(store, stored)}\n")
            if not events and not snapshots:
                context.err.write(
                    f"no events or snapshots of {originator_id} in {store.describe()}\n"
                )
                return 1
        return 0
