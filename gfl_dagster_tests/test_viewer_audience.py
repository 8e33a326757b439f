"""Whose ads a searcher sees (ads/viewer.py) and which variant an impression shows (ads/for_hits.py): pure."""

import random
from collections import Counter
from types import SimpleNamespace

import pytest

from gfl_dagster.ads.audiences import load_audiences
from gfl_dagster.ads.for_hits import choose_ad
from gfl_dagster.ads.viewer import AudienceError, declared_audience, history_audience, named_audience

AUDIENCES, _ = load_audiences()


@pytest.mark.parametrize("sentence, slug, words", [
    ("a quiet place in Brooklyn for my family", "family_with_kids", "my family"),
    ("Entire home near the park, we have two KIDS", "family_with_kids", "KIDS"),
    ("loft for  two in Williamsburg", "young_couple", "for  two"),  # any spacing
    ("calm apartment for an older couple", "older_couple", "older couple"),  # longer than "couple"
    ("cheap bed for a backpacker in Queens", "budget_backpacker", "backpacker"),
    ("near the convention center for a conference", "business_traveller", "conference"),
])
def test_the_sentence_names_the_audience_by_its_phrases(sentence, slug, words):
    audience, said = named_audience(sentence, AUDIENCES)
    assert (audience.slug, said) == (slug, words)


@pytest.mark.parametrize("sentence", ["quiet loft near the park", "Brooklyn under $100 with good reviews",
                                      "kidney-shaped pool", "familyroom", ""])
def test_a_sentence_naming_no_audience_names_none(sentence):
    assert named_audience(sentence, AUDIENCES) is None


def test_the_phrases_are_data(tmp_path):
    path = tmp_path / "audiences.toml"
    path.write_text('[[audience]]\nslug = "surfers"\nname = "Surfers"\ndescription = "People who surf."\n'
                    'phrases = ["Surf Board", "waves"]\n', encoding="utf-8")
    audiences, _ = load_audiences(path)
    assert named_audience("room with space for my surf  board", audiences)[0].slug == "surfers"
    path.write_text(path.read_text().replace('"waves"', '""'))
    with pytest.raises(ValueError, match="phrases must be non-empty strings"):
        load_audiences(path)


def event(kind, query=None, audience=None):
    return SimpleNamespace(kind=kind, query=query, audience=audience)


def test_history_picks_the_most_frequent_audience_and_says_why():
    history = [event("search", "room in Queens"), event("click", audience="budget_backpacker"),
               event("search", "a place for my family"), event("click", audience="family_with_kids"),
               event("search", "loft for the kids")]
    audience, reason = history_audience(history, AUDIENCES)
    assert audience.slug == "family_with_kids" and reason == "1 click on its ads and 2 searches naming it"


def test_history_breaks_a_tie_by_the_most_recent_and_ignores_what_names_nobody():
    newest_first = [event("click", audience="young_couple"), event("click", audience="business_traveller"),
                    event("search", "quiet loft"), event("click", audience="retired_astronauts")]
    assert history_audience(newest_first, AUDIENCES)[0].slug == "young_couple"
    assert history_audience([event("search", "quiet loft"), event("click", audience=None)], AUDIENCES) is None


def test_a_declared_audience_must_be_known():
    assert declared_audience("Family with kids", AUDIENCES).slug == "family_with_kids"
    with pytest.raises(AudienceError, match="known: young_couple, family_with_kids"):
        declared_audience("astronauts", AUDIENCES)


def test_every_variant_gets_its_share_of_impressions():
    variants, rng = ["a", "b"], random.Random(7)
    shown = Counter(choose_ad(variants, rng) for _ in range(2000))
    assert set(shown) == {"a", "b"} and abs(shown["a"] - shown["b"]) < 200
