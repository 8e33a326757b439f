"""Folding a sentence for matching: lower case, no accents, apostrophes handled, with a map back to the
sentence's offsets; and the filler words that never carry meaning for a search."""

from __future__ import annotations

import functools
import re
import unicodedata

_APOSTROPHES = frozenset("'’`´ʼ‘")
_DASHES = frozenset("‐‑‒–—―−")
SENTINEL = "\x00"  # replaces consumed text in the working copy: no rule can match across it


def fold(sentence: str) -> tuple[str, list[int]]:
    """(folded text, offset in `sentence` of each folded character).

    Elided articles become words ("l'Eixample" -> "l eixample"); other apostrophes go ("Hell's" ->
    "hells"); dashes become "-"; accents are stripped; case is folded.
    """
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(sentence):
        if ch in _APOSTROPHES:
            if out and out[-1] in "ld" and (len(out) == 1 or not out[-2].isalnum()):
                out.append(" ")
                where.append(i)
            continue
        if ch in _DASHES:
            folded = "-"
        elif ch.isascii():
            folded = ch.lower()
        else:
            folded = fold_char(ch)
        for c in folded:
            out.append(c)
            where.append(i)
    return "".join(out), where


@functools.lru_cache(maxsize=4096)
def fold_char(ch: str) -> str:
    decomposed = unicodedata.normalize("NFKD", ch)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


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
