"""The grounding check: claims a generated text makes that its data does not back, and debris.

Pure functions, no database. The last tests measure the check on the hand-labelled
set in gfl_dagster_bench/eval/listings/grounding_labelled.jsonl (SmolLM2-135M outputs, hand-written and
template texts).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from gfl_dagster.generation.debris import debris_problems
from gfl_dagster.generation.grounding import Support, unsupported_claims
from gfl_dagster.listings.description_check import listing_source_values, listing_support
from gfl_dagster.listings.description_prompt import template_description
from gfl_dagster.listings.facts import description_input
from gfl_dagster.listings.vocabulary import cities, city_names
from gfl_dagster_bench.eval.listings.grounding import LABELLED, claim_caught, evaluate, known_places_from_csv, load_entries
from gfl_dagster_tests.conftest import shared_csv

PROJECT_DIR = Path(__file__).resolve().parent.parent
CSV = PROJECT_DIR / "data" / "AB_NYC_2023.csv"


@pytest.fixture(scope="module")
def known_places() -> tuple[str, ...]:
    return known_places_from_csv(CSV)


def listing(**overrides):
    row = {"id": 1, "name": "Bright apartment", "neighbourhood_group": "Brooklyn", "neighbourhood": "Williamsburg",
           "room_type": "Entire home/apt", "price": 150, "minimum_nights": 3, "number_of_reviews": 49}
    row.update(overrides)
    return row


def claims(text: str, known: tuple[str, ...] = (), **overrides) -> list[str]:
    return unsupported_claims(text, listing_support(listing(**overrides), known))


def backed_by(text: str, words: str, known: tuple[str, ...] = (), **overrides) -> list[str]:
    """The claims of `text` about the listing when a support text says `words`, as an ad's stored description
    (which passed its own check) backs the ad: the support's rules for words that state facts."""
    support = listing_support(listing(**overrides), known)
    return unsupported_claims(text, dataclasses.replace(support, texts=support.texts + (words,)))


def named(reasons: list[str], claim: str) -> bool:
    return claim_caught(claim, reasons)


# --- amenities and features -------------------------------------------------

@pytest.mark.parametrize("text, claim", [
    ("It has a private pool.", "pool"),
    ("Relax on the balcony.", "balcony"),
    ("A terrace and a patio.", "terrace"),
    ("Residents share a roof deck.", "roof deck"),
    ("There is a gym in the building.", "gym"),
    ("Enjoy views of the skyline.", "views"),
    ("Free parking on site.", "parking"),
    ("In-unit washer and dryer.", "washer"),
    ("W/D in the unit.", "w/d"),
    ("A doorman building.", "doorman"),
    ("Elevator access.", "elevator"),
    ("A working fireplace.", "fireplace"),
    ("Central air conditioning.", "air conditioning"),
    ("A hot tub in the garden.", "hot tub"),
    ("Fast wifi and a desk.", "wifi"),
    ("A full kitchen.", "kitchen"),
    ("A private bathroom.", "private bathroom"),
    ("A penthouse with a backyard.", "penthouse"),
])
def test_an_amenity_the_listing_does_not_mention_is_a_claim(text, claim):
    reasons = claims(text)
    assert named(reasons, claim), reasons


def test_an_amenity_a_support_text_names_is_supported():
    words = "Sunny loft with rooftop & gym"
    assert backed_by("A sunny loft with a rooftop and a gym.", words) == []
    # Synonyms and related words back a claim too.
    assert backed_by("Guests can use the roof deck and the fitness room.", words) == []
    assert backed_by("Laundry in the unit.", "Condo with Laundry") == []
    assert backed_by("Washer and dryer in the unit.", "Condo with Washer/Dryer") == []
    assert backed_by("It has an outdoor space.", "Garden apartment") == []


