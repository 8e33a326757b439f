"""Every SQL statement the project runs against the source database, in one place.

The pgvector store's statements live with it in `resources/pgvector_store.py`'s
companion `pgvector_sql.py`; the schema is `schema.sql`.
"""

from __future__ import annotations

from sqlalchemy import text

from gfl_dagster.listings.csv_rows import LISTING_COLUMNS

_COLUMNS = ", ".join(LISTING_COLUMNS)
_VALUES = ", ".join(f":{c}" for c in LISTING_COLUMNS)
_CONTENT = [c for c in LISTING_COLUMNS if c != "id"]



def _upsert_listings(values: str) -> str:
    """Idempotent upsert: an unchanged row is not written at all (no version bump)."""
    return (
        f"INSERT INTO listings ({_COLUMNS}) VALUES {values} "
        "ON CONFLICT (id) DO UPDATE SET "
        + ", ".join(f"{c} = EXCLUDED.{c}" for c in _CONTENT)
        + f" WHERE ({', '.join('listings.' + c for c in _CONTENT)}) "
        f"IS DISTINCT FROM ({', '.join('EXCLUDED.' + c for c in _CONTENT)}) "
        "RETURNING (xmax = 0) AS inserted"
    )


UPSERT_LISTING = text(_upsert_listings(f"({_VALUES})"))
# For psycopg2's execute_values (bulk CSV loads): one VALUES list per page.
UPSERT_LISTINGS_VALUES = _upsert_listings("%s")

UPSERT_REJECT = text(
    "INSERT INTO listing_rejects (source_file, line_number, listing_id, reason, raw) "
    "VALUES (:source_file, :line_number, :listing_id, :reason, CAST(:raw AS jsonb)) "
    "ON CONFLICT (source_file, line_number) DO UPDATE SET listing_id = EXCLUDED.listing_id, "
    "reason = EXCLUDED.reason, raw = EXCLUDED.raw, rejected_at = now()"
)

COUNT_LISTINGS = text("SELECT count(*) FROM listings")
LIST_AREAS = text("SELECT area, count(*) AS listings FROM listings GROUP BY area ORDER BY area")
COUNT_REJECTS = text("SELECT count(*) FROM listing_rejects WHERE source_file = :source_file")

_LISTING_FIELDS = f"{_COLUMNS}, area, version"
LISTINGS_IN_AREA = text(f"SELECT {_LISTING_FIELDS} FROM listings WHERE area = :area ORDER BY id")
LISTING_BY_ID = text(f"SELECT {_LISTING_FIELDS}, updated_at FROM listings WHERE id = :id")
COUNT_LISTINGS_IN_AREA = text("SELECT count(*) FROM listings WHERE area = :area")

DESCRIPTIONS_FOR = text(
    "SELECT listing_id, description, input_hash, model, prompt_version, source_version, generated_at "
    "FROM listing_descriptions WHERE listing_id = ANY(:ids)"
)
DESCRIPTION_BY_ID = text(
    "SELECT listing_id, description, input_hash, model, prompt_version, source_version, "
    "prompt_tokens, completion_tokens, generated_at FROM listing_descriptions WHERE listing_id = :id"
)
UPSERT_DESCRIPTION = text(
    "INSERT INTO listing_descriptions (listing_id, area, description, input_hash, model, prompt_version, "
    "source_version, prompt_tokens, completion_tokens, generated_at) "
    "VALUES (:listing_id, :area, :description, :input_hash, :model, :prompt_version, :source_version, "
    ":prompt_tokens, :completion_tokens, now()) "
    "ON CONFLICT (listing_id) DO UPDATE SET area = EXCLUDED.area, description = EXCLUDED.description, "
    "input_hash = EXCLUDED.input_hash, model = EXCLUDED.model, prompt_version = EXCLUDED.prompt_version, "
    "source_version = EXCLUDED.source_version, prompt_tokens = EXCLUDED.prompt_tokens, "
    "completion_tokens = EXCLUDED.completion_tokens, generated_at = now()"
)
DESCRIPTIONS_IN_AREA = text(
    "SELECT d.listing_id, d.description, l.name, l.neighbourhood_group, l.neighbourhood, l.room_type, l.price "
    "FROM listing_descriptions d JOIN listings l ON l.id = d.listing_id WHERE l.area = :area"
)
AREA_NAMES = text("SELECT DISTINCT area FROM listings UNION SELECT DISTINCT neighbourhood_group FROM listings "
                  "WHERE neighbourhood_group IS NOT NULL")

