"""Per-area checks: the store matches the source, nothing is stale, descriptions are valid."""

from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, asset_check

from gfl_dagster.db import queries
from gfl_dagster.listings.description_check import check_description
from gfl_dagster.partitions import area_partitions
from gfl_dagster.resources.database import PostgresResource
from gfl_dagster.resources.vector_store import VectorStoreResource
from gfl_dagster.sync.drift import Drift, compare_versions


def area_drift(database: PostgresResource, vector_store: VectorStoreResource, area: str) -> Drift:
    with database.engine().connect() as connection:
        source = {r.id: r.version for r in connection.execute(queries.SOURCE_VERSIONS_IN_AREA, {"area": area})}
    store = vector_store.open()
    try:
        return compare_versions(source, store.versions(area))
    finally:
        store.close()


def _sample(ids: list[int]) -> str:
    return ", ".join(str(i) for i in ids[:20]) + (" ..." if len(ids) > 20 else "")


@asset_check(asset="listing_vectors", partitions_def=area_partitions,
             description="The vector store holds exactly the area's source listings.")
def vector_count_matches_source(
    context: AssetCheckExecutionContext, database: PostgresResource, vector_store: VectorStoreResource
) -> AssetCheckResult:
    drift = area_drift(database, vector_store, context.partition_key)
    return AssetCheckResult(
        passed=not drift.missing and not drift.extra,
        metadata={"missing": len(drift.missing), "extra": len(drift.extra),
                  "missing_ids": _sample(drift.missing), "extra_ids": _sample(drift.extra)},
    )


@asset_check(asset="listing_vectors", partitions_def=area_partitions,
             description="No listing is stored at an older version than its source row.")
def no_stale_vectors(
    context: AssetCheckExecutionContext, database: PostgresResource, vector_store: VectorStoreResource
) -> AssetCheckResult:
    drift = area_drift(database, vector_store, context.partition_key)
    return AssetCheckResult(passed=not drift.stale,
                            metadata={"stale": len(drift.stale), "stale_ids": _sample(drift.stale)})


@asset_check(asset="listing_descriptions", partitions_def=area_partitions,
             description="Every stored description passes validation against its listing's facts.")
def descriptions_pass_validation(context: AssetCheckExecutionContext, database: PostgresResource) -> AssetCheckResult:
    with database.engine().connect() as connection:
        known_areas = [r[0] for r in connection.execute(queries.AREA_NAMES)]
        rows = connection.execute(queries.DESCRIPTIONS_IN_AREA, {"area": context.partition_key}).mappings().all()
    invalid = {row["listing_id"]: "; ".join(problems) for row in rows
               if (problems := check_description(row["description"], row, known_areas))}
    return AssetCheckResult(
        passed=not invalid,
        severity=AssetCheckSeverity.ERROR,
        metadata={"checked": len(rows), "invalid": len(invalid),
                  "examples": "\n".join(f"{k}: {v}" for k, v in list(invalid.items())[:10]) or "none"},
    )