@pytest.mark.parametrize("name, text, claim", [  # the host's name says it; the description says it as its own
    ("Sunny loft with rooftop & gym", "A sunny loft with a rooftop and a gym.", "rooftop"),
    ("Condo with Washer/Dryer", "Washer and dryer in the unit.", "washer"),
    ("Beautiful 4BR/4BA Home, 1200 sqft", "A four-bedroom home with 4 baths.", "4 bedrooms"),
    ("Cozy Room. Only 15 mins to Central Park!", "Only 15 minutes to Central Park.", "central park"),
    ("Washer/Dryer, Marble Bath, Back Yard, Hudson Yards", "A back yard, close to Hudson Yards.", "hudson yards"),
    ("Amazing Williamsburg/Greenpoint Apt", "An apartment on the Williamsburg/Greenpoint line.", "greenpoint"),
    ("LUXURY apartment", "A luxury apartment in Williamsburg.", "luxury"),
    ("50% Discount Beautiful Room", "A 50% discount.", "50%"),
    ("Villa in Bukit Timah · pool · sea view", "A villa with a pool.", "pool"),
])
def test_the_hosts_name_is_not_evidence(known_places, name, text, claim):
    assert named(claims(text, known_places, name=name), claim)
    # The same words in a support text (facts in words) back it: only the name is refused.
    assert not named(backed_by(text, name, known_places, name=name), claim)


def test_a_quoted_name_claims_nothing_but_its_words_back_nothing_else(known_places):
    name = "Loft w/ rooftop | near *Central Park*"
    for quoted in ("listed as \u201cLoft w/ rooftop near Central Park\u201d.", 'listed as "Loft w/ rooftop | near Central Park!"',
                   "listed as 'Loft w/ rooftop near *Central Park*'.", "listed as \u00abLoft w rooftop near Central Park\u00bb."):
        assert claims(f"An entire home in Williamsburg, {quoted}", known_places, name=name) == [], quoted
        reasons = claims(f"An entire home {quoted} With a rooftop, near Central Park.", known_places, name=name)
        assert named(reasons, "rooftop") and named(reasons, "central park"), (quoted, reasons)
    # Unquoted, or quoted in part, the name's words are the text's own claims.
    assert named(claims("Loft w/ rooftop near Central Park: an entire home.", known_places, name=name), "rooftop")
    assert named(claims("The host calls it a \u201cloft w/ rooftop\u201d.", known_places, name=name), "rooftop")
    # A quoted name does not back the text around it through a support text that quotes it (an ad's description).
    description = "An entire home in Williamsburg, listed as \u201cLoft w/ rooftop near Central Park\u201d."
    assert named(backed_by("An entire home with a rooftop.", description, known_places, name=name), "rooftop")


def test_plurals_count_as_the_same_claim():
    assert backed_by("Two balconies.", "Loft with balcony") == []
    assert backed_by("A balcony.", "Loft w/ 2 balconies") == []
    assert named(claims("Two balconies."), "balcony")
    assert named(claims("Gardens all around."), "garden")


def test_a_place_name_does_not_back_a_feature_word_inside_it(known_places):
    reasons = backed_by("A studio in Hell's Kitchen with a full kitchen.", "Hell's Kitchen studio", known_places,
                        neighbourhood="Hell's Kitchen", neighbourhood_group="Manhattan")
    assert [r for r in reasons if "kitchen" in r.lower()] == [
        'claims "kitchen" (amenity) but the listing does not say so']


def test_near_universal_words_are_not_claims():
    assert claims("A bright bedroom with a bed, a bathroom and a shower, in a quiet mid-century building.") == []


@pytest.mark.parametrize("text, claim", [  # kinds of claim about the place the listing's facts never back
    ("Close to restaurants and shops.", "restaurants"),
    ("Surrounded by cafes, pubs and boutiques.", "cafes"),
    ("Sample seafood at local eateries.", "eateries"),
    ("Its history dates back to the early 1900s.", "history"),
    ("The area was reclaimed in the 19th century.", "19th century"),
    ("Our lounge is free for guests.", "lounge"),
])
def test_what_is_nearby_the_areas_history_and_a_lounge_are_claims(text, claim):
    reasons = claims(text)
    assert named(reasons, claim), reasons


