"""Runs whose worker is gone. Dagster's default run launcher cannot check a run worker (run monitoring needs a
launcher that can), so a run whose worker died with its daemon's process group stays STARTED for ever: the
sensors would count its partition busy and never sync it again. On the one host the default launcher runs
workers on, the worker's process id answers: a run whose worker no longer exists is marked failed, and the
sensor's sweep requests its partition again."""

from __future__ import annotations

from typing import Iterable, Optional

from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus


def worker_pid(instance: DagsterInstance, run_id: str) -> Optional[int]:
    """The run worker's process id, from the engine event that started it ("Started process for run")."""
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        data = record.dagster_event.engine_event_data if record.dagster_event else None
        pid = (data.metadata or {}).get("pid") if data else None
        if pid is not None:
            return int(pid.value)
    return None


def live_runs(instance: DagsterInstance, runs: Iterable) -> list:
    """`runs` without those whose worker is gone, which are reported failed on the way."""
    import psutil
    from dagster._core.launcher import DefaultRunLauncher

    if not isinstance(instance.run_launcher, DefaultRunLauncher):
        return list(runs)  # workers on other hosts (Kubernetes): Dagster's run monitoring watches them
    alive = []
    for run in runs:
        pid = worker_pid(instance, run.run_id) if run.status == DagsterRunStatus.STARTED else None
        if pid is not None and not psutil.pid_exists(pid):
            instance.report_run_failed(run, f"its run worker (pid {pid}) is gone: the sweep requests it again")
            continue
        alive.append(run)
    return alive
