"""Query understanding: sentences -> filters, sort, limit and search text. No database, no model."""

from __future__ import annotations

import pytest

from gfl_dagster.search.interpret import FACT_NAMES, SearchContext, apply_facts
from gfl_dagster.search.query import SearchQuery, normalized_query
from gfl_dagster.search.understanding import (
    GOOD_REVIEWS,
    Places,
    places_from_pairs,
    price_bands,
    understand,
)
from gfl_dagster_bench.eval.search.understanding_eval import (
    latency_ms,
    old_dev_entries,
    places_from_csv,
    price_bands_from_csv,
    score_set,
)
from gfl_dagster_bench.eval.search.understanding_queries import BARCELONA, HARDER, PARSES, SEEDS, LabelledParse
from gfl_dagster_tests.conftest import BUNDLED_CSV, shared_csv

ENTIRE, PRIVATE, SHARED, HOTEL = "Entire home/apt", "Private room", "Shared room", "Hotel room"
BARCELONA_CSV = "insideairbnb_barcelona_2021-10.csv"
MEASURED_EXACT = 1.0  # whole-parse accuracy measured on the labelled set (136/136 with Barcelona, 94/94 New York only)

# A small Barcelona-like city, so the accent and article rules run without the shared data.
MINI_BCN = places_from_pairs([
    ("Gràcia", "la Vila de Gràcia"), ("Gràcia", "el Camp d'en Grassot i Gràcia Nova"), ("Ciutat Vella", "el Raval"),
    ("Ciutat Vella", "el Barri Gòtic"), ("Eixample", "l'Antiga Esquerra de l'Eixample"),
    ("Eixample", "la Sagrada Família"), ("Sant Andreu", "Sant Andreu"), ("Les Corts", "les Corts"),
    ("Sants-Montjuïc", "Sants"), ("Sants-Montjuïc", "el Poble Sec"), ("Sant Martí", "el Poblenou"),
])


@pytest.fixture(scope="module")
def nyc() -> Places:
    return places_from_csv(BUNDLED_CSV)


@pytest.fixture(scope="module")
def barcelona() -> Places:
    return places_from_csv(shared_csv(BARCELONA_CSV))


def parse(sentence: str, places: Places, **kwargs):
    return understand(sentence, places, **kwargs)


# --- the seed sentences and the reported failures ---------------------------------------------

def test_seed_top_5_most_reviewed_in_brooklyn(nyc):
    u = parse("top 5 most reviewed listings in Brooklyn", nyc)
    assert (u.filters, u.sort, u.limit, u.text) == ({"borough": "Brooklyn"}, "number_of_reviews:desc", 5, "")


def test_seed_brooklyn_under_100_with_good_reviews(nyc):
    u = parse("listings in Brooklyn under $100 with good reviews", nyc)
    assert u.filters == {"borough": "Brooklyn", "max_price": 100, "min_reviews": GOOD_REVIEWS}
    assert (u.sort, u.limit, u.text) == (None, None, "")
    assert u.notes[:2] == ["borough Brooklyn", 'price <= $100 ("under $100")']
    assert any(note.startswith('reviews >= 20 ("good reviews"') for note in u.notes)


def test_seed_apartment_with_a_great_view_keeps_its_text_and_sets_nothing(nyc):
    u = parse("apartment with a great view", nyc)
    assert (u.filters, u.sort, u.limit, u.text, u.notes) == ({}, None, None, "apartment with a great view", [])


def test_reported_failures(nyc):
    u = parse("quiet studio in Harlem under 120 dollars", nyc)
    assert u.filters == {"neighbourhood": "Harlem", "room_type": ENTIRE, "max_price": 120}
    assert u.text == "quiet studio"
    u = parse("family friendly place in Queens", nyc)
    assert u.filters == {"borough": "Queens", "room_type": ENTIRE}
    assert u.text == "family friendly"


