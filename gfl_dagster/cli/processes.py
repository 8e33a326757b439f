"""Child processes of `gfl up` and the benchmarks: each in a process group of its own, stopped as a group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Optional


def dagster_command(name: str) -> str:
    """A Dagster executable from this interpreter's environment (the PATH may lack the venv)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def start_process(command: list[str], log_path: Optional[Path] = None, env: Optional[dict] = None) -> subprocess.Popen:
    # A process group of its own, so Ctrl-C reaches us first and we stop children in order.
    output = open(log_path, "ab") if log_path else subprocess.DEVNULL
    return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True, env=env)


def stop_process(process: subprocess.Popen, timeout_s: float = 15) -> None:
    """SIGTERM to the whole group (the daemon's run workers and code servers too), then SIGKILL."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            pass
    try:  # children that outlived their leader
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
