"""Facts that 2023+ summary files put in the listing's name.

    "Villa in Singapore · ★4.44 · 2 bedrooms · 3 beds · 1 private bath"
    "Rental unit in Singapore · ★New · Studio · 1 bed · Shared half-bath"

The name then is Inside Airbnb's, not the host's: a property type and city, then
" · "-separated parts, each optional. A name not in this form (a host's own, as
in older files) has no facts: None. A part this parser does not know is kept in
`unread`, so a new part in another city's file shows instead of vanishing.

Such a name is the one place a summary-file row has a rating, bedrooms, beds,
baths or a property type: `filled_from_name` puts them in the row's own columns
(where it lacks them), as facts. The name as text backs nothing (the grounding
check never reads a host's words as evidence).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from gfl_dagster.listings.bathrooms import BathsError, parse_baths

SEPARATOR = " · "
_HEAD = re.compile(r"^(?P<property_type>.+?) in (?P<city>.+)$")
_RATING = re.compile(r"^★(?:(?P<rating>\d(?:\.\d+)?)|(?P<new>New))$")
_COUNT = re.compile(r"^(?P<count>\d+) (?P<unit>bedrooms?|beds?)$")


@dataclass(frozen=True)
class NameFacts:
    property_type: str
    city: str
    rating: float | None = None  # None: "★New" or no rating part
    new: bool = False  # "★New": too few reviews for a rating
    bedrooms: int | None = None  # "Studio" is 0
    beds: int | None = None
    baths: float | None = None
    baths_shared: bool | None = None
    unread: tuple[str, ...] = field(default=())


def parse_name_facts(name: str | None) -> NameFacts | None:
    """The facts of a name in Inside Airbnb's 2023+ form, or None for a host's own name."""
    if not name or SEPARATOR not in name:
        return None
    head, *parts = [part.strip() for part in name.split(SEPARATOR)]
    matched = _HEAD.match(head)
    if matched is None:
        return None
    facts: dict = {"property_type": matched.group("property_type"), "city": matched.group("city")}
    unread: list[str] = []
    for part in parts:
        rating, count = _RATING.match(part), _COUNT.match(part)
        if rating:
            facts["new"] = rating.group("new") is not None
            facts["rating"] = None if facts["new"] else float(rating.group("rating"))
        elif part == "Studio":
            facts["bedrooms"] = 0
        elif count:
            facts["bedrooms" if count.group("unit").startswith("bedroom") else "beds"] = int(count.group("count"))
        else:
            try:
                baths = parse_baths(part)
            except BathsError:
                baths = None
            if baths is None:
                unread.append(part)
            else:
                facts["baths"], facts["baths_shared"] = baths.count, baths.shared
    if unread and len(unread) == len(parts):
        return None  # " · " in a host's own name, not Inside Airbnb's form
    return NameFacts(**facts, unread=tuple(unread))


# NameFacts attribute -> the detailed file's column it fills (baths also fill baths_shared).
COLUMNS = {"bedrooms": "bedrooms", "beds": "beds", "baths": "baths", "rating": "review_scores_rating",
           "property_type": "property_type"}


def trusted_name_facts(row: Mapping[str, Any]) -> NameFacts | None:
    """The facts of the row's name when the whole name is in Inside Airbnb's form and its property type agrees with
    the row's (when the row has one): a host's own name, or one with a part not read here, states no fact."""
    facts = parse_name_facts(row.get("name"))
    if facts is None or facts.unread:
        return None
    own_type = str(row.get("property_type") or "").lower()
    if own_type and facts.property_type.lower() not in own_type:
        return None
    return facts


def filled_from_name(row: Mapping[str, Any], attributes: tuple[str, ...] = tuple(COLUMNS)) -> dict[str, Any]:
    """`row` with the columns of `attributes` (COLUMNS keys) it lacks filled from its name's trusted facts."""
    filled = dict(row)
    facts = trusted_name_facts(row)
    for attribute in attributes if facts is not None else ():
        column, value = COLUMNS[attribute], getattr(facts, attribute)
        if filled.get(column) in (None, "") and value is not None:
            filled[column] = value
            if attribute == "baths":
                filled["baths_shared"] = facts.baths_shared
    return filled
