"""Every SQL statement the project runs against the source database, in one place.

Writes to the project's tables are built from their definitions in `tables.py`;
the pgvector store's statements are in `pgvector_sql.py` and `search_sql.py`
beside this file; the schema is `schema.sql`.
"""

from __future__ import annotations

from sqlalchemy import TextClause, text

from gfl_dagster.db.tables import LISTING_COLUMNS
from gfl_dagster.spec import SourceSpec

_COLUMNS = ", ".join(LISTING_COLUMNS)

SCHEMA_VERSION_TABLE_EXISTS = text("SELECT to_regclass('gfl_schema_version') IS NOT NULL")
APPLIED_SCHEMA_VERSION = text("SELECT version FROM gfl_schema_version")
RECORD_SCHEMA_VERSION = text(
    "DELETE FROM gfl_schema_version; INSERT INTO gfl_schema_version (version) VALUES (:version)"
)
# Model spend (generation/spend.py): today's, for the budget; per model, for `gfl status`.
SPENT_TODAY = text("SELECT coalesce(sum(cost_usd), 0) FROM model_usage WHERE day = :day")
MODEL_USAGE_SUMMARY = text(
    "SELECT model, sum(requests) AS requests, sum(prompt_tokens) AS prompt_tokens, "
    "sum(completion_tokens) AS completion_tokens, sum(cost_usd) AS cost_usd, "
    "sum(cost_usd) FILTER (WHERE day = :day) AS cost_today_usd, "
    "sum(prompt_tokens + completion_tokens) FILTER (WHERE day = :day) AS tokens_today "
    "FROM model_usage GROUP BY model ORDER BY model"
)
COUNT_LISTINGS = text("SELECT count(*) FROM listings")
LIST_AREAS = text("SELECT area, count(*) AS listings FROM listings GROUP BY area ORDER BY area")
ANY_TOMBSTONE = text("SELECT EXISTS (SELECT 1 FROM listing_tombstones)")  # the table held rows once
# A CSV load names its session after its progress (listings/load.py), for `gfl status` in another process.
NAME_LOADING_SESSION = "SELECT set_config('application_name', %s, false)"  # psycopg2 cursor, raw connection
LOADING_SESSIONS = text("SELECT application_name FROM pg_stat_activity WHERE application_name LIKE :prefix")

_LISTING_FIELDS = f"{_COLUMNS}, area, version, updated_at"
LISTINGS_IN_AREA = text(f"SELECT {_LISTING_FIELDS} FROM listings WHERE area = :area ORDER BY id")
# Only rows that may need work: a run after one change reads one row, not its whole area.
LISTINGS_NEEDING_DESCRIPTION = text(
    f"SELECT {', '.join('l.' + c for c in _LISTING_FIELDS.split(', '))} FROM listings l "
    "LEFT JOIN listing_descriptions d ON d.listing_id = l.id WHERE l.area = :area AND (d.listing_id IS NULL "
    "OR d.source_version < l.version OR d.model <> :model OR d.prompt_version <> :prompt_version) ORDER BY l.id"
)
# A description checked against a newer version (a filterable-only change) still fits it.
CONFIRM_DESCRIPTIONS = text("UPDATE listing_descriptions SET source_version = :version WHERE listing_id = :listing_id")
LISTINGS_NEEDING_VECTORS = text(
    f"SELECT {', '.join('l.' + c for c in _LISTING_FIELDS.split(', '))} FROM listings l "
    "LEFT JOIN listing_sync s ON s.listing_id = l.id LEFT JOIN listing_descriptions d ON d.listing_id = l.id "
    "LEFT JOIN guest_summaries g ON g.listing_id = l.id "
    "WHERE l.area = :area AND (s.listing_id IS NULL OR s.synced_version < l.version "
    "OR s.embedding_model <> :model OR d.generated_at > s.synced_at OR g.generated_at > s.synced_at) ORDER BY l.id"
)
EXISTING_LISTINGS = text("SELECT id FROM listings WHERE id = ANY(:ids)")
LISTING_BY_ID = text(f"SELECT {_LISTING_FIELDS} FROM listings WHERE id = :id")

DESCRIPTIONS_FOR = text(
    "SELECT listing_id, description, input_hash, model, prompt_version, source_version, generated_at "
    "FROM listing_descriptions WHERE listing_id = ANY(:ids)"
)
DESCRIPTION_BY_ID = text(
    "SELECT listing_id, description, input_hash, model, prompt_version, source_version, "
    "prompt_tokens, completion_tokens, generated_at, fallback_reason FROM listing_descriptions WHERE listing_id = :id"
)
DESCRIPTIONS_IN_AREA = text(
    f"SELECT d.listing_id, d.description, {', '.join('l.' + c for c in _LISTING_FIELDS.split(', '))} "
    "FROM listing_descriptions d JOIN listings l ON l.id = d.listing_id WHERE l.area = :area"
)
PLACE_NAMES = text("SELECT area FROM listings UNION SELECT neighbourhood_group FROM listings "
                   "WHERE neighbourhood_group IS NOT NULL UNION SELECT neighbourhood FROM listings "
                   "WHERE neighbourhood IS NOT NULL")
