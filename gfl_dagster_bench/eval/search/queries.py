"""The labelled dev query set: what people type, and what a relevant listing is.

Each query's relevance is a declarative spec over the listing's attributes and
name (see relevance.py for the grading), so the labels are reproducible and
checkable against the data. Words a host chooses ("loft", "studio", "view") are
judged from the listing's name, the only text of the host's own the index has.
"Cheap" and "budget" mean at most $75 and $100 a night (the bundled data's
first quartile is $89).
"""

from __future__ import annotations

from dataclasses import dataclass

from gfl_dagster_bench.eval.search.relevance import Relevance

ENTIRE = ("Entire home/apt",)
PRIVATE = ("Private room",)
SHARED = ("Shared room",)
HOTEL = ("Hotel room",)


@dataclass(frozen=True)
class LabelledQuery:
    text: str
    relevance: Relevance


QUERIES: tuple[LabelledQuery, ...] = (
    LabelledQuery("private room in Harlem", Relevance(neighbourhoods=("Harlem",), room_types=PRIVATE)),
    LabelledQuery("entire loft in Williamsburg under $200", Relevance(
        neighbourhoods=("Williamsburg",), room_types=ENTIRE, name_words=("loft",), max_price=200)),
    LabelledQuery("shared room in Queens", Relevance(boroughs=("Queens",), room_types=SHARED)),
    # The bundled data has no hotel room in Midtown: only partial credit is possible.
    LabelledQuery("hotel room in Midtown", Relevance(neighbourhoods=("Midtown",), room_types=HOTEL)),
    LabelledQuery("cheap private room in the Bronx", Relevance(boroughs=("Bronx",), room_types=PRIVATE,
                                                               max_price=75)),
    LabelledQuery("studio near Central Park", Relevance(near="Central Park", name_words=("studio",))),
    LabelledQuery("apartment with a view", Relevance(room_types=ENTIRE, name_words=("view",))),
    LabelledQuery("brownstone in Bedford-Stuyvesant", Relevance(neighbourhoods=("Bedford-Stuyvesant",),
                                                                name_words=("brownstone",))),
    LabelledQuery("entire apartment in Park Slope", Relevance(neighbourhoods=("Park Slope",), room_types=ENTIRE)),
    LabelledQuery("private room in Bushwick under $80", Relevance(neighbourhoods=("Bushwick",), room_types=PRIVATE,
                                                                  max_price=80)),
    LabelledQuery("luxury apartment in Manhattan", Relevance(boroughs=("Manhattan",), room_types=ENTIRE,
                                                             name_words=("luxury", "luxurious"))),
    LabelledQuery("cozy room in Astoria", Relevance(neighbourhoods=("Astoria",), room_types=PRIVATE,
                                                    name_words=("cozy", "cosy"))),
    LabelledQuery("room near Prospect Park", Relevance(near="Prospect Park", room_types=PRIVATE)),
    LabelledQuery("place to stay near Times Square", Relevance(near="Times Square")),
    LabelledQuery("loft in Brooklyn", Relevance(boroughs=("Brooklyn",), name_words=("loft",))),
    LabelledQuery("townhouse in Brooklyn", Relevance(boroughs=("Brooklyn",), name_words=("townhouse", "town house"))),
    LabelledQuery("apartment in the East Village under $150", Relevance(
        neighbourhoods=("East Village",), room_types=ENTIRE, max_price=150)),
    LabelledQuery("garden apartment in Brooklyn", Relevance(boroughs=("Brooklyn",), room_types=ENTIRE,
                                                            name_words=("garden",))),
    LabelledQuery("sunny room in Crown Heights", Relevance(neighbourhoods=("Crown Heights",), room_types=PRIVATE,
                                                           name_words=("sunny", "sunlit", "sun-filled", "bright"))),
    LabelledQuery("penthouse in Manhattan", Relevance(boroughs=("Manhattan",), name_words=("penthouse",))),
    LabelledQuery("apartment with a terrace or balcony", Relevance(
        room_types=ENTIRE, name_words=("terrace", "balcony", "deck", "patio"))),
    LabelledQuery("entire home in Staten Island", Relevance(boroughs=("Staten Island",), room_types=ENTIRE)),
    LabelledQuery("private room in Washington Heights", Relevance(neighbourhoods=("Washington Heights",),
                                                                  room_types=PRIVATE)),
    LabelledQuery("Upper West Side apartment with lots of reviews", Relevance(
        neighbourhoods=("Upper West Side",), room_types=ENTIRE, min_reviews=100)),
    LabelledQuery("budget room in Manhattan", Relevance(boroughs=("Manhattan",), room_types=PRIVATE, max_price=100)),
    LabelledQuery("spacious apartment for a family", Relevance(
        room_types=ENTIRE, name_words=("spacious", "large", "huge", "family", "big"))),
    LabelledQuery("room in Chelsea", Relevance(neighbourhoods=("Chelsea",), room_types=PRIVATE)),
    LabelledQuery("apartment in Greenpoint", Relevance(neighbourhoods=("Greenpoint",), room_types=ENTIRE)),
    LabelledQuery("place in Long Island City", Relevance(neighbourhoods=("Long Island City",))),
    LabelledQuery("room in Flushing", Relevance(neighbourhoods=("Flushing",), room_types=PRIVATE)),
    LabelledQuery("Hell's Kitchen apartment", Relevance(neighbourhoods=("Hell's Kitchen",), room_types=ENTIRE)),
    LabelledQuery("entire apartment in Harlem under $150", Relevance(neighbourhoods=("Harlem",), room_types=ENTIRE,
                                                                     max_price=150)),
    LabelledQuery("quiet room in Brooklyn", Relevance(boroughs=("Brooklyn",), room_types=PRIVATE,
                                                      name_words=("quiet", "peaceful", "calm"))),
    LabelledQuery("new listing in Brooklyn with no reviews yet", Relevance(boroughs=("Brooklyn",), max_reviews=0)),
    LabelledQuery("short stay in Manhattan, one or two nights", Relevance(boroughs=("Manhattan",), max_nights=2)),
    LabelledQuery("monthly rental in Queens", Relevance(boroughs=("Queens",), min_nights=30)),
    LabelledQuery("room near the Staten Island Ferry", Relevance(near="Staten Island Ferry", room_types=PRIVATE)),
    LabelledQuery("studio in the West Village", Relevance(neighbourhoods=("West Village",), name_words=("studio",))),
    LabelledQuery("one bedroom apartment on the Upper East Side", Relevance(
        neighbourhoods=("Upper East Side",), room_types=ENTIRE,
        name_words=("1 bedroom", "one bedroom", "1-bedroom", "1br", "1 br", "1bd", "1 bd", "1bed"))),
    LabelledQuery("room with a private bathroom in Williamsburg", Relevance(
        neighbourhoods=("Williamsburg",), room_types=PRIVATE,
        name_words=("private bath", "private bathroom", "own bathroom", "ensuite", "en suite", "priv bath"))),
)
