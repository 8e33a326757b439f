"""Debris: generated text that is not prose about a place (code, JSON or key-value dumps, echoed input,
degenerate repetition, talk about the data, the prompt or the instructions)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence

from gfl_dagster.generation.folding import fold

_CODE_PATTERNS = (
    (re.compile(r'"\s*\w[\w ]{0,40}"\s*:'), "a JSON key"),
    (re.compile(r"[{}]"), "braces"),
    (re.compile(r"^\s*[\[\]]|\[\s*\{|\}\s*\]|\[\s*\"|\"\s*\]\s*$", re.MULTILINE), "a JSON list"),
    (re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b"), "a field name"),  # snake_case: every field of a source's data
    (re.compile(r"=>|```|\{%|%\}|</?\w+>|^\s*//", re.MULTILINE), "code"),
    (re.compile(r"https?://|www\.", re.IGNORECASE), "a URL"),
    (re.compile(r"^\s*#+\s*\S|^\s*#\w|^\s*\|.*\|\s*$|^\s*\*\*[^*\n]+\*\*\s*$|^\s*[-*\u2022]\s+\S", re.MULTILINE),
     "markdown"),
)
_KEY_VALUE_LINE = re.compile(r"^\s*\w[\w ']{0,30}:(?:[ \t]+\S.*)?$", re.MULTILINE)

_META_RE = re.compile(
    r"\b(?:json|as\s+an\s+ai|ai\s+(?:language\s+)?model|language\s+model|(?<!check-in\s)instructions?|"
    r"(?:the|this|your|my)\s+prompt|prompts|listing\s+data|the\s+data|"
    r"(?:short|brief|factual)\s*,?\s+(?:factual\s+)?descriptions?|"
    r"descriptions?\s+of\s+(?:a|the|this)\s+(?:short-term\s+)?(?:rental\s+)?listings?|"
    r"(?:2|two)\s+to\s+(?:4|four)\s+sentences|sentences?\s+describing|plain\s+text|markdown|"
    r"untrusted|user\s+content|(?:this|it)\s+is\s+a\s+list\s+of|here\s+is\s+(?:a|the)\s+(?:\w+\s+)?"
    r"(?:description|representation|list|json)|the\s+listing'?s\s+own|i'?m\s+sorry|i\s+cannot|i\s+can'?t)\b",
    re.IGNORECASE,
)

_STOPWORDS = frozenset(
    "a an the and or but of in on at to for from with by as is are was were be been being it its it's this that "
    "these those there here has have had having not no nor so if than then into out up down over under per your "
    "yours you we our ours they them their he him she his her hers i my me mine which who whom whose what when "
    "where why how all any both each few more most other some such only own same too also just very can will "
    "would could should may might must do does did s t about above below after before between through during "
    "while again further once off until because every many much one two three four five six seven eight nine "
    "ten".split()
)
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def _repetition(tokens: list[str]) -> str | None:
    """A word that makes up a large share of the text, or a phrase said 3+ times.

    Any phrase of 2+ words with a content word holds a two-word phrase with that
    word, repeated as often; so looking at two-word phrases is enough.
    """
    n_tokens = len(tokens)
    counts: dict[str, int] = {}
    for token in tokens:
        if token not in _STOPWORDS:
            counts[token] = counts.get(token, 0) + 1
    if n_tokens >= 12 and counts:
        word, count = max(counts.items(), key=lambda item: item[1])
        if count >= 6 and count / n_tokens >= 0.2:
            return f'one word makes up {count} of {n_tokens} words ("{word}")'
    pairs: dict[tuple[str, str], int] = {}
    last: dict[tuple[str, str], int] = {}
    for i in range(n_tokens - 1):
        first, second = tokens[i], tokens[i + 1]
        if counts.get(first, 0) < 3 and counts.get(second, 0) < 3:
            continue  # a content word said fewer than 3 times cannot make a phrase said 3 times
        pair = (first, second)
        if last.get(pair, -2) >= i - 1 or (first in _STOPWORDS and second in _STOPWORDS):
            continue  # overlapping ("a a a") or stop words only
        last[pair] = i
        pairs[pair] = pairs.get(pair, 0) + 1
        if pairs[pair] >= 3:
            return f'repeats "{first} {second}" 3 or more times'
    return None


_JSON_SPACE = re.compile(r'\s*([{}":,\[\]])\s*')


@lru_cache(maxsize=256)
def _source_windows(source: str, window: int) -> frozenset[str]:
    squeezed = _JSON_SPACE.sub(r"\1", fold(source))
    # Only runs with JSON structure in them: a quoted name followed by a comma is prose.
    return frozenset(piece for piece in (squeezed[i:i + window] for i in range(len(squeezed) - window + 1))
                     if '":' in piece or '","' in piece or '{"' in piece or '"}' in piece)


def _echo(folded: str, source_values: Sequence[str], window: int = 20) -> str | None:
    """A run of the input's JSON (with its quotes and colons) copied into the text."""
    if '"' not in folded:
        return None
    squeezed = _JSON_SPACE.sub(r"\1", folded)
    for source in source_values:
        grams = _source_windows(source or "", window)
        if not grams:
            continue
        for i in range(len(squeezed) - window + 1):
            piece = squeezed[i:i + window]
            if piece in grams:
                return f'copies the input ("{piece}")'
    return None


def debris_problems(text: str, source_values: Sequence[str] = ()) -> list[str]:
    """Why `text` is not prose about a place: JSON/code/key-value dumps ('"room_type": ...', '{', 'price_per_night:'),
    degenerate repetition (the same phrase of 2+ words 3+ times, or one word making up a large share), echoed input
    (long runs copied from source_values' JSON), and talk about the data/prompt/instructions
    ('this listing is a short, factual description', 'the listing data', 'as an AI', 'JSON', 'instructions',
    'the prompt').

    A repeated phrase must hold at least one word that is not a stop word ("of the"
    three times is ordinary prose). Also flagged as code: URLs, markdown headings,
    tables and bullets. Empty list: reads as prose.
    """
    if not text or not text.strip():
        return ["empty"]
    problems: list[str] = []
    found = [label for regex, label in _CODE_PATTERNS if regex.search(text)]
    if "\n" in text.strip() and len(_KEY_VALUE_LINE.findall(text)) >= 2:
        found.append("key: value lines")
    if found:
        problems.append("looks like JSON/code, not prose (" + ", ".join(found) + ")")
    folded = fold(text)
    repeated = _repetition(_TOKEN.findall(folded))
    if repeated:
        problems.append("degenerate repetition: " + repeated)
    if source_values:
        echoed = _echo(folded, source_values)
        if echoed:
            problems.append("echoes its input: " + echoed)
    meta = _META_RE.search(text)
    if meta:
        problems.append(f'talks about the data or the prompt ("{meta.group().strip()}")')
    return problems
