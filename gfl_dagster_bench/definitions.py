"""The code location the freshness benchmark's daemon loads: the project's, plus Dagster's floor probe."""

from dagster import Definitions

from gfl_dagster import definitions as project
from gfl_dagster_bench.freshness_probe import freshness_probe, freshness_probe_job, freshness_probe_sensor

defs = Definitions.merge(
    project.defs,
    Definitions(assets=[freshness_probe], jobs=[freshness_probe_job], sensors=[freshness_probe_sensor]),
)
