"""freshness_probe: an asset that does nothing but answer, to measure Dagster's own floor."""

from dagster import AssetExecutionContext, Config, MaterializeResult, asset

from gfl_dagster.db import queries
from gfl_dagster.resources.database import PostgresResource


class ProbeConfig(Config):
    up_to: int = 0


@asset(group_name="diagnostics", kinds={"postgres"})
def freshness_probe(context: AssetExecutionContext, config: ProbeConfig, database: PostgresResource) -> MaterializeResult:
    """Marks probes answered; `gfl bench freshness` compares this with the sync's latency."""
    with database.engine().begin() as connection:
        answered = connection.execute(queries.ANSWER_PROBES, {"up_to": config.up_to}).rowcount
    return MaterializeResult(metadata={"answered": answered})
