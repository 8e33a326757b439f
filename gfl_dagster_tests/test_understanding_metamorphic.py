"""The metamorphic suite (understanding_metamorphic.jsonl, frozen) and the scorer of the labelled sets.

Equivalent phrasings must give identical filters; an upper-bound phrase sets max_price only, a lower-bound
one min_price only, a number with a non-money unit no price at all. The scorer itself is shown to fail
on a parser that gets things wrong, so its figures can be trusted to mean something.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from gfl_dagster.search.understanding import understand
from gfl_dagster_bench.eval.search.understanding_eval import (
    CITY_FILES,
    DEV_SET,
    METAMORPHIC_SET,
    admitted_neighbourhoods,
    city_places,
    evaluate_all,
    field_scores,
    load_set,
    score_metamorphic,
    score_set,
)
from gfl_dagster_tests.conftest import shared_csv

FLIP = {"min_price": "max_price", "max_price": "min_price"}


@pytest.fixture(scope="module")
def places():
    shared = shared_csv("insideairbnb_barcelona_2021-10.csv").parent
    return {city: city_places(city, shared) for city in CITY_FILES}


def test_every_equivalence_family_gives_identical_filters_and_no_bound_points_the_wrong_way(places):
    report = score_metamorphic(load_set(METAMORPHIC_SET), places, details=True)
    assert report["direction"]["members"] >= 70 and report["direction"]["errors"] == 0, report["failures"]
    eq = report["equivalence"]
    assert eq["families"] >= 30
    assert eq["families_passed"] == eq["families"], report["failures"]


def test_the_dev_set_parses(places):
    report = score_set(load_set(DEV_SET), places, details=True)
    assert report["exact"] >= 0.95, report["failures"]
    assert all(field["accuracy"] >= 0.97 for field in report["fields"].values()), report["fields"]


def _flipped(text, city_places_):
    parsed = understand(text, city_places_)
    return replace(parsed, filters={FLIP.get(k, k): v for k, v in parsed.filters.items()})


def test_the_scores_fail_a_parser_that_reads_bounds_backwards(places):
    report = score_metamorphic(load_set(METAMORPHIC_SET), places, parse=_flipped)
    assert report["direction"]["errors"] >= 40
    dev = score_set(load_set(DEV_SET), places, parse=_flipped)
    assert dev["fields"]["price"]["accuracy"] < 0.7 and dev["exact"] < 0.7


def test_places_are_compared_by_the_listings_they_admit(places):
    boston, nyc = places["boston"], places["new-york"]
    # Boston has no groups: an area and a neighbourhood of the same name admit the same listings
    assert field_scores({"areas": ["Back Bay"]}, {"neighbourhoods": ["Back Bay"]}, boston)["places"]
    # two neighbourhoods are not the borough that holds them
    assert not field_scores({"neighbourhoods": ["East Village", "Lower East Side"]}, {"areas": ["Manhattan"]},
                            nyc)["places"]
    assert field_scores({"room_types": ["Entire home/apt", "Private room", "Hotel room"]},
                        {"not_room_types": ["Shared room"]}, nyc)["room_types"]
    brooklyn_not_williamsburg = admitted_neighbourhoods({"areas": ["Brooklyn"], "not_neighbourhoods": ["Williamsburg"]},
                                                        nyc)
    assert "Williamsburg" not in brooklyn_not_williamsburg and "Bushwick" in brooklyn_not_williamsburg


def test_the_test_split_is_scored_without_a_sentence_of_detail():
    shared = shared_csv("insideairbnb_barcelona_2021-10.csv").parent
    report = evaluate_all(shared, details=True, splits=("test",))
    assert "failures" not in report["test"] and report["test"]["sentences"] >= 150


def test_end_to_end_hits_are_checked_against_the_labels_not_the_parse(engine):
    from gfl_dagster.listings.load import load_listings_csv
    from gfl_dagster_bench.eval.search.understanding_end_to_end import end_to_end
    from gfl_dagster.search.interpret import load_search_context
    from gfl_dagster_tests.conftest import BUNDLED_CSV

    load_listings_csv(engine, BUNDLED_CSV)
    context = load_search_context(engine)
    rows = [row for row in load_set(DEV_SET) if row["city"] == "new-york"]
    report = end_to_end(rows, engine, context)
    assert report["hits"] >= 200 and report["share_satisfying"] >= 0.98
    assert report["baseline_share_satisfying"] < 0.5
    assert report["of_which_the_answer_says_so"] == report["sentences_asking_facts_the_data_lacks"] > 0
    # labels that say otherwise than the sentences (every upper price bound read as a lower one) fail
    flipped = [{**row, "label": {FLIP.get(k, k): v for k, v in row["label"].items()}} for row in rows]
    assert end_to_end(flipped, engine, context)["share_satisfying"] < report["share_satisfying"] - 0.1