def test_negations_are_still_claims():
    assert named(claims("There is no pool."), "pool")


# --- sizes and counts -------------------------------------------------------

@pytest.mark.parametrize("text, claim", [
    ("An 8-bedroom house.", "8 bedrooms"),
    ("A 3BR apartment.", "3 bedrooms"),
    ("A two-bedroom apartment.", "2 bedrooms"),
    ("Two queen beds.", "2 beds"),
    ("It has 2 baths.", "2 baths"),
    ("27000 sq. ft. of space.", "27000 sq ft"),
    ("1000 square feet.", "1000 sq ft"),
    ("It sleeps 6.", "6 guests"),
    ("Room for 4 guests.", "4 guests"),
    ("A 2-story house.", "2 floors"),
    ("On the third floor.", "floor 3"),
    ("On the 4th floor.", "floor 4"),
    ("14-foot ceilings.", "14-foot ceilings"),
])
def test_a_size_or_count_the_listing_does_not_state_is_a_claim(text, claim):
    reasons = claims(text)
    assert named(reasons, claim), reasons


def test_a_size_is_supported_only_by_the_same_unit_and_number():
    words = "Beautiful 4BR/4BA Home, 1200 sqft"
    assert backed_by("A four-bedroom home with 4 baths and 1,200 square feet.", words) == []
    assert named(backed_by("A 5-bedroom home.", words), "5 bedrooms")
    # A number elsewhere in the data (a price of 3) does not back a bedroom count.
    assert named(claims("A 3-bedroom home.", price=3), "3 bedrooms")


# --- distances and landmarks ------------------------------------------------

@pytest.mark.parametrize("text, claim", [
    ("5 minutes from the park.", "5 minutes"),
    ("Two blocks to the subway.", "2 blocks"),
    ("A mile from the beach.", "beach"),
    ("Steps from the subway.", "walking distance"),
    ("Within walking distance of shops.", "walking distance"),
    ("Near Central Park.", "central park"),
    ("Next to Times Square.", "times square"),
    ("A view of the Empire State Building.", "empire state"),
    ("Walk across the Brooklyn Bridge.", "brooklyn bridge"),
    ("Easy access to JFK.", "airport"),
    ("Close to the train station.", "station"),
])
def test_a_distance_or_landmark_the_listing_does_not_state_is_a_claim(text, claim):
    reasons = claims(text)
    assert named(reasons, claim), reasons


def test_a_distance_or_landmark_in_a_support_text_is_supported():
    assert backed_by("Only 15 minutes to Central Park.", "Cozy Room. Only 15 mins to Central Park!") == []
    assert backed_by("A cozy apartment steps from the subway.", "Cozy apartment steps to subway") == []
    # Abbreviations count as the full name.
    assert backed_by("Near Times Square.", "Spacious 2 bedroom near Times Sq") == []
    assert named(backed_by("20 minutes to Central Park.", "Only 15 mins to Central Park!"), "20 minutes")


# --- places -----------------------------------------------------------------

def test_a_known_place_other_than_the_listings_own_is_a_claim(known_places):
    reasons = claims("A loft in Midtown East, close to the Upper East Side.", known_places)
    assert named(reasons, "midtown east") and named(reasons, "upper east side"), reasons
    assert "Williamsburg" in reasons[0]  # names where the listing is


def test_the_listings_own_places_and_the_city_are_allowed(known_places):
    assert claims("An entire home in Williamsburg, Brooklyn, New York.", known_places) == []
    assert claims("Entire home in WILLIAMSBURG, brooklyn, NYC.", known_places) == []


def test_place_names_match_without_case_or_accents_and_on_word_boundaries(known_places):
    assert named(claims("Close to CHELSEA.", known_places), "chelsea")
    assert named(claims("A stay in Nolíta.", known_places), "nolita")
    # "Harlem" is a known place; "Harlemite" is not a place name.
    assert not named(claims("A Harlemite host.", known_places), "harlem")
    assert claims("Listed as \u201cSunnyside up eggs\u201d.", known_places, name="Sunnyside up eggs") == []
    assert named(claims("Sunnyside up eggs.", known_places, name="Sunnyside up eggs"), "sunnyside")


