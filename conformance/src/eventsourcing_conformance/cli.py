"""``eventsourcing conformance NAME``: the suite on an installed backend, without pytest wiring.

Added to the ``eventsourcing`` command through the ``eventsourcing_commands``
hook (this distribution registers this module as its ``eventsourcing``
plugin). pytest runs in a child process, in an empty directory, so that no
``conftest.py`` or ``pytest.ini`` of the current directory is picked up and
the suite's imports do not stay in the command's process.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from typing import Iterable, List

from eventsourcing.cli import Command, CommandError, Context
from eventsourcing.hookspecs import hookimpl
from eventsourcing.plugins import resolve_persistence_module

__all__ = ["ConformanceCommand", "pytest_arguments"]


def pytest_arguments(name: str, examples: int | None, extra: List[str]) -> List[str]:
    """The pytest command line that runs the suite on the backend ``name``."""
    args = [
        sys.executable,
        "-m",
        "pytest",
        "--pyargs",
        "eventsourcing_conformance.test_conformance",
        f"--eventsourcing-backend={name}",
        "-p",
        "no:cacheprovider",
        "-q",
    ]
    if examples is not None:
        args.append(f"--eventsourcing-examples={examples}")
    return args + extra


class ConformanceCommand(Command):
    name = "conformance"
    help = (
        "run the recorder conformance suite on an installed persistence module "
        "(pytest options after --)"
    )
    accepts_rest = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("backend", metavar="NAME", help="persistence module name (sqlite, ...)")
        parser.add_argument(
            "--examples", type=int, metavar="N", help="Hypothesis examples per state machine"
        )

    def run(self, args: argparse.Namespace, context: Context) -> int:
        # Refuse an unknown name here, in the command's own words.
        resolve_persistence_module(args.backend, variable="NAME")
        extra = list(args.rest)
        with tempfile.TemporaryDirectory(prefix="eventsourcing-conformance-") as directory:
            try:
                status = subprocess.call(
                    pytest_arguments(args.backend, args.examples, extra),
                    cwd=directory,
                    env=dict(context.env),
                )
            except OSError as e:
                raise CommandError(f"cannot run pytest: {e}") from None
        # pytest: 0 passed, 1 failures, 5 nothing collected, else usage/internal.
        return {0: 0, 1: 1}.get(status, 2)


@hookimpl
def eventsourcing_commands() -> Iterable[Command]:
    return [ConformanceCommand()]
