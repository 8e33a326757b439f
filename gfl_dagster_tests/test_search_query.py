"""Search queries: validation, normalisation, and the SQL / Weaviate filters built from them. Pure: no database."""

import pytest
from weaviate.collections.classes.filters import _FilterAnd, _FilterValue

from gfl_dagster.db import search_sql
from gfl_dagster.listings.source import LISTINGS
from gfl_dagster.stores import weaviate_filters as weaviate_query
from gfl_dagster.search.query import query_from_params
from gfl_dagster.search.retrieval import SearchError, SearchQuery, normalized_query, sorted_hits, validate_query

AREAS = ["Bronx", "Brooklyn", "Manhattan", "Queens", "Staten Island"]
NEIGHBOURHOODS = ["Bedford-Stuyvesant", "Harlem", "Williamsburg"]


@pytest.mark.parametrize("query, message", [
    (SearchQuery(text="loft", borough="Brookln"), "unknown borough 'Brookln'; known areas: Bronx, Brooklyn, "
                                                  "Manhattan, Queens, Staten Island"),
    (SearchQuery(text="loft", room_type="villa"), "unknown room type 'villa'; room types: Entire home/apt, "
                                                  "Private room, Shared room, Hotel room"),
    (SearchQuery(text="loft", min_price=200, max_price=100), "min price (200) is above max price (100)"),
    (SearchQuery(text="loft", min_nights=5, max_nights=3), "min nights (5) is above max nights (3)"),
    (SearchQuery(text="loft", min_price=-1), "min price must not be negative"),
    (SearchQuery(text="loft", limit=0), "limit must be between 1 and 100, got 0"),
    (SearchQuery(text="loft", limit=-3), "limit must be between 1 and 100, got -3"),
    (SearchQuery(text="loft", limit=101), "limit must be between 1 and 100, got 101"),
    (SearchQuery(text="loft", mode="hybrid", alpha=1.5), "alpha must be between 0 and 1"),
    (SearchQuery(text="loft", alpha=-0.1), "alpha must be between 0 and 1"),
    (SearchQuery(text="loft", sort="rating"), "unknown sort field 'rating'; sortable fields: price,"),
    (SearchQuery(text="loft", sort="price:up"), "unknown sort direction 'up'"),
    (SearchQuery(text="loft", mode="fuzzy"), "unknown mode 'fuzzy'; modes: semantic, hybrid, keyword"),
    (SearchQuery(), "nothing to search for: give a text, a filter or a sort"),
    (SearchQuery(text="   ", limit=5), "nothing to search for"),
    (SearchQuery(mode="keyword", borough="Brooklyn"), "keyword mode needs a search text"),
    (SearchQuery(mode="hybrid", sort="price"), "hybrid mode needs a search text"),
    (SearchQuery(text="loft", neighbourhood="Harlemm"), "unknown neighbourhood 'Harlemm'; did you mean Harlem?"),
])
def test_validation_names_the_problem(query, message):
    with pytest.raises(SearchError) as error:
        validate_query(query, AREAS, NEIGHBOURHOODS)
    assert message in str(error.value)


def test_validation_reports_every_problem_at_once():
    with pytest.raises(SearchError) as error:
        validate_query(SearchQuery(text="x", borough="Atlantis", limit=0, mode="fuzzy"), AREAS)
    assert all(part in str(error.value) for part in ("Atlantis", "limit", "fuzzy"))


@pytest.mark.parametrize("query", [
    SearchQuery(text="apartment with a great view"),
    SearchQuery(borough="Brooklyn", sort="number_of_reviews", limit=5),
    SearchQuery(sort="price:asc"),
    SearchQuery(min_reviews=0),
    SearchQuery(text="loft", mode="hybrid", alpha=0.0, limit=100),
    SearchQuery(text="loft", mode="keyword", alpha=1.0, limit=1),
])
def test_valid_queries_pass(query):
    validate_query(query, AREAS)


def test_names_are_normalised_to_the_stored_spelling_and_blanks_mean_unset():
    query = normalized_query(SearchQuery(text="  loft ", borough="brooklyn", neighbourhood="WILLIAMSBURG",
                                         room_type="private ROOM", mode="Hybrid", sort=""), AREAS, NEIGHBOURHOODS)
    assert (query.text, query.borough, query.neighbourhood, query.room_type, query.mode, query.sort) == (
        "loft", "Brooklyn", "Williamsburg", "Private room", "hybrid", None)
    blank = normalized_query(SearchQuery(text="loft", borough=" ", room_type=""), AREAS)
    assert blank.borough is None and blank.room_type is None and not blank.has_filters
    # Without a list of known names, a name is taken as given (the store then finds nothing for it).
    assert normalized_query(SearchQuery(borough="Atlantis"), None).borough == "Atlantis"