def test_a_sentence_with_no_constraint_keeps_its_full_text(nyc):
    sentence = "  Cosy   apartment with exposed brick and lots of plants!  "
    u = parse(sentence, nyc)
    assert (u.filters, u.sort, u.limit) == ({}, None, None)
    assert u.text == "Cosy apartment with exposed brick and lots of plants!"


def test_nothing_meaningful_left_gives_empty_text(nyc):
    assert parse("show me some listings please", nyc).text == ""
    assert parse("", nyc) == parse("   ", nyc)
    assert parse("", nyc).filters == {} and parse("", nyc).text == ""


# --- places ---------------------------------------------------------------------------------

@pytest.mark.parametrize("sentence, filters", [
    ("room in the Bronx", {"borough": "Bronx", "room_type": PRIVATE}),
    ("loft in Brooklyn Heights", {"neighbourhood": "Brooklyn Heights", "property_type": "loft"}),  # longest name first
    ("East Harlem studio", {"neighbourhood": "East Harlem", "room_type": ENTIRE}),
    ("Downtown Brooklyn", {"neighbourhood": "Downtown Brooklyn"}),
    ("BK", {"borough": "Brooklyn"}),
    ("bed-stuy brownstone", {"neighbourhood": "Bedford-Stuyvesant"}),
    ("hells kitchen", {"neighbourhood": "Hell's Kitchen"}),
    ("HELL’S KITCHEN", {"neighbourhood": "Hell's Kitchen"}),
    ("Williamsburg, Brooklyn", {"borough": "Brooklyn", "neighbourhood": "Williamsburg"}),
    ("st. george", {"neighbourhood": "St. George"}),
])
def test_places(nyc, sentence, filters):
    assert parse(sentence, nyc).filters == filters


def test_a_nickname_needs_its_place_to_be_known():
    assert parse("BK apartment", Places(("Manhattan",), ("Harlem",))).filters == {}
    assert parse("BK apartment", Places(("Brooklyn",), ())).filters == {"borough": "Brooklyn"}


def test_a_neighbourhood_in_another_area_drops_the_area(nyc):
    u = parse("Williamsburg, Queens", nyc)
    assert u.filters == {"neighbourhood": "Williamsburg"}
    assert any("Williamsburg lies in Brooklyn" in note for note in u.notes)


@pytest.mark.parametrize("sentence, text", [
    ("apartment near Williamsburg", "apartment near Williamsburg"),
    ("close to Central Park", "close to Central Park"),
    ("apartment with Manhattan views", "apartment with Manhattan views"),
    ("room by the Brooklyn Bridge", "Brooklyn Bridge"),  # "room" is the room type, "by the" filler
])
def test_near_a_place_stays_in_the_text(nyc, sentence, text):
    u = parse(sentence, nyc)
    assert "borough" not in u.filters and "neighbourhood" not in u.filters
    assert u.text == text


def test_excluding_a_place_is_understood_but_not_filtered(nyc):
    u = parse("apartment in Brooklyn but not in Williamsburg", nyc)
    assert u.filters == {"borough": "Brooklyn", "not_neighbourhoods": ["Williamsburg"]}
    assert u.text == "apartment"
    assert "not in Williamsburg" in u.notes
    u = parse("anywhere but Roxbury or Mattapan", Places(("Roxbury", "Mattapan", "Fenway"), ("Roxbury", "Mattapan", "Fenway")))
    assert u.filters == {"not_areas": ["Roxbury", "Mattapan"]}  # a name listed after an excluded one is excluded
    assert parse("not in Manhattan", nyc).filters == {"not_areas": ["Manhattan"]}
    assert parse("Queens except Flushing", nyc).filters == {"borough": "Queens", "not_neighbourhoods": ["Flushing"]}


