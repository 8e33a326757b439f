"""The ad audiences and the learning thresholds, read from audiences.toml, and who may be shown what.

Configuration, validated on load: an unknown key, a missing name or a value of the
wrong type is a ValueError naming the audience and the key, so a typo such as
`max_prise` cannot silently switch a rule off.

Eligibility has two halves. `ineligible_reason` is checked before anything is
generated (room type, price, reviews, guests, amenities). `max_minimum_nights` is a disclosure rule
instead: a longer minimum stay does not exclude the listing, but then the ad must
state it, which only the written ad can show (`must_state_minimum_stay`, checked
by ad_check.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

from gfl_dagster.listings.csv_rows import ROOM_TYPES
from gfl_dagster.listings.amenities import default_amenity_map
from gfl_dagster.listings.fact_support import listing_amenity_features
from gfl_dagster.listings.facts import format_price
from gfl_dagster.toml_reader import INT, NUMBER, TEXT, checked_table, not_negative, positive, probability, tomllib

DEFAULT_PATH = Path(__file__).with_name("audiences.toml")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class Audience:
    slug: str
    name: str
    description: str  # what the ad writer is told about the audience
    lead: str  # the template ad's opening words
    room_types: Optional[tuple[str, ...]] = None  # None: any room type
    max_price: Optional[float] = None
    max_minimum_nights: Optional[int] = None
    min_reviews: Optional[int] = None
    min_guests: Optional[int] = None  # room for at least this many (`accommodates`)
    amenities_any: Optional[tuple[str, ...]] = None  # at least one of these canonical amenities (amenities.toml)
    phrases: tuple[str, ...] = ()  # words by which a searcher says they belong to the audience


@dataclass(frozen=True)
class Learning:
    variants: int = 2  # active variants per listing and audience
    min_impressions: int = 100  # per variant before it can be judged
    prior_clicks: float = 2.0  # the smoothing prior: every ad starts with these clicks ...
    prior_impressions: float = 100.0  # ... in these impressions
    examples: int = 3  # best ads of the audience that feed a new variant
    retire_confidence: float = 0.95  # posterior probability of being worse than the best that retires a variant
    pooled_weight: float = 2000.0  # impressions the audience's evidence for an angle counts for in one ad


_AUDIENCE_KEYS = {"slug": TEXT, "name": TEXT, "description": TEXT, "lead": TEXT, "rules": ((dict,), "table"),
                  "phrases": ((list,), "list of phrases")}
_RULE_KEYS = {
    "room_types": ((list,), f"list of room types ({', '.join(ROOM_TYPES)})"),
    "max_price": NUMBER + (positive,),
    "max_minimum_nights": INT + (positive,),
    "min_reviews": INT + (not_negative,),
    "min_guests": INT + (positive,),
    "amenities_any": ((list,), "list of canonical amenities (listings/amenities.toml)"),
}
_LEARNING_KEYS = {
    "variants": INT + (positive,),
    "min_impressions": INT + (not_negative,),
    "prior_clicks": NUMBER + (positive,),  # a Beta's parameters are positive: 0 clicks in the prior is no Beta
    "prior_impressions": NUMBER + (positive,),
    "examples": INT + (not_negative,),
    "retire_confidence": ((int, float), "number between 0 and 1 (exclusive)", probability),
    "pooled_weight": NUMBER + (not_negative,),
}


def _audience(table: Any, number: int, seen: set[str]) -> Audience:
    label = f"audience #{number}"
    if isinstance(table, dict) and isinstance(table.get("slug"), str):
        label = f"audience {table['slug']!r}"
    if not isinstance(table, dict):
        raise ValueError(f"{label}: must be a table ([[audience]]), got {table!r}")
    values = checked_table(table, _AUDIENCE_KEYS, label)
    for key in ("slug", "name", "description"):
        if not values.get(key, "").strip():
            raise ValueError(f"{label}: {key} is missing or empty")
    slug = values["slug"]
    if not _SLUG.match(slug):
        raise ValueError(f"{label}: slug must be lower-case letters, digits, '_' or '-', got {slug!r}")
    if slug in seen:
        raise ValueError(f"{label}: slug {slug!r} is used by another audience")
    seen.add(slug)
    rules = checked_table(values.get("rules", {}), _RULE_KEYS, f"{label} rules")
    room_types = rules.get("room_types")
    if room_types is not None:
        unknown = [r for r in room_types if r not in ROOM_TYPES]
        if not room_types or unknown:
            raise ValueError(f"{label} rules: room_types must be a non-empty list of {', '.join(ROOM_TYPES)}; "
                             f"got {room_types!r}")
        room_types = tuple(room_types)
    amenities_any = rules.get("amenities_any")
    if amenities_any is not None:
        known = set(default_amenity_map().names)
        unknown = [a for a in amenities_any if not isinstance(a, str) or a not in known]
        if not amenities_any or unknown:
            raise ValueError(f"{label} rules: amenities_any must be a non-empty list of canonical amenities "
                             f"(listings/amenities.toml, e.g. crib, washer, workspace); unknown: {unknown!r}")
        amenities_any = tuple(amenities_any)
    phrases = values.get("phrases", [])
    if not all(isinstance(phrase, str) and phrase.strip() for phrase in phrases):
        raise ValueError(f"{label}: phrases must be non-empty strings, got {phrases!r}")
    return Audience(
        slug=slug, name=values["name"].strip(), description=values["description"].strip(),
        lead=(values.get("lead") or "").strip() or f"For {values['name'].strip()}",
        room_types=room_types,
        max_price=None if rules.get("max_price") is None else float(rules["max_price"]),
        max_minimum_nights=rules.get("max_minimum_nights"), min_reviews=rules.get("min_reviews"),
        min_guests=rules.get("min_guests"), amenities_any=amenities_any,
        phrases=tuple(" ".join(phrase.lower().split()) for phrase in phrases),
    )


def load_audiences(path: Path | str | None = None) -> tuple[list[Audience], Learning]:
    """The audiences (in file order) and the learning thresholds of `path` (default: the shipped audiences.toml)."""
    path = Path(path) if path is not None else DEFAULT_PATH
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML: {error}") from None
    try:
        unknown = sorted(set(document) - {"audience", "angle", "learning"})
        if unknown:
            raise ValueError(f"unknown top-level key(s) {', '.join(unknown)} (known: audience, angle, learning)")
        tables = document.get("audience")
        if not isinstance(tables, list) or not tables:
            raise ValueError("no audiences: expected [[audience]] tables")
        seen: set[str] = set()
        audiences = [_audience(table, number, seen) for number, table in enumerate(tables, 1)]
        learning_table = document.get("learning", {})
        if not isinstance(learning_table, dict):
            raise ValueError(f"learning must be a table, got {learning_table!r}")
        learning = Learning(**checked_table(learning_table, _LEARNING_KEYS, "learning"))
        if learning.prior_clicks >= learning.prior_impressions:
            raise ValueError("learning: prior_clicks must be fewer than prior_impressions")
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    return audiences, learning


def ineligible_reason(audience: Audience, listing: Mapping[str, Any]) -> Optional[str]:
    """Why `listing` (CSV column names) may not get an ad for `audience`; None: it may.

    The minimum stay is not decided here: see `must_state_minimum_stay`.
    A rule on a fact the listing's data lacks (a summary-file row has no `accommodates` and no amenities)
    does not exclude it: the data cannot tell, so the listing is judged on the rules it can answer, as
    before the detailed file. It excludes a listing whose data answers no. The ad still claims only what
    the facts back (the grounding check), so an unknown capacity is never promised.
    """
    room_type = listing.get("room_type")
    if audience.room_types is not None and room_type not in audience.room_types:
        return (f"{room_type or 'unknown room type'}: the {audience.name} audience takes "
                f"{', '.join(audience.room_types)}")
    price = listing.get("price")
    if audience.max_price is not None:
        limit = format_price(audience.max_price)
        if price is None:
            return f"the price is unknown: the {audience.name} audience needs a price of at most {limit}"
        if float(price) > audience.max_price:
            return f"the price {format_price(price)} is above the {audience.name} maximum of {limit}"
    reviews = listing.get("number_of_reviews") or 0
    if audience.min_reviews is not None and reviews < audience.min_reviews:
        return (f"{reviews} review{'s' if reviews != 1 else ''}: the {audience.name} audience needs at least "
                f"{audience.min_reviews}")
    guests = listing.get("accommodates")
    if audience.min_guests is not None and guests is not None and guests < audience.min_guests:
        return (f"room for {guests} guest{'s' if guests != 1 else ''}: the {audience.name} audience needs room "
                f"for {audience.min_guests}")
    if audience.amenities_any is not None and _has_amenity_data(listing):
        if not set(listing_amenity_features(listing)) & set(audience.amenities_any):
            return (f"none of {', '.join(audience.amenities_any)}: the {audience.name} audience needs one of "
                    "them")
    return None


def _has_amenity_data(listing: Mapping[str, Any]) -> bool:
    return listing.get("amenity_features") is not None or listing.get("amenities") is not None


def must_state_minimum_stay(audience: Audience, listing: Mapping[str, Any]) -> bool:
    """Is the listing's minimum stay (`minimum_nights`: a listing row or its facts) longer than the audience
    expects, so that an ad for it must say so?"""
    nights = listing.get("minimum_nights")
    return audience.max_minimum_nights is not None and nights is not None and nights > audience.max_minimum_nights


def must_state_price(audience: Audience) -> bool:
    """An audience chosen by price gets ads that show it: "budget" is then a checked promise, not a word."""
    return audience.max_price is not None
