"""Runs the Counting follower of processing_system with ProcessRunner until SIGTERM.

Usage: ``python follower_process.py`` with the store's settings in the
environment. Each lease it takes is saved as an Acquisition in Leases.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from processing_system import Acquisition, Leases, system

from eventsourcing.system import ProcessRunner


def main() -> int:
    leases = Leases()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())

    def record(follower: str, leader: str) -> None:
        leases.save(Acquisition(os.getpid(), time.time(), follower, leader))

    runner = ProcessRunner(system, apps=["Counting"], on_lease=record)
    runner.start()
    print("started", flush=True)
    while not stopping.wait(0.1):
        if runner.has_errors.is_set():
            break
    runner.stop()
    leases.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
