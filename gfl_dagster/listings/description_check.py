"""Validation of a generated description against the listing it describes.

A description is stored only if this returns no problems: plain prose of a bounded
length (no URLs, markup, JSON or echoed input, no repetition, no talk about the
prompt), nothing that contradicts the listing's price, area (borough) or room type,
and no claim the listing does not support (amenities, views, sizes, distances,
landmarks, other places, ratings: generation/grounding.py).

The listing's name is the host's words: never evidence. A description may quote
it, attributed, whole between quotation marks (the template writes 'listed as
“Loft with rooftop near Manhattan”'): the quotation claims nothing, neither
a feature nor a place, price or room type (a Brooklyn host may well write "near
Manhattan"). Outside quotation marks its words are the description's own claims,
and "rooftop" needs a listing with a rooftop. The facts Inside Airbnb itself puts in
2023+ names ("Villa in Singapore · ★4.44 · 2 bedrooms") are facts, read as such
(name_facts.py), not as text.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Optional

import json

from gfl_dagster.generation.debris import debris_problems
from gfl_dagster.generation.grounding import Support, unsupported_claims, without_quotations
from gfl_dagster.generation.plain_text import plain_text_problems
from gfl_dagster.listings.fact_support import backed_features, measures
from gfl_dagster.listings.facts import description_input
from gfl_dagster.listings.name_facts import filled_from_name
from gfl_dagster.listings.vocabulary import city_areas, city_names, other_city_names

MIN_LENGTH = 20
MAX_LENGTH = 800

_AMOUNT = re.compile(r"\$\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?")

# Phrases that assert a room type; a description may use only its own type's phrases.
ROOM_PHRASES = {
    "Entire home/apt": ("entire home", "entire apartment", "entire apt", "entire place", "whole apartment", "whole home"),
    "Private room": ("private room",),
    "Shared room": ("shared room",),
    "Hotel room": ("hotel room",),
}


def without_fragments(text: str, fragments: Iterable[str]) -> str:
    for fragment in sorted({f for f in fragments if f}, key=len, reverse=True):
        text = re.sub(re.escape(fragment), " ", text, flags=re.IGNORECASE)
    return text


def dollar_amounts(text: str) -> list[float]:
    return [float(whole.replace(",", "") + ("." + cents if cents else "")) for whole, cents in _AMOUNT.findall(text)]


def listing_support(listing: Mapping[str, Any], known_places: Iterable[str] = ()) -> Support:
    """What backs a claim about one listing: its facts in words (room type, property type, places), its places
    and its city's names (listings/cities/, told by its places and the database's), its numbers, and the
    structured facts of a detailed row (amenities, guests, bedrooms, beds, baths, rating, Superhost:
    fact_support.py) or of Inside Airbnb's 2023+ name (name_facts.py). Other cities' names are known places:
    naming one is a claim. The host's words (the name as written, the description, the neighbourhood overview)
    are never evidence: the name may only be quoted."""
    listing = filled_from_name(listing)
    texts = tuple(str(listing.get(column) or "") for column in ("room_type", "property_type",
                                                                "neighbourhood", "neighbourhood_group", "area"))
    known_places = tuple(known_places)
    own = tuple(p for p in (listing.get("neighbourhood"), listing.get("neighbourhood_group"), listing.get("area"))
                if p)
    places = own + city_names(own + known_places)
    known_places += other_city_names(own + known_places)
    numbers = tuple(float(listing[column]) for column in ("price", "minimum_nights", "number_of_reviews")
                    if listing.get(column) not in (None, ""))
    return Support(texts=tuple(t for t in texts if t), places=places, known_places=tuple(known_places),
                   numbers=numbers, features=backed_features(listing), measures=measures(listing),
                   quoted=quoted_texts(listing))


def quoted_texts(listing: Mapping[str, Any]) -> tuple[str, ...]:
    """The host's words a generated text may quote, attributed: the listing's name."""
    name = str(listing.get("name") or "").strip()
    return (name,) if name else ()


def listing_source_values(listing: Mapping[str, Any]) -> tuple[str, ...]:
    """What the model was shown, as JSON: a text that copies long runs of it is echo, not prose."""
    shown = description_input(listing) if "area" in listing else dict(listing)
    return (json.dumps(shown, ensure_ascii=False, sort_keys=True, default=str),)


def check_description(
    text: str,
    listing: Mapping[str, Any],
    known_areas: Optional[Iterable[str]] = None,
    known_places: Iterable[str] = (),
    *,
    support: Optional[Support] = None,
    length: tuple[int, int] = (MIN_LENGTH, MAX_LENGTH),
) -> list[str]:
    """Problems with `text` as a description of `listing` (empty list: valid).

    `listing` carries the CSV column names; `known_areas` are the other
    boroughs/areas a description must not place the listing in (None: its city's,
    listings/cities/); `known_places` every area and neighbourhood the database knows
    (naming another is a claim).
    Other generators about a listing (ads) pass what backs their claims as `support`
    (default: the listing's) and their own `length` bounds (min, max characters).
    """
    stripped = text.strip()
    problems = plain_text_problems(stripped, length[1], length[0])
    own_places = [listing.get("neighbourhood") or "", listing.get("neighbourhood_group") or ""]
    if known_areas is None:
        known_areas = city_areas([*own_places, listing.get("area") or "", *known_places])
    # The quoted name is the host's words: it may repeat itself, and quoting it is not echo.
    claims = without_quotations(stripped, quoted_texts(listing))
    problems += debris_problems(claims, listing_source_values(listing))
    problems += unsupported_claims(stripped, support or listing_support(listing, known_places))

    price = listing.get("price")
    for amount in dollar_amounts(claims):
        if price is None:
            problems.append(f"mentions ${amount:g} but the listing has no price")
        elif abs(amount - float(price)) > 0.005:
            problems.append(f"mentions ${amount:g} but the price is ${float(price):g}")

    area_claims = without_fragments(claims, own_places)
    own = {p.lower() for p in own_places if p}
    for area in known_areas:
        if area.lower() in own:
            continue
        if re.search(rf"\b(in|located in|based in|part of)\s+(the\s+)?{re.escape(area)}\b", area_claims, re.IGNORECASE):
            problems.append(f"places the listing in {area} but it is in {listing.get('neighbourhood_group') or listing.get('neighbourhood')}")

    room_type = listing.get("room_type")
    lowered = claims.lower()
    for other, phrases in ROOM_PHRASES.items():
        if other == room_type:
            continue
        for phrase in phrases:
            if phrase in lowered:
                problems.append(f"calls it a {phrase} but the room type is {room_type}")
                break
    return problems
