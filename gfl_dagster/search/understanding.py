"""Query understanding: a typed sentence -> filters, a sort, a limit and the text left for semantic search.

Rule-based and pure (no model, no database): `understand(sentence, places)`
reads "quiet studio in Harlem under 120 dollars" as neighbourhood Harlem, room type Entire home/apt,
price <= 120 and the search text "quiet studio", BEFORE retrieval, so the filters are exact.
Matching ignores case, accents and punctuation. Every constraint comes with a human-readable note
and a span (which words produced it), so a page can show chips and say what it understood.

By concern: understanding_text.py (folding, filler words), understanding_numbers.py (numbers in words,
through text2num), understanding_places.py (places, sets, exclusions), understanding_facts.py (counts,
rating, amenities, property type, host flags) with their words in understanding_vocabulary.toml; this
module holds the parse state, prices, reviews, stays, room types, rankings and the text left.

The judgement calls (the README states them; the numbers were checked on the bundled New York 2023
sample, New York 2019 and Barcelona 2021):

Places
- Every area (borough/district) and neighbourhood in `Places` is matched as a whole name, longest
  first ("Brooklyn Heights" before "Brooklyn", "East Harlem" before "Harlem"). A name that is both an
  area and a neighbourhood (Barcelona's "Sant Andreu", "Les Corts") is read as the area, the larger
  and so safer set.
- Leading articles: a name may also be typed without its article (el, la, les, els, l', the), so
  "Raval" is "el Raval" and "Sagrada Familia" is "la Sagrada Família"; "Gracia" is the DISTRICT
  Gràcia (an exact name), not the neighbourhood "la Vila de Gràcia" (typed "Vila de Gracia").
  Part of a hyphenated district name that is no other exact name stands for the district ("Montjuic"
  -> Sants-Montjuïc, "Guinardo" -> Horta-Guinardó, which holds el Guinardó; but "Horta" and "Sarria"
  are neighbourhoods); part of a " - " neighbourhood name likewise ("Galvany" -> Sant Gervasi -
  Galvany; "Sant Gervasi", shared by two neighbourhoods and a district, is the district).
- A few common nicknames map to a name only where that name is known: BK -> Brooklyn, LES, UES,
  UWS, FiDi, LIC, Bed-Stuy, Stuy Town, Spanish Harlem; Gothic Quarter/Barri Gòtic, el Born, Vila
  Olímpica, Diagonal Mar, Tibidabo.
- Misspellings: a word group of 6+ letters one edit away (a letter missing, extra, wrong or two
  letters swapped) from exactly one known name of 6+ letters, with the same first letter
  ("Brookyln", "Manhatan"; not "queen" -> Queens, not "Upper Est Side", which is East or West).
- "near/close to/next to/views of X" is about proximity, not a filter: X stays in the search text.
  "X views/skyline/bridge" (Manhattan views, Brooklyn Bridge) likewise; "near the subway", "15 minutes
  to X": a note says distances are not in the data. "not in X", "outside X", "anywhere but X", "X
  except Y": `not_areas`/`not_neighbourhoods`; a name listed after an excluded one ("not X or Y") is
  excluded too.
- Several areas or several neighbourhoods ("X or Y", "X/Y"): `areas`/`neighbourhoods`, any of them
  (not the area holding them, which admits far more); an area or a neighbourhood elsewhere ("Brooklyn
  or Astoria"): the neighbourhoods of either.
- "Williamsburg, Brooklyn": neighbourhood Williamsburg and area Brooklyn (dropped, with a note,
  when `area_of_neighbourhood` says the neighbourhood lies elsewhere).

Prices (per night, in the listings' currency: "$80", "80 euros" and "€80" are all 80)
- Bounds are inclusive: "under $100" is price <= 100. "$150 a week/month" is divided by 7/30.
- "around/about/~150" is a band of +-15% (AROUND_BAND), rounded to whole units: 128..173.
- A bare amount with a currency ("a $150 loft") is a budget: price <= 150. A bare number is a
  price only with a currency, "a night", a comparison ("under 100") or as a range from 10 up
  ("50-80"); numbers followed by a unit ("3 bedrooms", "5 minutes", "4 guests") never are.
- Contradictory bounds ("over 200 under 100") are both dropped, with a note.
- "cheap/budget/affordable/inexpensive": price <= the cheap band of the area (the first quartile
  of its prices, see `price_bands`) when `price_bands` has the neighbourhood, the area or "" (all);
  without bands: sorted by price, lowest first. "expensive/pricey": price >= the third quartile, or
  sorted by price, highest first. "luxury/upscale/high-end" are qualities: they stay in the text.

Reviews (the data has counts, not star ratings)
- "good/great/positive reviews", "well reviewed", "highly/top rated": reviews >= GOOD_REVIEWS (20;
  57% of the bundled New York listings, 28% of New York 2019 and 32% of Barcelona pass).
- "most reviewed", "most popular", "best reviewed", "highest rated": sort number_of_reviews:desc.
- "new listings", "no reviews", "unreviewed": `max_reviews: 0`.
- Counts: "at least 50 reviews" >= 50; "more than 50 reviews" >= 51; "fewer than 5 reviews" <= 4.

Room types (share of listings whose NAME has the word, per room type, in the three files)
- "private room", "room" alone (95-98% private rooms), "rooms": Private room; "living room",
  "lots of room" and the like are not.
- "entire/whole/full/private home|apartment|flat|place|studio...", "to myself": Entire home/apt.
- "studio" (88-92% entire homes): Entire home/apt, and "studio" stays in the text.
- "family friendly", "for a family", "for kids" (78-88% entire homes; a family needs the whole
  place): Entire home/apt, and the family words stay in the text.
- "shared room", "shared" (not "shared bathroom/kitchen..."), "dorm", "hostel bed": Shared room
  ("hostel" alone is the property type).
- "hotel", "hotel room": Hotel room (Airbnb's type for hotels).
- "loft" (65-87% entire homes: a third of New York lofts are rooms in a shared loft) and
  "apartment" (72-93%; "apartment with a great view" must not lose private rooms) set no room type.
- An explicit type ("private room in a loft") beats an implied one; "room" beats "studio" beats
  "family"; "private or shared room": `room_types`, either; "no shared rooms": `not_room_types`.

Stays (filters on the listing's minimum_nights; the data has no maximum stay)
- A stay of N nights needs minimum_nights <= N: "2 nights"/"weekend" -> max_nights 2, "a night",
  "tonight", "overnight" -> 1, "a week" -> 7, "for a month", "monthly", "30 days" -> 30 (days count
  as nights), "3 months" -> 90, "a year" -> 365. "a long weekend" -> 3.
- "long stay/long term/extended stay" -> min_nights >= 28 (Airbnb's long-term threshold: listings
  set up for monthly guests). "short stay/short term" -> max_nights 7. "no minimum stay" -> 1.

Availability (availability_365: open nights in the coming year; the data has no calendar)
- "available", "available now", "with availability": min_availability 1 (not blocked all year).
- "available year round", "all year": 300. "available most of the year": 183.
- Dates ("in July", "tomorrow") cannot be checked: noted and removed from the text.

Rankings and counts
- "top 5", "top five", "5 best", "5 cheapest", "show me 5", "5 listings": limit 5 (at most
  MAX_LIMIT). "cheapest"/"lowest price" -> price:asc, "most expensive"/"priciest" -> price:desc,
  "most reviewed/popular" -> number_of_reviews:desc, "most active/busiest" -> reviews_per_month:desc,
  "most available" -> availability_365:desc, "recently reviewed" -> last_review:desc.

The text left for semantic search: the sentence minus the consumed phrases and filler words
("show me", "listings", "places", "in", "with", "a", "the", "NYC" ...). A sentence in which nothing
was understood keeps its full text; one that has nothing meaningful left gives "".
"""

