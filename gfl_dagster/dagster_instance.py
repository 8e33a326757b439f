"""The Dagster instance every gfl command, daemon and benchmark runs: the package's dagster.yaml, and with
DAGSTER_PG_URL set, Dagster's own production machinery on top of it.

On Postgres the instance keeps runs, events and schedules where several daemons, webservers and run workers
(on several machines) share them, and the queued run coordinator holds the limits across all of them: one
run per partition (an area, a user bucket) at a time, a global cap, and a pool for the steps that call a chat
model, so N busy areas do not make N times the model requests.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from gfl_dagster import settings

PACKAGE_YAML = settings.PACKAGE_DIR / "dagster.yaml"  # package data: there in every kind of install
LLM_POOL = "llm"


def instance_config() -> dict:
    config = yaml.safe_load(PACKAGE_YAML.read_text())
    if not settings.is_set(settings.DAGSTER_PG_URL):
        return config
    config["storage"] = {"postgres": {"postgres_url": {"env": settings.DAGSTER_PG_URL}}}  # the name, never the URL
    # Dequeued every second, not every 5 (the default): the queue is for limits, not a wait on every change.
    config["run_coordinator"] = {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator",
                                 "config": {"dequeue_interval_seconds": 1}}
    config["concurrency"] = {
        "runs": {
            "max_concurrent_runs": settings.max_concurrent_runs(),
            "tag_concurrency_limits": [
                {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1},
            ],
        },
        "pools": {"default_limit": settings.llm_pool_limit(), "granularity": "op"},
    }
    return config


def prepare_dagster_home() -> Path:
    """$DAGSTER_HOME, else $GFL_HOME/dagster, with the instance configuration the settings call for.

    A dagster.yaml the user wrote (one that is not what this function would write for some setting) is theirs
    and left alone; ours is rewritten, so setting or unsetting DAGSTER_PG_URL takes effect on the next start.
    """
    home = settings.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    wanted = _render(instance_config())
    current = target.read_text() if target.exists() else None
    if current != wanted and (current is None or _ours(current)):
        target.write_text(wanted)
    os.environ[settings.DAGSTER_HOME] = str(home)
    return home


_MARK = "# Written by gfl_dagster (dagster_instance.py) from the settings; edit it and it becomes yours.\n"


def _render(config: dict) -> str:
    return _MARK + yaml.safe_dump(config, sort_keys=False)


def _ours(text: str) -> bool:
    return text.startswith(_MARK) or text == PACKAGE_YAML.read_text()
