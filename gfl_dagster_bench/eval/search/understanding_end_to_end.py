"""End to end: the searches a labelled sentence runs, on its city's loaded listings, checked in SQL against
the LABEL (what the sentence means), not against the parse.

Each sentence is understood as a search is (`interpret`: the places and price bands of the database), its
filters become the store's WHERE clause (`db/search_sql.filter_sql`, the one pgvector runs), and the
top hits (the sentence's sort and limit, else 10 by id) are fetched from the listings table. A hit
satisfies the label when its neighbourhood is one the label's places admit, its room type one the label
admits, and its price, reviews, minimum stay and availability are inside the label's bounds; where the
data holds the rich facts (a detailed file), also its rating, guests, bedrooms, beds, baths, the flags, the
amenities (by their canonical features; "parking" names none, so it is not checked) and the property
type. Facts the data lacks (a summary file has none) cannot be checked on a hit; for those the check is
that the answer says they were not filtered.

The baseline: as many listings taken without understanding (the first by id), checked the same way.
The semantic ranking does not enter: the store applies the same filters exactly (the contract tests
show it on pgvector and Weaviate), so what a hit can violate is decided by the parse.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from sqlalchemy import Engine, text

from gfl_dagster.db.search_sql import filter_sql
from gfl_dagster.search.interpret import FACT_NAMES, SearchContext, interpret
from gfl_dagster.search.query import BOOL_FILTERS, RANGE_FILTERS, SORT_FIELDS, SearchQuery
from gfl_dagster.search.understanding_facts import amenity_feature_of, property_types_named
from gfl_dagster_bench.eval.search.understanding_eval import admitted_neighbourhoods, admitted_room_types

BOUNDS = {"min_price": ("price", ">="), "max_price": ("price", "<="), "min_reviews": ("number_of_reviews", ">="),
          "max_reviews": ("number_of_reviews", "<="), "min_nights": ("minimum_nights", ">="),
          "max_nights": ("minimum_nights", "<="), "min_availability": ("availability_365", ">=")}


def hit_satisfies(label: Mapping[str, Any], hit: Mapping[str, Any], context: SearchContext) -> bool:
    hoods = admitted_neighbourhoods(label, context.places)
    if hoods is not None and hit["neighbourhood"] not in hoods:
        return False
    room_types = admitted_room_types(label)
    if room_types is not None and hit["room_type"] not in room_types:
        return False
    held = context.facts  # the rich facts: checked only where the data has them
    bounds = {**BOUNDS, **{name: RANGE_FILTERS[name] for name in FACT_NAMES if name in RANGE_FILTERS and name in held}}
    for name, (column, op) in bounds.items():
        if name in label:
            value = hit[column]
            if value is None or (float(value) < label[name] - 0.01 if op == ">=" else float(value) > label[name] + 0.01):
                return False
    for name, column in BOOL_FILTERS.items():
        if name in label and name in held and hit[column] is not label[name]:
            return False
    if "amenities" in label and "amenities" in held:
        features = [feature for feature in map(amenity_feature_of, label["amenities"]) if feature]
        if not set(features) <= set(hit["amenity_features"] or ()):
            return False
    if "property_type" in label and "property_type" in held and context.property_types is not None:
        if hit["property_type"] not in property_types_named(label["property_type"], context.property_types):
            return False
    return True


def _hits(engine: Engine, query: SearchQuery) -> list[dict[str, Any]]:
    where, params = filter_sql(query, "v")
    field, descending = query.sort_order() or ("id", False)
    if field not in SORT_FIELDS + ("id",):
        field, descending = "id", False
    order = f"v.{field} {'DESC' if descending else 'ASC'} NULLS LAST, v.id"
    sql = f"SELECT v.* FROM listings v WHERE {where} ORDER BY {order} LIMIT :limit"
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(text(sql), {**params, "limit": query.limit}).mappings()]


def end_to_end(rows: Sequence[Mapping[str, Any]], engine: Engine, context: SearchContext,
               details: bool = False) -> dict[str, Any]:
    """Share of hits satisfying every checkable labelled constraint; facts the data lacks reported as such."""
    hits = satisfied = empty = facts_asked = facts_said = baseline_hits = baseline_satisfied = 0
    failures = []
    for row in rows:
        interpretation = interpret(SearchQuery(text=row["text"]), context)
        query = interpretation.query
        if query.is_structured and not query.has_filters and not query.sort:
            query = SearchQuery(text=query.text or row["text"], limit=query.limit)  # nothing to filter: any hit
        found = _hits(engine, query)
        good = [hit_satisfies(row["label"], hit, context) for hit in found]
        hits += len(found)
        satisfied += sum(good)
        empty += not found
        # the baseline: the same number of listings with no understanding (the first by id)
        unfiltered = _hits(engine, SearchQuery(text=row["text"], limit=query.limit))
        baseline_hits += len(unfiltered)
        baseline_satisfied += sum(hit_satisfies(row["label"], hit, context) for hit in unfiltered)
        asked = [name for name in FACT_NAMES if name in row["label"] and name not in context.facts]
        if asked:
            facts_asked += 1
            notes = " ".join(interpretation.notes)
            facts_said += all(f"{FACT_NAMES[name]} " in notes and "not in this data" in notes for name in asked)
        if details and not all(good):
            failures.append({"id": row["id"], "text": row["text"], "label": row["label"],
                             "bad_hits": [h["id"] for h, ok in zip(found, good) if not ok][:5]})
    report: dict[str, Any] = {
        "sentences": len(rows), "hits": hits, "share_satisfying": round(satisfied / hits, 4) if hits else 1.0,
        "sentences_without_hits": empty,
        "baseline_share_satisfying": round(baseline_satisfied / baseline_hits, 4) if baseline_hits else 1.0, "sentences_asking_facts_the_data_lacks": facts_asked,
        "of_which_the_answer_says_so": facts_said,
    }
    if details:
        report["failures"] = failures
    return report


def load_city(engine: Engine, path: str, limit: Optional[int] = None) -> None:
    from gfl_dagster.listings.load import load_listings_csv

    load_listings_csv(engine, path, limit=limit)