from __future__ import annotations

import functools
import re
import statistics
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from gfl_dagster.search.query import MAX_LIMIT, SearchQuery
from gfl_dagster.search.understanding_facts import count_rules, word_rules
from gfl_dagster.search.understanding_numbers import words_to_digits
from gfl_dagster.search.understanding_places import (
    NOT_BEFORE,
    Place,
    Places,
    match_misspelled_places,
    match_places,
    places_from_pairs,
    resolve_places,
)
from gfl_dagster.search.understanding_text import FILLER_WORDS, SENTINEL, fold

__all__ = ["Places", "Span", "Understood", "places_from_pairs", "price_bands", "understand"]

ENTIRE, PRIVATE, SHARED, HOTEL = "Entire home/apt", "Private room", "Shared room", "Hotel room"

GOOD_REVIEWS = 20  # "good reviews" -> at least this many reviews
AROUND_BAND = 0.15  # "around $150" -> 150 +- 15%
AVAILABLE = 1  # "available": at least one open night in the coming year
MOST_OF_YEAR = 183  # "available most of the year"
YEAR_ROUND = 300  # "available year round"
LONG_STAY_NIGHTS = 28  # "long stay": listings whose minimum stay is at least this (Airbnb's long-term)
SHORT_STAY_NIGHTS = 7  # "short stay": minimum stay at most a week
MONTH_NIGHTS = 30

SEARCH_QUERY_FIELDS = frozenset(SearchQuery.__dataclass_fields__)


def price_bands(prices_by_area: Mapping[str, Sequence[float]]) -> dict[str, tuple[float, float]]:
    """{area: (first quartile, third quartile)} of nightly prices, plus "" for all areas together.

    The first number is the cheap band's top ("cheap" -> price <= it), the second the expensive
    band's bottom. Areas with fewer than 4 positive prices are left out (they fall back to "").
    """
    def quartiles(values: Iterable[float]) -> Optional[tuple[float, float]]:
        positive = [float(v) for v in values if v is not None and v > 0]
        if len(positive) < 4:
            return None
        # Linear interpolation between the closest ranks: the quartiles Postgres's percentile_cont gives the
        # search (search/interpret.py), so "cheap" means the same in the evaluation as at run time.
        q1, _, q3 = statistics.quantiles(positive, n=4, method="inclusive")
        return round(q1, 2), round(q3, 2)

    bands = {area: band for area, prices in prices_by_area.items()
             if area and (band := quartiles(prices)) is not None}
    overall = quartiles(p for prices in prices_by_area.values() for p in prices)
    if overall is not None:
        bands[""] = overall
    return bands


@dataclass(frozen=True)
class Span:
    """Which words of the sentence (start/end offsets in it) produced which constraint."""

    start: int
    end: int
    text: str
    field: str  # a filter key, "sort", "limit", or "note" for understood-but-not-filtered phrases
    value: Any


@dataclass(frozen=True)
class Understood:
    filters: dict[str, Any]  # SearchQuery field names -> values
    sort: Optional[str]  # "price:asc", "number_of_reviews:desc" ...
    limit: Optional[int]
    text: str  # what is left for semantic search; "" when nothing meaningful is left
    notes: list[str]  # human-readable, one per understood phrase
    spans: tuple[Span, ...] = ()

    def search_query_fields(self) -> dict[str, Any]:
        """SearchQuery keyword arguments: text, the supported filters, sort and limit when set."""
        fields_ = {k: tuple(v) if isinstance(v, list) else v for k, v in self.filters.items() if k in SEARCH_QUERY_FIELDS}
        fields_["text"] = self.text
        if self.sort:
            fields_["sort"] = self.sort
        if self.limit is not None:
            fields_["limit"] = self.limit
        return fields_



# ---------------------------------------------------------------------------------------------
# Numbers.

_WORD_NUMBER = r"(?:a\s+dozen|dozen)\b"  # other numbers in words are digits by now (understanding_numbers)
_DIGITS = r"\d+(?:,\d{3})*(?:\.\d+)?(?![.,]?\d)(?:k\b)?"
_NUM = rf"(?:{_DIGITS}|{_WORD_NUMBER})"
_SMALL_WORDS = {"a": 1, "an": 1, "single": 1, "couple": 2, "a couple": 2, "a couple of": 2, "couple of": 2}


def _number(text: str) -> float:
    text = " ".join(text.split()).replace(",", "")
    if text[:1].isdigit():
        if text.endswith("k"):
            return float(text[:-1]) * 1000
        return float(text)
    if text in _SMALL_WORDS:
        return _SMALL_WORDS[text]
    return 12.0 if text.endswith("dozen") else 0.0


def _int(value: float) -> int:
    return int(round(value))


def _money(value: float, symbol: str = "$") -> str:
    return f"{symbol}{value:,.0f}" if float(value).is_integer() else f"{symbol}{value:,.2f}"


def _symbol(phrase: str) -> str:
    """The currency a price phrase was written in (for notes; the number is used as it is)."""
    if "€" in phrase or "eur" in phrase:
        return "€"
    if "£" in phrase or "pound" in phrase or "gbp" in phrase:
        return "£"
    return "$"


# ---------------------------------------------------------------------------------------------
# The parse state shared by the rules.

