"""The rich facts a sentence asks for: counts (guests, bedrooms, beds, baths), the rating, amenities,
the property type and the host's flags. Their words are data (understanding_vocabulary.toml).

- A number followed by a unit (stars, guests, people, bedrooms, BR, beds, baths) is that count, never
  a price: "4+ stars" -> min_rating 4, "2BR" -> min_bedrooms 2, "for 4 guests" -> min_guests 4.
  "sleeps 6", "family of five", "group of 8", "for 4" (no unit, no currency) are guests too.
- Whole-number counts with a strict comparative are strict ("more than 3 beds" -> 4); "at least", "N+"
  and "N or more" are inclusive; ratings and baths are decimals and keep their value.
- Amenities, the property type and the flags keep their words in the semantic text (they also
  describe what is sought); the filter is applied only where the data has the column (search/interpret).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Callable

from gfl_dagster.toml_reader import tomllib

VOCABULARY = Path(__file__).with_name("understanding_vocabulary.toml")
MAX_GUESTS = 30  # "for 40" is not a party size: likely a price
MAX_RATING = 5.0


@functools.lru_cache(maxsize=1)
def vocabulary() -> dict[str, Any]:
    with open(VOCABULARY, "rb") as handle:
        return tomllib.load(handle)


def _words(patterns: list[str]) -> str:
    return "|".join(f"(?:{p})" for p in patterns)


def _compile(patterns: list[str]) -> "re.Pattern[str]":
    return re.compile(rf"(?<![\w-])(?:{_words(patterns)})(?![\w-])")


NUMBER = r"\d+(?:\.\d+)?"
_STRICT = r"(?:more\s+than|over|above|greater\s+than|>)"
_AT_LEAST = (r"(?:at\s+least|min(?:imum)?(?:\s+of)?|no\s+(?:less|fewer)\s+than|not\s+(?:less|fewer)\s+than|"
             r"not\s+under|>=|≥|=>)")
_OR_MORE = r"(?:\+|or\s+more|or\s+higher|or\s+above|or\s+better|plus|minimum|at\s+least|and\s+up)"


@functools.lru_cache(maxsize=1)
def patterns() -> dict[str, Any]:
    """The compiled rules (built once)."""
    v = vocabulary()
    units = v["units"]
    unit = "|".join(f"(?P<{name}>{words})" for name, words in units.items())
    count = re.compile(
        rf"(?:(?P<strict>{_STRICT})\s*|(?P<least>{_AT_LEAST}|up\s+to)\s*)?(?<![\w.$€£])(?P<n>{NUMBER})\s*(?P<plus>\+)?"
        rf"[\s-]*(?:(?:full|private|en[\s-]?suite|separate|real|double|single|queen|king)\s+)?(?:{unit})(?![\w/])(?:\s*(?P<post>{_OR_MORE})(?:\b|(?<=\+)))?")
    rated = re.compile(
        rf"\b(?:rated|rating(?:\s+of)?|reviews?\s+(?:score\s+)?(?:of\s+)?|score(?:\s+of)?)\s*"
        rf"(?:(?P<strict>{_STRICT})\s*|(?P<least>{_AT_LEAST})\s*)?(?P<n>{NUMBER})(?![\d.])\s*"
        rf"(?:(?P<post>{_OR_MORE})(?:\b|(?<=\+)))?(?:\s*(?:stars?|/\s*5|out\s+of\s+5))?")
    guests = re.compile(
        rf"\b(?:(?P<family>famil(?:y|ies))\s+of|group\s+of|party\s+of|sleeps|accommodates?|fits|"
        rf"for\s+(?:a\s+|my\s+|our\s+)?(?:(?P<family2>family)\s+of\s+|group\s+of\s+)?|for\s+(?:{_AT_LEAST}\s+)?)"
        rf"\s*(?:(?P<least>{_AT_LEAST})\s*)?(?P<n>\d+)\b(?!\s*(?:[$€£%/-]|[.,]\d|\+?\s*(?:[a-z]{{1,3}}\$|usd|sgd|eur|"
        rf"dollars?|bucks|euros?|pounds?|k\b|a\s+night|per|nights?|days?|weeks?|months?|years?|minutes?|mins?|"
        rf"hours?|km|miles?|mi|blocks?|{units['bedrooms']}|{units['beds']}|{units['baths']}|{units['rating']})))")
    return {
        "count": count, "rated": rated, "guests": guests,
        "amenities": {name: _compile(words) for name, words in v["amenities"].items()},
        "property_types": {name: _compile(words) for name, words in v["property_types"].items()},
        "flags": {name: _compile(words) for name, words in v["flags"].items()},
    }


FIELD_OF_UNIT = {"guests": "min_guests", "bedrooms": "min_bedrooms", "beds": "min_beds", "baths": "min_baths",
                 "rating": "min_rating"}
DECIMAL = frozenset({"min_rating", "min_baths"})
LABEL = {"min_guests": "guests", "min_bedrooms": "bedrooms", "min_beds": "beds", "min_baths": "baths",
         "min_rating": "rating"}


def _bound(field: str, n: float, strict: bool) -> float | None:
    if field in DECIMAL:
        if field == "min_rating" and not 0 < n <= MAX_RATING:
            return None
        return n
    if not float(n).is_integer() or n < 0:
        return None
    return int(n) + 1 if strict else int(n)


def count_rules(room_vote: Callable) -> list[tuple["re.Pattern[str]", Callable]]:
    """(pattern, handler) for the counts and the rating; they run before the price rules.
    `room_vote(state, span, phrase)`: a family asks for the whole place."""
    p = patterns()

    def set_count(state, m, field: str, n: float, strict: bool) -> None:
        value = _bound(field, n, strict)
        if value is None:
            return
        phrase = state.phrase(*m.span())
        state.set_bound(field, value, f'{LABEL[field]} >= {value:g} ("{phrase}")', m.span())
        state.consume(*m.span())

    def on_count(state, m) -> None:
        unit = next(name for name in FIELD_OF_UNIT if m.group(name) is not None)
        set_count(state, m, FIELD_OF_UNIT[unit], float(m.group("n")), bool(m.group("strict")))

    def on_rated(state, m) -> None:
        set_count(state, m, "min_rating", float(m.group("n")), bool(m.group("strict")))

    def on_guests(state, m) -> None:
        n = int(m.group("n"))
        family = m.group("family") or m.group("family2")
        if not 0 < n <= MAX_GUESTS:
            return
        state.set_bound("min_guests", n, f'guests >= {n} ("{state.phrase(*m.span())}")', m.span())
        if family:
            start = m.start("family") if m.group("family") else m.start("family2")
            state.consume(start, start + len(family), remove=False)
            state.consume(start + len(family), m.end())
            room_vote(state, m.span(), state.phrase(*m.span()))
        else:
            state.consume(*m.span())

    return [(p["rated"], on_rated), (p["count"], on_count), (p["guests"], on_guests)]


def word_rules() -> list[tuple["re.Pattern[str]", Callable]]:
    """(pattern, handler) for amenities, the property type and the flags (words kept in the text
    except the flags')."""
    p = patterns()
    rules: list[tuple["re.Pattern[str]", Callable]] = []

    def flag(name: str) -> Callable:
        def handle(state, m) -> None:
            state.parsed = True
            state.filters[name] = True
            state.note(f'{name.replace("_", " ")} ("{state.phrase(*m.span())}")', m.start())
            state.span(*m.span(), name, True)
            state.consume(*m.span())
        return handle

    def amenity(name: str) -> Callable:
        def handle(state, m) -> None:
            if _negated(state, m.start()):
                return
            state.parsed = True
            held = state.filters.setdefault("amenities", [])
            if name == "parking" and "free_parking" in held:
                return
            if name not in held:
                held.append(name)
                state.note(f'amenity {name} ("{state.phrase(*m.span())}")', m.start())
            state.span(*m.span(), "amenities", name)
            state.consume(*m.span(), remove=False)
        return handle

    def property_type(name: str) -> Callable:
        def handle(state, m) -> None:
            state.parsed = True
            if state.filters.get("property_type") not in (None, name):
                state.note(f'"{state.phrase(*m.span())}": one property type is supported, '
                           f'{state.filters["property_type"]} kept', m.start())
                return
            state.filters["property_type"] = name
            state.note(f'property type {name} ("{state.phrase(*m.span())}")', m.start())
            state.span(*m.span(), "property_type", name)
        return handle

    rules += [(pattern, flag(name)) for name, pattern in p["flags"].items()]
    rules += [(pattern, amenity(name)) for name, pattern in p["amenities"].items()]
    rules += [(pattern, property_type(name)) for name, pattern in p["property_types"].items()]
    return rules


_NEGATION_BEFORE = re.compile(r"\b(?:no|not|without|except)\s+(?:a\s+|an\s+|any\s+)?$")


def _negated(state, start: int) -> bool:
    return _NEGATION_BEFORE.search(state.work, max(0, start - 16), start) is not None


def amenity_feature_of(amenity: str) -> str | None:
    """The canonical feature (listings/amenities.toml) a parsed amenity is filtered on; None: not filtered."""
    return vocabulary()["amenity_features"].get(amenity)


def property_types_named(name: str, known: "tuple[str, ...] | list[str]") -> tuple[str, ...]:
    """The data's property types ("Entire condo", "Private room in condo") that a parsed one ("condo") names:
    those its own words (the vocabulary's) find."""
    from gfl_dagster.search.understanding_text import fold

    pattern = patterns()["property_types"].get(name)
    if pattern is None:
        return tuple(value for value in known if value.casefold() == name.casefold())
    return tuple(value for value in known if pattern.search(fold(value)[0]))
