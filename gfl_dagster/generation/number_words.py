"""Numbers written in words, read by text2num (`text_to_num`, a maintained library): the one reader for the
grounding check (generation/grounding.py) and the search parser (search/understanding_numbers.py).

English from zero to 999: "five", "twenty-five", "a hundred and twenty". PATTERN finds such a number in folded
text (the base words are the candidates; their value is always text2num's).
"""

from __future__ import annotations

import functools
import re

from text_to_num import alpha2digit, text2num

_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
          "seventeen eighteen nineteen").split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
BASE_WORDS = tuple(_UNITS + _TENS + ["hundred"])


def _either(words) -> str:
    """An alternation of `words` as a trie ("s(?:even(?:teen)?|ix(?:ty)?)|ten"): tried letter by letter, not word by
    word, which keeps the grounding check's scan of every word boundary fast."""
    words = sorted(set(words))
    if len(words) == 1:
        return re.escape(words[0])
    by_first: dict[str, list[str]] = {}
    for word in words:
        by_first.setdefault(word[0], []).append(word[1:])
    branches = []
    for first, rests in sorted(by_first.items()):
        longer = [rest for rest in rests if rest]
        branch = re.escape(first)
        if longer:
            branch += f"(?:{_either(longer)})" + ("?" if "" in rests else "")
        branches.append(branch)
    return "|".join(branches)


_UNDER_100 = rf"(?:(?:{_either(_TENS)})(?:[\s-](?:{_either(_UNITS[1:10])}))?|(?:{_either(_UNITS)}))"
# A number in words, not a word's beginning ("one" but not "ones").
PATTERN = (rf"(?:(?:a|{_either(_UNITS[1:10])})\s+hundred(?:\s+(?:and\s+)?{_UNDER_100})?|{_UNDER_100})"
           r"(?![a-z])")


@functools.lru_cache(maxsize=4096)
def is_number_word(word: str) -> bool:
    """A cardinal text2num reads ("fifty", "hundred"); not a plural ("tens", "hundreds")."""
    if word.endswith("s") and word != "six":
        return False
    try:
        text2num(word, "en")
    except ValueError:
        return False
    return True


def numbers_in(words: str) -> list[str]:
    """The numbers a run of number words says, as digits, in order: "one fifty" -> ["1", "50"]; a word that is
    no number stays a word ("a hundred and twenty" -> ["120"]: "a" before "hundred" is one)."""
    words = re.sub(r"^a\s+(?=hundred)", "one ", words.replace("-", " "))
    return alpha2digit(words, "en", threshold=0).split()


def number_in_words(words: str) -> int | None:
    """The one number `words` says ("twenty-five" -> 25), or None when they say none or several."""
    groups = numbers_in(words)
    return int(groups[0]) if len(groups) == 1 and groups[0].isdigit() else None