# Query understanding: the places people may name, and what "cheap" means in each of them.
AREA_NEIGHBOURHOODS = text("SELECT area, neighbourhood, count(*) AS listings FROM listings "
                           "GROUP BY area, neighbourhood ORDER BY listings DESC, area, neighbourhood")
PRICE_QUARTILES = text(
    "SELECT CASE WHEN GROUPING(area) = 0 THEN area WHEN GROUPING(neighbourhood) = 0 THEN neighbourhood END AS place, "
    "percentile_cont(0.25) WITHIN GROUP (ORDER BY price) AS q1, percentile_cont(0.75) WITHIN GROUP (ORDER BY price) AS q3 "
    "FROM listings WHERE price > 0 GROUP BY GROUPING SETS ((area), (neighbourhood), ()) HAVING count(*) >= 4"
)
# Which of the rich facts' columns a table has (the summary files' tables lack them), and whether any row holds a
# value in each: a sentence's fact filter is applied only where the data has it (search/interpret.py).
TABLE_COLUMNS = text("SELECT column_name, data_type = 'ARRAY' AS is_array FROM information_schema.columns "
                     "WHERE table_schema = current_schema() AND table_name = :table AND column_name = ANY(:columns)")


def columns_holding_values(table: str, columns: dict[str, bool]) -> TextClause:
    """One row: for each column (name -> is an array; names as TABLE_COLUMNS found them), whether a row has a
    value (an empty array is none)."""
    held = ", ".join(f"EXISTS (SELECT 1 FROM {table} WHERE {column} IS NOT NULL"
                     f"{f' AND cardinality({column}) > 0' if is_array else ''}) AS {column}"
                     for column, is_array in columns.items())
    return text(f"SELECT {held or 'TRUE AS none'}")


def property_types(table: str) -> TextClause:
    """The property types a table's rows have, most common first."""
    return text(f"SELECT property_type FROM {table} WHERE property_type IS NOT NULL "
                "GROUP BY property_type ORDER BY count(*) DESC, property_type")
AREA_NAMES = text("SELECT DISTINCT area FROM listings UNION SELECT DISTINCT neighbourhood_group FROM listings "
                  "WHERE neighbourhood_group IS NOT NULL")

CLEAR_FAILURES = text("DELETE FROM sync_failures WHERE stage = :stage AND listing_id = ANY(:ids)")
FAILURES_FOR = text(
    "SELECT listing_id, input_hash, attempts, reason FROM sync_failures "
    "WHERE stage = :stage AND listing_id = ANY(:ids)"
)

SYNC_STATE_FOR = text(
    "SELECT listing_id, synced_version, embed_hash, embedding_model FROM listing_sync WHERE listing_id = ANY(:ids)"
)
SYNC_STATE_BY_ID = text(
    "SELECT listing_id, area, synced_version, embed_hash, embedding_model, synced_at FROM listing_sync "
    "WHERE listing_id = :id"
)
# Synced listings of an area that no longer exist in the source: to delete from the store.
DELETED_IN_AREA = text(
    "SELECT s.listing_id FROM listing_sync s LEFT JOIN listings l ON l.id = s.listing_id "
    "WHERE s.area = :area AND l.id IS NULL"
)
DELETE_SYNC_STATE = text("DELETE FROM listing_sync WHERE listing_id = ANY(:ids)")


def tombstone_versions(spec: SourceSpec) -> TextClause:
    """The version at which each of these rows was deleted: a store that cannot check it in its own
    write (Weaviate) reads it first, so a stale write cannot bring a deleted row back."""
    return text(f"SELECT {spec.store_key}, version FROM {spec.tombstone_table} WHERE {spec.store_key} = ANY(:ids)")


DELETE_DESCRIPTIONS = text(
    "DELETE FROM listing_descriptions d WHERE d.listing_id = ANY(:ids) "
    "AND NOT EXISTS (SELECT 1 FROM listings l WHERE l.id = d.listing_id)"
)
SYNCED_AREAS = text("SELECT DISTINCT area FROM listing_sync")

SOURCE_VERSIONS_IN_AREA = text("SELECT id, version FROM listings WHERE area = :area")
REJECTS_FOR_FILE = text(
    "SELECT line_number, listing_id, reason FROM listing_rejects WHERE source_file = :source_file ORDER BY line_number"
)

# --- ads -------------------------------------------------------------------------------------------
# A listing with the description written for it: what ads and recommendations are written from.
_WITH_DESCRIPTION = (f"SELECT {', '.join('l.' + c for c in _LISTING_FIELDS.split(', '))}, d.description "
                     "FROM listings l LEFT JOIN listing_descriptions d ON d.listing_id = l.id")
