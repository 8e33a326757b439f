"""Numbers in words become digits before the rules run: "one fifty" -> 150, "a hundred and twenty" -> 120.

The words are read by text2num (`text_to_num`, a maintained library that also reads French, Spanish,
German, Italian, Portuguese, Dutch and Danish numbers) through generation/number_words.py, the reader the
grounding check uses too; what is ours is only the colloquial price reading on top of it: "one fifty" and "two twenty five" are 150 and 225 (a digit then a number from 10
to 99: how prices are said aloud), and "and a half" adds 0.5 ("two and a half baths").

The rewrite keeps the map from each character of the folded text back to the sentence, so a rule that
matches "150" still reports (and removes from the search text) the words "one fifty" it came from.
"""

from __future__ import annotations

import re

from gfl_dagster.generation.number_words import is_number_word as _is_number_word, numbers_in

_WORD = re.compile(r"[a-z]+")
_JOINERS = frozenset({"and"})  # "a hundred and twenty"
_HALF = re.compile(r"(?P<n>\d+)\s+and\s+a\s+half\b|\b(?P<one>a|one)\s+and\s+a\s+half\b")


def _joined(between: str) -> bool:
    """Two words of one number are apart by spaces or one hyphen ("twenty-five")."""
    return between == "-" or (between.isspace() if between else False)


def _digits(run: str) -> str | None:
    """The digits a run of number words stands for, or None when it is not one number."""
    groups = numbers_in(run)
    if not groups or not all(g.isdigit() for g in groups):
        return None
    if len(groups) == 1:
        return groups[0]
    if len(groups) == 2 and 1 <= int(groups[0]) <= 9 and 10 <= int(groups[1]) <= 99:
        return str(int(groups[0]) * 100 + int(groups[1]))  # "one fifty": how a price is said
    return None


def _runs(text: str):
    """(start, end, words) of each run of number words: "a hundred and twenty", "one fifty", "twenty-five"."""
    words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
    i = 0
    while i < len(words):
        start_i = i
        if words[i][2] == "a" and i + 1 < len(words) and words[i + 1][2] in ("hundred", "thousand") \
                and text[words[i][1]:words[i + 1][0]].isspace():
            i += 1  # "a hundred"
        j = i
        while j < len(words) and _is_number_word(words[j][2]):
            nxt = j + 1
            if nxt < len(words) and not _joined(text[words[j][1]:words[nxt][0]]):
                break
            if (nxt + 1 < len(words) and words[nxt][2] in _JOINERS and _is_number_word(words[nxt + 1][2])
                    and text[words[nxt][1]:words[nxt + 1][0]].isspace()):
                j = nxt + 1
                continue
            if nxt < len(words) and _is_number_word(words[nxt][2]):
                j = nxt
                continue
            break
        if j < len(words) and _is_number_word(words[j][2]):
            yield words[start_i][0], words[j][1], text[words[i][0]:words[j][1]]
            i = j + 1
        else:
            i = start_i + 1


def _replace(text: str, where: list[tuple[int, int]], start: int, end: int, new: str):
    """`text[start:end]` replaced by `new`, each of its characters standing for the whole replaced span."""
    whole = (where[start][0], where[end - 1][1])
    return text[:start] + new + text[end:], where[:start] + [whole] * len(new) + where[end:]


def words_to_digits(text: str, where: list[tuple[int, int]]) -> tuple[str, list[tuple[int, int]]]:
    """`text` (folded) with its numbers in words as digits; `where`: the (start, end) in the sentence of
    each character of `text`, carried along."""
    if not any(c.isalpha() for c in text):
        return text, where
    for start, end, run in reversed(list(_runs(text))):
        digits = _digits(run)
        if digits is not None:
            text, where = _replace(text, where, start, end, digits)
            continue
        # "between one hundred and one fifty": two numbers joined by "and"
        for m in reversed(list(re.finditer(r"(?:(?<=\s)|^)and(?=\s)", run))):
            left, right = run[:m.start()].rstrip(), run[m.end():].lstrip()
            if _digits(left) is not None and _digits(right) is not None:
                right_start = start + m.end() + (len(run[m.end():]) - len(right))
                text, where = _replace(text, where, right_start, end, _digits(right))
                text, where = _replace(text, where, start, start + len(left), _digits(left))
                break
    for m in reversed(list(_HALF.finditer(text))):
        whole = int(m.group("n")) if m.group("n") else 1
        text, where = _replace(text, where, m.start(), m.end(), f"{whole}.5")
    return text, where
