"""Progress of a run: a bar with conversations/s and ETA on a terminal (rich), plain periodic log
lines otherwise (cron, CI, a pipe)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .ingest import detect_format

LOG_EVERY_S = 10.0  # seconds between plain log lines


def count_records_upfront(paths: list[Path]) -> int | None:
    """Lines in the plain JSONL inputs (fast newline count), or None when some input can't be
    counted without reading it whole (gzip, tables): the bar then shows the rate only."""
    total = 0
    for p in paths:
        fmt, gz = detect_format(p)
        if fmt != "jsonl" or gz:
            return None
        with open(p, "rb") as fh:
            total += sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 22), b""))
    return total


class Progress:
    def __init__(self, total: int | None, quiet: bool = False, stream=None):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.total = total
        self.done = 0
        self.resumed = 0
        self.started = time.monotonic()
        self.last_log = self.started
        self._bar = None
        if not quiet and self.stream.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeRemainingColumn

            self._bar = Bar(
                TextColumn("[bold]zhijian"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]} conv/s"), TimeRemainingColumn(), transient=True,
            )
            self._task = self._bar.add_task("inspect", total=total, rate="-")
            self._bar.start()

    def __call__(self, n: int, resumed: bool = False) -> None:
        self.done += n
        if resumed:
            self.resumed += n
        now = time.monotonic()
        fresh = self.done - self.resumed
        rate = fresh / (now - self.started) if now > self.started else 0.0
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, rate=f"{rate:,.0f}")
        elif not self.quiet and now - self.last_log >= LOG_EVERY_S:
            self.last_log = now
            of = f"/{self.total}" if self.total else ""
            eta = f", ETA {((self.total - self.done) / rate):.0f} s" if self.total and rate > 0 else ""
            print(f"zhijian: {self.done}{of} records ({self.resumed} resumed), {rate:,.0f} conv/s{eta}", file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