def test_several_places(nyc):
    u = parse("Manhattan or Brooklyn apartment", nyc)
    assert u.filters == {"areas": ["Manhattan", "Brooklyn"]}
    assert u.text == "apartment"
    u = parse("Williamsburg or Greenpoint", nyc)  # both, not the borough that holds them (it admits far more)
    assert u.filters == {"neighbourhoods": ["Williamsburg", "Greenpoint"]}
    u = parse("Brooklyn or Astoria", nyc)  # an area or a neighbourhood elsewhere: the neighbourhoods of either
    hoods = set(u.filters["neighbourhoods"])
    assert "Astoria" in hoods and "Williamsburg" in hoods and "Harlem" not in hoods


@pytest.mark.parametrize("sentence, filters", [
    ("Brookyln", {"borough": "Brooklyn"}),  # two letters swapped
    ("Manhatan apartment", {"borough": "Manhattan"}),  # one missing
    ("Wiliamsburg", {"neighbourhood": "Williamsburg"}),
    ("Williamsbrug apartments", {"neighbourhood": "Williamsburg"}),
    ("Greenwhich Village", {"neighbourhood": "Greenwich Village"}),  # one extra, in a two-word name
    ("Astroia", {"neighbourhood": "Astoria"}),
])
def test_misspelled_places(nyc, sentence, filters):
    u = parse(sentence, nyc)
    assert u.filters == filters
    assert any("(read " in note for note in u.notes)


@pytest.mark.parametrize("sentence", [
    "Queen bed",  # "queen" is 5 letters: not Queens
    "Bronz",  # names under 6 letters only match exactly
    "Upper Est Side",  # one edit from both Upper East Side and Upper West Side
    "Empire State Building",  # "state" is not "Staten"
    "Grooklyn",  # the first letter must match
])
def test_not_misspellings(nyc, sentence):
    assert parse(sentence, nyc).filters == {}


# --- accents, case, articles -----------------------------------------------------------------

@pytest.mark.parametrize("sentence", ["room in Gràcia", "ROOM IN GRACIA", "room in gràcia", "Room in GRÀCIA."])
def test_accents_and_case_do_not_matter(sentence):
    assert parse(sentence, MINI_BCN).filters == {"borough": "Gràcia", "room_type": PRIVATE}


@pytest.mark.parametrize("sentence, filters", [
    ("flat in el Raval", {"neighbourhood": "el Raval"}),
    ("flat in the Raval", {"neighbourhood": "el Raval"}),  # the article may be left out
    ("flat in Raval", {"neighbourhood": "el Raval"}),
    ("vila de gracia", {"neighbourhood": "la Vila de Gràcia"}),
    ("la vila de gracia", {"neighbourhood": "la Vila de Gràcia"}),
    ("SAGRADA FAMILIA", {"neighbourhood": "la Sagrada Família"}),
    ("antiga esquerra de l’eixample", {"neighbourhood": "l'Antiga Esquerra de l'Eixample"}),
    ("Sant Andreu", {"borough": "Sant Andreu"}),  # an area and a neighbourhood: the area
    ("les corts", {"borough": "Les Corts"}),
    ("montjuic", {"borough": "Sants-Montjuïc"}),  # part of a hyphenated district name
    ("Sants", {"neighbourhood": "Sants"}),
    ("poble-sec", {"neighbourhood": "el Poble Sec"}),
    ("gothic quarter", {"neighbourhood": "el Barri Gòtic"}),
])
def test_barcelona_names(sentence, filters):
    assert parse(sentence, MINI_BCN).filters == filters


def test_the_remaining_text_keeps_the_original_spelling():
    u = parse("Piso luminoso en Gràcia under 90€", MINI_BCN)
    assert u.filters == {"borough": "Gràcia", "max_price": 90}
    assert u.text == "Piso luminoso"
    assert any(note == 'price <= €90 ("under 90€")' for note in u.notes)


def test_barcelona_file_places(barcelona):
    assert {"Gràcia", "Sant Martí", "Eixample"} <= set(barcelona.areas)
    assert parse("studio in the Raval", barcelona).filters == {"neighbourhood": "el Raval", "room_type": ENTIRE}
    assert parse("gracia", barcelona).filters == {"borough": "Gràcia"}
    assert parse("Barcelonetta", barcelona).filters == {"neighbourhood": "la Barceloneta"}


