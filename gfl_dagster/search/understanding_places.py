"""Places in a sentence: the database's areas and neighbourhoods (any city), their common forms, sets
("Brooklyn or Queens") and exclusions ("not in Manhattan"). The judgement calls are listed in
understanding.py's docstring; the nicknames are data (understanding_vocabulary.toml).

The rules work on the parse state of understanding.py (`state`: its working text, consume/span/note).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

from gfl_dagster.search.understanding_facts import vocabulary
from gfl_dagster.search.understanding_text import FILLER_WORDS, SENTINEL, TOKEN, fold, name_key

FUZZY_MIN_LENGTH = 6  # names this long or longer also match one edit away


@dataclass(frozen=True)
class Places:
    """The places a database knows, as stored (see `places_from_pairs`)."""

    areas: tuple[str, ...]  # every area (borough/district; the neighbourhood where a city has no groups)
    neighbourhoods: tuple[str, ...]  # every neighbourhood
    # Which area each neighbourhood lies in (optional): checks "Williamsburg, Brooklyn".
    area_of_neighbourhood: Mapping[str, str] = field(default_factory=dict)
    _index: "PlaceIndex" = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "areas", tuple(self.areas))
        object.__setattr__(self, "neighbourhoods", tuple(self.neighbourhoods))
        object.__setattr__(self, "_index", PlaceIndex(self))  # built once: parsing only looks names up


def places_from_pairs(pairs: Iterable[tuple[Optional[str], Optional[str]]]) -> Places:
    """Places from (neighbourhood_group, neighbourhood) pairs, one per listing, as a listings file has them.

    The area is the group, or the neighbourhood where the group is blank (cities without groups).
    """
    areas: dict[str, None] = {}
    neighbourhoods: dict[str, None] = {}
    area_of: dict[str, str] = {}
    for group, neighbourhood in pairs:
        group, neighbourhood = (group or "").strip(), (neighbourhood or "").strip()
        area = group or neighbourhood
        if area:
            areas.setdefault(area)
        if neighbourhood:
            neighbourhoods.setdefault(neighbourhood)
            if area:
                area_of.setdefault(neighbourhood, area)
    return Places(tuple(sorted(areas)), tuple(sorted(neighbourhoods)), area_of)



_ARTICLES = frozenset({"el", "la", "les", "els", "l", "the"})
_NICKNAMES = vocabulary()["nicknames"]  # nickname key -> the key of the name it stands for (used only when known)


@dataclass(frozen=True)
class Place:
    kind: str  # "area" or "neighbourhood"
    name: str  # as stored


class PlaceIndex:
    """Known place names by key, their lengths by first word, and one-edit variants for misspellings."""

    def __init__(self, places: Places) -> None:
        ranked: dict[str, tuple[int, Optional[Place]]] = {}  # key -> (rank: 0 name, 1 derived, 2 nickname; place)

        def add(key: str, place: Place, rank: int) -> None:
            if not key:
                return
            held = ranked.get(key)
            if held is None or rank < held[0]:
                ranked[key] = (rank, place)
            elif rank == held[0] and held[1] is not None and held[1] != place:
                old = held[1]
                if old.kind != place.kind:  # the same name as an area and a neighbourhood: the area
                    ranked[key] = (rank, old if old.kind == "area" else place)
                elif rank > 0:  # a derived key two names share means neither
                    ranked[key] = (rank, None)

        exact: dict[str, Place] = {}
        for kind, names in (("area", places.areas), ("neighbourhood", places.neighbourhoods)):
            for name in names:
                place = Place(kind, name)
                key = name_key(name)
                add(key, place, 0)
                exact.setdefault(key, place)
        for kind, names in (("area", places.areas), ("neighbourhood", places.neighbourhoods)):
            for name in names:
                place = Place(kind, name)
                key = name_key(name)
                words = key.split()
                if len(words) > 1 and words[0] in _ARTICLES and len(" ".join(words[1:])) >= 4:
                    add(" ".join(words[1:]), place, 1)
                # parts of "Sarrià-Sant Gervasi" (a district) or "Sant Gervasi - Galvany" (a neighbourhood)
                parts = re.split(r"-" if kind == "area" else r"\s+-\s+", fold(name)[0])
                if len(parts) > 1:
                    for part in parts:
                        part_words = TOKEN.findall(part)
                        if part_words and part_words[0] in _ARTICLES and len(part_words) > 1:
                            part_words = part_words[1:]
                        part_key = " ".join(part_words)
                        if len(part_key) >= 4:
                            add(part_key, place, 1)
        for nickname, target in _NICKNAMES.items():
            if target in exact and nickname not in exact:
                add(nickname, exact[target], 2)
        self.places: dict[str, Place] = {k: p for k, (_, p) in ranked.items() if p is not None}
        fuzzy_keys = [k for k, (rank, p) in ranked.items() if p is not None and rank < 2 and len(k) >= FUZZY_MIN_LENGTH]
        lengths: dict[str, set[int]] = {}
        for key in self.places:
            words = key.split(" ")
            lengths.setdefault(words[0], set()).add(len(words))
        self.lengths_by_first_word = {w: tuple(sorted(n, reverse=True)) for w, n in lengths.items()}
        self.max_words = max((len(k.split(" ")) for k in self.places), default=0)
        self.max_length = max((len(k) for k in self.places), default=0)
        self.variants: dict[str, set[str]] = {}
        for key in fuzzy_keys:  # nicknames are not matched one edit away ("state" is not "Staten")
            for variant in _deletions(key):
                self.variants.setdefault(variant, set()).add(key)

    def close_key(self, words: str) -> Optional[str]:
        """The one known name one edit away from `words` (6+ letters, same first letter), if exactly one is."""
        if len(words) < FUZZY_MIN_LENGTH:  # "queen" is not "Queens"
            return None
        found = {key for variant in _deletions(words) for key in self.variants.get(variant, ())
                 if key[0] == words[0] and len(key) >= FUZZY_MIN_LENGTH and _one_edit(words, key)}
        targets = {self.places[key] for key in found}
        return next(iter(found)) if len(targets) == 1 else None


def _deletions(word: str) -> set[str]:
    return {word} | {word[:i] + word[i + 1:] for i in range(len(word))}


def _one_edit(a: str, b: str) -> bool:
    """At most one insertion, deletion, substitution or swap of two neighbouring letters apart."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1:]