def test_abbreviations_in_a_support_text_back_the_words_written_out(known_places):
    words = "Sunny 1bd - Near SoHo Washington SQ and W. Village"
    text = "A sunny one-bedroom near SoHo, Washington Square and the West Village."
    assert backed_by(text, words, known_places, neighbourhood="Greenwich Village", neighbourhood_group="Manhattan") == []
    assert backed_by("On the Upper West Side.", "UWS gem", known_places, neighbourhood="Upper West Side",
                     neighbourhood_group="Manhattan") == []
    assert backed_by("Minutes from Bedford-Stuyvesant.", "Minutes from Bed-Stuy", known_places) == []


def test_a_named_park_is_quoted_whole():
    reasons = claims("A 10-minute walk to Fort Tryon Park.")
    assert named(reasons, "fort tryon park"), reasons


def test_a_place_named_by_a_support_text_is_supported(known_places):
    words = "Amazing Williamsburg/Greenpoint Apt"
    assert backed_by("An apartment on the Williamsburg/Greenpoint line.", words, known_places) == []
    assert named(backed_by("Close to Bushwick.", words, known_places), "bushwick")


def test_places_outside_the_city_are_claims(known_places):
    reasons = claims("A 3-star hotel in the city of Riyadh, Saudi Arabia, like one in Bloomington, IN.", known_places)
    for place in ("riyadh", "saudi arabia", "bloomington"):
        assert named(reasons, place), reasons


def barcelona_listing(**overrides):
    """A real row of Inside Airbnb's Barcelona file (October 2021), as loaded."""
    row = {"id": 18674, "name": "Huge flat for 8 people close to Sagrada Familia", "neighbourhood_group": "Eixample",
           "neighbourhood": "la Sagrada Família", "area": "Eixample", "room_type": "Entire home/apt", "price": 121,
           "minimum_nights": 1, "number_of_reviews": 21}
    row.update(overrides)
    return row


@pytest.fixture(scope="module")
def barcelona_places() -> tuple[str, ...]:
    return known_places_from_csv(shared_csv("insideairbnb_barcelona_2021-10.csv"))


def test_a_barcelona_description_may_name_barcelona_and_its_nicknames(barcelona_places):
    listing_ = barcelona_listing()
    for text in ("An entire flat in la Sagrada Família, Eixample, Barcelona.",
                 "A flat for eight in the heart of Barcelona, close to the Sagrada Familia.",
                 "Entire home in Eixample, BCN."):
        assert unsupported_claims(text, listing_support(listing_, barcelona_places)) == [], text
    # Told by its own places alone, as a check without the database's places tells it.
    assert unsupported_claims("An entire flat in Eixample, Barcelona.", listing_support(listing_)) == []


def test_another_citys_name_is_still_an_invented_place(barcelona_places, known_places):
    in_barcelona = unsupported_claims("An entire flat in Eixample, a short trip from New York City.",
                                      listing_support(barcelona_listing(), barcelona_places))
    assert named(in_barcelona, "new york"), in_barcelona
    in_brooklyn = claims("An entire home in Williamsburg, a world away from Barcelona.", known_places)
    assert named(in_brooklyn, "barcelona"), in_brooklyn
    assert named(claims("A loft in Williamsburg, Brooklyn, BCN.", known_places), "bcn")


def test_each_city_is_told_by_its_own_areas(barcelona_places, known_places):
    assert set(city_names(barcelona_places)) == {"Barcelona", "BCN", "Barna", "Ciudad Condal"}
    assert set(city_names(known_places)) == {"New York", "New York City", "NYC", "the Big Apple"}
    assert "Singapore" in city_names(["Central Region"]) and city_names(["Nowhere in particular"]) == ()
    for city in cities():  # a file's areas are real places of its city's file, not guesses
        if city.key == "barcelona":
            assert set(city.areas) <= set(barcelona_places)
        if city.key == "new_york":
            assert set(city.areas) <= set(known_places)