LISTINGS_WITH_DESCRIPTIONS_FOR = text(f"{_WITH_DESCRIPTION} WHERE l.id = ANY(:ids)")
# Only listings whose ads may be out of date: changed since their newest active ad was written
# (its version, or its description), or with no active ad at all. A run after one change reads one listing.
LISTINGS_NEEDING_ADS = text(
    f"{_WITH_DESCRIPTION} WHERE l.area = :area "
    "AND NOT EXISTS (SELECT 1 FROM listing_ads a WHERE a.listing_id = l.id AND a.retired_at IS NULL "
    "AND a.source_version >= l.version AND a.created_at >= coalesce(d.generated_at, a.created_at)) ORDER BY l.id"
)
ACTIVE_ADS_FOR = text(
    "SELECT id, listing_id, audience, variant, angle, input_hash, model, text FROM listing_ads "
    "WHERE listing_id = ANY(:ids) AND retired_at IS NULL ORDER BY listing_id, audience, variant"
)
NEXT_VARIANT = text("SELECT coalesce(max(variant), 0) + 1 FROM listing_ads WHERE listing_id = :listing_id "
                    "AND audience = :audience")
RETIRE_ADS = text("UPDATE listing_ads SET retired_at = now(), retire_reason = :reason "
                  "WHERE id = ANY(:ids) AND retired_at IS NULL")
# Active ads of listings that left the area or the source: retired with the reason.
ORPHAN_ADS_IN_AREA = text(
    "SELECT a.id FROM listing_ads a LEFT JOIN listings l ON l.id = a.listing_id "
    "WHERE a.area = :area AND a.retired_at IS NULL AND (l.id IS NULL OR l.area <> a.area)"
)
# Impressions and clicks of every active ad of an audience (learning compares across listings).
AD_STATS = text(
    "SELECT a.id AS ad_id, a.listing_id, a.audience, a.variant, a.text, a.area, a.angle, "
    "count(*) FILTER (WHERE e.kind = 'impression') AS impressions, "
    "count(*) FILTER (WHERE e.kind = 'click') AS clicks "
    "FROM listing_ads a LEFT JOIN feedback_events e ON e.ad_id = a.id AND e.trusted "
    "WHERE a.retired_at IS NULL GROUP BY a.id"
)
# The same per audience and angle over every ad, retired ones too: the bandit's pooled evidence.
ANGLE_STATS = text(
    "SELECT a.audience, a.angle, "
    "count(*) FILTER (WHERE e.kind = 'impression') AS impressions, "
    "count(*) FILTER (WHERE e.kind = 'click') AS clicks "
    "FROM listing_ads a JOIN feedback_events e ON e.ad_id = a.id AND e.trusted "
    "WHERE a.angle IS NOT NULL GROUP BY a.audience, a.angle"
)
ADS_FOR_LISTINGS = text(
    "SELECT id, listing_id, audience, variant, angle, text, written_by FROM listing_ads "
    "WHERE listing_id = ANY(:ids) AND retired_at IS NULL ORDER BY listing_id, audience, variant"
)
ADS_OF_LISTING = text(
    "SELECT id, audience, variant, angle, text, model, written_by, prompt_version, examples, notes, created_at, "
    "retired_at, retire_reason FROM listing_ads WHERE listing_id = :id ORDER BY audience, variant"
)

# --- recommended for you ------------------------------------------------------------------------------
# Users of a bucket whose recommendation is out of date: they have newer events than it reflects (or
# none stored), it holds a listing that changed or went away since it was written, or another prompt wrote it.
_RECOMMENDATION_STALE = (
    "(r.prompt_version <> :prompt_version OR EXISTS (SELECT 1 FROM unnest(r.listing_ids) AS held(id) "
    "LEFT JOIN listings l ON l.id = held.id WHERE l.id IS NULL OR l.updated_at > r.generated_at))"
)
_USERS_TO_REFRESH = (
    "SELECT e.user_id, max(e.id) AS newest FROM feedback_events e "
    "LEFT JOIN user_recommendations r ON r.user_id = e.user_id "
    "WHERE {bucket} e.trusted AND e.kind IN ('view', 'click', 'save', 'book') "
    f"GROUP BY e.user_id, r.user_id, r.listing_ids, r.generated_at, r.prompt_version "
    f"HAVING max(e.id) > coalesce(max(r.source_event_id), 0) OR (r.user_id IS NOT NULL AND {_RECOMMENDATION_STALE})"
)
USERS_TO_REFRESH = text(_USERS_TO_REFRESH.format(bucket="gfl_user_bucket(e.user_id) = :bucket AND"))
# The buckets with a user to refresh (`gfl sync` materializes those).
BUCKETS_TO_REFRESH = text(f"SELECT DISTINCT gfl_user_bucket(due.user_id) AS bucket "
                          f"FROM ({_USERS_TO_REFRESH.format(bucket='')}) due ORDER BY 1")
