"""``run`` and ``status``: a system's followers as OS processes, from the command line.

``run MODULE:ATTR [--app NAME ...]`` runs the named applications (default:
every follower) of the :class:`~eventsourcing.system.System` at
``MODULE:ATTR`` with a :class:`~eventsourcing.processrunner.ProcessRunner` until
SIGTERM or SIGINT; ``status`` prints, for each follower and leader, the
tracked position, the leader's last notification ID, the lag and the
lease holder. Settings come from the environment, as for the applications.

Bad input (a target that is not a System, an unknown application, an
invalid setting) is one line on stderr and exit status 2. Until the
``eventsourcing`` command's plugin hook is on main these are reached as
``python -m eventsourcing.systemcli run|status ...``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from typing import Any, List, Mapping, Optional, Sequence, TextIO

from eventsourcing.persistence import PersistenceError
from eventsourcing.processrunner import ProcessRunner
from eventsourcing.system import System
from eventsourcing.utils import ConfigurationError

__all__ = ["SettingsError", "load_system", "main", "print_status", "run_system"]


class SettingsError(Exception):
    """Bad input: printed as one line, exit status 2."""


def load_system(target: str) -> System:
    """The System at ``MODULE:ATTR``."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise SettingsError(f"expected MODULE:ATTR naming a System, got {target!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise SettingsError(f"cannot import module {module_name!r}: {e}") from None
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise SettingsError(f"module {module_name!r} has no attribute {attr!r}") from None
    if not isinstance(obj, System):
        raise SettingsError(f"{target} is {obj!r}, not a System")
    return obj


def _followers(system: System, apps: Sequence[str]) -> List[str]:
    for name in apps:
        if name not in system.nodes:
            raise SettingsError(
                f"no application named {name!r} in the system (it has {', '.join(system.nodes)})"
            )
    return list(apps) or system.followers


def run_system(
    system: System,
    apps: Sequence[str] = (),
    env: Optional[Mapping[str, str]] = None,
    stopping: Optional[threading.Event] = None,
) -> int:
    """Run until ``stopping`` is set (or a follower fails: exit status 1)."""
    stopping = stopping or threading.Event()
    runner = ProcessRunner(system, env=env, apps=_followers(system, apps))
    try:
        runner.start()
    except ConfigurationError as e:
        raise SettingsError(str(e)) from None
    while not stopping.wait(0.2):
        if runner.has_errors.is_set():
            break
    try:
        runner.stop()
    except Exception:
        return 1  # logged where it happened, with the notification ID
    return 0


def print_status(
    system: System,
    apps: Sequence[str] = (),
    env: Optional[Mapping[str, str]] = None,
    out: TextIO = sys.stdout,
) -> int:
    """One line per (follower, leader): position, leader's last ID, lag, lease holder."""
    opened: List[Any] = []
    try:
        for follower_name in _followers(system, apps):
            if follower_name not in system.follows:
                raise SettingsError(f"{follower_name!r} does not follow any application")
            follower = system.follower_cls(follower_name)(env=env)
            opened.append(follower)
            for leader_name in system.follows[follower_name]:
                leader = system.get_app_cls(leader_name)(env=env)
                opened.append(leader)
                position = follower.process_recorder.max_tracking_id(leader_name)
                last = leader.recorder.max_notification_id()
                lease = follower.process_recorder.lease(follower_name, leader_name)
                holder = lease.holder() or "-"
                out.write(
                    f"{follower_name} <- {leader_name}: position {position}, "
                    f"leader at {last}, lag {last - position}, lease held by {holder}\n"
                )
    except ConfigurationError as e:
        raise SettingsError(str(e)) from None
    finally:
        for app in opened:
            app.close()
    return 0


def main(argv: Optional[Sequence[str]] = None, err: TextIO = sys.stderr) -> int:
    parser = argparse.ArgumentParser(prog="eventsourcing")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("run", "run a system's followers in this process until SIGTERM/SIGINT"),
        ("status", "print each follower's position, lag and lease holder"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("target", metavar="MODULE:ATTR", help="the System to run")
        p.add_argument("--app", action="append", default=[], help="an application's name")
    args = parser.parse_args(argv)
    sys.path.insert(0, os.getcwd())
    try:
        system = load_system(args.target)
        if args.command == "status":
            return print_status(system, args.app)
        stopping = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())
        return run_system(system, args.app, stopping=stopping)
    except (SettingsError, PersistenceError) as e:
        err.write(f"eventsourcing {args.command}: {e}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
