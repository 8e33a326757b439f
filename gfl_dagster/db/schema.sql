-- gfl_dagster owns this schema. Every statement is idempotent: it is applied on
-- every start, against the embedded Postgres or any Postgres 13+ (Supabase too).
-- A transaction-scoped advisory lock keeps concurrent starts (webserver, daemon,
-- run workers) from racing each other.
SELECT pg_advisory_xact_lock(7419001);

-- Everything lives in the schema `gfl`, never in `public`: Supabase serves `public` through its
-- REST API to anyone holding the anon key, and generated text, feedback and rejects are not for them.
-- Connections name it first on their search_path (resources/database.py), so the SQL stays unqualified.
CREATE SCHEMA IF NOT EXISTS gfl;
SET LOCAL search_path TO gfl, public, extensions;
-- A database made before the gfl schema kept these in public: move them, data, indexes and triggers along.
DO $$
DECLARE
    relation record;
    routine text;
BEGIN
    FOR relation IN
        SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S')
          AND c.relname IN ('gfl_schema_version', 'listing_version_seq', 'listings', 'listing_tombstones',
                            'listing_rejects', 'listing_descriptions', 'listing_sync', 'vector_store_meta',
                            'sync_failures', 'feedback_events', 'listing_ads', 'user_recommendations',
                            'freshness_probes', 'listing_vectors', 'model_usage',
                            'listing_co_bookings', 'listing_co_bookings_built')
          AND to_regclass('gfl.' || quote_ident(c.relname)) IS NULL
    LOOP
        EXECUTE CASE relation.relkind WHEN 'S' THEN 'ALTER SEQUENCE public.' ELSE 'ALTER TABLE public.' END
            || quote_ident(relation.relname) || ' SET SCHEMA gfl';
    END LOOP;
    FOREACH routine IN ARRAY ARRAY['gfl_area(text, text)', 'gfl_user_bucket(text)',
                                   'gfl_stamp_listing_change()', 'gfl_record_listing_delete()',
                                   'gfl_stamp_change()', 'gfl_record_delete()', 'gfl_notify_change()']
    LOOP
        IF to_regprocedure('public.' || routine) IS NOT NULL AND to_regprocedure('gfl.' || routine) IS NULL THEN
            EXECUTE 'ALTER FUNCTION public.' || routine || ' SET SCHEMA gfl';
        END IF;
    END LOOP;
END $$;

-- Which version of this file the database has (its sha256): it is applied only when it changed.
CREATE TABLE IF NOT EXISTS gfl_schema_version (version text NOT NULL);

CREATE SEQUENCE IF NOT EXISTS listing_version_seq;