# The buckets holding a recommendation that a listing change made stale (the feedback sensor asks for them).
STALE_RECOMMENDATION_BUCKETS = text(
    f"SELECT DISTINCT r.bucket FROM user_recommendations r WHERE {_RECOMMENDATION_STALE}"
)
# Ages from the user's newest event: weights are relative, and a guest's stays of years ago keep theirs.
USER_SIGNALS = text(
    "SELECT e.listing_id, e.kind, extract(epoch FROM max(e.occurred_at) OVER () - e.occurred_at) AS age_s "
    "FROM feedback_events e "
    "JOIN listings l ON l.id = e.listing_id "
    "WHERE e.user_id = :user_id AND e.trusted AND e.kind IN ('view', 'click', 'save', 'book') "
    "ORDER BY e.id DESC LIMIT 200"
)
BOOKED_BY_USER = text(
    "SELECT DISTINCT listing_id FROM feedback_events WHERE user_id = :user_id AND kind = 'book' AND trusted"
)
# A user's recent searches and ad clicks, newest first: the audience their history points to (ads/viewer.py).
AUDIENCE_HISTORY = text(
    "SELECT e.kind, e.query, a.audience FROM feedback_events e LEFT JOIN listing_ads a ON a.id = e.ad_id "
    "WHERE e.user_id = :user_id AND e.trusted AND (e.kind = 'search' OR (e.kind = 'click' AND e.ad_id IS NOT NULL)) "
    "ORDER BY e.id DESC LIMIT 100"
)
MOST_BOOKED = text(
    "SELECT e.listing_id, count(*) AS bookings FROM feedback_events e JOIN listings l ON l.id = e.listing_id "
    "WHERE e.kind = 'book' AND e.trusted GROUP BY e.listing_id ORDER BY bookings DESC, e.listing_id LIMIT :limit"
)
MOST_REVIEWED = text("SELECT id FROM listings ORDER BY number_of_reviews DESC NULLS LAST, id LIMIT :limit")
# The recommender's figures for candidates (recommendations/ranking.py): co-bookings of the user's listings.
# Their place, room type, price and reviews (ranking.Facts), and the listings nearest the user's
# (ranking.PLACE_POOL each): a nearest-neighbour walk of listings_place_idx per place, in degrees (the order,
# not the km).
FACTS_OF = text("SELECT id, latitude, longitude, room_type, price, coalesce(number_of_reviews, 0) AS reviews "
                "FROM listings WHERE id = ANY(:ids)")
LISTINGS_NEAR = text(
    "SELECT DISTINCT n.id FROM unnest(CAST(:latitudes AS float8[]), CAST(:longitudes AS float8[])) AS p(lat, lon) "
    "CROSS JOIN LATERAL (SELECT id FROM listings "
    "ORDER BY point(longitude, latitude) <-> point(p.lon, p.lat) LIMIT :count) n"
)
CO_BOOKINGS_OF = text("SELECT listing_id, other_id, guests FROM listing_co_bookings c "
                      "JOIN listings l ON l.id = c.other_id WHERE c.listing_id = ANY(:ids)")
# Every guest's trusted bookings, newest first (a guest's latest listings pair up: co_bookings.py).
TRUSTED_BOOKINGS = text("SELECT user_id, listing_id, max(id) AS newest FROM feedback_events "
                        "WHERE kind = 'book' AND trusted GROUP BY user_id, listing_id ORDER BY user_id, newest DESC")
# Co-bookings are due when a trusted booking is newer than what they reflect, and the last build is older
# than :min_age_s seconds (0: whenever there is a newer booking).
CO_BOOKINGS_DUE = text(
    "SELECT b.newest FROM (SELECT max(id) AS newest FROM feedback_events WHERE kind = 'book' AND trusted) b "
    "LEFT JOIN listing_co_bookings_built s ON true "
    "WHERE b.newest > coalesce(s.source_event_id, 0) "
    "AND (s.built_at IS NULL OR s.built_at < now() - make_interval(secs => :min_age_s))"
)
# DELETE, not TRUNCATE: a user's refresh reading the old rows meanwhile is not blocked.
CLEAR_CO_BOOKINGS = [text("DELETE FROM listing_co_bookings"), text("DELETE FROM listing_co_bookings_built")]
RECORD_CO_BOOKINGS_BUILT = text("INSERT INTO listing_co_bookings_built (source_event_id, guests, pairs) "
                                "VALUES (:source_event_id, :guests, :pairs)")
