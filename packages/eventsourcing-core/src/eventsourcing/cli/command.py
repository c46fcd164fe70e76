"""What a subcommand of the ``eventsourcing`` command is, and what it is given.

A distribution adds subcommands by implementing the hook
:func:`~eventsourcing.hookspecs.eventsourcing_commands`, returning
:class:`Command` objects. The core's own subcommands (``backends``, ``log``,
``show``, ``copy``, ``verify``) come through the same hook.
"""

from __future__ import annotations

import argparse
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar, List, Mapping, Optional, TextIO

from eventsourcing.cli.progress import Progress

__all__ = ["Command", "CommandError", "Context"]


class CommandError(Exception):
    """Bad input or unusable settings: printed as one line, exit status 2."""


class Command(ABC):
    """One subcommand: ``eventsourcing NAME [options]``.

    ``name`` and ``help`` appear in ``eventsourcing --help``. The global
    options ``--env FILE`` and ``--app NAME`` are added to every subcommand's
    parser by the command itself, so they are accepted before or after the
    subcommand's name; their values reach :meth:`run` in the :class:`Context`.
    """

    name: ClassVar[str]
    help: ClassVar[str]
    #: Whether arguments after ``--`` are accepted: they reach :meth:`run` as
    #: ``args.rest`` (a list of strings), unparsed, for passing on to another tool.
    accepts_rest: ClassVar[bool] = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:  # noqa: B027
        """Add this subcommand's own options and arguments (none by default)."""

    @abstractmethod
    def run(self, args: argparse.Namespace, context: Context) -> int:
        """Do the work; return the exit status (0 success, 1 problems found).

        Raise :class:`CommandError` for bad input (exit status 2, one line).
        Persistence and configuration errors are reported the same way.
        """


@dataclass
class Context:
    """The settings and streams a subcommand works with.

    ``env``: the process environment, overlaid with the ``--env`` file (the
    file wins, as an application's ``env`` argument wins over
    ``os.environ``). ``apps``: every ``--app`` value, in order.
    """

    env: Mapping[str, str]
    apps: List[str] = field(default_factory=list)
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)

    def app(self) -> str:
        """The one application name a store command works on ('' when none given)."""
        if len(self.apps) > 1:
            raise CommandError(
                f"this command works on one application at a time, got --app {self.apps!r}"
            )
        return self.apps[0] if self.apps else ""

    def progress(self, what: str, total: Optional[int] = None) -> Progress:
        """Progress of long work, shown on ``err`` only when it is a terminal."""
        return Progress(what, total, self.err)
