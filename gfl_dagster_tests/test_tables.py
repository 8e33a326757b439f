"""What `gfl search` and `gfl show` print, read as English: pure."""

from gfl_dagster.cli.tables import hits_table, show_text

HIT = {"id": 7, "name": "Loft", "room_type": "Private room", "neighbourhood": "Bushwick",
       "neighbourhood_group": "Brooklyn", "price": 55, "score": None}


def test_counts_of_reviews_read_as_english():
    assert "| 1 review\n" in hits_table([{**HIT, "number_of_reviews": 1, "description": "x"}])
    assert hits_table([{**HIT, "number_of_reviews": 0}]).endswith("| 0 reviews")
    assert hits_table([{**HIT, "number_of_reviews": 2}]).endswith("| 2 reviews")


def _ad(written_by, model):
    return {"id": 3, "audience": "young_couple", "variant": 1, "written_by": written_by, "model": model,
            "prompt_version": "ad-v2", "examples": [], "retired_at": None, "retire_reason": None, "text": "An ad.",
            "notes": None}


def test_show_names_an_ads_writer_once_and_says_when_the_template_stood_in():
    document = {"source": None, "description": None, "vector": None}
    alone = show_text(7, {**document, "ads": [_ad("ad-template-v1", "ad-template-v1")]})
    assert "written by ad-template-v1, ad-v2; active" in alone and "for ad-template-v1" not in alone
    stood_in = show_text(7, {**document, "ads": [_ad("ad-template-v1", "SmolLM2")]})
    assert "written by ad-template-v1 standing in for SmolLM2, ad-v2" in stood_in


def test_a_hit_from_the_detailed_file_shows_its_facts_and_a_summary_hit_none():
    rich = {**HIT, "number_of_reviews": 3, "property_type": "Entire condo", "accommodates": 4, "bedrooms": 1,
            "beds": 2, "bathrooms_text": "1.5 baths", "review_scores_rating": 4.8, "host_is_superhost": True,
            "instant_bookable": False, "amenities": ["Wifi"]}
    assert hits_table([rich]).endswith(
        "| 3 reviews\n    Entire condo | 4 guests | 1 bedroom | 2 beds | 1.5 baths | rated 4.80 | superhost")
    assert hits_table([{**HIT, "number_of_reviews": 3, "bedrooms": 0}]).endswith("| 3 reviews\n    0 bedrooms")
    assert hits_table([{**HIT, "number_of_reviews": 3, "accommodates": None}]).endswith("| 3 reviews")


def test_a_hit_without_an_area_shows_its_neighbourhood_alone():
    # Boston's detailed file leaves neighbourhood_group_cleansed empty: no ", None" on the line.
    line = hits_table([{**HIT, "neighbourhood": "Fenway", "neighbourhood_group": None, "number_of_reviews": 1}])
    assert "| Fenway |" in line and "None" not in line
    assert "| Bushwick, Brooklyn |" in hits_table([{**HIT, "number_of_reviews": 1}])
