"""The ``eventsourcing`` command: parses arguments, runs a subcommand, reports errors.

Subcommands come from the ``eventsourcing_commands`` hook of every installed
plugin (the core's own included). Bad input and unusable settings are one
line on stderr and exit status 2, with every password and key redacted.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from typing import Dict, Iterable, List, NoReturn, Optional, Sequence, cast

from eventsourcing.cli.command import Command, CommandError, Context
from eventsourcing.cli.settings import redact, settings
from eventsourcing.persistence import PersistenceError
from eventsourcing.plugins import PluginError, get_plugin_manager
from eventsourcing.utils import ConfigurationError, TopicError

__all__ = ["commands", "main", "run"]

PROG = "eventsourcing"


class _Parser(argparse.ArgumentParser):
    """Reports a usage error as one line (argparse prints the whole usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


def commands() -> Dict[str, Command]:
    """Every installed subcommand, by name; two plugins claiming a name is an error."""
    hook = get_plugin_manager().hook.eventsourcing_commands
    found: Dict[str, Command] = {}
    owners: Dict[str, str] = {}
    for impl in hook.get_hookimpls():
        contributed = cast("Iterable[Command]", impl.function() or ())
        for command in contributed:
            if command.name in found:
                raise PluginError(
                    f"Subcommand {command.name!r} is claimed by two plugins: "
                    f"{owners[command.name]!r} and {impl.plugin_name!r}"
                )
            found[command.name] = command
            owners[command.name] = impl.plugin_name
    return found


def _add_global_options(parser: argparse.ArgumentParser, where: str) -> None:
    # Separate destinations before and after the subcommand's name, so that
    # the subcommand's parser does not overwrite what the main parser read.
    parser.add_argument(
        "--env",
        metavar="FILE",
        dest=f"env_{where}",
        help="read settings (KEY=VALUE lines) from FILE; they override the environment",
    )
    parser.add_argument(
        "--app",
        metavar="NAME",
        action="append",
        dest=f"apps_{where}",
        help="the application's name: selects its tables and its settings' prefix "
        "(NAME_SQLITE_DBNAME, ...)",
    )


def build_parser(available: Dict[str, Command]) -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Inspect, verify and move event stores, with an application's settings.",
    )
    _add_global_options(parser, "before")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in sorted(available):
        command = available[name]
        sub = subparsers.add_parser(name, help=command.help, description=command.help)
        _add_global_options(sub, "after")
        command.add_arguments(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None, context: Optional[Context] = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    err = context.err if context is not None else sys.stderr
    # Drivers log what they retry (psycopg_pool's failed connection attempts);
    # the command reports the outcome itself, once.
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())
    env: Dict[str, str] = {}
    try:
        available = commands()
        argv = list(sys.argv[1:] if argv is None else argv)
        # Arguments after "--" are passed on, unparsed (argparse's subparsers
        # do not treat "--" consistently).
        rest: List[str] = []
        if "--" in argv:
            split = argv.index("--")
            argv, rest = argv[:split], argv[split + 1 :]
        parser = build_parser(available)
        args = parser.parse_args(argv)
        if rest and not available[args.command].accepts_rest:
            parser.error(f"{args.command} takes no arguments after --: {' '.join(rest)}")
        args.rest = rest
        before, after = args.env_before, args.env_after
        if before is not None and after is not None and before != after:
            raise CommandError(f"--env is given twice: {before!r} and {after!r}")
        env = settings(after or before)
        apps: List[str] = (args.apps_before or []) + (args.apps_after or [])
        if context is None:
            context = Context(env=env, apps=apps)
        else:
            context.env, context.apps = env, apps
        return available[args.command].run(args, context)
    except (CommandError, ConfigurationError, TopicError, PluginError, PersistenceError) as e:
        message = redact(str(e) or type(e).__name__, env).replace("\n", " ")
        err.write(f"{PROG}: error: {message}\n")
        return 2
    except KeyboardInterrupt:
        err.write(f"{PROG}: interrupted\n")
        return 130
    except BrokenPipeError:  # piped into `head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # nothing more to flush at exit
        return 0


# Collect cyclic garbage after 50,000 net allocations instead of 700. The
# command reads stores a page (10,000 events) at a time: with the default,
# each page's objects were traversed by several collections before being
# freed by reference counting. Measured on `verify` of 1,000,000 events:
# 5.8 s of CPU with the default, 5.0 s with this, 5.0 s with no collection.
_GC_THRESHOLD = (50_000, 20, 100)


def run() -> NoReturn:
    """Entry point of the console script (and of ``python -m eventsourcing``)."""
    gc.set_threshold(*_GC_THRESHOLD)
    sys.exit(main())
