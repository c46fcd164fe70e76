"""How many notification IDs concurrent, conflicting saves use up (PostgreSQL).

Threads update a few shared aggregates, each reading one, changing it and
saving it: many saves conflict with another thread's. Gaps in notification
IDs are allowed, but every ID used up brings the 9.1 tracking column's
2**31 limit closer. Prints events recorded, the highest notification ID and
the IDs used per event recorded.

    hatch run python benchmarks/notification_ids.py [--threads 8] [--saves 200]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
from pathlib import Path
from typing import List

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError
from eventsourcing_conformance.stores import isolated_env


class Counter(Aggregate):
    def __init__(self) -> None:
        self.count = 0

    @event("Incremented")
    def increment(self) -> None:
        self.count += 1


def main(argv: List[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--saves", type=int, default=200, help="saves tried per thread")
    parser.add_argument("--aggregates", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, isolated_env("postgres", Path(tmp)) as env:
        with Application[Counter](env=env) as app:
            ids = []
            for _ in range(args.aggregates):
                counter = Counter()
                app.save(counter)
                ids.append(counter.id)
            conflicts = [0] * args.threads
            start = threading.Barrier(args.threads)

            def work(n: int) -> None:
                start.wait()
                for i in range(args.saves):
                    counter = app.repository.get(ids[(n + i) % len(ids)])
                    counter.increment()
                    try:
                        app.save(counter)
                    except IntegrityError:
                        conflicts[n] += 1

            threads = [threading.Thread(target=work, args=(n,)) for n in range(args.threads)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            recorder = app.recorder
            events = sum(len(recorder.select_events(i)) for i in ids)
            max_id = recorder.max_notification_id()
    print(
        f"threads {args.threads}, saves tried {args.threads * args.saves}, "
        f"conflicts {sum(conflicts)}, events recorded {events}, "
        f"max notification ID {max_id}, IDs per event {max_id / events:.2f}"
    )


if __name__ == "__main__":
    main()
