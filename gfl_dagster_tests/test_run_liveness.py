"""A run whose worker died with its daemon stays STARTED for ever under the default run launcher; the sensors
fail it (so its area is synced again) and leave a run whose worker lives alone."""

from __future__ import annotations

import subprocess
import sys

from dagster import DagsterInstance, DagsterRunStatus, MetadataValue, job, op
from dagster._core.events import EngineEventData

from gfl_dagster.change_capture.run_liveness import live_runs


@op
def _step() -> None:
    pass


@job
def _sync() -> None:
    _step()


def _started_run(instance: DagsterInstance, pid: int):
    run = instance.create_run_for_job(_sync, status=DagsterRunStatus.STARTED, tags={"dagster/partition": "Queens"})
    instance.report_engine_event("Started process for run", run, EngineEventData({"pid": MetadataValue.int(pid)}))
    return run


def test_a_run_whose_worker_is_gone_is_failed_and_a_live_one_kept(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with DagsterInstance.local_temp(str(tmp_path)) as instance:  # the default run launcher, as gfl up runs
        orphan, alive = _started_run(instance, gone.pid), _started_run(instance, subprocess.os.getpid())
        kept = live_runs(instance, [orphan, alive])
        assert [run.run_id for run in kept] == [alive.run_id]
        assert instance.get_run_by_id(orphan.run_id).status == DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive.run_id).status == DagsterRunStatus.STARTED