RECORD_FAILURE = text(
    "INSERT INTO sync_failures (listing_id, stage, area, input_hash, reason) "
    "VALUES (:listing_id, :stage, :area, :input_hash, :reason) "
    "ON CONFLICT (listing_id, stage) DO UPDATE SET area = EXCLUDED.area, reason = EXCLUDED.reason, "
    "attempts = CASE WHEN sync_failures.input_hash = EXCLUDED.input_hash "
    "THEN sync_failures.attempts + 1 ELSE 1 END, "
    "input_hash = EXCLUDED.input_hash, last_failed_at = now()"
)
CLEAR_FAILURES = text("DELETE FROM sync_failures WHERE stage = :stage AND listing_id = ANY(:ids)")
FAILURES_FOR = text(
    "SELECT listing_id, input_hash, attempts, reason FROM sync_failures "
    "WHERE stage = :stage AND listing_id = ANY(:ids)"
)
COUNT_FAILURES_IN_AREA = text("SELECT stage, count(*) FROM sync_failures WHERE area = :area GROUP BY stage")

SYNC_STATE_FOR = text(
    "SELECT listing_id, synced_version, embed_hash, embedding_model FROM listing_sync WHERE listing_id = ANY(:ids)"
)
SYNC_STATE_BY_ID = text(
    "SELECT listing_id, area, synced_version, embed_hash, embedding_model, synced_at FROM listing_sync "
    "WHERE listing_id = :id"
)
UPSERT_SYNC_STATE = text(
    "INSERT INTO listing_sync (listing_id, area, synced_version, embed_hash, embedding_model, synced_at) "
    "VALUES (:listing_id, :area, :synced_version, :embed_hash, :embedding_model, now()) "
    "ON CONFLICT (listing_id) DO UPDATE SET area = EXCLUDED.area, synced_version = EXCLUDED.synced_version, "
    "embed_hash = EXCLUDED.embed_hash, embedding_model = EXCLUDED.embedding_model, synced_at = now() "
    "WHERE listing_sync.synced_version <= EXCLUDED.synced_version"
)
# Synced listings of an area that no longer exist in the source: to delete from the store.
DELETED_IN_AREA = text(
    "SELECT s.listing_id FROM listing_sync s LEFT JOIN listings l ON l.id = s.listing_id "
    "WHERE s.area = :area AND l.id IS NULL"
)
DELETE_SYNC_STATE = text("DELETE FROM listing_sync WHERE listing_id = ANY(:ids)")
DELETE_DESCRIPTIONS = text(
    "DELETE FROM listing_descriptions d WHERE d.listing_id = ANY(:ids) "
    "AND NOT EXISTS (SELECT 1 FROM listings l WHERE l.id = d.listing_id)"
)
SYNCED_VERSIONS_IN_AREA = text("SELECT listing_id, synced_version FROM listing_sync WHERE area = :area")
STALE_SYNC_IN_AREA = text(
    "SELECT count(*) FROM listing_sync s JOIN listings l ON l.id = s.listing_id "
    "WHERE l.area = :area AND s.synced_version < l.version"
)

SOURCE_VERSIONS_IN_AREA = text("SELECT id, version FROM listings WHERE area = :area")
REJECTS_FOR_FILE = text(
    "SELECT line_number, listing_id, reason FROM listing_rejects WHERE source_file = :source_file ORDER BY line_number"
)