# --- prices ---------------------------------------------------------------------------------

@pytest.mark.parametrize("sentence, low, high", [
    ("under $100", None, 100), ("below 100", None, 100), ("less than 100 dollars", None, 100),
    ("at most $100", None, 100), ("max 100", None, 100), ("up to $100", None, 100), ("$100 or less", None, 100),
    ("100 dollars", None, 100), ("100 usd", None, 100), ("€80", None, 80), ("80 euros", None, 80),
    ("under a hundred dollars", None, 100), ("budget of $120", None, 120), ("$1,200 a week", None, 171.43),
    ("between 80 and 120", 80, 120), ("$80-$120", 80, 120), ("from 80 to 120", 80, 120),
    ("80 to 120 euros", 80, 120), ("rooms 50-80", 50, 80), ("$80 – $120 per night", 80, 120),
    ("over $200", 200, None), ("above 200", 200, None), ("more than 200 dollars", 200, None),
    ("at least $200", 200, None), ("$200+", 200, None), ("200 or more per night", 200, None),
    ("around $150", 128, 173), ("about 150", 128, 173), ("~150", 128, 173), ("$150 or so", 128, 173),
])
def test_prices(nyc, sentence, low, high):
    u = parse(sentence, nyc)
    assert (u.filters.get("min_price"), u.filters.get("max_price")) == (low, high)
    assert not any(w in u.text for w in ("$", "€", "dollars", "euros"))


@pytest.mark.parametrize("sentence", [
    "3 bedrooms", "under 5 minutes from the subway", "for 4 guests", "2-3 nights", "at least 2 bathrooms", "room 50",
])
def test_numbers_that_are_not_prices(nyc, sentence):
    u = parse(sentence, nyc)
    assert "min_price" not in u.filters and "max_price" not in u.filters


def test_around_states_its_band(nyc):
    assert any("+-15% of $150" in note for note in parse("around $150", nyc).notes)


def test_cheap_without_bands_sorts_by_price(nyc):
    u = parse("cheap room in Harlem", nyc)
    assert "max_price" not in u.filters and u.sort == "price:asc"
    assert any("no price bands" in note for note in u.notes)


def test_cheap_with_bands_uses_the_area_band(nyc):
    bands = {"Brooklyn": (80.0, 180.0), "Williamsburg": (95.0, 200.0), "": (89.0, 200.0)}
    u = parse("cheap room in Brooklyn", nyc, price_bands=bands)
    assert u.filters["max_price"] == 80 and u.sort is None
    assert "cheap: price <= $80 (the lowest quarter of Brooklyn prices)" in u.notes
    assert parse("budget studio in Williamsburg", nyc, price_bands=bands).filters["max_price"] == 95
    assert parse("affordable place in Harlem", nyc, price_bands=bands).filters["max_price"] == 89  # "" = all
    assert parse("inexpensive room in Bushwick", nyc, price_bands={"Brooklyn": (70.0, 150.0)}).filters[
        "max_price"] == 70  # the neighbourhood's area
    assert parse("cheap room under $60 in Brooklyn", nyc, price_bands=bands).filters["max_price"] == 60
    assert parse("expensive loft in Brooklyn", nyc, price_bands=bands).filters["min_price"] == 180


def test_luxury_stays_in_the_text(nyc):
    u = parse("luxury apartment in Manhattan", nyc)
    assert u.filters == {"borough": "Manhattan"} and u.sort is None and u.text == "luxury apartment"


def test_price_bands_from_data():
    bands = price_bands({"A": [10, 20, 30, 40, 50, 60, 70, 80], "B": [100, 200]})
    assert set(bands) == {"A", ""} and bands["A"][0] < bands["A"][1]
    csv_bands = price_bands_from_csv(BUNDLED_CSV)
    assert {"Brooklyn", "Williamsburg", ""} <= set(csv_bands)
    assert csv_bands[""][0] == 89.0  # the bundled data's first quartile