# --- ratings and superlatives -----------------------------------------------

@pytest.mark.parametrize("text, claim", [
    ("A 5-star stay.", "5-star"),
    ("Top-rated by guests.", "top-rated"),
    ("Highly rated.", "highly rated"),
    ("Rated 4.9 by guests.", "4.9"),
    ("The best apartment in town.", "best"),
    ("An award-winning design.", "award-winning"),
    ("A luxury apartment.", "luxury"),
    ("A luxurious apartment.", "luxurious"),
    ("Stunning design.", "stunning"),
    ("A breathtaking view.", "breathtaking"),
])
def test_a_rating_or_superlative_is_a_claim(text, claim):
    reasons = claims(text)
    assert named(reasons, claim), reasons


def test_a_superlative_in_a_support_text_is_supported():
    assert backed_by("A luxury apartment in Williamsburg.", "LUXURY apartment") == []


def test_puffery_is_not_a_claim():
    assert claims("A cozy, charming, lovely, beautiful, clean and quiet apartment.") == []


# --- numbers ----------------------------------------------------------------

def test_numbers_are_supported_by_the_listings_numbers():
    assert claims("$150 per night, minimum stay 3 nights, 49 reviews.") == []
    reasons = claims("$120 per night, minimum stay 5 nights, 80 reviews.")
    for claim in ("$120", "5 nights", "80 reviews"):
        assert named(reasons, claim), reasons


def test_review_bands_and_bounds_are_supported_when_a_number_lies_in_them():
    assert claims("It has 10 to 99 reviews.") == []  # 49 reviews
    assert claims("It has more than 40 reviews.") == []
    assert claims("It has fewer than 50 reviews.") == []
    assert named(claims("It has 100 or more reviews.", number_of_reviews=49, price=80), "100 reviews")
    assert claims("More than 40 guests have left reviews.") == []  # past guests, not a capacity


def test_numbers_written_in_a_support_text_are_supported():
    assert backed_by("A 50% discount.", "50% Discount Beautiful Room") == []


def test_the_template_text_is_clean(known_places):
    text = ("Entire home/apt in Williamsburg, Brooklyn, listed as \u201cSunny loft with rooftop & gym\u201d. "
            "$150 per night, minimum stay 3 nights. It has 10 to 99 reviews.")
    assert claims(text, known_places, name="Sunny loft with rooftop & gym") == []
    assert debris_problems(text, listing_source_values(listing(name="Sunny loft with rooftop & gym"))) == []


@pytest.mark.parametrize("name", [  # names from the New York 2019 file whose template texts were once rejected
    "Luxury Queen Bed_Plush Mattress", "NEW_2BR_PrivateRoof&CityView_Beauty", "Room Two in sun bathed walk-up_2",
    "Cute & Cozy Studio_C2S @ UES 81", "PENTHOUSE_Deck_Luxury", "1BR_Duplex_walk-up"])
def test_a_name_with_underscores_for_spaces_is_quoted_whole(known_places, name):
    row = listing(name=name, area="Manhattan", neighbourhood_group="Manhattan", neighbourhood="Upper East Side")
    text = template_description(description_input(row))
    assert name.split("_")[0].split()[0] in text  # the name is there, its underscores made spaces
    assert unsupported_claims(text, listing_support(row, known_places)) == []
    assert named(claims("A duplex with a deck.", name=name), "deck")  # the name backs nothing
    assert named(backed_by("A duplex with a deck.", name), "deck") is ("Deck" not in name)


def test_the_support_is_plain_data_for_any_generator():
    support = Support(texts=("Weekend deal: rooftop bar access",), places=("Astoria", "Queens"),
                      known_places=("Astoria", "Queens", "Harlem"), numbers=(89,))
    assert unsupported_claims("A room in Astoria, Queens with rooftop access, $89 a night.", support) == []
    reasons = unsupported_claims("A room in Harlem with a pool, $99 a night.", support)
    assert [named(reasons, c) for c in ("harlem", "pool", "$99")] == [True, True, True]