class _State:
    def __init__(self, sentence: str, folded: str, where: list[tuple[int, int]]) -> None:
        self.sentence = sentence
        self.folded = folded
        self.work = folded  # consumed text replaced by SENTINEL
        self.where = where
        self.removed: list[tuple[int, int]] = []  # folded ranges left out of the text
        self.filters: dict[str, Any] = {}
        self.filter_strength: dict[str, int] = {}
        self.sort: Optional[str] = None
        self.limit: Optional[int] = None
        self.notes: list[tuple[int, int, str]] = []  # (folded offset, order, note): sorted by place in the sentence
        self.spans: list[Span] = []
        self.parsed = False
        self.room_votes: list[tuple[int, str, tuple[int, int], str]] = []  # (strength, type, span, phrase)
        self.room_excluded: list[tuple[str, tuple[int, int], str]] = []  # (type, span, phrase): "no shared rooms"
        self.place_hits: list[tuple[Place, tuple[int, int], str, bool]] = []  # (place, span, note suffix, excluded)
        self.price_intent: list[tuple[str, tuple[int, int], str]] = []  # ("cheap"/"pricey", span, phrase)
        self.protected: list[tuple[int, int]] = []  # names kept as places to be near: no misspelling match

    def note(self, text: str, at: Optional[int] = None) -> None:
        self.notes.append((len(self.folded) if at is None else at, len(self.notes), text))

    # offsets
    def original(self, start: int, end: int) -> tuple[int, int]:
        if start >= end:
            return start, start
        return self.where[start][0], self.where[end - 1][1]

    def phrase(self, start: int, end: int) -> str:
        s, e = self.original(start, end)
        return self.sentence[s:e]

    def consume(self, start: int, end: int, remove: bool = True) -> None:
        self.work = self.work[:start] + SENTINEL * (end - start) + self.work[end:]
        if remove:
            self.removed.append((start, end))

    def span(self, start: int, end: int, field_: str, value: Any) -> None:
        s, e = self.original(start, end)
        self.spans.append(Span(s, e, self.sentence[s:e], field_, value))

    # setting values
    def set_bound(self, name: str, value: float, note: str, span: tuple[int, int], strength: int = 2) -> None:
        """A range filter; two bounds on one side keep the tighter one (both phrases apply)."""
        self.parsed = True
        value = int(value) if float(value).is_integer() else round(float(value), 2)
        held = self.filters.get(name)
        if held is not None and self.filter_strength.get(name, 0) > strength:
            self.note(f"{note}: ignored, {name.replace('_', ' ')} is already {held}", span[0])
            return
        if held is not None and self.filter_strength.get(name, 0) == strength:
            value = min(held, value) if name.startswith("max_") else max(held, value)
        self.filters[name] = value
        self.filter_strength[name] = strength
        self.note(note, span[0])
        self.span(*span, name, value)

    def set_sort(self, sort: str, note: str, span: tuple[int, int]) -> None:
        self.parsed = True
        if self.sort is not None and self.sort != sort:
            self.note(f"{note}: ignored, already sorted by {self.sort}", span[0])
            return
        self.sort = sort
        self.note(note, span[0])
        self.span(*span, "sort", sort)

    def set_limit(self, limit: int, phrase: str, span: tuple[int, int]) -> None:
        self.parsed = True
        if limit < 1:
            return
        if limit > MAX_LIMIT:
            self.note(f'{limit} results ("{phrase}"): at most {MAX_LIMIT}', span[0])
            limit = MAX_LIMIT
        else:
            self.note(f'limit {limit} ("{phrase}")', span[0])
        self.limit = limit
        self.span(*span, "limit", limit)


Rule = Callable[[_State, "re.Match[str]"], None]


def _run(state: _State, pattern: "re.Pattern[str]", handle: Rule) -> None:
    """Calls `handle` on each match of `pattern` in the working text (consumed text cannot match)."""
    if pattern.search(state.work) is None:
        return
    for match in list(pattern.finditer(state.work)):
        if SENTINEL not in state.work[match.start():match.end()]:
            handle(state, match)


# ---------------------------------------------------------------------------------------------
# Rankings and counts.

_NOT_A_COUNT = (r"(?!\s*(?:nights?|days?|weeks?|months?|years?|reviews?|ratings?|minutes?|mins?|hours?|hrs?|"
                r"people|persons?|guests?|adults?|kids|children|beds?|bedrooms?|br|bd|baths?|bathrooms?|ba|"
                r"blocks?|miles?|mi|km|kms|meters?|metres?|m|feet|ft|sq|sqft|m2|stars?|floors?|stops?|"
                r"percent|%|th|st|nd|rd|am|pm|x|-\s*(?:night|day|bed|bedroom|week|month)s?)\b)")
_LIMIT = re.compile(
    rf"\btop[\s-]+(?P<a>{_NUM}){_NOT_A_COUNT}"
    rf"|(?<![$€£.,\d])\b(?P<b>{_NUM})(?=\s+(?:best|cheapest|most|least|highest|lowest|top|priciest|nicest|"
    rf"greatest|newest|biggest|largest|quietest|closest|cheap|affordable|good|great|popular)\b)"
    rf"|\b(?:first|show(?:\s+me)?|give\s+me|find(?:\s+me)?|list|get(?:\s+me)?|suggest|recommend)\s+"
    rf"(?P<c>{_NUM}){_NOT_A_COUNT}"
    rf"|(?<![$€£.,\d])\b(?P<d>{_NUM})\s+(?:listings?|places?|options?|results?|picks|suggestions|choices|spots"
    rf"|matches|recommendations)\b")

_SORTS: tuple[tuple["re.Pattern[str]", str, str], ...] = tuple((re.compile(p), sort, label) for p, sort, label in (
    (r"\b(?:most\s+active|busiest|most\s+booked|trending|most\s+reviews\s+(?:per|a)\s+month)\b",
     "reviews_per_month:desc", "reviews per month, most first"),
    (r"\b(?:cheapest|least\s+expensive|lowest[\s-]+pric(?:ed|es?)|most\s+affordable|best\s+(?:price|value|deal)s?"
     r"|(?:price|prices)\s+(?:from\s+)?low\s+to\s+high)\b", "price:asc", "price, lowest first"),
    (r"\b(?:most\s+expensive|priciest|highest[\s-]+pric(?:ed|es?)|(?:price|prices)\s+(?:from\s+)?high\s+to\s+low)\b",
     "price:desc", "price, highest first"),
    (r"\b(?:most[\s-]+reviewed|most\s+reviews|most[\s-]+popular|best[\s-]+reviewed|highest[\s-]+rated"
     r"|best[\s-]+rated|top[\s-]+reviewed|most\s+liked)\b", "number_of_reviews:desc", "number of reviews, most first"),
    (r"\b(?:least[\s-]+reviewed|fewest\s+reviews)\b", "number_of_reviews:asc", "number of reviews, fewest first"),
    (r"\b(?:most\s+available|most\s+availability|most\s+open\s+dates)\b", "availability_365:desc",
     "availability, most first"),
    (r"\b(?:most\s+recently\s+reviewed|recently\s+reviewed|latest\s+reviews?|most\s+recent\s+reviews?)\b",
     "last_review:desc", "last review, most recent first"),
))
_SORT_BY = re.compile(
    r"\b(?:sort(?:ed)?|order(?:ed)?|rank(?:ed)?)\s+by\s+(?P<field>price|cost|reviews?|number\s+of\s+reviews|"
    r"popularity|availability)(?:\s*,?\s*(?P<dir>asc(?:ending)?|desc(?:ending)?|low\s+to\s+high|high\s+to\s+low|"
    r"cheapest\s+first|most\s+first|lowest\s+first|highest\s+first))?\b")


def _on_limit(state: _State, m: "re.Match[str]") -> None:
    group = next(g for g in "abcd" if m.group(g) is not None)
    state.set_limit(_int(_number(m.group(group))), state.phrase(*m.span()), m.span())
    state.consume(*m.span())


def _on_sort_by(state: _State, m: "re.Match[str]") -> None:
    word = m.group("field")
    field_ = ("price" if word in ("price", "cost") else "availability_365" if word == "availability"
              else "number_of_reviews")
    direction = m.group("dir") or ""
    ascending = direction.startswith(("asc", "low", "cheapest")) or (not direction and field_ == "price")
    sort = f"{field_}:{'asc' if ascending else 'desc'}"
    state.set_sort(sort, f'sorted by {sort} ("{state.phrase(*m.span())}")', m.span())
    state.consume(*m.span())


def _sort_rule(sort: str, label: str) -> Rule:
    def handle(state: _State, m: "re.Match[str]") -> None:
        state.set_sort(sort, f'sorted by {label} ("{state.phrase(*m.span())}")', m.span())
        state.consume(*m.span())
    return handle


# ---------------------------------------------------------------------------------------------
# Review counts, prices, stays.