def test_contradicting_prices_are_dropped(nyc):
    u = parse("over 200 under 100", nyc)
    assert "min_price" not in u.filters and "max_price" not in u.filters
    assert any("contradict" in note for note in u.notes)


# --- reviews --------------------------------------------------------------------------------

@pytest.mark.parametrize("sentence, filters", [
    ("with good reviews", {"min_reviews": GOOD_REVIEWS}),
    ("well-reviewed", {"min_reviews": GOOD_REVIEWS}),
    ("highly rated", {"min_reviews": GOOD_REVIEWS}),
    ("great reviews", {"min_reviews": GOOD_REVIEWS}),
    ("positive reviews", {"min_reviews": GOOD_REVIEWS}),
    ("at least 50 reviews", {"min_reviews": 50}),
    ("50+ reviews", {"min_reviews": 50}),
    ("more than 50 reviews", {"min_reviews": 51}),
    ("with reviews", {"min_reviews": 1}),
    ("fewer than 5 reviews", {"max_reviews": 4}),
    ("no reviews", {"max_reviews": 0}),
    ("unreviewed", {"max_reviews": 0}),
    ("new listings", {"max_reviews": 0}),
])
def test_reviews(nyc, sentence, filters):
    assert parse(sentence, nyc).filters == filters


def test_new_listings_filter_on_at_most_zero_reviews(nyc):
    u = parse("new listings in Astoria", nyc)
    assert set(u.filters) <= set(u.search_query_fields())
    assert u.search_query_fields()["max_reviews"] == 0


def test_new_york_is_not_new(nyc):
    assert parse("New York apartment", nyc).filters == {}


# --- room types -----------------------------------------------------------------------------

@pytest.mark.parametrize("sentence, room_type, text", [
    ("private room", PRIVATE, ""),
    ("cozy room", PRIVATE, "cozy"),
    ("rooms", PRIVATE, ""),
    ("entire apartment", ENTIRE, ""),
    ("whole place", ENTIRE, ""),
    ("entire home/apt", ENTIRE, ""),
    ("a flat to myself", ENTIRE, "flat"),
    ("studio", ENTIRE, "studio"),
    ("entire flat", ENTIRE, ""),
    ("family friendly", ENTIRE, "family friendly"),
    ("for a family", ENTIRE, "family"),
    ("for kids", ENTIRE, "kids"),
    ("shared room", SHARED, ""),
    ("shared", SHARED, ""),
    ("hostel bed", SHARED, ""),  # "hostel" alone is the property type
    ("hotel", HOTEL, ""),
    ("hotel room", HOTEL, ""),
    ("private room in a brownstone", PRIVATE, "brownstone"),  # explicit beats implied
    ("room for a family", PRIVATE, "family"),  # "room" beats "family"
])
def test_room_types(nyc, sentence, room_type, text):
    u = parse(sentence, nyc)
    assert u.filters == {"room_type": room_type}
    assert u.text == text


@pytest.mark.parametrize("sentence", [
    "loft", "apartment", "living room with a piano", "lots of room", "shared bathroom", "hotel-like service",
    "2 room apartment",
])
def test_no_room_type(nyc, sentence):
    assert "room_type" not in parse(sentence, nyc).filters


def test_several_and_excluded_room_types(nyc):
    assert parse("shared room or hotel room", nyc).filters == {"room_types": [SHARED, HOTEL]}
    assert parse("private or shared room", nyc).filters == {"room_types": [PRIVATE, SHARED]}
    assert parse("no shared rooms", nyc).filters == {"not_room_types": [SHARED]}
    assert parse("anything but a shared room", nyc).filters == {"not_room_types": [SHARED]}
    assert parse("no shared or hotel rooms", nyc).filters == {"not_room_types": [SHARED, HOTEL]}


# --- stays and availability -----------------------------------------------------------------

