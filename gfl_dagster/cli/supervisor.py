"""`gfl up` keeps its children running as a service manager would: a child that dies is started again after a
growing pause, and only a child that keeps dying right after its start stops everything."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from gfl_dagster.cli.processes import start_process

RESTART_DELAYS_S = (1, 2, 4, 8, 16)  # one more quick death after the last of these, and gfl up gives up
RECOVERED_AFTER_S = 60  # a child that ran this long had recovered: its next death starts the pauses afresh


def restart_delay(quick_deaths: int, delays: tuple[float, ...] = RESTART_DELAYS_S) -> Optional[float]:
    """The pause before restarting a child that died `quick_deaths` times in a row soon after starting;
    None when it has died too often to try again."""
    return delays[quick_deaths - 1] if 1 <= quick_deaths <= len(delays) else None


class GaveUp(RuntimeError):
    """A child kept dying right after each restart."""


@dataclass
class Child:
    name: str
    command: list[str]
    log_path: Path
    env: Optional[dict] = None  # None: this process's environment
    process: Optional[subprocess.Popen] = None
    started_at: float = 0.0
    quick_deaths: int = 0
    restart_at: Optional[float] = None

    def start(self) -> "Child":
        self.process = start_process(self.command, self.log_path, self.env)
        self.started_at = time.monotonic()
        return self


@dataclass
class Supervisor:
    children: list[Child]
    echo: Callable[[str], None]
    delays: tuple[float, ...] = RESTART_DELAYS_S
    restarts: int = field(default=0)

    def check(self) -> bool:
        """One look at every child: note the newly dead, restart those whose pause is over.
        True when a child was restarted (its process id changed). Raises GaveUp."""
        now, restarted = time.monotonic(), False
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restart_at = None
                    child.start()
                    self.restarts += 1
                    restarted = True
                    self.echo(f"{child.name} restarted (pid {child.process.pid})")
                continue
            code = child.process.poll()
            if code is None:
                continue
            recovered = now - child.started_at >= RECOVERED_AFTER_S
            child.quick_deaths = 1 if recovered else child.quick_deaths + 1
            delay = restart_delay(child.quick_deaths, self.delays)
            if delay is None:
                raise GaveUp(f"{child.name} exited (code {code}) {child.quick_deaths} times in a row within "
                             f"{RECOVERED_AFTER_S}s of starting; its log: {child.log_path}")
            child.restart_at = now + delay
            self.echo(f"{child.name} exited (code {code}); restarting it in {delay:g}s "
                      f"(attempt {child.quick_deaths} of {len(self.delays)}); its log: {child.log_path}")
        return restarted

    def pids(self) -> list[int]:
        return [child.process.pid for child in self.children]