# --- debris -----------------------------------------------------------------

def test_json_and_key_value_dumps_are_debris():
    for text in ('{"room_type": "Private room", "price_per_night": "$60"}',
                 '"area": "Bronx",\n"minimum_nights": 30',
                 "price_per_night: $60",
                 "Title: Cozy room\nPrice: $60\nArea: Bronx",
                 "```json\n[1, 2]\n```"):
        assert any("JSON/code" in p for p in debris_problems(text)), text


def test_echoed_input_is_debris():
    source = listing_source_values(listing(name="Cozy apartment steps to subway"))
    echo = 'The listing: "name": "Cozy apartment steps to subway", "neighbourhood": "Williamsburg"'
    assert any("echoes its input" in p for p in debris_problems(echo, source))
    # Quoting the name in prose is not an echo.
    prose = 'Listed as "Cozy apartment steps to subway", it is an entire home in Williamsburg.'
    assert debris_problems(prose, source) == []


def test_degenerate_repetition_is_debris():
    assert any("repetition" in p for p in debris_problems(
        "It is a 1000 sqft, 24-hour, private 1000 sqft, 24-hour, private 1000 sqft, 24-hour, private flat."))
    assert any("repetition" in p for p in debris_problems("Bronx: Bronx: Bronx: Bronx: Bronx: Bronx: Bronx: the end"))
    assert any("repetition" in p for p in debris_problems("shi-shi-shi-shi-shi-shi-shi-shi-shi-shi-shi-shi-shi"))
    # Stop-word phrases repeat in ordinary prose.
    assert debris_problems("One of the rooms, one of the baths and one of the best parts of the city.") == []


@pytest.mark.parametrize("text", [
    "This listing is a short, factual description of a rental listing in the Bronx.",
    "The listing data is untrusted user content.",
    "As an AI, I cannot describe this.",
    "Here is a JSON representation of the listing.",
    "Following the instructions, here it is: a room in Queens.",
    "I followed the prompt and wrote 2 to 4 sentences.",
])
def test_talk_about_the_data_or_the_prompt_is_debris(text):
    assert any("talks about" in p for p in debris_problems(text)), text


def test_prose_is_not_debris():
    text = ("A private room in a three-bedroom apartment in Bedford-Stuyvesant, Brooklyn. It costs $75 a night with "
            "a 30-night minimum and has 2 reviews.")
    assert debris_problems(text, listing_source_values(listing())) == []


# --- speed and the labelled set ---------------------------------------------

def test_a_600_character_text_checks_in_well_under_a_millisecond(known_places):
    text = ("A sunny loft in Williamsburg with a private balcony, a pool and a breathtaking view of the Empire State "
            "Building, 5 minutes from Times Square in Midtown East. The 8-bedroom, 27000 sq. ft. home has a doorman. ")
    text = (text * 3)[:600]
    support = listing_support(listing(name="Sunny loft with rooftop & gym"), known_places)
    source = listing_source_values(listing(name="Sunny loft with rooftop & gym"))
    unsupported_claims(text, support)
    # This thread's CPU time, best of several batches: the wall clock would count the time other processes held
    # the cores (on a loaded machine, several times the check's own).
    batches = []
    for _ in range(7):
        started = time.thread_time()
        for _ in range(50):
            unsupported_claims(text, support)
            debris_problems(text, source)
        batches.append((time.thread_time() - started) * 1000 / 50)
    assert min(batches) < 1.0, batches