_REVIEW_COUNT = re.compile(
    rf"\b(?:(?P<strict_min>over|more\s+than|above|greater\s+than|>)\s*"
    rf"|(?P<min>at\s+least|min(?:imum)?(?:\s+of)?|>=|≥)\s*"
    rf"|(?P<strict_max>fewer\s+than|less\s+than|under|below|<)\s*"
    rf"|(?P<max>at\s+most|max(?:imum)?(?:\s+of)?|no\s+more\s+than|up\s+to|<=|≤)\s*)?"
    rf"(?P<n>{_NUM})\s*(?P<plus>\+|plus|or\s+more)?\s*(?:guest\s+)?reviews?\b"
    rf"(?:\s*(?P<post_min>or\s+more|\+|plus|minimum|at\s+least)\b"
    rf"|\s*(?P<post_max>or\s+(?:fewer|less)|max(?:imum)?)\b)?")


def _on_review_count(state: _State, m: "re.Match[str]") -> None:
    n = _int(_number(m.group("n")))
    phrase = state.phrase(*m.span())
    if m.group("strict_max"):
        state.set_bound("max_reviews", max(n - 1, 0), f'reviews <= {max(n - 1, 0)} ("{phrase}")', m.span())
    elif m.group("max") or m.group("post_max") or n == 0:
        state.set_bound("max_reviews", n, f'reviews <= {n} ("{phrase}")', m.span())
    else:
        low = n + 1 if m.group("strict_min") else n
        state.set_bound("min_reviews", low, f'reviews >= {low} ("{phrase}")', m.span())
    state.consume(*m.span())


_CURRENCY_BEFORE = r"(?:us|s|a|c|hk|nz)?\$|[€£]|usd|sgd|eur|gbp|aud"
_CURRENCY_AFTER = (r"(?:us|s|a|c|hk|nz)?\$|[€£]|(?:dollars?|bucks|usd|sgd|us\s+dollars|singapore\s+dollars|euros?|eur|"
                   r"pounds?|gbp|aud)\b")


def _amount(g: str) -> str:
    return (rf"(?:(?P<{g}c1>{_CURRENCY_BEFORE})\s?)?(?P<{g}>{_NUM})"
            rf"(?:\s?(?P<{g}c2>{_CURRENCY_AFTER}))?")


def _per(g: str) -> str:
    """An optional "a night/per week/monthly" after amount `g` (groups g_per, g_per2)."""
    return (rf"(?:\s*(?:(?:a|an|per|each|every|/|for\s+(?:a|one|the))\s*(?P<{g}_per>night|nite|day|week|wk|month|mo)\b"
            rf"|(?P<{g}_per2>nightly|weekly|monthly)\b|(?:pn|p/n|/n)\b))?")
_TRAILING_UNIT = (rf"(?:\s*(?:{_CURRENCY_AFTER}))?"
                  r"(?:\s*(?:(?:a|per|each)\s+night|nightly)\b)?")  # "$100 or less per night"
_PRICE_RANGE = re.compile(
    rf"(?:(?P<lead>between|from|of|in\s+the\s+range(?:\s+of)?|range(?:\s+of)?|entre|de)\s+)?{_amount('lo')}\s*"
    rf"(?:-|to|and|until|y|a)\s*{_amount('hi')}{_per('hi')}{_NOT_A_COUNT}")
_NEGATED = r"(?:no|not|nothing|none|never)\s+"
_PRICE_MAX = re.compile(
    rf"(?:(?P<pre>\bunder|\bbelow|\bless\s+than|\blower\s+than|\bcheaper\s+than|\bat\s+most|\bmax(?:imum)?|"
    rf"\bup\s+to|\bupto|\b{_NEGATED}(?:more\s+than|over|above|higher\s+than|exceeding|pricier\s+than|"
    rf"more\s+expensive\s+than|greater\s+than)|\bnot\s+to\s+exceed|\bwithin|\btops|\bbelow\s+or\s+at|"
    rf"\bbudget(?:\s+(?:of|is|up\s+to))?|\bmy\s+budget\s+is|\bfor|\bat|\bcosting|\bpaying|<=?|≤|=<)\s*:?\s*)?"
    rf"{_amount('n')}{_per('n')}{_NOT_A_COUNT}"
    rf"(?:\s*(?P<post>or\s+(?:less|under|below|cheaper|lower)|and\s+(?:under|below|less|lower)|max(?:imum)?|tops|"
    rf"at\s+(?:the\s+)?most|or\s+so|at\s+the\s+outside)\b{_TRAILING_UNIT})?")
_PRICE_MIN = re.compile(
    rf"(?:(?P<pre>(?<!\bno\s)(?<!\bnot\s)(?<!\bnothing\s)(?:\bover|\babove|\bmore\s+than|\bgreater\s+than|"
    rf"\bhigher\s+than|\bpricier\s+than)|\bat\s+least|\bupwards\s+of|\bno\s+lower\s+than|\bmin(?:imum)?|\bstarting\s+(?:at|from)|\bfrom|"
    rf"\b{_NEGATED}(?:less\s+than|under|below|lower\s+than|cheaper\s+than)|>=?|≥|=>)\s*:?\s*)"
    rf"{_amount('n')}{_per('n')}{_NOT_A_COUNT}"
    rf"|{_amount('m')}{_per('m')}{_NOT_A_COUNT}\s*(?P<post>or\s+more|and\s+up|and\s+above|or\s+above|plus|\+|"
    rf"or\s+higher|or\s+over|minimum|at\s+least)(?:\b|(?<=\+)){_TRAILING_UNIT}")
_PRICE_AROUND = re.compile(
    rf"(?P<pre>\baround|\babout|\bapprox(?:imately|\.)?|\broughly|\bcirca|~|\bclose\s+to|\bnear|"
    rf"\bsomething\s+like|\bca\.?)\s*{_amount('n')}{_per('n')}{_NOT_A_COUNT}")


def _per_word(m: "re.Match[str]", g: str) -> str:
    return m.group(g + "_per") or m.group(g + "_per2") or ""


def _amount_of(m: "re.Match[str]", g: str, per_g: Optional[str] = None) -> tuple[float, bool]:
    """(per-night value, whether a currency or a per-night unit was written) of amount `g`."""
    value = _number(m.group(g))
    currency = bool(m.group(g + "c1") or m.group(g + "c2"))
    per = _per_word(m, per_g or g)
    if per.startswith(("week", "wk")):
        value /= 7
    elif per.startswith(("month", "mo")):
        value /= MONTH_NIGHTS
    marked = currency or bool(per) or bool(re.search(r"(?:pn|p/n|/n)$", m.group().strip()))
    return value, marked


def _per_note(m: "re.Match[str]", g: str) -> str:
    per = _per_word(m, g)
    if per.startswith(("week", "wk")):
        return " per night (a weekly price / 7)"
    if per.startswith(("month", "mo")):
        return f" per night (a monthly price / {MONTH_NIGHTS})"
    return ""