def test_set_filters_take_several_names_in_their_stored_spelling():
    query = normalized_query(SearchQuery(areas=("brooklyn", " QUEENS ", ""), not_neighbourhoods=("williamsburg",),
                                         room_types=("private room", "Shared Room")), AREAS, NEIGHBOURHOODS)
    assert (query.areas, query.not_neighbourhoods, query.room_types) == (
        ("Brooklyn", "Queens"), ("Williamsburg",), ("Private room", "Shared room"))
    assert query.has_filters and normalized_query(SearchQuery(not_areas=("Manhattan",)), AREAS).has_filters
    with pytest.raises(SearchError, match="unknown area.*'Atlantis'"):
        normalized_query(SearchQuery(areas=("Brooklyn", "Atlantis")), AREAS)
    with pytest.raises(SearchError, match="unknown room type 'Castle'"):
        normalized_query(SearchQuery(not_room_types=("Castle",)), AREAS)
    from_params = query_from_params({"areas": ["Brooklyn", "Queens"], "not_room_types": "Shared room"})
    assert (from_params.areas, from_params.not_room_types) == (("Brooklyn", "Queens"), ("Shared room",))
    with pytest.raises(SearchError, match="max_price takes one value, got 2"):
        query_from_params({"max_price": ["1", "2"]})


def test_sort_defaults_to_descending():
    assert SearchQuery(sort="number_of_reviews").sort_order() == ("number_of_reviews", True)
    assert SearchQuery(sort="price:asc").sort_order() == ("price", False)
    assert SearchQuery(sort="price:DESC").sort_order() == ("price", True)
    assert SearchQuery().sort_order() is None


def test_sorted_hits_keep_relevance_order_for_ties_and_put_missing_values_last():
    hits = [{"id": 1, "price": 50.0}, {"id": 2, "price": None}, {"id": 3, "price": 80.0}, {"id": 4, "price": 50.0}]
    assert [h["id"] for h in sorted_hits(hits, "price", True)] == [3, 1, 4, 2]
    assert [h["id"] for h in sorted_hits(hits, "price", False)] == [1, 4, 3, 2]


# --- pgvector SQL -------------------------------------------------------------------------------------

def test_filters_are_bound_parameters_never_inlined():
    hostile = "Brooklyn'; DROP TABLE listings; --"
    built = search_sql.search_sql(LISTINGS, SearchQuery(borough=hostile, min_price=10, max_price=90, room_type="Private room",
                                              sort="price:asc"), None)
    sql = str(built.statement)
    assert "DROP TABLE" not in sql and hostile in built.params.values()
    assert "v.area = :eq_area" in sql and "v.room_type = :eq_room_type" in sql
    assert "v.price >= :range_0" in sql and "v.price <= :range_1" in sql
    assert (built.params["range_0"], built.params["range_1"]) == (10, 90)
    assert "v.price IS NOT NULL ORDER BY v.price ASC, v.listing_id" in sql and "score" in sql


def test_every_filter_maps_to_its_column():
    query = SearchQuery(text="x", borough="Queens", neighbourhood="Astoria", room_type="Shared room", min_price=1,
                        max_price=2, min_nights=3, max_nights=4, min_reviews=5, min_reviews_per_month=0.5,
                        min_availability=7)
    where, params = search_sql.filter_sql(query)
    for clause in ("v.area =", "v.neighbourhood =", "v.room_type =", "v.price >=", "v.price <=",
                   "v.minimum_nights >=", "v.minimum_nights <=", "v.number_of_reviews >=",
                   "v.reviews_per_month >=", "v.availability_365 >="):
        assert clause in where
    assert sorted(params.values(), key=str) == sorted(["Queens", "Astoria", "Shared room", 1, 2, 3, 4, 5, 0.5, 7],
                                                      key=str)
    assert search_sql.filter_sql(SearchQuery(text="x")) == ("TRUE", {})
    where, params = search_sql.filter_sql(SearchQuery(areas=("Brooklyn", "Queens"), not_room_types=("Shared room",)))
    assert where == "v.area = ANY(:set_0) AND (v.room_type = ANY(:set_1)) IS NOT TRUE"
    assert params == {"set_0": ["Brooklyn", "Queens"], "set_1": ["Shared room"]}