NEWEST_EVENT_OF = text("SELECT max(id) FROM feedback_events WHERE user_id = :user_id")
FORGET_RECOMMENDATION = text("DELETE FROM user_recommendations WHERE user_id = :user_id")
RECOMMENDATION_FOR = text("SELECT * FROM user_recommendations WHERE user_id = :user_id")
# The feedback sensor: events past its cursor, as the buckets and ad areas they touch.
NEW_EVENTS = text(
    "SELECT max(e.id) AS newest, array_agg(DISTINCT gfl_user_bucket(e.user_id)) "
    "FILTER (WHERE e.kind IN ('view', 'click', 'save', 'book')) AS buckets, "
    "array_agg(DISTINCT a.area) FILTER (WHERE a.area IS NOT NULL) AS ad_areas "
    "FROM feedback_events e LEFT JOIN listing_ads a ON a.id = e.ad_id WHERE e.id > :after"
)
# Replays: the kinds already recorded against these impression ids (at most one of each per impression).
RECORDED_FOR_IMPRESSIONS = text(
    "SELECT impression_id, kind FROM feedback_events WHERE impression_id = ANY(:ids)"
)
EVENT_COUNTS = text("SELECT kind, count(*) AS n FROM feedback_events GROUP BY kind ORDER BY kind")
AD_COUNTS = text("SELECT count(*) FILTER (WHERE retired_at IS NULL) AS active, "
                 "count(*) FILTER (WHERE retired_at IS NOT NULL) AS retired FROM listing_ads")
RECOMMENDATION_COUNT = text("SELECT count(*) FROM user_recommendations")

# --- change capture -------------------------------------------------------------------
# Every transaction id below the horizon has committed or aborted: the changes it made
# are all visible now. A watermark that only advances to the horizon cannot skip a
# long transaction that commits after a later one (the timestamp-watermark bug).
WATERMARK_HORIZON = text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")


def changed_areas(*sources: SourceSpec) -> TextClause:
    """The areas (partitions) with rows written or deleted in [:since, :horizon) in any of `sources`, with their
    count: the sources' tables and tombstones, read by their `change_xid` (every source's DDL keeps one)."""
    window = "change_xid >= CAST(:since AS xid8) AND change_xid < CAST(:horizon AS xid8)"
    changed = " UNION ALL ".join(f"SELECT {spec.partition} AS area FROM {table} WHERE {window}"
                                 for spec in sources for table in (spec.table, spec.tombstone_table))
    return text(f"SELECT area, count(*) AS changes FROM ({changed}) changed GROUP BY area")


# The oldest transaction holding the horizon back, if any: shown as lag, never as loss.
OLDEST_OPEN_TRANSACTION_S = text(
    "SELECT extract(epoch FROM now() - min(xact_start)) FROM pg_stat_activity "
    "WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
)

