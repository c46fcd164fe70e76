"""``eventsourcing run`` and ``eventsourcing status``: a system's followers as OS processes.

``run MODULE:ATTR [--app NAME ...] [--partitions N --partition K]`` runs the
named applications (default: every follower) of the
:class:`~eventsourcing.system.System` at ``MODULE:ATTR`` with a
:class:`~eventsourcing.processrunner.ProcessRunner` until SIGTERM or SIGINT.
``status`` prints, for each follower, leader and partition, the tracked
position, the leader's last notification ID, the lag and the lease holder.
Both are subcommands of the ``eventsourcing`` command, added through its
hook by the core's plugin; settings come from the environment and
``--env FILE``, as for the applications.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
from typing import Any, Dict, List, Optional, Sequence

from eventsourcing.cli.command import Command, CommandError, Context
from eventsourcing.lease import holder_label
from eventsourcing.partition import Partition, tracked_positions
from eventsourcing.processrunner import ProcessRunner
from eventsourcing.system import System

__all__ = ["RunCommand", "StatusCommand", "load_system"]


def load_system(target: str) -> System:
    """The System at ``MODULE:ATTR`` (the current directory is importable, as
    with ``python -m``)."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise CommandError(f"expected MODULE:ATTR naming a System, got {target!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise CommandError(f"cannot import module {module_name!r}: {e}") from None
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise CommandError(f"module {module_name!r} has no attribute {attr!r}") from None
    if not isinstance(obj, System):
        raise CommandError(f"{target} is {obj!r}, not a System")
    return obj


def _followers(system: System, apps: Sequence[str]) -> List[str]:
    for name in apps:
        if name not in system.nodes:
            raise CommandError(
                f"no application named {name!r} in the system (it has {', '.join(system.nodes)})"
            )
    return list(apps) or system.followers


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="MODULE:ATTR", help="the System (module:attribute)")
    parser.add_argument(
        "--partitions",
        type=int,
        metavar="N",
        help="how many partitions each follower's work is split into "
        "(default PROCESSING_PARTITIONS, else 1)",
    )
    parser.add_argument(
        "--partition",
        type=int,
        metavar="K",
        help="which partition this process runs, 0 <= K < N (default PROCESSING_PARTITION)",
    )


class RunCommand(Command):
    name = "run"
    help = "run a system's followers (--app NAME ...) in this process until SIGTERM/SIGINT"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        _add_arguments(parser)

    def run(self, args: argparse.Namespace, context: Context) -> int:
        system = load_system(args.target)
        runner = ProcessRunner(
            system,
            env=context.env,
            apps=_followers(system, context.apps),
            partitions=args.partitions,
            partition=args.partition,
        )
        stopping = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())
        # A long-running service: lease changes and failures go to stderr.
        log = logging.getLogger("eventsourcing")
        if not log.handlers:
            handler = logging.StreamHandler(context.err)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            log.addHandler(handler)
            log.setLevel(logging.INFO)
        runner.start()
        parts = sorted({str(c.partition) for c in runner.consumers if c.partition.count > 1})
        where = f" ({', '.join(parts)})" if parts else ""
        log.info("%s runs %s%s", holder_label(), ", ".join(runner.app_names), where)
        while not stopping.wait(0.2):
            if runner.has_errors.is_set():
                break
        try:
            runner.stop()
        except Exception:
            return 1  # logged where it happened, with the notification ID
        return 0


class StatusCommand(Command):
    name = "status"
    help = "print each follower's position, lag and lease holder, per leader and partition"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        _add_arguments(parser)

    def run(self, args: argparse.Namespace, context: Context) -> int:
        system = load_system(args.target)
        names = _followers(system, context.apps)
        wanted: Optional[int] = args.partitions
        if wanted is not None:
            Partition(0, wanted)  # checks it
        opened: List[Any] = []
        try:
            for follower_name in names:
                if follower_name not in system.follows:
                    raise CommandError(f"{follower_name!r} does not follow any application")
                follower = system.follower_cls(follower_name)(env=context.env)
                opened.append(follower)
                recorder = follower.process_recorder
                for leader_name in system.follows[follower_name]:
                    leader = system.get_app_cls(leader_name)(env=context.env)
                    opened.append(leader)
                    last = leader.recorder.max_notification_id()
                    positions = tracked_positions(recorder, leader_name)
                    for partition in _partitions(positions, wanted):
                        tracking_name = partition.tracking_name(leader_name)
                        position = positions.get(partition, 0)
                        lease = recorder.lease(follower_name, tracking_name)
                        try:
                            holder = lease.holder() or "-"
                        finally:
                            lease.close()
                        context.out.write(
                            f"{follower_name} <- {tracking_name}: position {position}, "
                            f"leader at {last}, lag {last - position}, lease held by {holder}\n"
                        )
        finally:
            for app in opened:
                app.close()
        return 0


def _partitions(positions: Dict[Partition, int], wanted: Optional[int]) -> List[Partition]:
    """Every partition of ``wanted`` N, else of each N with positions (else N = 1)."""
    counts = {wanted} if wanted is not None else {p.count for p in positions} or {1}
    return [Partition(k, n) for n in sorted(counts) for k in range(n)]
