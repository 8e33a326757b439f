"""Whose ads a searcher sees (ads/viewer.py) and which variant an impression shows (ads/for_hits.py): pure."""

import random
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest

from gfl_dagster.ads.audiences import load_audiences
from gfl_dagster.ads.bandit import Bandit
from gfl_dagster.ads.for_hits import choose_ad
from gfl_dagster.ads.viewer import AudienceError, declared_audience, history_audience, named_audience

AUDIENCES, LEARNING = load_audiences()


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


def test_the_served_ad_follows_the_bandit_and_says_how_likely_it_was():
    """choose_ad (what the page and the simulated people show): with no evidence, each variant gets its share;
    once the audience clicks one angle clearly more, that angle is shown far more, to that audience only, and
    the propensity each impression records is the share it is shown with."""
    variants = [SimpleNamespace(id=1, angle="price"), SimpleNamespace(id=2, angle="reviews")]

    def served(bandit, audience, draws=4000):
        rng = random.Random(7)
        shown = [choose_ad(bandit, audience, variants, rng) for _ in range(draws)]
        share = Counter(ad.angle for ad, _ in shown)
        return {angle: n / draws for angle, n in share.items()}, {ad.angle: p for ad, p in shown}

    fresh = Bandit([], {}, LEARNING, np.random.default_rng(3))
    share, propensity = served(fresh, "young_couple")
    assert share["price"] == pytest.approx(0.5, abs=0.05) and propensity["price"] == pytest.approx(0.5, abs=0.05)

    evidence = {("young_couple", "reviews"): (2000, 160), ("young_couple", "price"): (2000, 40)}
    bandit = Bandit([], evidence, LEARNING, np.random.default_rng(3))
    share, propensity = served(bandit, "young_couple")
    assert share["reviews"] > 0.95, share
    for angle in share:
        assert 0 < propensity[angle] <= 1 and propensity[angle] == pytest.approx(share[angle], abs=0.02)
    # Another audience's clicks are not this one's evidence.
    share, _ = served(bandit, "family_with_kids")
    assert share["reviews"] == pytest.approx(0.5, abs=0.05)
    # The truth flipped, the choice follows.
    flipped = Bandit([], {("young_couple", "reviews"): (2000, 40), ("young_couple", "price"): (2000, 160)},
                     LEARNING, np.random.default_rng(3))
    assert served(flipped, "young_couple")[0]["price"] > 0.95
