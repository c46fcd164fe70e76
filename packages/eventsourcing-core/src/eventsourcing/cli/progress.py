"""Progress of long work (count, rate, ETA) on a terminal; silent when piped."""

from __future__ import annotations

import time
from typing import Optional, TextIO

__all__ = ["Progress", "is_terminal"]

# Redrawing costs a write system call: a few times a second is enough to read.
_INTERVAL = 0.25


class Progress:
    """Counts done units of work; redraws one status line on a terminal.

    ``total`` (if known) is in the same units as ``position`` given to
    :meth:`advance`, which may differ from the count: copying counts events
    but knows its total only as a range of notification IDs, which has gaps.
    """

    def __init__(self, what: str, total: Optional[int], stream: TextIO) -> None:
        self.what = what
        self.total = total
        self.stream = stream
        self.enabled = is_terminal(stream)
        self.count = 0
        self.position = 0
        self.started = time.monotonic()
        self._drawn = 0.0
        self._width = 0

    def advance(self, count: int, position: Optional[int] = None) -> None:
        """Add ``count`` done units; ``position`` is how far along ``total`` that is."""
        self.count += count
        self.position = self.count if position is None else position
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._drawn >= _INTERVAL:
            self._drawn = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self.started, 1e-9)
        rate = self.count / elapsed
        text = f"{self.what}: {self.count:,}"
        if self.total:
            done = min(self.position / self.total, 1.0)
            text += f" ({done:.0%})"
            if done > 0:
                remaining = elapsed * (1 - done) / done
                text += f"  {rate:,.0f}/s  ETA {_clock(remaining)}"
        else:
            text += f"  {rate:,.0f}/s"
        self.stream.write("\r" + text.ljust(self._width))
        self._width = len(text)
        self.stream.flush()

    def rate(self) -> float:
        """Units per second so far."""
        return self.count / max(time.monotonic() - self.started, 1e-9)

    def close(self) -> None:
        """Clear the status line, so that what is printed next starts clean."""
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal (a person is watching it)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