# Listings whose synced version is behind the source (a poison row, failed at least
# POISON_ATTEMPTS times since its last change, is not pending: it waits for a new change),
# and synced listings that have since been deleted.
_PENDING = (
    "SELECT l.area, l.updated_at AS changed_at FROM listings l "
    "LEFT JOIN listing_sync s ON s.listing_id = l.id "
    "WHERE (s.listing_id IS NULL OR s.synced_version < l.version) AND NOT EXISTS ("
    " SELECT 1 FROM sync_failures f WHERE f.listing_id = l.id AND f.attempts >= :poison_attempts"
    " AND f.last_failed_at >= l.updated_at) "
    "UNION ALL "
    "SELECT s.area, coalesce(t.deleted_at, s.synced_at) AS changed_at FROM listing_sync s "
    "LEFT JOIN listings l ON l.id = s.listing_id LEFT JOIN listing_tombstones t ON t.listing_id = s.listing_id "
    "WHERE l.id IS NULL "
    "UNION ALL "
    # Listings whose guest summary is behind their reviews (reviews.sql), or whose vector is behind their summary.
    # Counted per listing, in the listing's area: a review's own area copy never splits its listing's count.
    "SELECT rl.area, r.changed_at FROM (SELECT listing_id, count(*) AS n, max(version) AS newest, "
    " max(updated_at) AS changed_at FROM reviews GROUP BY listing_id) r "
    "JOIN listings rl ON rl.id = r.listing_id LEFT JOIN guest_summaries g ON g.listing_id = r.listing_id "
    "WHERE (g.listing_id IS NULL OR g.review_count <> r.n OR g.newest_review_version <> r.newest) AND NOT EXISTS ("
    " SELECT 1 FROM sync_failures f WHERE f.listing_id = r.listing_id AND f.attempts >= :poison_attempts"
    " AND f.last_failed_at >= r.changed_at) "
    "UNION ALL "
    "SELECT g.area, g.generated_at AS changed_at FROM guest_summaries g "
    "WHERE (g.review_count > 0 AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.listing_id = g.listing_id)) "
    "OR EXISTS (SELECT 1 FROM listing_sync s WHERE s.listing_id = g.listing_id AND s.synced_at < g.generated_at)"
)
PENDING_BY_AREA = text(
    f"SELECT area, count(*) AS pending, extract(epoch FROM now() - min(changed_at)) AS oldest_s "
    f"FROM ({_PENDING}) pending GROUP BY area"
)
PENDING_IN_AREA = text(
    f"SELECT extract(epoch FROM now() - min(changed_at)) AS oldest_s FROM ({_PENDING}) pending WHERE area = :area"
)
STATUS_BY_AREA = text(
    "WITH source AS (SELECT area, count(*) AS n FROM listings GROUP BY area), "
    "synced AS (SELECT l.area, count(*) AS n FROM listings l JOIN listing_sync s ON s.listing_id = l.id "
    " AND s.synced_version >= l.version GROUP BY l.area), "
    f"pending AS (SELECT area, count(*) AS n, extract(epoch FROM now() - min(changed_at)) AS oldest_s "
    f" FROM ({_PENDING}) p GROUP BY area), "
    "rejects AS (SELECT gfl_area(raw->>'neighbourhood_group', raw->>'neighbourhood') AS area, count(*) AS n "
    " FROM listing_rejects GROUP BY 1), "
    "poison AS (SELECT area, count(*) AS n FROM sync_failures WHERE attempts >= :poison_attempts GROUP BY area), "
    "areas AS (SELECT area FROM source UNION SELECT area FROM pending UNION SELECT area FROM rejects "
    " UNION SELECT area FROM poison) "
    "SELECT a.area, coalesce(source.n, 0) AS source_rows, coalesce(synced.n, 0) AS synced_rows, "
    "coalesce(pending.n, 0) AS pending, pending.oldest_s AS oldest_pending_s, coalesce(rejects.n, 0) AS rejects, "
    "coalesce(poison.n, 0) AS poison_rows FROM areas a "
    "LEFT JOIN source USING (area) LEFT JOIN synced USING (area) LEFT JOIN pending USING (area) "
    "LEFT JOIN rejects USING (area) LEFT JOIN poison USING (area) ORDER BY a.area"
)
CONFIRM_SYNC_STATE = text("UPDATE listing_sync SET synced_at = now() WHERE listing_id = ANY(:ids)")
FORGET_SYNC_STATE = text("DELETE FROM listing_sync WHERE listing_id = ANY(:ids)")
AREA_LOCK = text("SELECT pg_advisory_lock(hashtext(:key))")
AREA_UNLOCK = text("SELECT pg_advisory_unlock(hashtext(:key))")
# Benchmarks: `gfl bench freshness` changes one row and waits until the store holds its version.
ALL_LISTING_IDS = text("SELECT id FROM listings ORDER BY id")
BUMP_PRICE = text("UPDATE listings SET price = price + 1 WHERE id = :id RETURNING version")
SYNCED_VERSION_BY_ID = text("SELECT synced_version FROM listing_sync WHERE listing_id = :id")
NEW_PROBE = text("INSERT INTO freshness_probes DEFAULT VALUES RETURNING id")
PROBE_ANSWERED = text("SELECT answered_at IS NOT NULL FROM freshness_probes WHERE id = :id")
NEXT_UNANSWERED_PROBE = text("SELECT max(id) FROM freshness_probes WHERE answered_at IS NULL AND id > :after")
ANSWER_PROBES = text(
    "UPDATE freshness_probes SET answered_at = clock_timestamp() WHERE answered_at IS NULL AND id <= :up_to"
)
# Poison rows get another chance at each reconciliation, in case the cause has gone.
RETRY_OLD_POISON = text(
    "DELETE FROM sync_failures WHERE attempts >= :poison_attempts AND last_failed_at < now() - interval '12 hours'"
)

# --- `gfl simulate`: a stream of changes as an application would write them -------------------
SIMULATE_PICK = text("SELECT id FROM listings ORDER BY random() LIMIT 1")
SIMULATE_UPDATE_PRICE = text(
    "UPDATE listings SET price = greatest(10, round(coalesce(price, 100) * :factor)) WHERE id = :id")
SIMULATE_UPDATE_AVAILABILITY = text("UPDATE listings SET availability_365 = :days WHERE id = :id")
SIMULATE_INSERT = text(
    "INSERT INTO listings (id, name, host_id, host_name, neighbourhood_group, neighbourhood, latitude, longitude, "
    "room_type, price, minimum_nights, number_of_reviews, availability_365) "
    "SELECT (SELECT max(id) FROM listings) + 1, 'New: ' || coalesce(name, 'listing'), host_id, host_name, "
    "neighbourhood_group, neighbourhood, latitude + :jitter, longitude - :jitter, room_type, price, minimum_nights, "
    "0, 365 FROM listings WHERE id = :id")
SIMULATE_DELETE = text("DELETE FROM listings WHERE id = :id")

# --- soak: `gfl bench soak` (gfl_dagster_bench/soak*.py), a chaos soak with an audit at the end -----------------
# A random living listing, skipping rows another transaction holds: the soak's long transactions keep
# rows locked across sensor ticks, and the stream of changes must not queue behind them.
SOAK_PICK = text("SELECT id FROM listings ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED")
# A deleted id (its tombstone stands, no living row): to be inserted again.
SOAK_PICK_DELETED = text(
    "SELECT t.listing_id FROM listing_tombstones t WHERE NOT EXISTS (SELECT 1 FROM listings l "
    "WHERE l.id = t.listing_id) ORDER BY random() LIMIT 1")
