"""The worked example run by ``hatch run demo`` (built in its own issue)."""

from __future__ import annotations

import sys


def main() -> int:
    print("The demo is not yet built: see the 'Worked examples' issue.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
