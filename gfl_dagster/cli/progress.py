"""Progress of long work (a CSV load, a sync, a benchmark): a live bar on a terminal, plain lines elsewhere.

tqdm draws the bar: one line that the commands' own output can pass above (`Progress.echo`), and its
`format_meter` writes the plain lines for logs and CI with the same figures the bar shows: the share
done, the rate, the time left, and what is being worked on.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from typing import Callable, Optional, TextIO

import click
from tqdm import tqdm

PLAIN_EVERY_S = 10.0  # a plain line at most this often (and when the work is done)
RATE_WINDOW_S = 30.0  # the rate (and so the time left) of the last half minute: a slow start is forgotten
_PLAIN = ("{desc}: {percentage:3.0f}% ({n_fmt}/{total_fmt}{unit}), {rate_noinv_fmt}, "
          "{elapsed} elapsed, {remaining} left{postfix}")
_BAR = ("{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}{unit} "
        "[{elapsed}<{remaining}, {rate_noinv_fmt}]{postfix}")


class Progress:
    """`update(done, total, detail)` with absolute counts; `echo(line)` prints a line without breaking the bar."""

    def __init__(self, what: str, unit: str, stream: Optional[TextIO] = None, plain_every_s: float = PLAIN_EVERY_S):
        self.what, self.unit = what, f" {unit}"
        self.stream = stream or sys.stderr  # stdout stays for results (--json)
        self.live = _is_terminal(self.stream)
        self.plain_every_s = plain_every_s
        self.started = time.monotonic()
        self.done, self.total, self.detail = 0, 0, ""
        self.printed_at: Optional[float] = None
        self.printed: Optional[tuple[int, int]] = None
        self.samples: deque[tuple[float, int]] = deque()  # (time, done) of the last RATE_WINDOW_S
        self.bar: Optional[tqdm] = None
        self.lock = threading.Lock()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, done: int, total: int, detail: str = "") -> None:
        with self.lock:
            self.done, self.total, self.detail = done, max(total, done), detail
            now = time.monotonic()
            self.samples.append((now, done))
            while len(self.samples) > 2 and now - self.samples[1][0] >= RATE_WINDOW_S:
                self.samples.popleft()
            if not self.total:  # nothing to do: no 0/0 line
                return
            if self.live:
                self._draw()
            elif self._plain_due():
                self._plain()

    def echo(self, line: str) -> None:
        with self.lock:
            if self.bar is not None:
                self.bar.clear()
                click.echo(line, file=self.stream)
                self.bar.refresh()
            else:
                click.echo(line, file=self.stream)

    def close(self) -> None:
        with self.lock:
            if self.bar is not None:
                self.bar.close()
                self.bar = None
            elif not self.live and self.printed != (self.done, self.total) and self.total:
                self._plain()

    def rate(self) -> Optional[float]:
        """Per second over the last RATE_WINDOW_S; None before there are two looks to compare."""
        if len(self.samples) < 2 or self.samples[-1][0] <= self.samples[0][0]:
            return None
        (then, done_then), (now, done_now) = self.samples[0], self.samples[-1]
        return max(0.0, (done_now - done_then) / (now - then))

    def line(self) -> str:
        """The state as one plain line (what a log gets)."""
        return tqdm.format_meter(self.done, self.total, time.monotonic() - self.started, prefix=self.what,
                                 unit=self.unit, bar_format=_PLAIN, postfix=self.detail or None, rate=self.rate())

    def _draw(self) -> None:
        if self.bar is None:
            self.bar = tqdm(total=self.total, desc=self.what, unit=self.unit, bar_format=_BAR, file=self.stream,
                            dynamic_ncols=True, mininterval=0.2, leave=True)
            self.bar.start_t -= time.monotonic() - self.started  # the work began before its first count
        self.bar.total = self.total
        self.bar.set_postfix_str(self.detail, refresh=False)
        if self.done >= self.bar.n:
            self.bar.update(self.done - self.bar.n)
        else:
            self.bar.n = self.done
        self.bar.refresh()

    def _plain_due(self) -> bool:
        now = time.monotonic()
        finished = self.total and self.done >= self.total and self.printed != (self.done, self.total)
        return self.printed_at is None or finished or now - self.printed_at >= self.plain_every_s

    def _plain(self) -> None:
        click.echo(self.line(), file=self.stream)
        self.printed_at, self.printed = time.monotonic(), (self.done, self.total)


def _is_terminal(stream: TextIO) -> bool:
    """A terminal with a width: a pseudo-terminal that reports 0 columns (some CI runners) gets plain lines."""
    try:
        return stream.isatty() and os.get_terminal_size(stream.fileno()).columns > 0
    except (AttributeError, ValueError, OSError):
        return False


class PendingWork:
    """Work measured by what is pending: done rises as pending falls, and the total grows when new work
    arrives meanwhile (a change written during a sync is counted, never shown as negative progress)."""

    def __init__(self) -> None:
        self.done, self.total = 0, None

    def seen(self, pending: int) -> tuple[int, int]:
        if self.total is None:
            self.total = pending
        self.done = max(self.done, self.total - pending)
        self.total = max(self.total, self.done + pending)
        return self.done, self.total


def pending_by_area(engine) -> dict[str, int]:
    from gfl_dagster.cli.operations import area_status

    return {row["area"]: row["pending"] for row in area_status(engine)}


def busiest(pending: dict[str, int], shown: int = 2) -> str:
    """'Manhattan 412 left, Brooklyn 380 left, +3 areas'."""
    left = sorted(((n, area) for area, n in pending.items() if n), reverse=True)
    text = ", ".join(f"{area} {n} left" for n, area in left[:shown])
    return text + (f", +{len(left) - shown} areas" if len(left) > shown else "")


class Watcher:
    """Polls `measure()` on a thread of its own every `every_s` and hands the result to `report`, until stopped."""

    def __init__(self, measure: Callable[[], None], every_s: float = 1.0) -> None:
        self.measure, self.every_s = measure, every_s
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="gfl-progress")

    def __enter__(self) -> "Watcher":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)

    def _run(self) -> None:
        while not self.stopped.wait(self.every_s):
            try:
                self.measure()
            except Exception:  # the database restarting: the next look will tell
                pass
