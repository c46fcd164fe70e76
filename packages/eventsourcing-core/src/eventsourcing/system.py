"""Event-driven systems: applications that follow and lead each other.

This module gathers the public names of the modules that implement them, so
that ``from eventsourcing.system import ...`` works as in eventsourcing 9.1,
plus :class:`ProcessRunner`:

- :mod:`eventsourcing.logreader`: :class:`NotificationLogReader`;
- :mod:`eventsourcing.follower`: :class:`Follower`, :class:`Leader`,
  :class:`ProcessApplication`, :class:`Promptable`;
- :mod:`eventsourcing.topology`: :class:`System` (who follows whom);
- :mod:`eventsourcing.runner`: :class:`Runner`, :class:`RunnerAlreadyStarted`;
- :mod:`eventsourcing.inprocess`: :class:`SingleThreadedRunner`,
  :class:`MultiThreadedRunner` (a whole system in this process);
- :mod:`eventsourcing.processrunner`: :class:`ProcessRunner` (some
  applications of a system in this process, the others elsewhere, through
  the database).

Nothing below imports this module, so it can name them all without a cycle.
The classes 9.1 defined here say so (``__module__``), so that they print
and have topics as in 9.1 (``eventsourcing.system:Leader``).
"""

from __future__ import annotations

from eventsourcing.application import ProcessEvent
from eventsourcing.follower import Follower, Leader, ProcessApplication, Promptable
from eventsourcing.inprocess import (
    ErrorHandler,
    MultiThreadedRunner,
    MultiThreadedRunnerThread,
    SingleThreadedRunner,
)
from eventsourcing.logreader import NotificationLogReader
from eventsourcing.processrunner import FollowerFailed, ProcessRunner
from eventsourcing.runner import A, Runner, RunnerAlreadyStarted, ThreadErrors
from eventsourcing.topology import System

__all__ = [
    "A",
    "ErrorHandler",
    "Follower",
    "FollowerFailed",
    "Leader",
    "MultiThreadedRunner",
    "MultiThreadedRunnerThread",
    "NotificationLogReader",
    "ProcessApplication",
    "ProcessEvent",
    "ProcessRunner",
    "Promptable",
    "Runner",
    "RunnerAlreadyStarted",
    "SingleThreadedRunner",
    "System",
    "ThreadErrors",
]
