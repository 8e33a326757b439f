"""Folding a sentence for matching (the project's folding, with apostrophes read as a search reads them),
with a map back to the sentence's offsets; and the filler words that never carry meaning for a search."""

from __future__ import annotations

import re

from gfl_dagster.generation import folding

_APOSTROPHES = frozenset("'’`´ʼ‘")
SENTINEL = "\x00"  # replaces consumed text in the working copy: no rule can match across it


def fold(sentence: str) -> tuple[str, list[int]]:
    """(folded text, offset in `sentence` of each folded character).

    generation/folding.py folds (lower case, no accents, plain dashes); then elided articles become words
    ("l'Eixample" -> "l eixample") and other apostrophes go ("Hell's" -> "hells").
    """
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(folding.fold(sentence)):  # one character for each of the sentence's
        if ch == "'" or sentence[i] in _APOSTROPHES:
            if out and out[-1] in "ld" and (len(out) == 1 or not out[-2].isalnum()):
                out.append(" ")
                where.append(i)
            continue
        out.append(ch)
        where.append(i)
    return "".join(out), where


TOKEN = re.compile(r"[a-z0-9]+")


def name_key(name: str) -> str:
    """A name's matching key: folded words joined by single spaces ("Hell's Kitchen" -> "hells kitchen")."""
    return " ".join(TOKEN.findall(fold(name)[0]))



FILLER_WORDS = frozenset("""
    a an the in at on of with for and or to from by show me find search looking look i im want need
    would like id please some any that which who is are has have having give get list listing listings
    place places option options result results rental rentals stay stays staying accommodation
    accommodations lodging lodgings spot spots something somewhere where can could there here
    my our us we you your it its be been being all also just really very within inside
    nyc barcelona bcn airbnb airbnbs per what whats anything anywhere everything yet but
    el la les els los las en de del un una
""".split())  # "near" is not one: "near Central Park" keeps it