-- The partition of a listing, decided here and nowhere else: the borough
-- (neighbourhood_group) in New York; cities that leave it empty fall back to the neighbourhood.
-- Whitespace of any kind counts as empty, so a tab in neighbourhood_group cannot make an area of its own.
CREATE OR REPLACE FUNCTION gfl_area(neighbourhood_group text, neighbourhood text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(NULLIF(btrim(neighbourhood_group, E' \t\r\n\f\v'), ''),
                    NULLIF(btrim(neighbourhood, E' \t\r\n\f\v'), ''), 'Unknown')
$$;

-- The operational table: one row per listing, the union of the 16- and 18-column
-- Inside Airbnb summary formats. Generated content never lives here, so writing it
-- back cannot retrigger the loop.
CREATE TABLE IF NOT EXISTS listings (
    id                              bigint PRIMARY KEY,
    name                            text,
    host_id                         bigint,
    host_name                       text,
    neighbourhood_group             text,
    neighbourhood                   text,
    latitude                        double precision NOT NULL,
    longitude                       double precision NOT NULL,
    room_type                       text NOT NULL,
    price                           numeric(12, 2),
    minimum_nights                  integer,
    number_of_reviews               integer,
    last_review                     date,
    reviews_per_month               double precision,
    calculated_host_listings_count  integer,
    availability_365                integer,
    number_of_reviews_ltm           integer,
    license                         text,
    -- The Dagster partition (gfl_area above).
    area text GENERATED ALWAYS AS (gfl_area(neighbourhood_group, neighbourhood)) STORED,
    -- version: a global sequence, bumped only when content changes, so a later
    -- write to a row always carries a higher version (even across delete and re-insert).
    version     bigint NOT NULL DEFAULT nextval('listing_version_seq'),
    -- change_xid: the writing transaction, for a watermark that out-of-order commits cannot skip.
    change_xid  xid8 NOT NULL DEFAULT pg_current_xact_id(),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- A database made before gfl_area derived the area inline: derive it through gfl_area.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                   WHERE d.adrelid = 'listings'::regclass AND a.attname = 'area'
                   AND position('gfl_area' in pg_get_expr(d.adbin, d.adrelid)) > 0) THEN
        ALTER TABLE listings DROP COLUMN area;
        ALTER TABLE listings ADD COLUMN area text GENERATED ALWAYS AS (gfl_area(neighbourhood_group, neighbourhood)) STORED;
    END IF;
END $$;
-- The facts only the detailed file has (listings/detailed_rows.py), under its own column names: NULL for a
-- listing loaded from a summary file. Added, never rewritten: a database made before them gains them empty
-- (nullable, no default: no table rewrite). The change trigger below compares every column, so they are content.
ALTER TABLE listings
    ADD COLUMN IF NOT EXISTS property_type                text,
    ADD COLUMN IF NOT EXISTS accommodates                 integer,
    ADD COLUMN IF NOT EXISTS bedrooms                     integer,
    ADD COLUMN IF NOT EXISTS beds                         integer,
    ADD COLUMN IF NOT EXISTS bathrooms_text               text,
    ADD COLUMN IF NOT EXISTS baths                        double precision,  -- parsed from bathrooms_text
    ADD COLUMN IF NOT EXISTS baths_shared                 boolean,
    ADD COLUMN IF NOT EXISTS review_scores_rating         double precision,
    ADD COLUMN IF NOT EXISTS review_scores_accuracy       double precision,
    ADD COLUMN IF NOT EXISTS review_scores_cleanliness    double precision,
    ADD COLUMN IF NOT EXISTS review_scores_checkin        double precision,
    ADD COLUMN IF NOT EXISTS review_scores_communication  double precision,
    ADD COLUMN IF NOT EXISTS review_scores_location       double precision,
    ADD COLUMN IF NOT EXISTS review_scores_value          double precision,
    ADD COLUMN IF NOT EXISTS host_is_superhost            boolean,
    ADD COLUMN IF NOT EXISTS instant_bookable             boolean,
    ADD COLUMN IF NOT EXISTS amenities                    text[],  -- the host's strings, as written
    ADD COLUMN IF NOT EXISTS amenity_features             text[],  -- canonical (listings/amenities.toml)
    -- The host's own words (the file's `description`), HTML stripped: untrusted text, never the generated
    -- description, which lives in listing_descriptions.
    ADD COLUMN IF NOT EXISTS host_description             text,
    ADD COLUMN IF NOT EXISTS neighborhood_overview        text;
CREATE INDEX IF NOT EXISTS listings_area_idx ON listings (area);
CREATE INDEX IF NOT EXISTS listings_change_xid_idx ON listings (change_xid, id);
CREATE INDEX IF NOT EXISTS listings_area_updated_at_idx ON listings (area, updated_at);
-- The recommender's nearest listings to a user's (queries.LISTINGS_NEAR): a GiST walk, not a scan.
CREATE INDEX IF NOT EXISTS listings_place_idx ON listings USING gist (point(longitude, latitude));

-- Change capture, written once for every source: each source's DDL names its version sequence, tombstone table
-- and channel as the triggers' arguments (listings below, reviews in reviews.sql).
-- Triggers run in the writer's session, whose search_path may not name gfl (an app on Supabase):
-- their bodies qualify what they touch.
-- A row's version and change_xid, bumped only when its content changed (TG_ARGV[0]: the version sequence).
-- A no-op write keeps its version: nothing downstream has to run.
CREATE OR REPLACE FUNCTION gfl_stamp_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    stamps text[] := ARRAY['version', 'change_xid', 'created_at', 'updated_at', 'area'];
BEGIN
    IF (to_jsonb(NEW) - stamps) IS NOT DISTINCT FROM (to_jsonb(OLD) - stamps) THEN
        NEW.version := OLD.version;
        NEW.change_xid := OLD.change_xid;
        NEW.updated_at := OLD.updated_at;
    ELSE
        NEW.version := nextval(TG_ARGV[0]::regclass);
        NEW.change_xid := pg_current_xact_id();
        NEW.updated_at := now();
    END IF;
    NEW.created_at := OLD.created_at;
    RETURN NEW;
END $$;

