"""Per-area checks: the store matches the source, nothing is stale, descriptions are valid."""

from typing import Iterator

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    asset_check,
    multi_asset_check,
)

from gfl_dagster.change_capture.drift import Drift, compare_versions
from gfl_dagster.db import queries
from gfl_dagster.listings.description_check import check_description
from gfl_dagster.listings.partitions import area_partitions
from gfl_dagster.resources.database import PostgresResource
from gfl_dagster.resources.vector_store import VectorStoreResource


def area_drift(database: PostgresResource, vector_store: VectorStoreResource, area: str) -> Drift:
    """Source and store versions of one area, each read once."""
    with database.engine().connect() as connection:
        source = {r.id: r.version for r in connection.execute(queries.SOURCE_VERSIONS_IN_AREA, {"area": area})}
    with vector_store.session() as store:
        return compare_versions(source, store.versions(area))


def _sample(ids: list[int]) -> str:
    return ", ".join(str(i) for i in ids[:20]) + (" ..." if len(ids) > 20 else "")


@multi_asset_check(
    specs=[
        AssetCheckSpec("vector_count_matches_source", asset="listing_vectors", partitions_def=area_partitions,
                       description="The vector store holds exactly the area's source listings."),
        AssetCheckSpec("no_stale_vectors", asset="listing_vectors", partitions_def=area_partitions,
                       description="No listing is stored at an older version than its source row."),
    ],
)
def vectors_match_source(
    context: AssetCheckExecutionContext, database: PostgresResource, vector_store: VectorStoreResource
) -> Iterator[AssetCheckResult]:
    """Both drift checks from one read of the area in the source and in the store."""
    drift = area_drift(database, vector_store, context.partition_key)
    yield AssetCheckResult(
        check_name="vector_count_matches_source", asset_key="listing_vectors",
        passed=not drift.missing and not drift.extra,
        metadata={"missing": len(drift.missing), "extra": len(drift.extra),
                  "missing_ids": _sample(drift.missing), "extra_ids": _sample(drift.extra)},
    )
    yield AssetCheckResult(
        check_name="no_stale_vectors", asset_key="listing_vectors", passed=not drift.stale,
        metadata={"stale": len(drift.stale), "stale_ids": _sample(drift.stale)},
    )


@asset_check(asset="listing_descriptions", partitions_def=area_partitions,
             description="Every stored description passes validation against its listing's facts.")
def descriptions_pass_validation(context: AssetCheckExecutionContext, database: PostgresResource) -> AssetCheckResult:
    with database.engine().connect() as connection:
        known_areas = [r[0] for r in connection.execute(queries.AREA_NAMES)]
        known_places = [r[0] for r in connection.execute(queries.PLACE_NAMES)]
        rows = connection.execute(queries.DESCRIPTIONS_IN_AREA, {"area": context.partition_key}).mappings().all()
    invalid = {row["listing_id"]: "; ".join(problems) for row in rows
               if (problems := check_description(row["description"], row, known_areas, known_places))}
    return AssetCheckResult(
        passed=not invalid,
        severity=AssetCheckSeverity.ERROR,
        metadata={"checked": len(rows), "invalid": len(invalid),
                  "examples": "\n".join(f"{k}: {v}" for k, v in list(invalid.items())[:10]) or "none"},
    )