# The deleted id comes back with another living listing's attributes.
SOAK_REINSERT = text(
    "INSERT INTO listings (id, name, host_id, host_name, neighbourhood_group, neighbourhood, latitude, longitude, "
    "room_type, price, minimum_nights, number_of_reviews, availability_365) "
    "SELECT :id, 'Back: ' || coalesce(name, 'listing'), host_id, host_name, neighbourhood_group, neighbourhood, "
    "latitude, longitude, room_type, price, minimum_nights, number_of_reviews, availability_365 "
    "FROM listings WHERE id = :template_id")
# A guest's review of a listing (the soak's stream and its first reviews, `gfl bench freshness`'s review case):
# a new id, never a deleted review's (its tombstone stands).
NEW_REVIEW = text(
    "INSERT INTO reviews (id, listing_id, date, reviewer_id, reviewer_name, comments) "
    "SELECT greatest((SELECT max(id) FROM reviews), (SELECT max(review_id) FROM review_tombstones), 0) + 1, "
    ":listing_id, current_date, :reviewer_id, :reviewer_name, :comments RETURNING version"
)
# A random review no other transaction holds, its comments rewritten or the review deleted.
SOAK_EDIT_REVIEW = text(
    "UPDATE reviews SET comments = :comments WHERE id = "
    "(SELECT id FROM reviews ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED)")
SOAK_DELETE_REVIEW = text(
    "DELETE FROM reviews WHERE id = (SELECT id FROM reviews ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED)")
# The store made unavailable without touching the source (pgvector only): writers wait on the lock.
SOAK_LOCK_STORE = text("LOCK TABLE listing_vectors IN ACCESS EXCLUSIVE MODE")
# The audit: the source rows with their descriptions (what the store should hold), its deletions, the sync
# progress and the failures.
SOAK_SOURCE_ROWS = text(
    f"SELECT {', '.join('l.' + c for c in _LISTING_FIELDS.split(', '))}, d.description AS generated_description, "
    "d.input_hash AS description_input_hash, g.summary AS guest_summary "
    "FROM listings l LEFT JOIN listing_descriptions d ON d.listing_id = l.id "
    "LEFT JOIN guest_summaries g ON g.listing_id = l.id ORDER BY l.id")
SOAK_DELETED_VERSIONS = text(
    "SELECT t.listing_id, t.version FROM listing_tombstones t "
    "WHERE NOT EXISTS (SELECT 1 FROM listings l WHERE l.id = t.listing_id)")
SOAK_PROGRESS_VERSIONS = text("SELECT listing_id, synced_version FROM listing_sync")
SOAK_FAILURES = text(
    "SELECT listing_id, stage, attempts, reason FROM sync_failures ORDER BY attempts DESC, listing_id, stage")

# --- fast path: `gfl listen` (change_capture/fast_path.py) and `gfl bench freshness --fast-path` ------------
# The channel schema.sql's listings_notify_change trigger notifies, one payload per changed area.
LISTING_CHANGES_CHANNEL = "gfl_listing_changes"
# An idle listener asks now and then: a connection a remote server dropped silently never wakes select().
LISTENER_ALIVE = "SELECT 1"
# How much waits in an area: a bulk change (a CSV load, an initial sync) is left to the runs.
PENDING_COUNT_IN_AREA = text(f"SELECT count(*) FROM ({_PENDING}) pending WHERE area = :area")
# The listener never waits on a run's area lock: it asks, and leaves a held area to the sensor.
TRY_AREA_LOCK = text("SELECT pg_try_advisory_lock(hashtext(:key))")
# The listener's connection, named so operators (and a test that cuts it as a restart would) can find it.
LISTENER_APPLICATION_NAME = "gfl listen"
LISTENER_BACKENDS = text(
    "SELECT pid FROM pg_stat_activity WHERE application_name = :name AND pid <> pg_backend_pid()"
).bindparams(name=LISTENER_APPLICATION_NAME)
# The benchmark's insert, timed from commit until the store holds it (its delete is SIMULATE_DELETE).
FRESHNESS_INSERT = text(SIMULATE_INSERT.text + " RETURNING id, version")