_NOT_PLACE_WORDS = FILLER_WORDS | frozenset(
    "studio studios loft lofts apartment apartments apt flat flats house home homes room rooms family kids "
    "quiet cozy cosy sunny bright modern spacious view views garden terrace balcony rooftop luxury private "
    "entire shared hotel reviews reviewed cheap budget available near close next walking park street".split())


_NEAR_BEFORE = re.compile(
    r"(?:\bnear(?:by)?|\bclose\s+to|\bnext\s+to|\bby|\bbeside|\baround|\bwalk(?:ing)?\s+(?:distance\s+)?"
    r"(?:to|from|of)|\bsteps?\s+(?:away\s+)?from|\b(?:minutes?|mins?|min|km|miles?|mi)\s+(?:walk\s+|drive\s+|ride\s+)?"
    r"(?:away\s+)?(?:from|to)|\bblocks?\s+from|"
    r"\bviews?\s+(?:of|over|to)|\boverlooking|\bfacing)\s+(?:the\s+)?$")
_NEAR_AFTER = re.compile(r"\s*(?:views?|skyline|bridge|river)\b")
NOT_BEFORE = re.compile(
    r"(?:\bnot|\bno|\bexcept(?:\s+for)?|\bexcluding|\bexclude|\boutside(?:\s+of)?|\bbut\s+not|"
    r"\b(?:anything|anywhere|everywhere|any\s*where|all)\s+(?:but|except(?:\s+for)?|other\s+than|outside(?:\s+of)?)|"
    r"\bother\s+than|\bavoid(?:ing)?|\baway\s+from|\bnowhere\s+(?:in|near))\s*,?\s+(?:in\s+)?(?:(?:the|a|an|any)\s+)?$")


def _tokens(work: str) -> list[tuple[str, int, int, int]]:
    """(word, start, end, segment) of the working text; segments are split by consumed text."""
    out = []
    segment = 0
    last_end = 0
    for m in TOKEN.finditer(work):
        if SENTINEL in work[last_end:m.start()]:
            segment += 1
        out.append((m.group(), m.start(), m.end(), segment))
        last_end = m.end()
    return out


def _place_context(state: Any, start: int, end: int, place: Place, how: str) -> None:
    """Applies a matched name unless it is about proximity ("near X") or an exclusion ("not in X")."""
    if _NEAR_BEFORE.search(state.work, max(0, start - 45), start) or _NEAR_AFTER.match(state.work, end):
        state.protected.append((start, end))
        state.note(f'"{state.phrase(start, end)}": a place to be near, kept in the search text', start)
        return
    negation = NOT_BEFORE.search(state.work, max(0, start - 30), start)
    excluded = bool(negation) or _continues_exclusion(state, start, place)
    state.consume(start, end, remove=False)
    if negation:  # "not in X", "anywhere but X": the negation words go with X (its chip reads "not in X")
        state.consume(negation.start(), start)
        start = negation.start()
    state.place_hits.append((place, (start, end), how, excluded))


_EITHER = re.compile(r"\bor\b|/")
_LIST_JOIN = re.compile(r"[\s,/&]*(?:\b(?:or|nor|and)\b)?[\s,]*(?:\bin\s+)?(?:\bthe\s+)?")