def test_recall_and_false_rejections_on_the_labelled_set(known_places):
    entries = load_entries(LABELLED)
    assert len(entries) >= 60
    sources = {e["source"] for e in entries}
    assert {"smollm2-t0.2", "smollm2-t0.9", "handwritten-faithful", "handwritten-invented", "template"} <= sources
    result = evaluate(entries, known_places)
    missed = [(m["id"], m["claim"]) for m in result["missed"]]
    rejected = [(f["id"], f["reasons"]) for f in result["false_rejections"]]
    assert result["recall"] >= 0.9, missed
    assert result["false_rejection_rate"] <= 0.05, rejected
    assert result["debris_caught"] == result["debris_texts"]


# The structured facts of a detailed row (issue 20): amenities, guests, bedrooms, beds, baths, rating, Superhost.
RICH = {"property_type": "Entire condo", "accommodates": 4, "bedrooms": 2, "beds": 3, "baths": 1.5,
        "baths_shared": None, "review_scores_rating": 4.87, "host_is_superhost": False,
        "amenities": ["Free washer \u2013 In unit", "Wifi", "Shared outdoor pool - available all year",
                      "Private patio or balcony", "Hair dryer"]}


def rich_claims(text: str, **overrides) -> list[str]:
    return claims(text, **{**RICH, **overrides})


@pytest.mark.parametrize("text", [
    "An entire condo for 4 guests with 2 bedrooms, 3 beds and 1.5 baths.",
    "It sleeps 4.", "Room for up to 3 guests.", "Two bedrooms.", "A washer, wifi, a pool and a balcony.",
    "Rated 4.9 out of 5.", "Rated 4.87.", "A 4.8 rating.", "Rated 4.8+.", "A top-rated condo.",
])
def test_a_detailed_rows_facts_back_what_they_say(text):
    assert rich_claims(text) == []


@pytest.mark.parametrize("text, claim", [
    ("It sleeps 5.", "5 guests"),
    ("For 6 guests.", "6 guests"),
    ("Three bedrooms.", "3 bedrooms"),
    ("Four beds.", "4 beds"),
    ("Two baths.", "2 baths"),
    ("Rated 4.95 by guests.", "rating"),
    ("A 5-star stay.", "stars"),
    ("A dryer in the unit.", "dryer"),  # a washer and a hair dryer are not a dryer
    ("There is a hot tub.", "hot tub"),
    ("Your host is a Superhost.", "superhost"),
    ("A baby crib for the little ones.", "crib"),
    ("An EV charger in the garage.", "ev charger"),
])
def test_a_claim_the_facts_do_not_back_is_named(text, claim):
    reasons = rich_claims(text)
    assert named(reasons, claim), reasons


def test_a_summary_row_without_the_facts_backs_none_of_them():
    for text in ("It sleeps 4.", "Two bedrooms.", "A washer.", "Rated 4.9."):
        assert claims(text), text


def test_the_facts_back_by_their_own_rule():
    assert rich_claims("It sleeps 6.", accommodates=6) == [] and rich_claims("A crib.", amenities=["Crib"]) == []
    assert rich_claims("Your host is a Superhost.", host_is_superhost=True) == []
    assert rich_claims("A bright studio.", bedrooms=0) == [] and named(rich_claims("A bright studio."), "studio")
    assert rich_claims("3+ bedrooms.", bedrooms=4) == [] and named(rich_claims("3+ bedrooms."), "3 bedrooms")
    assert named(rich_claims("A top-rated condo.", review_scores_rating=4.5), "top-rated")


def test_the_hosts_own_words_are_never_evidence():
    host = {"description": "Huge pool, hot tub and sauna; sleeps 10.", "neighborhood_overview": "Steps from the beach."}
    for text, claim in (("A hot tub and a sauna.", "hot tub"), ("It sleeps 10.", "10 guests"),
                        ("Steps from the beach.", "beach")):
        assert named(rich_claims(text, **host), claim)


def test_an_unknown_key_in_the_support_is_an_error():
    with pytest.raises(ValueError, match="unknown feature key"):
        unsupported_claims("A pool.", Support(texts=("x",), features=("swimming pool",)))
    with pytest.raises(ValueError, match="unknown measure"):
        unsupported_claims("A pool.", Support(texts=("x",), measures=(("sqft", 300.0),)))