-- A deleted row's tombstone (TG_ARGV: the tombstone table, its key column, the version sequence): the
-- watermark sees deletes, and a late write of an older version cannot bring the row back.
CREATE OR REPLACE FUNCTION gfl_record_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Quoted by concatenation, not format(): psycopg2 would read format's placeholders as its own.
    EXECUTE 'INSERT INTO gfl.' || quote_ident(TG_ARGV[0]) || ' (' || quote_ident(TG_ARGV[1])
        || ', area, version, change_xid, deleted_at) VALUES ($1, $2, nextval(' || quote_literal(TG_ARGV[2])
        || '::regclass), pg_current_xact_id(), now()) ON CONFLICT (' || quote_ident(TG_ARGV[1]) || ') DO UPDATE '
        || 'SET area = EXCLUDED.area, version = EXCLUDED.version, change_xid = EXCLUDED.change_xid, '
        || 'deleted_at = EXCLUDED.deleted_at'
        USING (to_jsonb(OLD) ->> 'id')::bigint, OLD.area;
    RETURN OLD;
END $$;

-- The fast path (change_capture/fast_path.py): a content change notifies its area on TG_ARGV[0] at commit,
-- delivered when the writing transaction commits (never for one that rolls back). Postgres folds identical
-- payloads of one transaction into one: a burst of a thousand rows is one notification per area. A payload is at
-- most 8000 bytes and a longer one would fail the writer's transaction: such an area (a pasted paragraph as
-- neighbourhood) is left to the sensor.
CREATE OR REPLACE FUNCTION gfl_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') AND octet_length(NEW.area) < 8000
       AND (TG_OP = 'INSERT' OR NEW.version IS DISTINCT FROM OLD.version) THEN
        PERFORM pg_notify(TG_ARGV[0], NEW.area);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') AND octet_length(OLD.area) < 8000
       AND (TG_OP = 'DELETE' OR NEW.area IS DISTINCT FROM OLD.area) THEN
        PERFORM pg_notify(TG_ARGV[0], OLD.area);
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS listings_stamp_change ON listings;
CREATE TRIGGER listings_stamp_change BEFORE UPDATE ON listings
    FOR EACH ROW EXECUTE FUNCTION gfl_stamp_change('gfl.listing_version_seq');
DROP FUNCTION IF EXISTS gfl_stamp_listing_change();  -- its copy before gfl_stamp_change