# --- checks: the asset checks of listings/checks.py, over the rows one sync run touched ------------
# What a sensor-driven run touched in its area: the listings it wrote to the store (synced since it
# started), and the source changes since the previous sync of the area started (updates and deletes it
# had to carry). `settled`: the change predates this run, so the run must have carried it; a change
# committed while the run went on is the next run's.
CHECK_TOUCHED_ROWS = text(
    "WITH touched AS ("
    " SELECT listing_id AS id FROM listing_sync WHERE area = :area AND synced_at >= :started"
    " UNION SELECT id FROM listings WHERE area = :area AND updated_at >= :since AND updated_at < :started"
    " UNION SELECT listing_id FROM listing_tombstones"
    " WHERE area = :area AND deleted_at >= :since AND deleted_at < :started) "
    "SELECT t.id, l.version, (coalesce(l.updated_at, d.deleted_at) < :started) IS NOT FALSE AS settled "
    "FROM touched t LEFT JOIN listings l ON l.id = t.id LEFT JOIN listing_tombstones d ON d.listing_id = t.id"
)
# The descriptions a run wrote, with their listing's facts (as DESCRIPTIONS_IN_AREA).
DESCRIPTIONS_WRITTEN_SINCE = text(
    f"SELECT d.listing_id, d.description, {', '.join('l.' + c for c in _LISTING_FIELDS.split(', '))} "
    "FROM listing_descriptions d JOIN listings l ON l.id = d.listing_id "
    "WHERE d.area = :area AND d.generated_at >= :started"
)
# The database's clock: run start times (the worker's clock) are shifted onto it before comparing.
DATABASE_CLOCK = text("SELECT clock_timestamp()")

# --- reviews (db/reviews.sql): the second source, and the guest summaries written from it ------------------
REVIEW_COUNT = text("SELECT count(*) FROM reviews")
# Listings of an area whose guest summary is missing or behind their reviews (their count and newest version
# are what it was built from), or was written by another generator; and summaries of listings whose reviews
# are all gone (rewritten empty, so the listing re-embeds without them).
LISTINGS_NEEDING_SUMMARY = text(
    "SELECT r.listing_id FROM (SELECT listing_id, count(*) AS n, max(version) AS newest FROM reviews "
    " WHERE listing_id IN (SELECT id FROM listings WHERE area = :area) GROUP BY listing_id) r "
    "JOIN listings l ON l.id = r.listing_id "
    "LEFT JOIN guest_summaries g ON g.listing_id = r.listing_id "
    "WHERE g.listing_id IS NULL OR g.review_count <> r.n OR g.newest_review_version <> r.newest OR g.model <> :model "
    "UNION SELECT g.listing_id FROM guest_summaries g WHERE g.area = :area AND g.review_count > 0 "
    "AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.listing_id = g.listing_id) ORDER BY 1"
)
# The guest_summaries check: reviewed listings of an area whose summary is missing or behind their reviews and
# that have no recorded failure; `changed_since`: their reviews changed (or one of the area's was deleted) after
# :started, so a run that started before could not have carried it.
SUMMARIES_BEHIND_WITHOUT_FAILURE = text(
    "SELECT r.listing_id, g.listing_id IS NULL AS missing, "
    "r.changed_at >= :started OR (g.review_count > r.n AND EXISTS (SELECT 1 FROM review_tombstones t "
    " WHERE t.area = :area AND t.deleted_at >= :started)) AS changed_since "
    "FROM (SELECT listing_id, count(*) AS n, max(version) AS newest, max(updated_at) AS changed_at FROM reviews "
    " WHERE listing_id IN (SELECT id FROM listings WHERE area = :area) GROUP BY listing_id) r "
    "LEFT JOIN guest_summaries g ON g.listing_id = r.listing_id "
    "WHERE (g.listing_id IS NULL OR g.review_count <> r.n OR g.newest_review_version <> r.newest) "
    "AND NOT EXISTS (SELECT 1 FROM sync_failures f WHERE f.listing_id = r.listing_id AND f.stage = :stage) "
    "ORDER BY 1"
)
REVIEWED_LISTINGS_IN_AREA = text(
    "SELECT count(DISTINCT listing_id) FROM reviews WHERE listing_id IN (SELECT id FROM listings WHERE area = :area)")
REVIEWS_OF_LISTINGS = text(
    "SELECT r.id, r.listing_id, r.reviewer_id, r.comments, r.version, l.area FROM reviews r "
    "JOIN listings l ON l.id = r.listing_id WHERE r.listing_id = ANY(:ids) ORDER BY r.listing_id, r.id"
)
AREAS_OF_LISTINGS = text("SELECT id, area FROM listings WHERE id = ANY(:ids)")
# Summaries of listings that no longer exist: their listing's vector is deleted with it.
DELETE_ORPHAN_SUMMARIES = text(
    "DELETE FROM guest_summaries g WHERE g.area = :area AND NOT EXISTS (SELECT 1 FROM listings l WHERE l.id = g.listing_id)"
)
GUEST_SUMMARIES_FOR = text("SELECT listing_id, summary, review_ids FROM guest_summaries WHERE listing_id = ANY(:ids)")
GUEST_SUMMARY_BY_ID = text(
    "SELECT summary, review_ids, aspects, review_count, newest_review_version, model, written_by, fallback_reason, "
    "generated_at FROM guest_summaries WHERE listing_id = :id"
)
REVIEW_REJECTS_FOR_FILE = text(
    "SELECT line_number, review_id, listing_id, reason FROM review_rejects WHERE source_file = :source_file "
    "ORDER BY line_number"
)
