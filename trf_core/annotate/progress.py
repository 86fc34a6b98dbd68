"""Progress of a run: one redrawn line on a terminal, plain log lines elsewhere (no dependency).

Rates count only this run's work (shards skipped on resume are in the totals, not the rates),
so the ETA is the remaining records at this run's speed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class Progress:
    """Counts records, docs and words; renders ``mode`` = ``bar``, ``log`` or ``none``."""

    def __init__(
        self,
        total: int,
        already: int = 0,
        mode: str = "auto",
        stream: TextIO | None = None,
        log_every: float = 10.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "bar" if self.stream.isatty() else "log"
        self.mode = mode
        self.total = total
        self.done = already
        self.records = self.docs = self.words = 0
        self.log_every = log_every
        self.clock = clock or time.monotonic
        self.start = self.clock()
        self.last_log = self.start

    def update(self, records: int, docs: int, words: int) -> None:
        self.done += records
        self.records += records
        self.docs += docs
        self.words += words
        now = self.clock()
        if self.mode == "bar":
            self.stream.write("\r" + self.line(now) + "\x1b[K")
            self.stream.flush()
            return
        due = now - self.last_log >= self.log_every or self.done >= self.total
        if self.mode == "log" and due:
            self.last_log = now
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()

    def line(self, now: float) -> str:
        elapsed = max(now - self.start, 1e-9)
        rate = self.records / elapsed
        percent = 100.0 * self.done / self.total if self.total else 100.0
        eta = format_duration((self.total - self.done) / rate) if rate > 0 else "?"
        return (
            f"annotate: {self.done:,}/{self.total:,} records ({percent:.0f}%) "
            f"{self.docs / elapsed:,.1f} docs/s {self.words / elapsed:,.0f} words/s ETA {eta}"
        )

    def close(self) -> None:
        if self.mode == "bar":
            self.stream.write("\n")
            self.stream.flush()

    @property
    def elapsed(self) -> float:
        return self.clock() - self.start


__all__ = ["Progress", "format_duration"]
