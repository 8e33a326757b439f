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


def _die_with_parent() -> None:
    """In the child before it runs: SIGTERM when its parent dies, however the parent ends (SIGKILL too).

    SIGTERM and SIGINT back to their defaults first: an ignored signal stays ignored across exec, so a `gfl up`
    launched where they are ignored (`nohup`, a script's background job) had children deaf to the parent's
    death and to `stop_processes`. libc's signal(), not Python's: only the main thread may call that one."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.signal.restype = ctypes.c_void_p
    libc.signal.argtypes = (ctypes.c_int, ctypes.c_void_p)
    for signum in (signal.SIGTERM, signal.SIGINT):
        libc.signal(int(signum), None)  # SIG_DFL
    PR_SET_PDEATHSIG = 1
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_process(command: list[str], log_path: Optional[Path] = None, env: Optional[dict] = None) -> subprocess.Popen:
    # A process group of its own, so Ctrl-C reaches us first and we stop children in order.
    output = open(log_path, "ab") if log_path else subprocess.DEVNULL
    return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True, env=env,
                            preexec_fn=_die_with_parent if sys.platform == "linux" else None)


def stop_processes(processes: list[subprocess.Popen], timeout_s: float = 15) -> None:
    """SIGTERM to each whole group at once (the daemon's run workers and code servers too), so they shut down
    side by side within one `timeout_s`; then SIGKILL to whatever is left."""
    import time

    for process in processes:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout_s
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for process in processes:
        try:  # children that outlived their leader, and a leader that ignored SIGTERM
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.wait()


def stop_process(process: subprocess.Popen, timeout_s: float = 15) -> None:
    stop_processes([process], timeout_s)


def stop_leftovers(pid_file: Path) -> list[int]:
    """Stop what a previous `gfl up` that died without cleaning up left running (its pid file names it);
    returns the process ids stopped. Only processes whose command line is still gfl's or Dagster's."""
    import json

    import psutil

    if not pid_file.exists():
        return []
    try:
        recorded = json.loads(pid_file.read_text())
    except ValueError:
        recorded = {}
    stopped, members = [], []
    for pid in [recorded.get("up"), *recorded.get("children", [])]:
        try:
            process = psutil.Process(int(pid))
            if not any(word in " ".join(process.cmdline()) for word in ("gfl", "dagster")):
                continue  # the pid was reused by something else: not ours to stop
            for member in [process, *process.children(recursive=True)]:
                member.kill()
                members.append(member)
            stopped.append(int(pid))
        except (psutil.Error, TypeError, ValueError):
            continue
    psutil.wait_procs(members, timeout=15)  # gone, and their ports free, before anything is started again
    pid_file.unlink(missing_ok=True)
    return stopped


def port_holder(host: str, port: int) -> Optional[str]:
    """None when `port` is free on `host`; otherwise who holds it ("pid 123: dagster-webserver ...")."""
    import socket

    import psutil

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
            return None
        except OSError:
            pass
    for connection in psutil.net_connections(kind="tcp"):
        if connection.laddr and connection.laddr.port == port and connection.status == psutil.CONN_LISTEN:
            try:
                return f"pid {connection.pid}: {' '.join(psutil.Process(connection.pid).cmdline())[:120]}"
            except (psutil.Error, TypeError):
                return f"pid {connection.pid}"
    return "another process"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log_path: Path, timeout_s: float = 180) -> None:
    """Until something accepts connections on 127.0.0.1:`port`; a clear error if `process` dies or time runs out."""
    import socket
    import time

    from gfl_dagster.cli.common import fail

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None:
                fail(f"the code server exited (code {process.returncode}) before it served; see {log_path}")
            if time.monotonic() > deadline:
                fail(f"the code server did not serve on port {port} within {timeout_s:g}s; see {log_path}")
            time.sleep(0.2)


def write_workspace(home: Path, code_port: int) -> Path:
    """The workspace that points the Dagster UI and daemon at gfl up's code server."""
    workspace = home / "workspace.yaml"
    workspace.write_text("# Written by gfl up: the UI and the daemon load the code location from its code server.\n"
                         "load_from:\n  - grpc_server:\n      host: 127.0.0.1\n"
                         f"      port: {code_port}\n      location_name: gfl_dagster\n")
    return workspace
