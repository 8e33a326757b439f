"""The detailed listings file into the real embedded Postgres and through the sync: its facts stored, kept by a
later summary file, carried by the vectors, and changes to them costing what they should."""

import csv
import gzip
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from gfl_dagster.cli.main import cli
from gfl_dagster.db.engine import apply_schema
from gfl_dagster.db.tables import SUMMARY_LISTING_COLUMNS
from gfl_dagster.listings.amenities import amenity_features
from gfl_dagster.listings.describe import describe_area
from gfl_dagster.listings.detailed_rows import DETAILED_COLUMNS
from gfl_dagster.listings.embed import embed_area
from gfl_dagster.listings.load import load_listings_csv
from gfl_dagster.listings.source import LISTINGS
from gfl_dagster_tests.conftest import shared_csv

BOSTON = "insideairbnb_boston_2024-06_listings.csv.gz"
SINGAPORE = "insideairbnb_singapore_2023-09_listings.csv.gz"
SINGAPORE_SUMMARY = "insideairbnb_singapore_2023-09_summary.csv"
# The facts a hit and the vector carry, under the detailed file's own names (the agreed field names).
HIT_FACTS = ("property_type", "accommodates", "bedrooms", "beds", "baths", "bathrooms_text", "review_scores_rating",
             "host_is_superhost", "instant_bookable", "amenities", "amenity_features")


