"""The ``eventsourcing`` command line: inspect, verify and move event stores.

A distribution adds subcommands by implementing
:func:`~eventsourcing.hookspecs.eventsourcing_commands`; see docs/cli.md.
"""

from eventsourcing.cli.command import Command, CommandError, Context
from eventsourcing.cli.progress import Progress
from eventsourcing.cli.settings import Store

__all__ = ["Command", "CommandError", "Context", "Progress", "Store"]
