"""Folding text for matching: lower case, no accents, plain quotes and dashes, the same length as the input,
so that spans found in the folded text apply to the original. The project's one folding: the grounding and
debris checks, the vocabularies (cities, amenities, aspects), query understanding (search/understanding_text.py
reads apostrophes on top of it) and the evaluation's scoring all match through `fold`."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Iterable

_PLAIN = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
                        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
                        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
                        "\u2212": "-",
                        "\u00a0": " ", "\u3000": " ", "\u00b2": "2"})


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return (base if len(base) == 1 else char).lower()[:1] or " "


def fold(text: str) -> str:
    """Lower case without accents, curly quotes made straight; same length as `text`."""
    text = text.translate(_PLAIN)
    if text.isascii():
        return text.lower()
    return "".join(c.lower() if c.isascii() else _fold_char(c) for c in text)


def mask(text: str, spans: Iterable[tuple[int, int]], fill: str = " ") -> str:
    spans = sorted(spans)
    if not spans:
        return text
    parts, at = [], 0
    for start, end in spans:
        if start < at:
            start = at
        if end <= start:
            continue
        parts.append(text[at:start])
        parts.append(fill * (end - start))
        at = end
    parts.append(text[at:])
    return "".join(parts)


WORDS = re.compile(r"[\w']+")


def words_of(text: str) -> str:
    """' a b c ': folded words separated by single spaces, for whole-word `in` tests."""
    return " " + " ".join(WORDS.findall(text)) + " "
