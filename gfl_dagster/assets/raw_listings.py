"""raw_listings: a listings CSV loaded into the source `listings` table."""

from typing import Optional

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from gfl_dagster import settings
from gfl_dagster.partitions import register_areas
from gfl_dagster.resources.database import PostgresResource
from gfl_dagster.sync.load_listings import load_listings_csv


class LoadConfig(Config):
    csv_path: Optional[str] = Field(default=None, description="Listings CSV; default: GFL_CSV or data/AB_NYC_2023.csv.")
    limit: Optional[int] = Field(default=None, description="Load only the first N records.")


@asset(group_name="listings", kinds={"postgres"})
def raw_listings(context: AssetExecutionContext, config: LoadConfig, database: PostgresResource) -> MaterializeResult:
    """Upserts a listings CSV by id; bad rows go to `listing_rejects` with their line and reason.

    Registers every area found as a partition of the downstream assets.
    """
    path = config.csv_path or str(settings.default_csv_path())
    report = load_listings_csv(database.engine(), path, config.limit, progress=context.log.info)
    new_areas = register_areas(context.instance, report.areas)
    context.log.info(report.summary())
    return MaterializeResult(metadata={
        "source_file": MetadataValue.path(report.source_file),
        "rows_read": report.rows_read,
        "inserted": report.inserted,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected": report.rejected,
        "areas": ", ".join(report.areas),
        "new_partitions": ", ".join(new_areas) or "none",
        "ignored_columns": ", ".join(report.ignored_columns) or "none",
        "duration_s": round(report.seconds, 2),
    })