def _on_price_range(state: _State, m: "re.Match[str]") -> None:
    lo, lo_marked = _amount_of(m, "lo", "hi")
    hi, hi_marked = _amount_of(m, "hi")
    per_marked = bool(_per_word(m, "hi"))
    word_range = m.group("lead") in ("between", "from", "entre", "de")
    bare_range = lo >= 10  # "rooms 50-80": small bare ranges ("2-3") are not read as prices
    if not (lo_marked or hi_marked or per_marked or word_range or bare_range) or lo > hi or hi == 0:
        return
    if m.group("lead") in ("between", "entre") and not re.search(r"\b(?:and|y)\b|-", m.group()):
        return
    phrase = state.phrase(*m.span())
    lo, hi = round(lo, 2), round(hi, 2)
    cur = _symbol(m.group())
    state.set_bound("min_price", lo, f'price >= {_money(lo, cur)}{_per_note(m, "hi")} ("{phrase}")', m.span())
    state.set_bound("max_price", hi, f'price <= {_money(hi, cur)}{_per_note(m, "hi")} ("{phrase}")', m.span())
    state.consume(*m.span())


_PRICE_TOTAL = re.compile(
    rf"(?:(?:\bunder|\bbelow|\bless\s+than|\bat\s+most|\bmax(?:imum)?|\bup\s+to|\bbudget(?:\s+of)?|"
    rf"\b{_NEGATED}more\s+than)\s*)?(?:\btotal\s+(?:of\s+)?)?{_amount('n')}\s*(?P<total>(?:in\s+)?total\b)?"
    rf"(?:\s*(?:budget|max))?\s*(?:for|over)\s+(?:the\s+)?(?P<nights>\d+)\s*nights?\b")


def _on_price_total(state: _State, m: "re.Match[str]") -> None:
    """ "$1000 total for 5 nights": a budget of 200 a night, and a stay of 5 nights."""
    value, marked = _number(m.group("n")), bool(m.group("nc1") or m.group("nc2"))
    nights = int(m.group("nights"))
    if not (marked or m.group("total") or "total" in m.group()) or value <= 0 or nights < 1:
        return
    per_night = round(value / nights, 2)
    phrase = state.phrase(*m.span())
    state.set_bound("max_price", per_night, f'price <= {_money(per_night, _symbol(m.group()))} per night '
                    f'(a total / {nights} nights, "{phrase}")', m.span())
    state.set_bound("max_nights", nights, f'minimum stay <= {nights} nights ("{phrase}")', m.span())
    state.consume(*m.span())


def _on_price_max(state: _State, m: "re.Match[str]") -> None:
    value, marked = _amount_of(m, "n")
    pre, post = m.group("pre"), m.group("post")
    weak_pre = pre is None or pre.strip() in ("for", "at", "within", "costing", "paying")
    if (weak_pre and not post and not marked) or value <= 0:
        return
    if post == "or so":  # "$150 or so": around
        _around(state, m, value, "n")
        return
    value = round(value, 2)
    note = f'price <= {_money(value, _symbol(m.group()))}{_per_note(m, "n")} ("{state.phrase(*m.span())}")'
    state.set_bound("max_price", value, note, m.span())
    state.consume(*m.span())


def _on_price_min(state: _State, m: "re.Match[str]") -> None:
    g = "n" if m.group("n") is not None else "m"
    value, marked = _amount_of(m, g)
    if (m.group("pre") or "").strip() == "from" and not marked:
        return
    if value <= 0:
        return
    value = round(value, 2)
    note = f'price >= {_money(value, _symbol(m.group()))}{_per_note(m, g)} ("{state.phrase(*m.span())}")'
    state.set_bound("min_price", value, note, m.span())
    state.consume(*m.span())


def _around(state: _State, m: "re.Match[str]", value: float, g: str) -> None:
    low = int(value * (1 - AROUND_BAND) + 0.5)
    high = int(value * (1 + AROUND_BAND) + 0.5)
    phrase = state.phrase(*m.span())
    cur = _symbol(m.group())
    note = f"+-{AROUND_BAND:.0%} of {_money(round(value, 2), cur)}{_per_note(m, g)}"
    state.set_bound("min_price", low, f'price >= {_money(low, cur)} ({note}, "{phrase}")', m.span())
    state.set_bound("max_price", high, f'price <= {_money(high, cur)} ({note}, "{phrase}")', m.span())
    state.consume(*m.span())


def _on_price_around(state: _State, m: "re.Match[str]") -> None:
    value, marked = _amount_of(m, "n")
    if value <= 0 or (m.group("pre").strip() in ("close to", "near") and not marked):
        return
    _around(state, m, value, "n")


_STAY_NUMBER = rf"(?P<n>{_NUM}|a\s+couple(?:\s+of)?|couple(?:\s+of)?|a|an|one|single)"
_STAY_RANGE = re.compile(r"\b(?P<a>\d+)\s*(?:-|to)\s*(?P<b>\d+)[\s-]*(?P<unit>nights?|days?|weeks?|months?)\b")
_STAYS = re.compile(
    rf"\b(?P<nomin>no\s+minimum(?:\s+(?:stay|nights?))?|without\s+(?:a\s+)?minimum(?:\s+(?:stay|nights?))?)\b"
    rf"|\bminimum\s+(?:stay\s+|nights?\s+)?(?:of\s+)?(?P<minq>at\s+most|under|up\s+to|max(?:imum)?|less\s+than|<=?)?"
    rf"\s*(?P<minn>{_NUM})\s*(?:nights?|days?)?(?:\s+or\s+(?:less|fewer))?"
    rf"|\b(?P<long>long[\s-]*(?:term|stays?|stay\s+rentals?|term\s+rentals?)|extended\s+stays?|longer\s+stays?)\b"
    rf"|\b(?P<short>short[\s-]*(?:term|stays?|trips?|visits?))\b"
    rf"|\b(?P<lw>long\s+weekend)\b"
    rf"|\b(?P<we>(?:this|next|the|a|for\s+the|for\s+a)?\s*weekends?(?:\s+(?:trip|stay|getaway|break))?)\b"
    rf"|\b(?P<one>tonight|overnight|for\s+the\s+night|one[\s-]+night(?:\s+stay)?)\b"
    rf"|\b(?P<monthly>monthly|month[\s-]+long|month[\s-]+to[\s-]+month)\b"
    rf"|\b(?P<fort>(?:a\s+)?fortnight)\b"
    rf"|\b(?:(?:for|stay(?:ing)?|of)\s+)?(?:at\s+least\s+|at\s+most\s+|about\s+|around\s+|only\s+|just\s+)?"
    rf"{_STAY_NUMBER}[\s-]*(?P<unit>nights?|nites?|days?|weeks?|months?|years?)(?:[\s-]+(?:stay|trip|visit|long))?\b")


def _on_stay_range(state: _State, m: "re.Match[str]") -> None:
    unit = m.group("unit")
    factor = 7 if unit.startswith("week") else MONTH_NIGHTS if unit.startswith("month") else 1
    high = int(m.group("b")) * factor
    if int(m.group("a")) * factor > high:
        return
    state.set_bound("max_nights", high, f'minimum stay <= {high} nights ("{state.phrase(*m.span())}")', m.span())
    state.consume(*m.span())