@pytest.mark.parametrize("sentence, filters", [
    ("for a month", {"max_nights": 30}), ("monthly", {"max_nights": 30}), ("30 days", {"max_nights": 30}),
    ("weekend", {"max_nights": 2}), ("for the weekend", {"max_nights": 2}), ("2 nights", {"max_nights": 2}),
    ("one night", {"max_nights": 1}), ("tonight", {"max_nights": 1}), ("a week", {"max_nights": 7}),
    ("two weeks", {"max_nights": 14}), ("3 months", {"max_nights": 90}), ("2-3 nights", {"max_nights": 3}),
    ("long stay", {"min_nights": 28}), ("long-term", {"min_nights": 28}), ("short stay", {"max_nights": 7}),
    ("no minimum stay", {"max_nights": 1}),
    ("available", {"min_availability": 1}), ("available now", {"min_availability": 1}),
    ("available year round", {"min_availability": 300}), ("all year round", {"min_availability": 300}),
    ("available most of the year", {"min_availability": 183}),
])
def test_stays_and_availability(nyc, sentence, filters):
    assert parse(sentence, nyc).filters == filters


def test_a_price_per_night_is_not_a_stay(nyc):
    assert parse("$100 a night", nyc).filters == {"max_price": 100}


def test_dates_are_noted_not_filtered(nyc):
    u = parse("available in July", nyc)
    assert u.filters == {"min_availability": 1} and u.text == ""
    assert any("dates are not supported" in note for note in u.notes)


# --- rankings and counts --------------------------------------------------------------------

@pytest.mark.parametrize("sentence, sort, limit", [
    ("top 5", None, 5), ("top five", None, 5), ("5 best lofts", None, 5), ("show me 3 listings", None, 3),
    ("cheapest", "price:asc", None), ("10 cheapest rooms", "price:asc", 10), ("most expensive", "price:desc", None),
    ("priciest", "price:desc", None), ("most popular", "number_of_reviews:desc", None),
    ("most reviewed", "number_of_reviews:desc", None), ("top 3 most reviewed", "number_of_reviews:desc", 3),
    ("most reviews per month", "reviews_per_month:desc", None), ("sort by price", "price:asc", None),
    ("recently reviewed", "last_review:desc", None), ("top 500", None, 100),
])
def test_rankings(nyc, sentence, sort, limit):
    u = parse(sentence, nyc)
    assert (u.sort, u.limit) == (sort, limit)


def test_a_count_of_bedrooms_is_not_a_limit(nyc):
    u = parse("show me 2 bedroom apartments", nyc)
    assert u.limit is None and u.filters == {"min_bedrooms": 2}


# --- spans and the SearchQuery they make ------------------------------------------------------

def test_spans_point_at_the_words(nyc):
    sentence = "listings in Brooklyn under $100 with good reviews"
    u = parse(sentence, nyc)
    assert [(s.text, s.field, s.value) for s in u.spans] == [
        ("Brooklyn", "borough", "Brooklyn"), ("under $100", "max_price", 100),
        ("good reviews", "min_reviews", GOOD_REVIEWS)]
    assert all(sentence[s.start:s.end] == s.text for s in u.spans)


def test_accented_spans_map_back_to_the_sentence():
    sentence = "ESTUDIO en la Vila de Gràcia, menos de 70 €"
    u = parse(sentence, MINI_BCN)
    assert all(sentence[s.start:s.end] == s.text for s in u.spans)
    assert any(s.text == "la Vila de Gràcia" for s in u.spans)


def test_every_labelled_parse_makes_a_valid_search_query(nyc):
    """As the search applies it (interpret.apply_facts): on data holding every rich fact, its amenities are
    canonical features the query accepts."""
    holding_every_fact = SearchContext(nyc, facts=frozenset(FACT_NAMES), property_types=("Entire loft",))
    for entry in (e for e in PARSES if e.city == "nyc"):
        u = apply_facts(parse(entry.text, nyc), holding_every_fact)
        fields = u.search_query_fields()
        if not fields["text"] and not (set(fields) - {"text", "limit"}):
            continue  # nothing to search for (e.g. "top 3" alone)
        normalized_query(SearchQuery(**fields), nyc.areas, nyc.neighbourhoods)


