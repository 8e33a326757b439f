"""Facts that 2023+ summary files put in the listing's name.

    "Villa in Singapore · ★4.44 · 2 bedrooms · 3 beds · 1 private bath"
    "Rental unit in Singapore · ★New · Studio · 1 bed · Shared half-bath"

The name then is Inside Airbnb's, not the host's: a property type and city, then
" · "-separated parts, each optional. A name not in this form (a host's own, as
in older files) has no facts: None. A part this parser does not know is kept in
`unread`, so a new part in another city's file shows instead of vanishing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
