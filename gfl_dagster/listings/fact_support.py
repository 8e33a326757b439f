"""What a listing's structured facts back in generated text, for the grounding check.

The detailed Inside Airbnb file gives facts a description can state: guests,
bedrooms, beds, baths, the property type, the rating, Superhost, and the canonical
amenities (amenities.py). Here they become the grounding check's evidence
(generation/grounding.py `Support.features` and `Support.measures`): a washer backs
"laundry", accommodates 4 backs "sleeps 4", a rating of 4.87 backs "rated 4.9".
Which amenity backs which words is data (fact_claims.toml).

Only structured facts: the host's name, description, neighbourhood overview and
amenity strings as written are the host's words, never evidence. A summary-file row
has none of these facts but those Inside Airbnb itself writes in a 2023+ name
("Villa in Singapore · ★4.44 · 2 bedrooms"), which description_check fills in as
columns first (name_facts.filled_from_name).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from gfl_dagster.generation.grounding import FEATURES, MEASURES
from gfl_dagster.listings.amenities import amenity_features, default_amenity_map
from gfl_dagster.toml_reader import tomllib

DEFAULT_PATH = Path(__file__).with_name("fact_claims.toml")

# Measured facts by the detailed file's column names.
MEASURE_COLUMNS = {"guests": "accommodates", "bedrooms": "bedrooms", "beds": "beds", "baths": "baths",
                   "rating": "review_scores_rating"}


@dataclass(frozen=True)
class FactClaims:
    amenities: Mapping[str, tuple[str, ...]]  # canonical amenity feature -> grounding FEATURES keys it backs
    top_rated_at_least: float


def load_fact_claims(path: Path | str | None = None) -> FactClaims:
    """The mapping in `path` (default: fact_claims.toml beside this module); a bad entry is a ValueError naming it."""
    path = Path(path) if path is not None else DEFAULT_PATH
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML: {error}") from None
    unknown = sorted(set(document) - {"amenities", "rating"})
    if unknown:
        raise ValueError(f"{path}: unknown table(s) {', '.join(unknown)} (known: amenities, rating)")
    known_amenities = set(default_amenity_map().names)
    amenities = {}
    for name, keys in (document.get("amenities") or {}).items():
        if name not in known_amenities:
            raise ValueError(f"{path}: [amenities] {name!r} is not a feature of amenities.toml")
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            raise ValueError(f"{path}: [amenities] {name}: a list of claim keys, e.g. [\"laundry\"]")
        wrong = [k for k in keys if k not in FEATURES]
        if wrong:
            raise ValueError(f"{path}: [amenities] {name}: {', '.join(map(repr, wrong))} is not a claim key of "
                             "generation/grounding.py FEATURES")
        amenities[name] = tuple(keys)
    threshold = (document.get("rating") or {}).get("top_rated_at_least", 4.8)
    if not isinstance(threshold, (int, float)) or not 0 < threshold <= 5:
        raise ValueError(f"{path}: [rating] top_rated_at_least must be a rating between 0 and 5")
    return FactClaims(amenities, float(threshold))


@lru_cache(maxsize=1)
def default_fact_claims() -> FactClaims:
    return load_fact_claims()


def listing_amenity_features(listing: Mapping[str, Any]) -> list[str]:
    """The listing's canonical amenities: stored ones (`amenity_features`), else derived from its strings."""
    stored = listing.get("amenity_features")
    if stored is not None:
        return list(stored)
    return amenity_features(listing.get("amenities") or ())


def backed_features(listing: Mapping[str, Any], claims: FactClaims | None = None) -> tuple[str, ...]:
    """The grounding FEATURES keys the listing's structured facts back."""
    claims = claims or default_fact_claims()
    keys: set[str] = set()
    for feature in listing_amenity_features(listing):
        keys.update(claims.amenities.get(feature, ()))
    if listing.get("host_is_superhost") is True:
        keys.add("superhost")
    if listing.get("bedrooms") == 0:
        keys.add("studio")
    if listing.get("baths_shared") is False or "private" in str(listing.get("bathrooms_text") or "").lower() or (
            listing.get("room_type") == "Entire home/apt" and (listing.get("baths") or 0) >= 1):
        keys.add("private bathroom")
    rating = listing.get("review_scores_rating")
    if rating is not None and float(rating) >= claims.top_rated_at_least:
        keys.update(("rating", "top-rated"))  # "highly rated"; a number ("rated 4.9") is backed by the measure
    return tuple(sorted(keys))


def measures(listing: Mapping[str, Any]) -> tuple[tuple[str, float], ...]:
    """The listing's measured facts (MEASURES keys) that it has."""
    return tuple((key, float(listing[column])) for key, column in MEASURE_COLUMNS.items()
                 if listing.get(column) not in (None, ""))
