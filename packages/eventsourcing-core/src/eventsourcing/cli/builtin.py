"""The subcommands the core ships (registered by the core's built-in plugin);
``run`` and ``status`` live beside the process runner."""

from __future__ import annotations

from typing import List, Type

from eventsourcing.cli.backends import BackendsCommand
from eventsourcing.cli.command import Command
from eventsourcing.cli.copy import CopyCommand
from eventsourcing.cli.log import LogCommand
from eventsourcing.cli.show import ShowCommand
from eventsourcing.cli.verify import VerifyCommand
from eventsourcing.processcommands import RunCommand, StatusCommand

__all__ = ["COMMANDS"]

COMMANDS: List[Type[Command]] = [
    BackendsCommand,
    CopyCommand,
    LogCommand,
    RunCommand,
    ShowCommand,
    StatusCommand,
    VerifyCommand,
]
