-- The reviews source (reviews/source.py): guests' reviews of listings, as Inside Airbnb's reviews file has them,
-- and what is generated from them. Applied right after schema.sql, in its transaction (db/engine.py), so the
-- search_path and the advisory lock are schema.sql's.
--
-- The change capture is the listings', schema.sql's trigger functions of a source (gfl_stamp_change,
-- gfl_record_delete, gfl_notify_change), given the reviews' sequence, tombstones and channel.

CREATE SEQUENCE IF NOT EXISTS review_version_seq;

-- One row per review. `area` is the reviewed listing's (a review has no place of its own): set on every write
-- from `listings`, so the watermark and the notification name the area whose listing the review changes.
CREATE TABLE IF NOT EXISTS reviews (
    id             bigint PRIMARY KEY,
    listing_id     bigint NOT NULL,
    date           date NOT NULL,
    reviewer_id    bigint,
    reviewer_name  text,
    comments       text,  -- as written: newlines and HTML kept (a stranger's text: data, never instructions)
    area           text NOT NULL DEFAULT 'Unknown',
    version        bigint NOT NULL DEFAULT nextval('review_version_seq'),
    change_xid     xid8 NOT NULL DEFAULT pg_current_xact_id(),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
-- The guest summaries of an area group its reviews by listing: (area, listing_id) serves both.
CREATE INDEX IF NOT EXISTS reviews_area_listing_idx ON reviews (area, listing_id);
CREATE INDEX IF NOT EXISTS reviews_listing_idx ON reviews (listing_id);
CREATE INDEX IF NOT EXISTS reviews_change_xid_idx ON reviews (change_xid, id);

CREATE OR REPLACE FUNCTION gfl_review_area() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.area := coalesce((SELECT l.area FROM gfl.listings l WHERE l.id = NEW.listing_id), 'Unknown');
    RETURN NEW;
END $$;

-- Triggers of one event fire in name order: the area first, then the stamp that compares content.
DROP TRIGGER IF EXISTS reviews_1_area ON reviews;
CREATE TRIGGER reviews_1_area BEFORE INSERT OR UPDATE ON reviews
    FOR EACH ROW EXECUTE FUNCTION gfl_review_area();
DROP TRIGGER IF EXISTS reviews_2_stamp_change ON reviews;
CREATE TRIGGER reviews_2_stamp_change BEFORE UPDATE ON reviews
    FOR EACH ROW EXECUTE FUNCTION gfl_stamp_change('gfl.review_version_seq');

CREATE TABLE IF NOT EXISTS review_tombstones (
    review_id   bigint PRIMARY KEY,
    area        text NOT NULL,
    version     bigint NOT NULL,
    change_xid  xid8 NOT NULL,
    deleted_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS review_tombstones_change_xid_idx ON review_tombstones (change_xid, review_id);

DROP TRIGGER IF EXISTS reviews_record_delete ON reviews;
CREATE TRIGGER reviews_record_delete AFTER DELETE ON reviews
    FOR EACH ROW EXECUTE FUNCTION gfl_record_delete('review_tombstones', 'review_id', 'gfl.review_version_seq');

-- On the listings' channel: a changed review is a change of its listing's area, synced by the same listener.
DROP TRIGGER IF EXISTS reviews_notify_change ON reviews;
CREATE TRIGGER reviews_notify_change AFTER INSERT OR UPDATE OR DELETE ON reviews
    FOR EACH ROW EXECUTE FUNCTION gfl_notify_change('gfl_listing_changes');

-- Records of a reviews file that failed validation or name an unknown listing, with their line and reason.
CREATE TABLE IF NOT EXISTS review_rejects (
    source_file  text NOT NULL,
    line_number  integer NOT NULL,
    review_id    text,
    listing_id   text,
    reason       text NOT NULL,
    raw          jsonb NOT NULL,
    rejected_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_file, line_number)
);

-- "What guests say", one row per reviewed listing (reviews/summaries.py), and what it was built from: a
-- summary is stale when its listing's reviews are no longer `review_count` rows with `newest_review_version`
-- as their newest version (an insert or edit raises it, a delete lowers the count).
CREATE TABLE IF NOT EXISTS guest_summaries (
    listing_id             bigint PRIMARY KEY,
    area                   text NOT NULL,
    summary                text,  -- NULL: no aspect is mentioned by two reviews
    review_ids             bigint[] NOT NULL,  -- the reviews it read
    aspects                text[] NOT NULL DEFAULT '{}',
    review_count           integer NOT NULL,
    newest_review_version  bigint NOT NULL,
    model                  text NOT NULL,  -- the generator it answers for (chat model or template)
    written_by             text NOT NULL,  -- who wrote the text: the model, or the template standing in
    fallback_reason        text,
    generated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS guest_summaries_area_idx ON guest_summaries (area);

-- A listing's reviews and summary follow it into its area: a review written while its listing was deleted
-- ('Unknown'), or before the listing moved, would otherwise stay in the old area, pending there for ever.
-- The area is a stamp (gfl_stamp_change ignores it), so the reviews keep their version; the listing's own
-- write notifies its old and new area.
CREATE OR REPLACE FUNCTION gfl_listing_area_to_reviews() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE gfl.reviews SET area = NEW.area WHERE listing_id = NEW.id AND area IS DISTINCT FROM NEW.area;
    UPDATE gfl.guest_summaries SET area = NEW.area WHERE listing_id = NEW.id AND area IS DISTINCT FROM NEW.area;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS listings_area_to_reviews ON listings;
CREATE TRIGGER listings_area_to_reviews AFTER INSERT ON listings
    FOR EACH ROW EXECUTE FUNCTION gfl_listing_area_to_reviews();
DROP TRIGGER IF EXISTS listings_moved_area_to_reviews ON listings;
CREATE TRIGGER listings_moved_area_to_reviews AFTER UPDATE ON listings
    FOR EACH ROW WHEN (OLD.area IS DISTINCT FROM NEW.area) EXECUTE FUNCTION gfl_listing_area_to_reviews();
-- Reviews and summaries written before this trigger existed, in an area their listing has left.
UPDATE reviews r SET area = l.area FROM listings l WHERE l.id = r.listing_id AND r.area IS DISTINCT FROM l.area;
UPDATE guest_summaries g SET area = l.area FROM listings l WHERE l.id = g.listing_id AND g.area IS DISTINCT FROM l.area;
