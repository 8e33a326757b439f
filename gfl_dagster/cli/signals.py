"""Every `gfl` command stops on SIGTERM as on Ctrl-C, however it was started.

A shell script that starts a command with `&` (as CI runners, `timeout` and service managers do) leaves
SIGINT ignored, and Dagster's interrupt handling (`setup_interrupt_handlers`, and each in-process run on its
way out) copies SIGINT's disposition onto SIGTERM: `kill` would then be ignored too, here and in every child.
Handling both signals before any command runs makes what Dagster copies a handler, and the children, which
inherit ignored signals but not handlers, start with the default.

A stop raises KeyboardInterrupt where the command is, so `finally` blocks and context managers stop what the
command started. A run in progress is ended by Dagster as interrupted; what it committed stays committed and the
rest stays pending (every sync is per row and idempotent), so running the command again finishes it.

Dagster swaps its own handler in while a run executes and drops a signal that arrives between its checkpoints;
the signal's number still reaches a pipe (`signal.set_wakeup_fd`), so `raise_if_stopping()` between two runs
catches it.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Optional

import click

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class _StopState:
    wakeup_read: int  # the pipe's end signal.set_wakeup_fd writes every signal's number to
    received: Optional[int] = None

    def note(self, signum: int) -> None:
        if self.received is None:
            self.received = signum

    def drain(self) -> Optional[int]:
        """The first stop signal received, read from the wakeup pipe too (those Dagster's handler swallowed)."""
        try:
            while data := os.read(self.wakeup_read, 512):
                for signum in data:
                    if signum in STOP_SIGNALS:
                        self.note(signum)
        except BlockingIOError:
            pass
        return self.received


_state: Optional[_StopState] = None


def _interrupt(signum: int, frame) -> None:
    if _state is not None:
        _state.note(signum)
    raise KeyboardInterrupt  # what Ctrl-C raises by default: Dagster and every `finally` already handle it


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGINT raise KeyboardInterrupt, whatever the launcher left; the previous
    handlers are restored after it (the tests invoke commands in their own process)."""
    global _state
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    read, write = os.pipe()
    for end in (read, write):
        os.set_blocking(end, False)
    _state = _StopState(read)
    previous_wakeup = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    for signum in STOP_SIGNALS:
        signal.signal(signum, _interrupt)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        signal.set_wakeup_fd(previous_wakeup)
        _state = None
        os.close(read)
        os.close(write)


def stop_requested() -> Optional[int]:
    """The stop signal received so far (signal.SIGTERM or SIGINT), or None."""
    return None if _state is None else _state.drain()


def raise_if_stopping() -> None:
    """Between two units of work (two areas' runs): stop now if a signal arrived while Dagster held it."""
    if stop_requested() is not None:
        raise KeyboardInterrupt


def exit_code(signum: int) -> int:
    """What a shell reports for a process ended by `signum` (130 for Ctrl-C, 143 for SIGTERM)."""
    return 128 + signum


class StopOnSignalsGroup(click.Group):
    """The `gfl` group: every command runs under stop_on_signals(). A command stopped midway (the signal's
    KeyboardInterrupt, or whatever it became inside Dagster's run) says so and exits as a shell reports a
    signal's end (130, 143), so a script knows the work is not finished; a service that ends on the signal
    by returning (gfl up, web, listen, model serve) exits 0."""

    def invoke(self, ctx: click.Context):
        with stop_on_signals():
            try:
                return super().invoke(ctx)
            except (SystemExit, click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
                raise
            except BaseException as error:
                signum = stop_requested() or (signal.SIGINT if isinstance(error, KeyboardInterrupt) else None)
                if signum is None:
                    raise
                click.secho(f"stopped by {signal.Signals(signum).name} before it finished: what it committed stays, "
                            "and running it again does the rest", fg="yellow", err=True)
                raise SystemExit(exit_code(signum)) from None