def _on_stay(state: _State, m: "re.Match[str]") -> None:
    phrase = state.phrase(*m.span())
    if m.group("long"):
        state.set_bound("min_nights", LONG_STAY_NIGHTS,
                        f'minimum stay >= {LONG_STAY_NIGHTS} nights (long-stay listings, "{phrase}")', m.span())
        state.consume(*m.span())
        return
    if m.group("nomin"):
        nights = 1
    elif m.group("minn"):
        nights = _int(_number(m.group("minn")))
        if (m.group("minq") or "").startswith(("under", "less", "<")) and "=" not in (m.group("minq") or ""):
            nights -= 1
    elif m.group("short"):
        nights = SHORT_STAY_NIGHTS
    elif m.group("lw"):
        nights = 3
    elif m.group("we"):
        nights = 2
    elif m.group("one"):
        nights = 1
    elif m.group("monthly"):
        nights = MONTH_NIGHTS
    elif m.group("fort"):
        nights = 14
    else:
        count = _number(m.group("n"))
        unit = m.group("unit")
        factor = (7 if unit.startswith("week") else MONTH_NIGHTS if unit.startswith("month")
                  else 365 if unit.startswith("year") else 1)
        nights = _int(count * factor)
    if nights < 1:
        return
    state.set_bound("max_nights", nights,
                    f'minimum stay <= {nights} night{"s" if nights > 1 else ""} ("{phrase}")', m.span())
    state.consume(*m.span())


# ---------------------------------------------------------------------------------------------
# Words: reviews, price words, room types, availability.

_GOOD_REVIEWS = re.compile(
    r"\b(?:(?:good|great|positive|excellent|amazing|nice|solid|strong|stellar|glowing|rave|decent|high|"
    r"fantastic|awesome|lots\s+of|many|plenty\s+of|tons\s+of|a\s+lot\s+of|lots\s+of\s+good|very\s+good)\s+"
    r"(?:guest\s+)?(?:reviews?|ratings?|feedback)|(?:well|highly|positively|nicely|favou?rably|top|very\s+well)[\s-]+"
    r"(?:reviewed|rated|recommended)|rated\s+(?:highly|well)|reviewed\s+well|highly\s+recommended|"
    r"reviews?\s+(?:are|is)\s+(?:good|great|positive))\b")
_NO_REVIEWS = re.compile(
    r"\b(?:no|without|zero|0)\s+reviews?|\bunreviewed|\bnot\s+(?:yet\s+)?reviewed|\bnever\s+reviewed|"
    r"\bnewly\s+listed|\bjust\s+listed|\bnew\s+(?:on|to)\s+airbnb|"
    r"\b(?:brand[\s-]+)?new(?=\s+(?:listings?|places?|apartments?|apts?|flats?|homes?|rooms?|studios?|lofts?"
    r"|houses?|spots?|hosts?|rentals?)\b)")
_SOME_REVIEWS = re.compile(r"\b(?:with|has|having|have)\s+(?:some\s+|any\s+)?reviews\b|\breviewed\b")

_CHEAP = re.compile(
    r"\b(?:cheap(?:ish)?|budget(?:[\s-]+friendly)?|affordable|inexpensive|low[\s-]+(?:cost|budget|priced?)|"
    r"economical|bargain|not\s+(?:too\s+|very\s+|that\s+|so\s+)?(?:expensive|pricey)|reasonably\s+priced|"
    r"on\s+a\s+budget|good\s+value|value\s+for\s+money)\b")
_PRICEY = re.compile(r"\b(?:expensive|pricey|pricy)\b")

_PRIVATE_ROOM = re.compile(
    r"\b(?:(?:private|own|separate)\s+(?:bed)?rooms?|rooms?\s+of\s+(?:my|our|your)\s+own|"
    r"private\s+room\s+in\s+(?:a|an)\b)")
_ENTIRE = re.compile(
    r"\b(?:entire|whole|full|complete|private|self[\s-]*contained)\s+(?:home\s*/\s*apt|(?:\w+\s+)?(?P<noun>home|"
    r"house|place|apartment|apt|flat|unit|condo|residence|suite|floor|duplex|penthouse|cottage|villa|"
    r"townhouse|brownstone|loft|studio|cabin|bungalow)s?)\b"
    r"|\b(?:(?:all\s+)?to\s+(?:my|our|your)(?:self|selves)|no\s+(?:shared\s+spaces?|sharing|roommates|"
    r"hosts?\s+(?:present|on\s+site)))\b")
_SHARED_ROOM = re.compile(
    r"\b(?:shared\s+(?:bed)?rooms?|shared\s+dorms?|(?:bed|bunk)\s+in\s+a\s+(?:shared\s+)?(?:room|dorm)|"
    r"dorm(?:itory|s)?|hostel\s+beds?|bunk(?:\s*beds?)?|shared(?!\s+(?:\w+\s+)?(?:bath|bathrooms?|baths?|kitchens?|"
    r"spaces?|terrace|patio|garden|pool|rooftop|roof|laundry|living|lounge|entrance|house|apartment|flat|"
    r"home|toilet|shower|wc|areas?|facilities|backyard|yard|balcony)\b))\b")
_HOTEL = re.compile(r"\b(?:boutique\s+)?hotels?(?:\s+rooms?)?\b(?![\s-]*(?:like|style|quality|feel|vibe))")
_STUDIO = re.compile(r"\bstudios?\b")
_FAMILY = re.compile(
    r"\b(?:family[\s-]*friendly|kids?[\s-]*friendly|child(?:ren)?[\s-]*friendly|families|for\s+(?:a\s+|my\s+|the\s+|our\s+)?"
    r"family|with\s+(?:my\s+|our\s+|the\s+)?(?:kids|children|a\s+baby|babies|toddlers?|family)|for\s+(?:the\s+)?"
    r"(?:kids|children)|family\s+(?:home|house|apartment|apt|flat|place|trip|vacation|holiday|stay)|family(?=\s+with\b))\b")
_ROOM = re.compile(r"\brooms?\b")
_NOT_A_RENTED_ROOM = re.compile(
    r"(?:\b(?:living|dining|family|game|games|media|music|sitting|tv|laundry|storage|store|class|show|board|"
    r"play|rec|work|powder|utility|dressing|boiler|breakfast|leg|elbow|head|more|enough|plenty\s+of|lots\s+of|"
    r"lot\s+of|much|extra|no|some|of)|\d+|\b(?:two|three|four|five|six))\s+$")

_AVAILABLE_YEAR = re.compile(
    r"\b(?:(?:available|open|bookable)\s+(?:all\s+year(?:\s+(?:round|long))?|year[\s-]*round|the\s+whole\s+year|"
    r"the\s+entire\s+year|all\s+the\s+time|365(?:\s+days)?(?:\s+a\s+year)?|every\s*day|always)|all\s+year\s+"
    r"(?:round|long)|year[\s-]*round|always\s+available)\b")
_AVAILABLE_MOST = re.compile(r"\b(?:available\s+most\s+of\s+the\s+year|mostly\s+available)\b")
_AVAILABLE = re.compile(
    r"\b(?:available(?:\s+(?:now|today|right\s+now|immediately|asap|soon))?|(?:with|has|have)\s+availability|"
    r"bookable|vacant|vacancy|vacancies|not\s+(?:fully\s+)?booked)\b")

_MONTHS = (r"january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|"
           r"apr|jun|jul|aug|sept?|oct|nov|dec")