def _slice(name: str, path, count: int, edit=lambda record: record):
    """The first `count` records of a shared detailed file, gzipped as published, each passed through `edit`
    (a dict by column name)."""
    with gzip.open(shared_csv(name), "rt", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        records = [edit(dict(record)) for _, record in zip(range(count), reader)]
        header = reader.fieldnames
    with gzip.open(path, "wt", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows(records)
    return path


def _rows(engine, where: str = "true") -> dict[int, dict]:
    with engine.connect() as connection:
        return {row["id"]: dict(row) for row in connection.execute(text(f"SELECT * FROM listings WHERE {where}"))
                .mappings()}


def test_a_detailed_file_loads_its_facts_and_reloads_as_unchanged(engine, tmp_path):
    path = _slice(BOSTON, tmp_path / "boston.csv.gz", 60)
    report = load_listings_csv(engine, path)
    assert report.detailed and (report.rows_read, report.inserted + report.rejected) == (60, 60)
    assert report.rejected == 0 and report.missing_columns == []
    rows = _rows(engine)
    with gzip.open(path, "rt", newline="", encoding="utf-8") as handle:
        first = next(csv.DictReader(handle))
    row = rows[int(first["id"])]
    # The places are the cleansed columns; Boston has no group, so the area is the neighbourhood.
    assert row["neighbourhood"] == first["neighbourhood_cleansed"] == row["area"]
    assert row["amenities"] == json.loads(first["amenities"])  # the host's strings, as written
    assert row["amenity_features"] == amenity_features(row["amenities"]) and "wifi" in row["amenity_features"]
    assert row["accommodates"] == int(first["accommodates"]) and row["property_type"] == first["property_type"]
    assert row["review_scores_rating"] == float(first["review_scores_rating"])
    assert row["host_is_superhost"] is (first["host_is_superhost"] == "t")
    assert row["host_description"] and "<br" not in row["host_description"]  # the host's words, plain
    assert sum(r["price"] is None for r in rows.values()) == sum(not r["price"] for r in _records(path))

    versions = {key: r["version"] for key, r in rows.items()}
    again = load_listings_csv(engine, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 60)
    assert {key: r["version"] for key, r in _rows(engine).items()} == versions


def _records(path) -> list[dict]:
    with gzip.open(path, "rt", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_same_snapshots_summary_file_keeps_the_detailed_facts_and_changes_nothing(engine, tmp_path):
    load_listings_csv(engine, _slice(SINGAPORE, tmp_path / "singapore.csv.gz", 40))
    before = _rows(engine)
    report = load_listings_csv(engine, shared_csv(SINGAPORE_SUMMARY))
    assert not report.detailed and report.unchanged >= 40  # Inside Airbnb's two files of one snapshot agree
    after = _rows(engine)
    assert all(after[key] == before[key] for key in before)
    # Listings only the summary file has lack the detailed facts: NULL, not empty.
    summary_only = next(row for key, row in after.items() if key not in before)
    assert all(summary_only[column] is None for column in DETAILED_COLUMNS)


def test_a_summary_file_updates_its_columns_and_leaves_the_detailed_facts(engine, tmp_path):
    load_listings_csv(engine, _slice(SINGAPORE, tmp_path / "singapore.csv.gz", 3))
    before = _rows(engine)
    listing_id = min(before)
    row = before[listing_id]
    summary = tmp_path / "summary.csv"
    with open(summary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SUMMARY_LISTING_COLUMNS)
        writer.writerow(["" if row[c] is None else (999 if c == "price" else row[c]) for c in SUMMARY_LISTING_COLUMNS])
    report = load_listings_csv(engine, summary)
    assert report.updated == 1
    after = _rows(engine)[listing_id]
    assert float(after["price"]) == 999 and after["version"] > row["version"]
    assert {c: after[c] for c in DETAILED_COLUMNS} == {c: row[c] for c in DETAILED_COLUMNS}


def test_a_database_made_before_the_detailed_columns_gains_them_and_keeps_its_rows(engine, tmp_path):
    load_listings_csv(engine, _slice(SINGAPORE, tmp_path / "singapore.csv.gz", 3))
    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE listings " + ", ".join(f"DROP COLUMN {c}" for c in DETAILED_COLUMNS))
        connection.exec_driver_sql("UPDATE gfl_schema_version SET version = 'before the detailed file'")
        versions = dict(connection.exec_driver_sql("SELECT id, version FROM listings").all())
    apply_schema(engine)
    apply_schema(engine)  # once per version of schema.sql, and idempotent
    after = _rows(engine)
    assert {key: row["version"] for key, row in after.items()} == versions
    assert all(row[c] is None for row in after.values() for c in DETAILED_COLUMNS)
    report = load_listings_csv(engine, _slice(SINGAPORE, tmp_path / "singapore.csv.gz", 3))
    assert report.updated == 3  # the facts are content: each row gets a new version, so the sync follows
    assert all(row["version"] > versions[key] and row["amenities"] for key, row in _rows(engine).items())


def _sync(resources, area):
    engine = resources["database"].engine()
    described = describe_area(engine, resources["model_client"], area)
    with resources["vector_store"].session(LISTINGS) as store:
        return described, embed_area(engine, resources["embedder"], store, area)


def _stored(resources, listing_id):
    with resources["vector_store"].session(LISTINGS) as store:
        return store.get(listing_id)


@pytest.fixture()
def one_listing(engine, tmp_path):
    """Loads one Boston listing (a detailed file of one record); returns (write(edit), listing id, area)."""
    def write(edit=lambda record: record):
        return load_listings_csv(engine, _slice(BOSTON, tmp_path / "one.csv.gz", 1, edit))

    write()
    (listing_id, row), = _rows(engine).items()
    return write, listing_id, row["area"]


def test_a_host_amenity_string_change_updates_properties_and_a_fact_change_regenerates(resources, one_listing):
    write, listing_id, area = one_listing
    described, embedded = _sync(resources, area)
    assert (described.generated, embedded.embedded) == (1, 1)
    stored = _stored(resources, listing_id)
    row = _rows(resources["database"].engine())[listing_id]
    assert {name: stored.properties[name] for name in HIT_FACTS} == {name: row[name] for name in HIT_FACTS}

    # The host's own strings are properties: a string naming no feature costs no model call and no new vector.
    def new_string(record):
        return {**record, "amenities": json.dumps(json.loads(record["amenities"]) + ["Hand-painted tiles"])}

    assert write(new_string).updated == 1
    described, embedded = _sync(resources, area)
    assert (described.generated, embedded.embedded, embedded.properties_updated) == (0, 0, 1)
    assert "Hand-painted tiles" in _stored(resources, listing_id).properties["amenities"]

    # A fact the description is written from (the rating, a new feature, more guests) regenerates it and the vector.
    def more(record):
        record = new_string(record)
        return {**record, "accommodates": str(int(record["accommodates"]) + 2),
                "review_scores_rating": f"{float(record['review_scores_rating']) - 0.01:.2f}",
                "amenities": json.dumps(json.loads(record["amenities"]) + ["Private hot tub"])}

    assert write(more).updated == 1
    described, embedded = _sync(resources, area)
    assert (described.generated, embedded.embedded) == (1, 1)
    stored = _stored(resources, listing_id).properties
    row = _rows(resources["database"].engine())[listing_id]
    assert "hot_tub" in stored["amenity_features"] and stored["review_scores_rating"] == row["review_scores_rating"]


def test_load_then_sync_a_detailed_file_and_show_search_carry_its_facts(engine, tmp_path):
    """`gfl load FILE` then `gfl sync`, on a slice of the Singapore file (the whole files: BENCHMARKS.md)."""
    path = _slice(SINGAPORE, tmp_path / "singapore.csv.gz", 20)
    runner = CliRunner()
    loaded = runner.invoke(cli, ["load", str(path)])
    assert loaded.exit_code == 0, loaded.output
    assert "(detailed file): 20 rows read, 20 inserted" in loaded.output
    area = min(_rows(engine).values(), key=lambda row: row["id"])["area"]
    synced = runner.invoke(cli, ["sync", "--partition", area])
    assert synced.exit_code == 0, synced.output

    listing_id = min(key for key, row in _rows(engine).items() if row["area"] == area)
    shown = json.loads(runner.invoke(cli, ["show", str(listing_id), "--json"]).output)
    source, properties = shown["source"], shown["vector"]["properties"]
    assert isinstance(source["amenities"], list) and source["amenities"] and source["host_description"]
    assert {name: properties[name] for name in HIT_FACTS} == {name: source[name] for name in HIT_FACTS}
    assert "host_description" not in properties  # the host's words are not a property of the vector

    found = runner.invoke(cli, ["search", source["property_type"], "--json", "--limit", "30"])
    assert found.exit_code == 0, found.output
    hit = next(hit for hit in json.loads(found.output)["hits"] if hit["id"] == listing_id)
    assert {name: hit[name] for name in HIT_FACTS} == {name: source[name] for name in HIT_FACTS}


SUMMARY_ROW = {"id": 5, "name": "Loft", "area": "Brooklyn", "neighbourhood": "Bushwick", "room_type": "Private room",
               "price": 60, "minimum_nights": 2, "number_of_reviews": 12}


def test_a_summary_listings_description_input_is_what_it_was_and_the_embedding_text_adds_what_is_unsaid():
    from gfl_dagster.listings.embedding_text import embedding_text
    from gfl_dagster.listings.facts import description_input

    # A summary file's listing: the seven facts only, so its hash (and stored description) survive the upgrade.
    assert set(description_input(SUMMARY_ROW)) == {"name", "area", "neighbourhood", "room_type", "price_per_night",
                                                   "minimum_nights", "reviews"}
    assert "Also:" not in embedding_text(SUMMARY_ROW, None)
    detailed = {**SUMMARY_ROW, "property_type": "Entire condo", "accommodates": 4, "bedrooms": 2, "beds": 3,
                "baths": 1.0, "bathrooms_text": "1 bath", "review_scores_rating": 4.87, "host_is_superhost": True,
                "amenities": ["Free washer \u2013 In unit", "Wifi", "Gym in building"],
                "amenity_features": ["wifi", "washer", "gym"]}
    # A model's description that names none of the facts: the text still carries what people search for.
    text = embedding_text(detailed, "A quiet flat near the park.")
    assert text.endswith("Also: Entire condo, 4 guests, 2 bedrooms, 3 beds, 1 bath, rated 4.87, Superhost, wifi, "
                         "washer, gym.")
    # One that says some of them: only the rest are added, once.
    text = embedding_text(detailed, "An Entire condo for 4 guests with wifi and a washer.")
    assert text.endswith("Also: 2 bedrooms, 3 beds, 1 bath, rated 4.87, Superhost, gym.")
    assert "Free washer" not in text  # never the host's own strings