-- Deletes leave a tombstone so the vector store can follow them, and so a late,
-- stale upsert (version below the tombstone's) cannot resurrect the listing.
CREATE TABLE IF NOT EXISTS listing_tombstones (
    listing_id  bigint PRIMARY KEY,
    area        text NOT NULL,
    version     bigint NOT NULL,
    change_xid  xid8 NOT NULL,
    deleted_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS listing_tombstones_change_xid_idx ON listing_tombstones (change_xid, listing_id);
CREATE INDEX IF NOT EXISTS listing_tombstones_area_deleted_at_idx ON listing_tombstones (area, deleted_at);

DROP TRIGGER IF EXISTS listings_record_delete ON listings;
CREATE TRIGGER listings_record_delete AFTER DELETE ON listings
    FOR EACH ROW EXECUTE FUNCTION gfl_record_delete('listing_tombstones', 'listing_id', 'gfl.listing_version_seq');
DROP FUNCTION IF EXISTS gfl_record_listing_delete();  -- its copy before gfl_record_delete

-- CSV rows that failed validation, kept with their line and reason.
CREATE TABLE IF NOT EXISTS listing_rejects (
    source_file  text NOT NULL,
    line_number  integer NOT NULL,
    listing_id   text,
    reason       text NOT NULL,
    raw          jsonb NOT NULL,
    rejected_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_file, line_number)
);

-- Generated content, written back for reuse (ads, recommendations).
CREATE TABLE IF NOT EXISTS listing_descriptions (
    listing_id         bigint PRIMARY KEY,
    area               text NOT NULL,
    description        text NOT NULL,
    input_hash         text NOT NULL,
    model              text NOT NULL,
    prompt_version     text NOT NULL,
    source_version     bigint NOT NULL,
    prompt_tokens      integer NOT NULL DEFAULT 0,
    completion_tokens  integer NOT NULL DEFAULT 0,
    generated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS listing_descriptions_area_idx ON listing_descriptions (area);
-- Set when the template stood in because every answer of `model` was rejected: why they were.
ALTER TABLE listing_descriptions ADD COLUMN IF NOT EXISTS fallback_reason text;

-- Which version of each listing the vector store holds: progress lives here, not
-- in a sensor cursor, so a failed run loses nothing and the next run resumes.
CREATE TABLE IF NOT EXISTS listing_sync (
    listing_id       bigint PRIMARY KEY,
    area             text NOT NULL,
    synced_version   bigint NOT NULL,
    embed_hash       text NOT NULL,
    embedding_model  text NOT NULL,
    synced_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS listing_sync_area_idx ON listing_sync (area);
-- The checks of a sync run read the rows it touched: by area and time, not the whole area.
CREATE INDEX IF NOT EXISTS listing_sync_area_synced_at_idx ON listing_sync (area, synced_at);

-- What the pgvector store was built for; a model switch rebuilds it.
CREATE TABLE IF NOT EXISTS vector_store_meta (
    store      text PRIMARY KEY,
    model      text NOT NULL,
    dimension  integer NOT NULL
);
-- Which field layout (the source spec's layout_version) the store was built for.
ALTER TABLE vector_store_meta ADD COLUMN IF NOT EXISTS layout text NOT NULL DEFAULT '';
-- One row per source's store, named by its vector table (db/pgvector_sql.py meta_key); the listings' row was 'pgvector'.
UPDATE vector_store_meta SET store = 'pgvector:listing_vectors' WHERE store = 'pgvector';

-- Rows that failed a stage (description or vector) with the reason; a poison row
-- is recorded here and skipped, so it never blocks its partition.
CREATE TABLE IF NOT EXISTS sync_failures (
    listing_id      bigint NOT NULL,
    stage           text NOT NULL,
    area            text NOT NULL,
    input_hash      text NOT NULL,
    reason          text NOT NULL,
    attempts        integer NOT NULL DEFAULT 1,
    last_failed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (listing_id, stage)
);

-- What people do with what was generated: append-only, validated before it is written
-- (feedback/events.py). The id orders events for the feedback sensor's watermark.
CREATE TABLE IF NOT EXISTS feedback_events (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('search', 'impression', 'view', 'click', 'save', 'book')),
    user_id      text NOT NULL CHECK (user_id <> ''),
    listing_id   bigint,
    ad_id        bigint,
    query        text,
    occurred_at  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS feedback_events_user_idx ON feedback_events (user_id, occurred_at);
CREATE INDEX IF NOT EXISTS feedback_events_ad_idx ON feedback_events (ad_id) WHERE ad_id IS NOT NULL;
-- What vouches for an event (issue 23): the impression id the server served (feedback/impressions.py), its
-- propensity (an impression's), and `trusted`: written by a checked path. Rows from before the checks are
-- not trusted, and the learners (ads, recommendations) read only trusted rows.
ALTER TABLE feedback_events ADD COLUMN IF NOT EXISTS impression_id text;
ALTER TABLE feedback_events ADD COLUMN IF NOT EXISTS propensity double precision
    CHECK (propensity > 0 AND propensity <= 1);
ALTER TABLE feedback_events ADD COLUMN IF NOT EXISTS trusted boolean NOT NULL DEFAULT false;
-- An impression is recorded, viewed, clicked and saved at most once each: a replay is refused.
CREATE UNIQUE INDEX IF NOT EXISTS feedback_events_once_per_impression ON feedback_events (impression_id, kind)
    WHERE impression_id IS NOT NULL;
-- What a loaded event stands for (a review's stay: 'review:<id>'): loading the file again records it once.
ALTER TABLE feedback_events ADD COLUMN IF NOT EXISTS source_ref text;
CREATE UNIQUE INDEX IF NOT EXISTS feedback_events_once_per_source_ref ON feedback_events (source_ref)
    WHERE source_ref IS NOT NULL;

-- Ad copy per listing and audience (ads/), generated from the listing's facts and its stored
-- description, checked, and retired (never deleted) when its listing changes or clicks show a
-- better variant: the history of what was shown stays with the feedback that judged it.
CREATE TABLE IF NOT EXISTS listing_ads (
    id              bigserial PRIMARY KEY,
    listing_id      bigint NOT NULL,
    area            text NOT NULL,
    audience        text NOT NULL,
    variant         integer NOT NULL,
    text            text NOT NULL,
    model           text NOT NULL,   -- the generator it answers for (chat model or template)
    written_by      text NOT NULL,   -- who wrote the text: the model, or the template standing in
    prompt_version  text NOT NULL,
    input_hash      text NOT NULL,   -- facts + description + audience: a change means a new ad
    source_version  bigint NOT NULL,
    examples        bigint[] NOT NULL DEFAULT '{}',  -- ads whose click-through taught this one
    notes           text,            -- why the model's answers were rejected, why these examples
    prompt_tokens   integer NOT NULL DEFAULT 0,
    completion_tokens integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    retired_at      timestamptz,
    retire_reason   text
);
-- The fact an ad leads with (ads/angles.py): the bandit pools clicks by audience and angle.
ALTER TABLE listing_ads ADD COLUMN IF NOT EXISTS angle text;
CREATE INDEX IF NOT EXISTS listing_ads_active_idx ON listing_ads (listing_id, audience) WHERE retired_at IS NULL;
CREATE INDEX IF NOT EXISTS listing_ads_area_idx ON listing_ads (area) WHERE retired_at IS NULL;

-- Users are refreshed in buckets (Dagster partitions): a user's refresh reads that user's events only.
-- Decided here, so the sensor and the refresh agree on the bucket of every user id.
CREATE OR REPLACE FUNCTION gfl_user_bucket(user_id text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 'users-' || lpad(mod(abs(hashtext(user_id)::bigint), 16)::text, 2, '0')
$$;

-- Recommended for you: listings retrieved from what a user viewed, saved and booked, with a
-- checked blurb citing them, refreshed when that user's events change.
CREATE TABLE IF NOT EXISTS user_recommendations (
    user_id          text PRIMARY KEY,
    bucket           text NOT NULL,
    listing_ids      bigint[] NOT NULL,
    blurb            text NOT NULL,
    model            text NOT NULL,
    written_by       text NOT NULL,
    based_on         jsonb NOT NULL,   -- the events and weights the retrieval used
    source_event_id  bigint NOT NULL,  -- the user's newest event it reflects
    notes            text,
    generated_at     timestamptz NOT NULL DEFAULT now()
);
-- The prompt that wrote it: a new prompt refreshes every recommendation ('' = written before this was kept).
ALTER TABLE user_recommendations ADD COLUMN IF NOT EXISTS prompt_version text NOT NULL DEFAULT '';

-- Which listings the same guests booked (recommendations/co_bookings.py), for "guests who stayed here also
-- stayed at": rebuilt whole from the trusted bookings by the listing_co_bookings asset when newer bookings
-- arrived (at most every few minutes under `gfl up`, on each `gfl sync`); a user's refresh reads only the
-- rows of their own listings. The one row of listing_co_bookings_built says which bookings it reflects.
CREATE TABLE IF NOT EXISTS listing_co_bookings (
    listing_id  bigint NOT NULL,
    other_id    bigint NOT NULL,
    guests      integer NOT NULL CHECK (guests > 0),
    PRIMARY KEY (listing_id, other_id)
);
CREATE TABLE IF NOT EXISTS listing_co_bookings_built (
    source_event_id  bigint NOT NULL,   -- the newest trusted booking it reflects
    guests           integer NOT NULL,
    pairs            integer NOT NULL,
    built_at         timestamptz NOT NULL DEFAULT now()
);

-- Freshness probes: `gfl bench freshness` measures Dagster's own trigger-to-run floor
-- by asking an empty asset to answer, triggered the same way as the sync.
CREATE TABLE IF NOT EXISTS freshness_probes (
    id            bigserial PRIMARY KEY,
    requested_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    answered_at   timestamptz
);

-- What the model service was asked for, per day, model and asset: tokens, requests and the estimated cost
-- (prices per model are configuration). `gfl status` sums it; the daily budget is checked against it.
CREATE TABLE IF NOT EXISTS model_usage (
    day                date NOT NULL,
    model              text NOT NULL,
    asset              text NOT NULL,
    requests           bigint NOT NULL DEFAULT 0,
    prompt_tokens      bigint NOT NULL DEFAULT 0,
    completion_tokens  bigint NOT NULL DEFAULT 0,
    cost_usd           numeric(14, 6),  -- NULL: no price is configured for this model
    PRIMARY KEY (day, model, asset)
);

-- The fast path (change_capture/fast_path.py, `gfl listen`): each content change notifies its area on
-- the channel gfl_listing_changes, delivered when the writing transaction commits (never for one that
-- rolls back). Postgres folds identical payloads of one transaction into one: a burst of a thousand rows
-- is one notification per area. A no-op write keeps its version and notifies nothing. The change sensor
-- stays the guarantee; this only makes a change arrive sooner.
-- The channel gfl_listing_changes: a changed listing notifies its area (and the area it left), and so does a
-- review (reviews.sql). A no-op write keeps its version and notifies nothing. The change sensor stays the
-- guarantee; this only makes a change arrive sooner.
DROP FUNCTION IF EXISTS public.gfl_notify_listing_change() CASCADE;  -- a copy made before the gfl schema
DROP TRIGGER IF EXISTS listings_notify_change ON listings;
CREATE TRIGGER listings_notify_change AFTER INSERT OR UPDATE OR DELETE ON listings
    FOR EACH ROW EXECUTE FUNCTION gfl_notify_change('gfl_listing_changes');
DROP FUNCTION IF EXISTS gfl_notify_listing_change();  -- its copy before gfl_notify_change
