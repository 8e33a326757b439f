"""Graded relevance of a listing to a query, judged from the listing's own attributes.

A query's intent is written down as a `Relevance` spec (room type, place, price,
words the name should contain...). Each spec field is one constraint:

- grade 2: every constraint holds;
- grade 1: all place constraints hold and exactly one other constraint fails
  (right place, wrong price, say) - a listing elsewhere is of no use however
  well it matches otherwise;
- grade 0: anything else.

Judging from attributes rather than by hand keeps the labels reproducible and
lets the same set grade any dataset with the Inside Airbnb columns.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

Listing = Mapping[str, Any]

# About a ten-minute walk.
NEAR_KM = 0.8

# Outlines as (latitude, longitude) corners; a single corner is a point.
LANDMARKS: dict[str, tuple[tuple[float, float], ...]] = {
    "Central Park": ((40.7644, -73.9730), (40.7681, -73.9819), (40.8006, -73.9581), (40.7969, -73.9493)),
    "Prospect Park": ((40.6737, -73.9702), (40.6616, -73.9627), (40.6536, -73.9617), (40.6508, -73.9725),
                      (40.6606, -73.9797)),
    "Times Square": ((40.7580, -73.9855),),
    "Staten Island Ferry": ((40.6437, -74.0736),),
}


@dataclass(frozen=True)
class Relevance:
    """What a fully relevant listing satisfies; unset fields do not constrain."""

    boroughs: tuple[str, ...] = ()
    neighbourhoods: tuple[str, ...] = ()
    near: Optional[str] = None  # a key of LANDMARKS
    room_types: tuple[str, ...] = ()
    name_words: tuple[str, ...] = ()  # any of them, at a word start, case-insensitive
    min_price: Optional[float] = None
    max_price: Optional[float] = None
    min_reviews: Optional[int] = None
    max_reviews: Optional[int] = None
    min_nights: Optional[int] = None  # bounds on the listing's minimum_nights
    max_nights: Optional[int] = None


@dataclass(frozen=True)
class Constraint:
    name: str
    is_place: bool
    holds: Callable[[Listing], bool]


def grade(spec: Relevance, listing: Listing) -> int:
    results = [(c.is_place, c.holds(listing)) for c in constraints(spec)]
    failed = [is_place for is_place, holds in results if not holds]
    if not failed:
        return 2
    if len(results) >= 2 and len(failed) == 1 and not failed[0]:
        return 1
    return 0


def constraints(spec: Relevance) -> list[Constraint]:
    found = []
    if spec.boroughs:
        found.append(Constraint("borough", True, lambda l: l.get("neighbourhood_group") in spec.boroughs))
    if spec.neighbourhoods:
        found.append(Constraint("neighbourhood", True, lambda l: l.get("neighbourhood") in spec.neighbourhoods))
    if spec.near is not None:
        outline = LANDMARKS[spec.near]
        found.append(Constraint(f"near {spec.near}", True, lambda l: _is_near(l, outline)))
    if spec.room_types:
        found.append(Constraint("room type", False, lambda l: l.get("room_type") in spec.room_types))
    if spec.name_words:
        pattern = re.compile("|".join(r"\b" + re.escape(w) for w in spec.name_words), re.IGNORECASE)
        found.append(Constraint("name", False, lambda l: bool(pattern.search(l.get("name") or ""))))
    if spec.min_price is not None or spec.max_price is not None:
        found.append(Constraint("price", False, lambda l: _within(l.get("price"), spec.min_price, spec.max_price)))
    if spec.min_reviews is not None or spec.max_reviews is not None:
        found.append(Constraint("reviews", False, lambda l: _within(
            l.get("number_of_reviews") or 0, spec.min_reviews, spec.max_reviews)))
    if spec.min_nights is not None or spec.max_nights is not None:
        found.append(Constraint("minimum nights", False, lambda l: _within(
            l.get("minimum_nights"), spec.min_nights, spec.max_nights)))
    return found


def _within(value: Any, low: Optional[float], high: Optional[float]) -> bool:
    if value is None:
        return False
    amount = float(value)
    return (low is None or amount >= low) and (high is None or amount <= high)


def _is_near(listing: Listing, outline: tuple[tuple[float, float], ...]) -> bool:
    latitude, longitude = listing.get("latitude"), listing.get("longitude")
    if latitude is None or longitude is None:
        return False
    return distance_km((float(latitude), float(longitude)), outline) <= NEAR_KM


def distance_km(point: tuple[float, float], outline: tuple[tuple[float, float], ...]) -> float:
    """Distance from a point to a landmark's outline (0 inside it).

    A flat projection around the point is exact enough within a city.
    """
    corners = [_to_km(point, corner) for corner in outline]
    if len(corners) == 1:
        return math.hypot(*corners[0])
    if _inside((0.0, 0.0), corners):
        return 0.0
    edges = zip(corners, corners[1:] + corners[:1])
    return min(_distance_to_segment(start, end) for start, end in edges)


def _to_km(origin: tuple[float, float], point: tuple[float, float]) -> tuple[float, float]:
    km_per_degree_latitude = 110.57
    km_per_degree_longitude = 111.32 * math.cos(math.radians(origin[0]))
    return ((point[1] - origin[1]) * km_per_degree_longitude, (point[0] - origin[0]) * km_per_degree_latitude)


def _inside(point: tuple[float, float], corners: list[tuple[float, float]]) -> bool:
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(corners, corners[1:] + corners[:1]):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _distance_to_segment(start: tuple[float, float], end: tuple[float, float]) -> float:
    """Distance from the origin to the segment start-end."""
    (x1, y1), (x2, y2) = start, end
    length_squared = (x2 - x1) ** 2 + (y2 - y1) ** 2
    share = 0.0 if length_squared == 0 else max(0.0, min(1.0, -(x1 * (x2 - x1) + y1 * (y2 - y1)) / length_squared))
    return math.hypot(x1 + share * (x2 - x1), y1 + share * (y2 - y1))
