"""gfl up's supervision of its children, on real processes: restart with growing pauses, give up on a crash loop,
and children that die with their parent however it ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from gfl_dagster.cli.supervisor import RESTART_DELAYS_S, Child, GaveUp, Supervisor, restart_delay


def test_the_pause_grows_and_ends():
    assert [restart_delay(n) for n in range(1, len(RESTART_DELAYS_S) + 1)] == list(RESTART_DELAYS_S)
    assert list(RESTART_DELAYS_S) == sorted(RESTART_DELAYS_S)
    assert restart_delay(len(RESTART_DELAYS_S) + 1) is None and restart_delay(0) is None


def _until(condition, seconds=10.0, explain=lambda: ""):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, explain()
        time.sleep(0.05)


def _signal_state(pid: int) -> str:
    """A live process's state and signal masks, as /proc shows them (why a SIGTERM did not end it)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError as error:
        return f"pid {pid}: {error}"
    return f"pid {pid} still alive: " + "; ".join(line for line in lines if line.startswith(("State", "PPid", "Sig")))


def test_a_killed_child_is_restarted_and_a_crash_loop_gives_up(tmp_path):
    said = []
    steady = Child("steady", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "steady.log").start()
    crashing = Child("crashing", [sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "crashing.log").start()
    supervisor = Supervisor([steady, crashing], said.append, delays=(0.1, 0.2))
    first = steady.process.pid
    try:
        os.kill(first, signal.SIGKILL)
        steady.process.wait()
        with pytest.raises(GaveUp, match=r"crashing exited \(code 3\) 3 times in a row"):
            while True:
                supervisor.check()
                time.sleep(0.02)
        assert steady.process.pid != first and steady.process.poll() is None
        assert any(line.startswith("steady exited (code -9); restarting it in 0.1s") for line in said), said
        assert "crashing exited (code 3); restarting it in 0.2s (attempt 2 of 2)" in " ".join(said)
    finally:
        for child in (steady, crashing):
            child.process.kill()


def test_children_die_with_their_parent_even_on_sigkill(tmp_path):
    """The parent starts a child through start_process and is killed with SIGKILL: the child does not outlive it,
    even when the parent was launched with SIGTERM and SIGINT ignored (as `nohup` or a script's background job
    leaves them: ignored signals survive exec, and the parent's death is a SIGTERM)."""
    script = ("import signal, sys, time; from gfl_dagster.cli.processes import start_process; "
              "signal.signal(signal.SIGTERM, signal.SIG_IGN); signal.signal(signal.SIGINT, signal.SIG_IGN); "
              "child = start_process([sys.executable, '-c', 'import time; time.sleep(120)']); "
              "print(child.pid, flush=True); time.sleep(120)")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    try:
        assert psutil.pid_exists(child)
        parent.kill()
        parent.wait()
        # On failure, what the child was doing: its signal masks tell an inherited ignored SIGTERM.
        _until(lambda: not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE,
               seconds=30.0, explain=lambda: _signal_state(child))
    finally:
        if psutil.pid_exists(child):
            os.kill(child, signal.SIGKILL)
