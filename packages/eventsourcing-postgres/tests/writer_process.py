"""A writer in its own process, for the concurrency test (run as a script).

Usage: ``python writer_process.py SAVES`` with the store's settings as JSON on
the first line of stdin. Prints ``ready``, waits for ``go`` on stdin, writes,
then prints one JSON line: ``[[notification_id, originator_id_hex, version], ...]``.
"""

from __future__ import annotations

import json
import sys
from uuid import uuid4

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import Factory


def main() -> None:
    saves = int(sys.argv[1])
    env = json.loads(sys.stdin.readline())
    written = []
    with Factory("", env) as factory:
        recorder = factory.application_recorder()
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            raise SystemExit("expected 'go'")
        for i in range(saves):
            originator_id = uuid4()
            batch = [
                StoredEvent(originator_id, v, "proc:Event", b"from a process")
                for v in range(1, 2 + i % 2)
            ]
            ids = recorder.insert_events(batch)
            assert ids is not None
            written.extend(
                [n, e.originator_id.hex, e.originator_version]
                for n, e in zip(ids, batch, strict=True)
            )
    print(json.dumps(written), flush=True)


if __name__ == "__main__":
    main()