_DATES = re.compile(
    rf"\b(?:(?:in|on|for|during|this|next|from|until|till|through|around|early|late|mid)[\s-]+(?:{_MONTHS})\b"
    rf"(?:\s+\d{{1,2}}(?:st|nd|rd|th)?\b)?|(?:tomorrow|next\s+week|next\s+month|christmas|thanksgiving|"
    rf"new\s+years?(?:\s+eve)?)\b)")
_STOP = (r"(?:under|below|over|above|with|without|for|in|and|or|at|max|min|less|more|no|not|but|from|between|"
         r"cheap|cheapest|budget|around|about|near|rated|top|only|please|by|on|under|up|to|tonight|this|next)")
_WHAT = rf"(?:(?:the|a|an)\s+)?(?!{_STOP}\b)[a-z][\w'-]*(?:\s+(?!{_STOP}\b)[a-z][\w'-]*){{0,3}}"
_PROXIMITY = re.compile(
    rf"\b(?:near(?:by)?|close\s+to|next\s+to|(?:within\s+)?walking\s+distance\s+(?:to|from|of)|steps\s+(?:away\s+)?from|"
    rf"a\s+short\s+walk\s+(?:to|from)|a\s+few\s+minutes\s+from)\s+{_WHAT}"
    rf"|\b\d+(?:\.\d+)?\s*(?:minutes?|mins?|min|km|kms|kilomet(?:er|re)s?|miles?|mi|blocks?|met(?:er|re)s?|m)\b"
    rf"(?:\s+(?:walk(?:ing)?|drive|driving|ride|by\s+(?:car|subway|train|metro|mrt|bus|foot)))?\s+(?:away\s+)?"
    rf"(?:from|to|of)\s+{_WHAT}")


def _on_proximity(state: _State, m: "re.Match[str]") -> None:
    """ "near the subway", "15 minutes to Manhattan": the data has no distances; said, not filtered
    (and the sentence, if nothing else was understood, keeps its full text)."""
    phrase = state.phrase(*m.span())
    state.note(f'"{phrase}": distances are not in this data: not filtered (kept in the search text)', m.start())
    state.span(*m.span(), "note", "distance")


_SILENT = re.compile(r"\b(?:new\s+york(?:\s+city)?|nyc|barcelona|bcn|singapore|sg|boston|airbnbs?)\b")


def _on_dates(state: _State, m: "re.Match[str]") -> None:
    state.parsed = True
    state.note(f'"{state.phrase(*m.span())}": dates are not supported (the data has availability_365, '
               f"not a calendar)", m.start())
    state.span(*m.span(), "note", "dates")
    state.consume(*m.span())


def _on_good_reviews(state: _State, m: "re.Match[str]") -> None:
    phrase = state.phrase(*m.span())
    state.set_bound("min_reviews", GOOD_REVIEWS, f'reviews >= {GOOD_REVIEWS} ("{phrase}"; the data has review '
                    f"counts, not ratings)", m.span(), strength=1)
    state.consume(*m.span())


def _on_no_reviews(state: _State, m: "re.Match[str]") -> None:
    phrase = state.phrase(*m.span())
    state.set_bound("max_reviews", 0, f'reviews <= 0 ("{phrase}")',
                    m.span())
    state.consume(*m.span())


def _on_some_reviews(state: _State, m: "re.Match[str]") -> None:
    state.set_bound("min_reviews", 1, f'reviews >= 1 ("{state.phrase(*m.span())}")', m.span(), strength=1)
    state.consume(*m.span())


def _price_word(kind: str) -> Rule:
    def handle(state: _State, m: "re.Match[str]") -> None:
        state.parsed = True
        state.price_intent.append((kind, m.span(), state.phrase(*m.span())))
        state.consume(*m.span())
    return handle


def _room_vote(room_type: str, strength: int, keep: bool = False) -> Rule:
    """A room type a phrase asks for; `keep`: the phrase also stays in the search text."""
    def handle(state: _State, m: "re.Match[str]") -> None:
        start, end = m.span()
        if m.re is _ROOM and _NOT_A_RENTED_ROOM.search(
                state.work, max(0, start - 20), start):
            return
        state.parsed = True
        negation = NOT_BEFORE.search(state.work, max(0, start - 30), start)
        if negation:  # "no shared rooms", "anything but a shared room"
            state.consume(negation.start(), end)
            state.room_excluded.append((room_type, (negation.start(), end), state.phrase(negation.start(), end)))
            return
        if room_type == ENTIRE and not keep and "noun" in m.re.groupindex and m.group("noun") in (
                "studio", "loft", "penthouse", "townhouse", "brownstone", "cottage", "villa", "duplex", "cabin",
                "bungalow", "condo", "suite"):
            noun_start = m.start("noun")
            state.consume(start, noun_start)
            state.consume(noun_start, end, remove=False)
        elif keep:
            state.consume(start, end, remove=False)
        else:
            state.consume(start, end)
        state.room_votes.append((strength, room_type, (start, end), state.phrase(start, end)))
    return handle


_ROOM_WORDS = {"private": PRIVATE, "shared": SHARED, "hotel": HOTEL}
_ROOM_SET = re.compile(
    r"\b(?:an?\s+)?(?P<a>private|shared|hotel)(?:\s+rooms?)?\s*(?:,|\bor\b|/|\band\b)\s*(?:an?\s+)?"
    r"(?P<b>private|shared|hotel)\s+rooms?\b")
EITHER = 4  # the strength of an explicit "X or Y room"


def _on_room_set(state: _State, m: "re.Match[str]") -> None:
    """ "private or shared room": either type; "no shared or hotel rooms": neither."""
    types = list(dict.fromkeys(_ROOM_WORDS[m.group(g)] for g in "ab"))
    start, end = m.span()
    state.parsed = True
    negation = NOT_BEFORE.search(state.work, max(0, start - 30), start)
    if negation:
        state.consume(negation.start(), end)
        state.room_excluded.extend((t, (negation.start(), end), state.phrase(negation.start(), end)) for t in types)
        return
    state.consume(start, end)
    state.room_votes.extend((EITHER, t, (start, end), state.phrase(start, end)) for t in types)


def _resolve_room_type(state: _State) -> None:
    excluded = list(dict.fromkeys(t for t, _, _ in state.room_excluded))
    if excluded:
        state.filters["not_room_types"] = excluded
        for span in dict.fromkeys(span for _, span, _ in state.room_excluded):
            state.span(*span, "not_room_types", [t for t, at, _ in state.room_excluded if at == span])
        phrases = ", ".join(dict.fromkeys(f'"{phrase}"' for _, _, phrase in state.room_excluded))
        state.note(f"room type not {' or '.join(excluded)} ({phrases})", state.room_excluded[0][1][0])
    if not state.room_votes:
        return
    top = max(v[0] for v in state.room_votes)
    votes = [v for v in state.room_votes if v[0] == top]
    types = list(dict.fromkeys(v[1] for v in votes))
    if top == EITHER and len(types) > 1:
        state.filters["room_types"] = types
        state.note(f"room type {' or '.join(types)} (\"{votes[0][3]}\")", votes[0][2][0])
        for span in dict.fromkeys(v[2] for v in votes):
            state.span(*span, "room_types", [v[1] for v in votes if v[2] == span])
        return
    if len(types) > 1:
        state.note(f"several room types ({', '.join(types)}): not filtered, one is supported")
        return
    room_type = types[0]
    state.filters["room_type"] = room_type
    phrases = ", ".join(f'"{v[3]}"' for v in votes)
    state.note(f"room type {room_type} ({phrases})", votes[0][2][0])
    for v in votes:
        state.span(*v[2], "room_type", room_type)
    for v in state.room_votes:
        if v[0] < top and v[1] != room_type:
            state.note(f'"{v[3]}" suggests {v[1]}: ignored, {room_type} was asked for', v[2][0])