def _merged(spans: Sequence[tuple[int, int]], work: str) -> list[tuple[int, int]]:
    """Spans joined by "or", "and", "," or "/" become one ("Brooklyn or Queens" is one chip)."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and _LIST_JOIN.fullmatch(work, out[-1][1], start) is not None:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _continues_exclusion(state: Any, start: int, place: Place) -> bool:
    """ "not Williamsburg or Bushwick": a name listed right after an excluded one is excluded too; after a
    bare comma only a name of the same kind ("anywhere but Williamsburg, Brooklyn" keeps Brooklyn)."""
    if not state.place_hits or not state.place_hits[-1][3]:
        return False
    last, (_, last_end) = state.place_hits[-1][0], state.place_hits[-1][1]
    join = _LIST_JOIN.fullmatch(state.work, last_end, start)
    if join is None:
        return False
    return last.kind == place.kind or _EITHER.search(join.group()) is not None or " and " in f" {join.group()} "


def match_places(state: Any, index: PlaceIndex) -> None:
    tokens = _tokens(state.work)
    i = 0
    while i < len(tokens):
        word, start, _, segment = tokens[i]
        matched = 0
        for n in index.lengths_by_first_word.get(word, ()):
            if i + n > len(tokens) or tokens[i + n - 1][3] != segment:
                continue
            key = " ".join(t[0] for t in tokens[i:i + n])
            place = index.places.get(key)
            if place is not None:
                _place_context(state, start, tokens[i + n - 1][2], place, "")
                matched = n
                break
        i += matched or 1


def match_misspelled_places(state: Any, index: PlaceIndex) -> None:
    tokens = [t for t in _tokens(state.work)
              if not any(s <= t[1] < e for s, e in state.protected)]
    i = 0
    while i < len(tokens):
        matched = 0
        if tokens[i][0] not in _NOT_PLACE_WORDS:
            for n in range(min(index.max_words, len(tokens) - i), 0, -1):
                group = tokens[i:i + n]
                if group[-1][3] != group[0][3] or group[-1][0] in _NOT_PLACE_WORDS:
                    continue
                words = " ".join(t[0] for t in group)
                if len(words) > index.max_length + 1:
                    continue
                key = index.close_key(words)
                if key is not None and key != words:
                    start, end = group[0][1], group[-1][2]
                    _place_context(state, start, end, index.places[key],
                                   f' (read "{state.phrase(start, end)}" as {index.places[key].name})')
                    matched = n
                    break
        i += matched or 1


def resolve_places(state: Any, places: Places) -> None:
    """The place filters from the names found: one name -> `borough`/`neighbourhood`; several ->
    `areas`/`neighbourhoods` (any of them); excluded names -> `not_areas`/`not_neighbourhoods`."""
    area_of = places.area_of_neighbourhood
    hits = state.place_hits
    if not hits:
        return
    state.parsed = True

    def names(kind: str, excluded: bool) -> list[str]:
        return list(dict.fromkeys(p.name for p, _, _, out in hits if p.kind == kind and out == excluded))

    def apply(kind: str, chosen: list[str], excluded: bool = False, also: Sequence[str] = ()) -> None:
        """The filter of `chosen` names; `also`: names of the other kind whose words it stands for."""
        if not chosen:
            return
        many = "areas" if kind == "area" else "neighbourhoods"
        field_ = (f"not_{many}" if excluded else many if len(chosen) > 1
                  else "borough" if kind == "area" else "neighbourhood")
        value: Any = chosen if excluded or len(chosen) > 1 else chosen[0]
        mine = [(span, read) for place, span, read, out in hits if out == excluded and (
            (place.kind == kind and place.name in chosen) or place.name in also)]
        for s, e in _merged([span for span, _ in mine], state.work):
            state.removed.append((s, e))
            state.span(s, e, field_, value)
        state.filters[field_] = value
        how = next((read for _, read in mine if read), "")
        at = min((span[0] for span, _ in mine), default=None)
        shown = " or ".join(chosen)
        if also:  # "Brooklyn or Astoria": the neighbourhoods of Brooklyn, or Astoria
            typed = [c for c in chosen if any(p.name == c for p, _, _, _ in hits)]
            shown = f"of {' or '.join(also)}, or {' or '.join(typed)} ({len(chosen)} in all)"
        label = "borough" if field_ == "borough" else "neighbourhood" if field_ == "neighbourhood" else many
        state.note(f"{label} {shown}{how}" if not excluded else f"not in {', '.join(chosen)}{how}", at)

    areas, hoods = names("area", False), names("neighbourhood", False)
    inside = [h for h in hoods if area_of.get(h) in areas]
    if hoods and areas and len(inside) < len(hoods):
        spans = sorted(span for p, span, _, out in hits if not out)
        either = any(_EITHER.search(state.work, a[1], b[0]) for a, b in zip(spans, spans[1:]))
        if len(hoods) == 1 and len(areas) == 1 and not either:  # "Williamsburg, Manhattan": the neighbourhood
            state.note(f"{areas[0]}: not filtered, {hoods[0]} lies in {area_of.get(hoods[0]) or 'another area'}")
            areas = []
        else:  # "Brooklyn or Astoria": either, as the neighbourhoods they hold
            named = areas
            hoods = list(dict.fromkeys([*hoods, *(h for h in places.neighbourhoods if area_of.get(h) in areas)]))
            apply("neighbourhood", hoods, also=named)
            areas = hoods = []
    if hoods:
        apply("neighbourhood", hoods)
        if len(areas) == 1 and len(hoods) == 1:  # "Williamsburg, Brooklyn"
            apply("area", areas)
    else:
        apply("area", areas)
    apply("area", names("area", True), excluded=True)
    apply("neighbourhood", names("neighbourhood", True), excluded=True)


