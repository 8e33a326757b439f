"""Validation of a generated ad against its listing, its stored description and its audience.

An ad is kept only if this returns no problems:

- plain prose: one or two sentences of 30 to 280 characters, no URLs, markup,
  JSON, echoed input, repetition or talk about the prompt;
- grounded: every claim backed by the listing (its facts, places, numbers) or by
  its stored description, which passed its own grounding check (its quotation of
  the name backs nothing);
- no contradiction of the listing's price, area or room type;
- led by its angle: the angle's fact (the price, the place, the room ...) is the first fact it states;
- eligible, checked again on the written ad (the listing may have changed since
  the ad was asked for, and a model may ignore its requirements):
  - the audience's rules (room type, price, reviews: `ineligible_reason`);
  - a minimum stay above the audience's `max_minimum_nights` must be stated
    ("30 nights"), so that nobody books a work trip into a 30-night minimum;
  - an audience chosen by price (`max_price`) gets ads that state the exact price;
  - only such an audience's ads may call the place cheap, affordable, budget or
    a bargain: elsewhere the word promises what no rule checked.

The listing's name is the host's words: quoted whole between quotation marks it
states nothing (no claim, minimum stay, price, lead fact, nor "cheap"); unquoted,
its words are the ad's own.

The price, area, room-type, debris and plain-text checks are check_description's:
it runs whole, and its two verdicts an ad judges differently (length bounds, and
grounding without the stored description) are recomputed exactly and replaced.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Iterable, Mapping, Optional

from gfl_dagster.ads.ad_prompt import MAX_LENGTH
from gfl_dagster.ads.angles import Angle, angle_facts, lead_problem
from gfl_dagster.ads.audiences import Audience, ineligible_reason, must_state_minimum_stay, must_state_price
from gfl_dagster.generation.grounding import Support, without_quotations
from gfl_dagster.listings.description_check import (
    check_description,
    dollar_amounts,
    listing_support,
    quoted_texts,
    without_fragments,
)
from gfl_dagster.listings.facts import format_price

MIN_LENGTH = 30
MAX_SENTENCES = 2

_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")
_CHEAP = re.compile(r"\b(?:cheap(?:er|est)?|budget|affordable|bargains?|inexpensive|low[\s-]cost|economical|"
                    r"great\s+value|value\s+for\s+money)\b", re.IGNORECASE)


def ad_support(listing: Mapping[str, Any], description: Optional[str], known_places: Iterable[str] = ()) -> Support:
    """What backs a claim in an ad: the listing's support plus the text of its stored description."""
    support = listing_support(listing, known_places)
    if not description:
        return support
    return dataclasses.replace(support, texts=support.texts + (description,))


def _own_words(text: str, listing: Mapping[str, Any]) -> str:
    """The ad without its quotation of the listing's name and its own places (which may hold a full stop:
    "St. George")."""
    return without_fragments(without_quotations(text, quoted_texts(listing)),
                             [listing.get(column) or "" for column in ("neighbourhood", "neighbourhood_group", "area")])


def _states_nights(text: str, nights: int) -> bool:
    return re.search(rf"(?<![\d.,$]){nights}(?:\s*|-)nights?\b", text, re.IGNORECASE) is not None


def eligibility_problems(text: str, audience: Audience, listing: Mapping[str, Any]) -> list[str]:
    """The audience's rules, checked on the written ad (see the module docstring)."""
    problems = []
    reason = ineligible_reason(audience, listing)
    if reason:
        problems.append(f"the listing is not for this audience: {reason}")
    own_words = _own_words(text, listing)
    if must_state_minimum_stay(audience, listing) and not _states_nights(own_words, listing["minimum_nights"]):
        problems.append(f"does not state the minimum stay of {listing['minimum_nights']} nights, which is longer "
                        f"than the {audience.name} audience's {audience.max_minimum_nights}: the ad must say so")
    price = listing.get("price")
    if must_state_price(audience) and price is not None and not any(
            abs(amount - float(price)) <= 0.005 for amount in dollar_amounts(own_words)):
        problems.append(f"does not state the price ({format_price(price)} a night): "
                        f"a {audience.name} ad must, since the audience is chosen by price")
    cheap = _CHEAP.search(own_words)
    if cheap and not must_state_price(audience):
        problems.append(f'calls the place "{cheap.group()}" but the {audience.name} audience is not chosen by price')
    return problems


def check_ad(
    text: str,
    audience: Audience,
    listing: Mapping[str, Any],
    description: Optional[str] = None,
    known_areas: Optional[Iterable[str]] = None,
    known_places: Iterable[str] = (),
    angle: Optional[Angle] = None,
) -> list[str]:
    """Problems with `text` as an ad for `listing` (CSV column names, with its `area`) and `audience`
    (empty list: valid). `description` is the listing's stored description, if any; `known_areas` and
    `known_places` are as for check_description; an ad with an `angle` must lead with its fact."""
    stripped = text.strip()
    if not stripped:
        return ["the answer is empty"]
    known_places = tuple(known_places)
    problems = check_description(stripped, listing, known_areas, known_places, length=(MIN_LENGTH, MAX_LENGTH),
                                 support=ad_support(listing, description, known_places))
    sentences = len(_SENTENCE_END.findall(_own_words(stripped, listing)))
    if sentences > MAX_SENTENCES:
        problems.append(f"has {sentences} sentences, at most {MAX_SENTENCES}")
    problems += eligibility_problems(stripped, audience, listing)
    if angle is not None:
        # A quoted name is the host's words; unquoted, its words are the ad's own (and may be the fact itself).
        lead = lead_problem(without_quotations(stripped, quoted_texts(listing)), angle, angle_facts(listing))
        problems += [lead] if lead else []
    return list(dict.fromkeys(problems))