def test_only_unfiltered_semantic_queries_use_the_hnsw_index():
    vector = [0.1, 0.2]
    unfiltered = search_sql.search_sql(LISTINGS, SearchQuery(text="x", limit=100), vector)
    assert unfiltered.ef_search == 800  # pgvector returns at most ef_search rows
    assert search_sql.search_sql(LISTINGS, SearchQuery(text="x", limit=5), vector).ef_search == 200
    assert "ORDER BY v.embedding <=>" in str(unfiltered.statement)
    assert "MATERIALIZED" not in str(unfiltered.statement)
    filtered = search_sql.search_sql(LISTINGS, SearchQuery(text="x", borough="Bronx", limit=70), vector)
    assert filtered.ef_search is None and "matching AS MATERIALIZED" in str(filtered.statement)
    assert "ORDER BY v.embedding" not in str(filtered.statement)
    assert filtered.params["query_vector"] == [0.1, 0.2]
    hybrid = search_sql.search_sql(LISTINGS, SearchQuery(text="quiet loft", mode="hybrid", alpha=0.25), vector)
    assert hybrid.params["alpha"] == 0.25 and hybrid.params["keywords"] == "quiet | loft"
    # The vector side searches as semantic mode for the limit, at least twice its pool of candidates.
    assert hybrid.ef_search == 200 and hybrid.params["pool"] == 100
    wide_hybrid = search_sql.search_sql(LISTINGS, SearchQuery(text="quiet loft", mode="hybrid", limit=100), vector)
    assert wide_hybrid.ef_search == 800
    filtered_hybrid = search_sql.search_sql(LISTINGS, SearchQuery(text="loft", mode="hybrid", min_price=10), vector)
    assert filtered_hybrid.ef_search is None and "matching AS MATERIALIZED" in str(filtered_hybrid.statement)
    keyword = search_sql.search_sql(LISTINGS, SearchQuery(text="quiet loft", mode="keyword"), None)
    assert "ts_rank" in str(keyword.statement) and "embedding" not in str(keyword.statement)
    with pytest.raises(ValueError, match="needs the query vector"):
        search_sql.search_sql(LISTINGS, SearchQuery(text="x"), None)


def test_keyword_query_is_an_or_of_plain_words():
    assert search_sql.keyword_tsquery("Quiet, cozy & 'sunny' loft!! (near) park:*") == \
        "quiet | cozy | sunny | loft | near | park"
    assert search_sql.keyword_tsquery("Café über_cool") == "café | über | cool"
    assert search_sql.keyword_tsquery("!!!") == ""
    assert search_sql.keyword_tsquery("private room, Harlem", "&") == "private & room & harlem"


# --- Weaviate filters ---------------------------------------------------------------------------------

def _flat(filters):
    if filters is None:
        return []
    if isinstance(filters, _FilterAnd):
        return [part for inner in filters.filters for part in _flat(inner)]
    assert isinstance(filters, _FilterValue)
    return [(filters.target, filters.operator.value, filters.value)]


def test_weaviate_filters_mirror_the_sql_filters():
    query = SearchQuery(text="x", borough="Brooklyn", room_type="Private room", max_price=100, min_nights=2.5,
                        max_nights=7.5, min_reviews=10, min_reviews_per_month=0.5)
    assert sorted(_flat(weaviate_query.search_filters(LISTINGS, query))) == sorted([
        ("area", "Equal", "Brooklyn"), ("room_type", "Equal", "Private room"),
        ("price", "LessThanEqual", 100.0),
        ("minimum_nights", "GreaterThanEqual", 3), ("minimum_nights", "LessThanEqual", 7),  # integers, rounded inward
        ("number_of_reviews", "GreaterThanEqual", 10), ("reviews_per_month", "GreaterThanEqual", 0.5),
    ])
    assert weaviate_query.search_filters(LISTINGS, SearchQuery(text="x")) is None
    single = weaviate_query.search_filters(LISTINGS, SearchQuery(text="x", borough="Bronx"))
    assert _flat(single) == [("area", "Equal", "Bronx")]


def test_weaviate_structured_query_sorts_with_a_tie_breaker_and_needs_the_sort_value():
    filters, sort = weaviate_query.structured_filters_and_sort(LISTINGS, SearchQuery(borough="Brooklyn",
                                                                           sort="reviews_per_month"))
    assert [(s.prop, s.ascending) for s in sort.sorts] == [("reviews_per_month", False), ("listing_id", True)]
    flat = _flat(filters)
    assert ("area", "Equal", "Brooklyn") in flat
    assert any(target == "reviews_per_month" and op == "GreaterThanEqual" for target, op, _ in flat)
    filters, sort = weaviate_query.structured_filters_and_sort(LISTINGS, SearchQuery(room_type="Hotel room"))
    assert [(s.prop, s.ascending) for s in sort.sorts] == [("listing_id", True)]
    assert _flat(filters) == [("room_type", "Equal", "Hotel room")]
