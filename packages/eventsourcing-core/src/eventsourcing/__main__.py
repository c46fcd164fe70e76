"""``python -m eventsourcing``: the ``eventsourcing`` command."""

from eventsourcing.cli.main import run

if __name__ == "__main__":
    run()