def _availability(days: int, label: str) -> Rule:
    def handle(state: _State, m: "re.Match[str]") -> None:
        state.set_bound("min_availability", days, f'available >= {days} nights of the coming year ({label}, '
                        f'"{state.phrase(*m.span())}")', m.span())
        state.consume(*m.span())
    return handle


def _resolve_price_words(state: _State, places: Places,
                         bands: Optional[Mapping[str, tuple[float, float]]]) -> None:
    for kind, span, phrase in state.price_intent:
        cheap = kind == "cheap"
        bound = "max_price" if cheap else "min_price"
        if bound in state.filters:
            state.note(f'"{phrase}": price already {"<=" if cheap else ">="} {_money(state.filters[bound])}',
                       span[0])
            continue
        place, band = _band(state, places, bands)
        if band is not None:
            value = band[0] if cheap else band[1]
            where = f"{place} prices" if place else "prices"
            quarter = "lowest" if cheap else "highest"
            state.set_bound(bound, value, f'{phrase.lower()}: price {"<=" if cheap else ">="} {_money(value)} '
                            f"(the {quarter} quarter of {where})", span, strength=1)
        else:
            sort = "price:asc" if cheap else "price:desc"
            state.set_sort(sort, f'{phrase.lower()}: sorted by price, {"lowest" if cheap else "highest"} first '
                           f"(no price bands given)", span)


def _band(state: _State, places: Places,
          bands: Optional[Mapping[str, tuple[float, float]]]) -> tuple[str, Optional[tuple]]:
    """(place, band): the neighbourhood's, else its area's, else all areas' ("")."""
    if not bands:
        return "", None
    hood = state.filters.get("neighbourhood")
    for place in (hood, state.filters.get("borough"), places.area_of_neighbourhood.get(hood or "")):
        if place and place in bands:
            return place, bands[place]
    if "" in bands:
        return "", bands[""]
    return "", None


# ---------------------------------------------------------------------------------------------
# The text left for semantic search.

_WORD = re.compile(r"[^\W_](?:[\w'’\-./&+]*[^\W_])?|[$€£]\S*")


@functools.lru_cache(maxsize=8192)
def _is_filler(word: str) -> bool:
    return fold(word)[0] in FILLER_WORDS


def _remaining_text(state: _State) -> str:
    sentence = state.sentence
    if not state.parsed:
        words = _WORD.findall(sentence)
        return " ".join(sentence.split()) if any(not _is_filler(w) for w in words) else ""
    cut = bytearray(len(sentence))
    for start, end in state.removed:
        s, e = state.original(start, end)
        cut[s:e] = b"\x01" * (e - s)
    kept = "".join(ch if not cut[i] else " " for i, ch in enumerate(sentence))
    return " ".join(w for w in _WORD.findall(kept) if not _is_filler(w))


# ---------------------------------------------------------------------------------------------

_RULES: tuple[tuple["re.Pattern[str]", Rule], ...] = (
    (_LIMIT, _on_limit),
    *((pattern, _sort_rule(sort, label)) for pattern, sort, label in _SORTS),
    (_SORT_BY, _on_sort_by),
    (_DATES, _on_dates),
    (_PROXIMITY, _on_proximity),
    *word_rules(),
    *count_rules(lambda state, span, phrase: state.room_votes.append((0, ENTIRE, span, phrase))),
    (_REVIEW_COUNT, _on_review_count),
    (_GOOD_REVIEWS, _on_good_reviews),
    (_NO_REVIEWS, _on_no_reviews),
    (_PRICE_TOTAL, _on_price_total),
    (_PRICE_RANGE, _on_price_range),
    (_PRICE_AROUND, _on_price_around),
    (_PRICE_MIN, _on_price_min),
    (_PRICE_MAX, _on_price_max),
    (_AVAILABLE_YEAR, _availability(YEAR_ROUND, "year round")),
    (_AVAILABLE_MOST, _availability(MOST_OF_YEAR, "most of the year")),
    (_AVAILABLE, _availability(AVAILABLE, "not blocked all year")),
    (_STAY_RANGE, _on_stay_range),
    (_STAYS, _on_stay),
    (_SOME_REVIEWS, _on_some_reviews),
    (_CHEAP, _price_word("cheap")),
    (_PRICEY, _price_word("pricey")),
    (_ROOM_SET, _on_room_set),
    (_PRIVATE_ROOM, _room_vote(PRIVATE, 3)),
    (_SHARED_ROOM, _room_vote(SHARED, 3)),
    (_HOTEL, _room_vote(HOTEL, 3)),
    (_ENTIRE, _room_vote(ENTIRE, 3)),
    (_ROOM, _room_vote(PRIVATE, 2)),
    (_STUDIO, _room_vote(ENTIRE, 1, keep=True)),
    (_FAMILY, _room_vote(ENTIRE, 0, keep=True)),
)


def _drop_contradictions(state: _State) -> None:
    for low, high, label in (("min_price", "max_price", "price"), ("min_nights", "max_nights", "minimum stay"),
                             ("min_reviews", "max_reviews", "reviews")):
        if low in state.filters and high in state.filters and state.filters[low] > state.filters[high]:
            state.note(f"{label} >= {state.filters[low]} and <= {state.filters[high]} contradict: neither is applied")
            del state.filters[low], state.filters[high]
            state.spans = [span for span in state.spans if span.field not in (low, high)]


def understand(sentence: str, places: Places,
               price_bands: Optional[Mapping[str, tuple[float, float]]] = None) -> Understood:
    """What `sentence` asks for: filters, a sort, a limit and the text left for semantic search.

    `price_bands`: {area or neighbourhood or "" (all): (cheap top, expensive bottom)}, see `price_bands`.
    """
    folded, offsets = fold(sentence)
    folded, where = words_to_digits(folded, [(at, at + 1) for at in offsets])
    state = _State(sentence, folded, where)
    index = places._index
    match_places(state, index)
    for m in list(_SILENT.finditer(state.work)):  # after the places: "Singapore River" is one
        if SENTINEL not in state.work[m.start():m.end()]:
            state.consume(*m.span())
    for pattern, handle in _RULES:
        _run(state, pattern, handle)
    match_misspelled_places(state, index)
    resolve_places(state, places)
    _resolve_room_type(state)
    _resolve_price_words(state, places, price_bands)
    _drop_contradictions(state)
    filters = {k: state.filters[k] for k in _FILTER_ORDER if k in state.filters}
    filters.update({k: v for k, v in state.filters.items() if k not in filters})
    spans = tuple(sorted(state.spans, key=lambda s: (s.start, s.end)))
    notes = [text for _, _, text in sorted(state.notes)]
    return Understood(filters, state.sort, state.limit, _remaining_text(state), notes, spans)


_FILTER_ORDER = ("borough", "neighbourhood", "room_type", "min_price", "max_price", "min_nights", "max_nights",
                 "min_reviews", "max_reviews", "min_reviews_per_month", "min_availability")