# --- the labelled set -----------------------------------------------------------------------

def test_the_labelled_set_covers_the_brief():
    assert len(PARSES) >= 60
    texts = {e.text for e in PARSES}
    assert {"top 5 most reviewed listings in Brooklyn", "listings in Brooklyn under $100 with good reviews",
            "apartment with a great view"} <= texts
    assert all(e in PARSES for e in SEEDS)
    assert len(BARCELONA) >= 20 and {e.city for e in PARSES} == {"nyc", "barcelona"}
    assert len(texts) == len(PARSES)
    assert all(isinstance(e, LabelledParse) for e in PARSES + HARDER)


def _p95_ms(places_by_city) -> float:
    """The best CPU-time p95 of three passes over the labelled sentences: wall clock on 2 cores shared with
    other work says nothing of the parser."""
    rows = [row for row in old_dev_entries() if row["city"] in places_by_city]
    return min(latency_ms((row["text"], places_by_city[row["city"]]) for row in rows)["cpu_p95"] for _ in range(3))


def _check_report(report):
    detail = "\n".join(f"{f['text']}: wrong {f['wrong']}, got {f['got']}" for f in report["failures"])
    assert report["exact"] >= max(0.9, MEASURED_EXACT), detail
    for name, scores in report["fields"].items():
        assert scores["accuracy"] >= 0.9, (name, scores, detail)


def test_labelled_set_nyc(nyc):
    rows = [row for row in old_dev_entries() if row["city"] == "new-york"]
    report = score_set(rows, {"new-york": nyc}, details=True)
    assert report["sentences"] == sum(e.city == "nyc" for e in PARSES)
    _check_report(report)
    assert _p95_ms({"new-york": nyc}) < 1.0


def test_labelled_set_barcelona(nyc, barcelona):
    report = score_set(old_dev_entries(), {"new-york": nyc, "barcelona": barcelona}, details=True)
    assert report["sentences"] == len(PARSES)
    _check_report(report)


def test_latency_with_250_neighbourhoods(nyc):
    hoods = list(nyc.neighbourhoods) + [f"{name} {suffix}" for name in ("Alder", "Birch", "Cedar", "Dogwood", "Elm",
                                                                         "Fir", "Ginkgo", "Hazel", "Juniper", "Larch",
                                                                         "Maple", "Oakley", "Poplar", "Rowan", "Spruce")
                                        for suffix in ("Park", "Hill", "Heights", "Gardens", "Village", "Point",
                                                       "Terrace", "Beach", "Harbor")]
    places = Places(nyc.areas, tuple(hoods[:250]), dict(nyc.area_of_neighbourhood))
    assert len(places.neighbourhoods) == 250
    assert _p95_ms({"new-york": places}) < 1.0


# --- any sentence ---------------------------------------------------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402

_PIECES = st.sampled_from([
    "under", "over", "no more than", "not", "or", "and", "between", "to", "-", "$", "€", "S$", "k", "+", "for",
    "total", "nights", "stars", "guests", "bedrooms", "2BR", "baths", "one", "fifty", "a hundred and", "twenty",
    "1.5", "4.8", "120", "0", "99999999999999999999", "Brooklyn", "Queens", "Harlem", "not in", "anywhere but",
    "private", "shared", "room", "rooms", "near", "the", "minutes", "pool", "pet friendly", "superhost", ",", "/",
    "’", "É", "\u00a0", "≤", "≥", "top", "cheapest", "family of", "sleeps", "rated", "or more", "a week",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=14))
def test_any_sentence_parses_and_its_spans_point_into_it(nyc, words):
    sentence = " ".join(words)
    u = parse(sentence, nyc)
    assert all(sentence[s.start:s.end] == s.text for s in u.spans)
    low, high = u.filters.get("min_price"), u.filters.get("max_price")
    assert low is None or high is None or low <= high
