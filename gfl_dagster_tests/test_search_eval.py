"""The search evaluation's pure parts: metrics, graded relevance, the query set."""

import math

import pytest

from gfl_dagster_bench.common import percentile
from gfl_dagster_bench.eval.search.metrics import dcg_at_k, ndcg_at_k, precision_at_k
from gfl_dagster_bench.eval.search.queries import QUERIES
from gfl_dagster_bench.eval.search.relevance import LANDMARKS, Relevance, distance_km, grade


def test_precision_counts_only_fully_relevant_hits_in_the_top_k():
    assert precision_at_k([2, 1, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2], k=10) == 0.8
    assert precision_at_k([2, 2, 1], k=10) == 0.2  # missing slots are misses
    assert precision_at_k([1, 1], k=2, threshold=1) == 1.0
    with pytest.raises(ValueError):
        precision_at_k([2], k=0)


def test_dcg_uses_exponential_gain_and_log_discount():
    assert dcg_at_k([2, 1, 0]) == pytest.approx(3 / 1 + 1 / math.log2(3))
    assert dcg_at_k([]) == 0.0


def test_ndcg_compares_with_the_best_ranking_of_the_corpus():
    corpus = [0, 2, 1, 0, 2]
    assert ndcg_at_k([2, 2, 1], corpus) == pytest.approx(1.0)
    assert ndcg_at_k([1, 2, 2], corpus) < 1.0
    assert ndcg_at_k([0, 0], corpus) == 0.0
    assert ndcg_at_k([0, 0], [0, 0, 0]) == 0.0  # nothing relevant: defined, not a division by zero
    # A ranking that misses a better listing the corpus holds is not ideal.
    assert ndcg_at_k([1], [1, 2], k=1) == pytest.approx(1 / 3)


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 50 and percentile(values, 0.95) == 95 and percentile([7.0], 0.95) == 7.0


LISTING = {"name": "Sunny LOFT near the park", "neighbourhood_group": "Brooklyn", "neighbourhood": "Williamsburg",
           "room_type": "Entire home/apt", "price": 180.0, "number_of_reviews": 12, "minimum_nights": 30,
           "latitude": 40.71, "longitude": -73.95}


def test_grade_two_when_every_constraint_holds():
    spec = Relevance(neighbourhoods=("Williamsburg",), room_types=("Entire home/apt",), name_words=("loft",),
                     max_price=200)
    assert grade(spec, LISTING) == 2


def test_grade_one_when_the_place_is_right_and_one_other_constraint_fails():
    spec = Relevance(neighbourhoods=("Williamsburg",), room_types=("Entire home/apt",), max_price=100)
    assert grade(spec, LISTING) == 1
    assert grade(Relevance(neighbourhoods=("Williamsburg",), room_types=("Private room",), max_price=100),
                 LISTING) == 0


def test_grade_zero_in_the_wrong_place_however_well_the_rest_matches():
    assert grade(Relevance(boroughs=("Queens",), room_types=("Entire home/apt",)), LISTING) == 0
    assert grade(Relevance(room_types=("Shared room",)), LISTING) == 0  # one constraint: no partial credit


def test_name_words_match_at_word_starts_only():
    assert grade(Relevance(name_words=("loft",)), LISTING) == 2
    assert grade(Relevance(name_words=("view",)), {**LISTING, "name": "Great reviews"}) == 0


def test_near_a_landmark_by_distance_to_its_outline():
    inside_central_park = (40.7812, -73.9665)
    assert distance_km(inside_central_park, LANDMARKS["Central Park"]) == 0.0
    columbus_circle_block = (40.7675, -73.9840)  # a block south-west of the park's corner
    assert 0 < distance_km(columbus_circle_block, LANDMARKS["Central Park"]) < 0.4
    near = {**LISTING, "latitude": 40.7675, "longitude": -73.9840}
    assert grade(Relevance(near="Central Park"), near) == 2
    assert grade(Relevance(near="Central Park"), LISTING) == 0  # Williamsburg is kilometres away


def test_query_set_is_large_enough_and_every_query_constrains_something():
    assert len(QUERIES) >= 30
    assert len({q.text for q in QUERIES}) == len(QUERIES)
    assert all(q.relevance != Relevance() for q in QUERIES)


def test_evaluate_scores_a_perfect_search_at_the_ceiling():
    from gfl_dagster_bench.eval.search.evaluate import ceiling, corpus_grades, evaluate

    queries = [q for q in QUERIES if q.text in ("private room in Harlem", "loft in Brooklyn")]
    corpus = [{**LISTING, "id": 1}, {**LISTING, "id": 2, "neighbourhood": "Harlem", "neighbourhood_group": "Manhattan",
                                     "room_type": "Private room"}]
    grades = corpus_grades(corpus, queries)
    by_text = {q.text: q for q in queries}

    def perfect(text):
        return sorted(corpus, key=lambda listing: -grade(by_text[text].relevance, listing))

    scores = evaluate(perfect, grades, queries)
    assert scores["ndcg_at_10"] == pytest.approx(1.0)
    assert scores["precision_at_10"] == pytest.approx(ceiling(grades)["precision_at_10"]) == pytest.approx(0.1)
    assert evaluate(lambda text: [], grades, queries)["ndcg_at_10"] == 0.0


def test_constraint_grades_count_the_stated_filters_a_hit_fails():
    from gfl_dagster_bench.eval.search.constraints import evaluate_constraints, failed_constraints, grade
    from gfl_dagster_bench.eval.search.understanding_queries import LabelledParse

    filters = {"borough": "Brooklyn", "max_price": 100, "min_reviews": 20}
    good = {"id": 1, "area": "Brooklyn", "price": 90, "number_of_reviews": 25}
    one_off = {**good, "id": 2, "price": 120}
    far = {"id": 3, "area": "Queens", "price": 300, "number_of_reviews": None}
    assert [failed_constraints(filters, hit) for hit in (good, one_off, far)] == [0, 1, 3]
    assert [grade(filters, hit) for hit in (good, one_off, far)] == [2, 1, 0]
    entries = [LabelledParse("brooklyn cheap", "nyc", filters), LabelledParse("a view", "nyc", {})]
    scored = evaluate_constraints(entries, lambda text: [good, one_off], [good, one_off, far])
    assert scored["queries"] == 1 and scored["share_satisfying_all"] == 0.5 and scored["queries_all_hits_satisfying"] == 0
