"""Validation of a generated description against the listing it describes.

A description is stored only if this returns no problems: plain text, bounded
length, no URLs or markup, and nothing that contradicts the listing's price, area
(borough) or room type. The listing's own name is quoted text, so it is taken out
before the contradiction checks (a Brooklyn host may well write "near Manhattan").
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from gfl_dagster.listings.description_prompt import quoted_name

MIN_LENGTH = 20
MAX_LENGTH = 800

NYC_BOROUGHS = ("Manhattan", "Brooklyn", "Queens", "Bronx", "Staten Island")

URL_PATTERN = re.compile(r"(https?://|www\.|\b[\w-]+\.(com|net|org|io|ly|co)\b)", re.IGNORECASE)
MARKUP_PATTERN = re.compile(r"(<[a-zA-Z/!][^>]*>|```|\*\*|__|^\s*#|^\s*[-*]\s|\[[^\]]*\]\([^)]*\))", re.MULTILINE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
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


def plain_text_problems(text: str, max_length: int, min_length: int = 0) -> list[str]:
    """What keeps generated text from being plain text of a sensible length."""
    problems = []
    if len(text) < min_length:
        problems.append(f"too short ({len(text)} characters, minimum {min_length})")
    if len(text) > max_length:
        problems.append(f"too long ({len(text)} characters, maximum {max_length})")
    if URL_PATTERN.search(text):
        problems.append("contains a URL")
    if MARKUP_PATTERN.search(text):
        problems.append("contains markup")
    if _CONTROL.search(text):
        problems.append("contains control characters")
    return problems


def check_description(
    text: str,
    listing: Mapping[str, Any],
    known_areas: Iterable[str] = NYC_BOROUGHS,
) -> list[str]:
    """Problems with `text` as a description of `listing` (empty list: valid).

    `listing` carries the CSV column names; `known_areas` are the other
    boroughs/areas a description must not place the listing in.
    """
    stripped = text.strip()
    problems = plain_text_problems(stripped, MAX_LENGTH, MIN_LENGTH)

    name = (listing.get("name") or "").strip()
    own_places = [listing.get("neighbourhood") or "", listing.get("neighbourhood_group") or ""]
    claims = without_fragments(stripped, [name, " ".join(name.split()), quoted_name(name)])

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
