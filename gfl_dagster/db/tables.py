"""The project's tables as SQLAlchemy Core `Table`s: the one list of their columns.

schema.sql creates them (with the triggers, sequences and generated columns SQL
does best); every write the project makes is built from these definitions, and a
test checks that both agree with the live database.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
    case,
    func,
    literal_column,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert

metadata = MetaData()

# The operational table: the columns of an Inside Airbnb summary file (the 18-column header; the older
# 16-column format lacks the last two), then the facts only the detailed file has (NULL for a listing
# loaded from a summary file). `area`, `version`, `change_xid` and the timestamps are set by Postgres.
listings = Table(
    "listings", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("name", Text),
    Column("host_id", BigInteger),
    Column("host_name", Text),
    Column("neighbourhood_group", Text),
    Column("neighbourhood", Text),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
    Column("room_type", Text, nullable=False),
    Column("price", Numeric(12, 2)),
    Column("minimum_nights", Integer),
    Column("number_of_reviews", Integer),
    Column("last_review", Date),
    Column("reviews_per_month", Float),
    Column("calculated_host_listings_count", Integer),
    Column("availability_365", Integer),
    Column("number_of_reviews_ltm", Integer),
    Column("license", Text),
    # The detailed file's, under its own column names; `baths` is parsed from bathrooms_text, the host's
    # `description` is kept as host_description (the generated one is `description` everywhere else).
    Column("property_type", Text),
    Column("accommodates", Integer),
    Column("bedrooms", Integer),
    Column("beds", Integer),
    Column("bathrooms_text", Text),
    Column("baths", Float),
    Column("baths_shared", Boolean),
    Column("review_scores_rating", Float),
    Column("review_scores_accuracy", Float),
    Column("review_scores_cleanliness", Float),
    Column("review_scores_checkin", Float),
    Column("review_scores_communication", Float),
    Column("review_scores_location", Float),
    Column("review_scores_value", Float),
    Column("host_is_superhost", Boolean),
    Column("instant_bookable", Boolean),
    Column("amenities", ARRAY(Text)),  # the host's strings, as written
    Column("amenity_features", ARRAY(Text)),  # their canonical features (listings/amenities.toml), derived at load
    Column("host_description", Text),  # untrusted: the host's words, HTML stripped
    Column("neighborhood_overview", Text),  # untrusted, likewise
)
LISTING_COLUMNS = tuple(column.name for column in listings.columns)
SUMMARY_LISTING_COLUMNS = LISTING_COLUMNS[:LISTING_COLUMNS.index("license") + 1]  # what a summary file has
# Set by Postgres (gfl_area, the version sequence, triggers), never written by the project; a review's too.
DERIVED_LISTING_COLUMNS = ("area", "version", "change_xid", "created_at", "updated_at")

listing_rejects = Table(
    "listing_rejects", metadata,
    Column("source_file", Text, primary_key=True),
    Column("line_number", Integer, primary_key=True),
    Column("listing_id", Text),
    Column("reason", Text, nullable=False),
    Column("raw", JSONB, nullable=False),
    Column("rejected_at", DateTime(timezone=True), server_default=func.now()),
)

listing_descriptions = Table(
    "listing_descriptions", metadata,
    Column("listing_id", BigInteger, primary_key=True),
    Column("area", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("input_hash", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("prompt_version", Text, nullable=False),
    Column("source_version", BigInteger, nullable=False),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("generated_at", DateTime(timezone=True), server_default=func.now()),
    Column("fallback_reason", Text),
)

listing_sync = Table(
    "listing_sync", metadata,
    Column("listing_id", BigInteger, primary_key=True),
    Column("area", Text, nullable=False),
    Column("synced_version", BigInteger, nullable=False),
    Column("embed_hash", Text, nullable=False),
    Column("embedding_model", Text, nullable=False),
    Column("synced_at", DateTime(timezone=True), server_default=func.now()),
)

sync_failures = Table(
    "sync_failures", metadata,
    Column("listing_id", BigInteger, primary_key=True),
    Column("stage", Text, primary_key=True),
    Column("area", Text, nullable=False),
    Column("input_hash", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="1"),
    Column("last_failed_at", DateTime(timezone=True), server_default=func.now()),
)


feedback_events = Table(
    "feedback_events", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("listing_id", BigInteger),
    Column("ad_id", BigInteger),
    Column("query", Text),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), server_default=func.now()),
    Column("impression_id", Text),
    Column("propensity", Float),
    Column("trusted", Boolean, nullable=False, server_default="false"),
    Column("source_ref", Text),
)


# The reviews source (reviews.sql): `area`, `version`, `change_xid` and the timestamps are set by Postgres.
reviews = Table(
    "reviews", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("listing_id", BigInteger, nullable=False),
    Column("date", Date, nullable=False),
    Column("reviewer_id", BigInteger),
    Column("reviewer_name", Text),
    Column("comments", Text),
)
REVIEW_COLUMNS = tuple(column.name for column in reviews.columns)

review_rejects = Table(
    "review_rejects", metadata,
    Column("source_file", Text, primary_key=True),
    Column("line_number", Integer, primary_key=True),
    Column("review_id", Text),
    Column("listing_id", Text),
    Column("reason", Text, nullable=False),
    Column("raw", JSONB, nullable=False),
    Column("rejected_at", DateTime(timezone=True), server_default=func.now()),
)

guest_summaries = Table(
    "guest_summaries", metadata,
    Column("listing_id", BigInteger, primary_key=True),
    Column("area", Text, nullable=False),
    Column("summary", Text),
    Column("review_ids", ARRAY(BigInteger), nullable=False),
    Column("aspects", ARRAY(Text), nullable=False, server_default="{}"),
    Column("review_count", Integer, nullable=False),
    Column("newest_review_version", BigInteger, nullable=False),
    Column("model", Text, nullable=False),
    Column("written_by", Text, nullable=False),
    Column("fallback_reason", Text),
    Column("generated_at", DateTime(timezone=True), server_default=func.now()),
)


listing_ads = Table(
    "listing_ads", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("listing_id", BigInteger, nullable=False),
    Column("area", Text, nullable=False),
    Column("audience", Text, nullable=False),
    Column("variant", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("written_by", Text, nullable=False),
    Column("prompt_version", Text, nullable=False),
    Column("input_hash", Text, nullable=False),
    Column("source_version", BigInteger, nullable=False),
    Column("examples", ARRAY(BigInteger), nullable=False, server_default="{}"),
    Column("notes", Text),
    Column("prompt_tokens", Integer, nullable=False, server_default="0"),
    Column("completion_tokens", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
    Column("retired_at", DateTime(timezone=True)),
    Column("retire_reason", Text),
    Column("angle", Text),
)


user_recommendations = Table(
    "user_recommendations", metadata,
    Column("user_id", Text, primary_key=True),
    Column("bucket", Text, nullable=False),
    Column("listing_ids", ARRAY(BigInteger), nullable=False),
    Column("blurb", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("written_by", Text, nullable=False),
    Column("based_on", JSONB, nullable=False),
    Column("source_event_id", BigInteger, nullable=False),
    Column("notes", Text),
    Column("generated_at", DateTime(timezone=True), server_default=func.now()),
    Column("prompt_version", Text, nullable=False, server_default=""),
)

listing_co_bookings = Table(
    "listing_co_bookings", metadata,
    Column("listing_id", BigInteger, primary_key=True),
    Column("other_id", BigInteger, primary_key=True),
    Column("guests", Integer, nullable=False),
)

model_usage = Table(
    "model_usage", metadata,
    Column("day", Date, primary_key=True),
    Column("model", Text, primary_key=True),
    Column("asset", Text, primary_key=True),
    Column("requests", BigInteger, nullable=False),
    Column("prompt_tokens", BigInteger, nullable=False),
    Column("completion_tokens", BigInteger, nullable=False),
    Column("cost_usd", Numeric(14, 6)),
)


def _upsert_source(table: Table, columns: tuple[str, ...] | None = None):
    """Idempotent upsert by id of `columns` (default: all): an unchanged row is not written at all (no version
    bump), and the columns not named keep their values (a summary file leaves the detailed facts as they are).

    Returns `inserted` per written row (False: an update); unchanged rows return nothing.
    """
    statement = insert(table)
    content = [table.c[name] for name in columns or [c.name for c in table.columns] if name != "id"]
    return statement.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={column.name: statement.excluded[column.name] for column in content},
        where=tuple_(*content).is_distinct_from(tuple_(*(statement.excluded[c.name] for c in content))),
    ).returning(literal_column("xmax = 0").label("inserted"))


def _upsert(table: Table, key: list[str], refresh: tuple[str, ...] = ()):
    """INSERT ... ON CONFLICT (key) DO UPDATE every other column (and reset the `refresh` timestamps)."""
    statement = insert(table)
    values = {column.name: statement.excluded[column.name] for column in table.columns
              if column.name not in key and column.name not in refresh}
    values.update({name: func.now() for name in refresh})
    return statement, values


UPSERT_LISTINGS = _upsert_source(listings)
UPSERT_SUMMARY_LISTINGS = _upsert_source(listings, SUMMARY_LISTING_COLUMNS)
UPSERT_REVIEWS = _upsert_source(reviews)

_reject, _reject_values = _upsert(listing_rejects, ["source_file", "line_number"], refresh=("rejected_at",))
UPSERT_REJECT = _reject.on_conflict_do_update(index_elements=["source_file", "line_number"], set_=_reject_values)

_review_reject, _review_reject_values = _upsert(review_rejects, ["source_file", "line_number"], refresh=("rejected_at",))
UPSERT_REVIEW_REJECT = _review_reject.on_conflict_do_update(index_elements=["source_file", "line_number"],
                                                            set_=_review_reject_values)

_summary, _summary_values = _upsert(guest_summaries, ["listing_id"], refresh=("generated_at",))
UPSERT_GUEST_SUMMARY = _summary.on_conflict_do_update(index_elements=["listing_id"], set_=_summary_values)

_description, _description_values = _upsert(listing_descriptions, ["listing_id"], refresh=("generated_at",))
UPSERT_DESCRIPTION = _description.on_conflict_do_update(index_elements=["listing_id"], set_=_description_values)

# Progress never moves backwards: a late write of an older version is a no-op.
_recommendation, _recommendation_values = _upsert(user_recommendations, ["user_id"], refresh=("generated_at",))
UPSERT_RECOMMENDATION = _recommendation.on_conflict_do_update(index_elements=["user_id"],
                                                              set_=_recommendation_values)

_sync, _sync_values = _upsert(listing_sync, ["listing_id"], refresh=("synced_at",))
UPSERT_SYNC_STATE = _sync.on_conflict_do_update(
    index_elements=["listing_id"], set_=_sync_values,
    where=listing_sync.c.synced_version <= _sync.excluded.synced_version)

# The attempt count grows while a row keeps failing at the same content; new content starts again at 1.
_failure = insert(sync_failures)
RECORD_FAILURE = _failure.on_conflict_do_update(
    index_elements=["listing_id", "stage"],
    set_={
        "area": _failure.excluded.area,
        "reason": _failure.excluded.reason,
        "attempts": case((sync_failures.c.input_hash == _failure.excluded.input_hash, sync_failures.c.attempts + 1),
                         else_=1),
        "input_hash": _failure.excluded.input_hash,
        "last_failed_at": func.now(),
    },
)

# A step's usage adds to the day's; the cost stays unknown (NULL) only while no part of it had a price.
_usage = insert(model_usage)
ADD_MODEL_USAGE = _usage.on_conflict_do_update(
    index_elements=["day", "model", "asset"],
    set_={
        "requests": model_usage.c.requests + _usage.excluded.requests,
        "prompt_tokens": model_usage.c.prompt_tokens + _usage.excluded.prompt_tokens,
        "completion_tokens": model_usage.c.completion_tokens + _usage.excluded.completion_tokens,
        "cost_usd": case((model_usage.c.cost_usd.is_(None) & _usage.excluded.cost_usd.is_(None), None),
                         else_=func.coalesce(model_usage.c.cost_usd, 0) + func.coalesce(_usage.excluded.cost_usd, 0)),
    },
)
