"""A second source is a second spec: a table that is not listings, with a key, partition and fields of its own
(a bool among them), through the pgvector store on the real embedded Postgres. Nothing in the store names a
listing column, so this runs the same code the listings do."""

import pytest
from sqlalchemy import text

from gfl_dagster.db import pgvector_sql
from gfl_dagster.listings.source import LISTINGS
from gfl_dagster.search.query import SearchQuery
from gfl_dagster.spec import Field, SourceSpec
from gfl_dagster.stores.contract import VectorItem
from gfl_dagster.stores.pgvector import PgVectorStore

GUEST_NOTES = SourceSpec(
    name="guest_note", table="guest_notes", key="id", partition="city",
    fields=(Field("title", "text"), Field("city", "keyword"), Field("stars", "integer"), Field("helpful", "bool"),
            Field("written", "date")),
    word_fields=("title",), store_key="note_id", vector_table="guest_note_vectors", sync_table="guest_note_sync",
    tombstone_table="guest_note_tombstones", collection="GuestNote", layout_version="1",
)


@pytest.fixture()
def store(engine):
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS guest_note_sync (note_id bigint PRIMARY KEY)"))
        connection.execute(text("CREATE TABLE IF NOT EXISTS guest_note_tombstones "
                                "(note_id bigint PRIMARY KEY, version bigint NOT NULL)"))
    store = PgVectorStore(engine, GUEST_NOTES)
    store.ensure(3, "test-model")
    yield store
    store.drop()
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE guest_note_sync, guest_note_tombstones"))


def note(key, version, city, vector, **properties):
    return VectorItem(key, version, f"hash-{key}", {"title": f"note {key}", "city": city, "stars": 4,
                                                    "helpful": True, "written": "2023-09-01", **properties}, vector)


def test_a_second_source_round_trips_through_the_store_under_its_own_names(engine, store):
    store.upsert([note(1, 1, "Singapore", [1.0, 0.0, 0.0], title="quiet and clean"),
                  note(2, 1, "Singapore", [0.0, 1.0, 0.0], stars=2, helpful=False),
                  note(3, 1, "Boston", [0.0, 0.0, 1.0], written=None)])
    stored = store.get(1)
    assert (stored.key, stored.version, stored.dimension) == (1, 1, 3)
    assert stored.properties == {"id": 1, "title": "quiet and clean", "city": "Singapore", "stars": 4, "helpful": True,
                                 "written": "2023-09-01"}
    assert store.versions("Singapore") == {1: 1, 2: 1}

    nearest = store.search(SearchQuery(text="x", limit=2), [0.9, 0.1, 0.0])
    assert [hit["id"] for hit in nearest] == [1, 2]
    assert [hit["id"] for hit in store.search(SearchQuery(text="quiet", mode="keyword"), None)] == [1]
    by_stars = store.search(SearchQuery(sort="stars:asc"), None)  # a structured query sorts on the spec's fields
    assert [hit["id"] for hit in by_stars] == [2, 1, 3]

    with engine.begin() as connection:  # a delete at version 5: an older write cannot bring the note back
        connection.execute(text("INSERT INTO guest_note_tombstones VALUES (3, 5)"))
    store.delete([3])
    store.upsert([note(3, 4, "Boston", [0.0, 0.0, 1.0])])
    assert store.get(3) is None
    with engine.connect() as connection:
        tables = {row[0] for row in connection.execute(text(
            "SELECT tablename FROM pg_tables WHERE tablename LIKE 'guest_note%'"))}
        meta = connection.execute(text("SELECT store, layout FROM vector_store_meta WHERE store = :store"),
                                  {"store": pgvector_sql.meta_key(GUEST_NOTES)}).one()
    assert "guest_note_vectors" in tables and tuple(meta) == ("pgvector:guest_note_vectors", "1")
    assert GUEST_NOTES.vector_id(1) != LISTINGS.vector_id(1), "two sources' rows of one key never share an object"
