"""Which aspects of a stay a text mentions, and whether it speaks against them (vocabulary: aspects.toml).

Sentiment, deliberately simple and predictable: a review *mentions* an aspect when any of its words appear;
it speaks *against* the aspect when one of the aspect's negative words appears un-negated ("dirty", "noisy")
or one of its words appears negated ("not clean", "pas propre", "不干净", "깨끗하지 않"). Negative words that
are themselves negated ("not noisy") count as a mention only. Mentions and negative mentions are counted
apart; nothing else (irony, comparisons, "could be cleaner") is understood.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Iterable, Optional

from gfl_dagster.generation.folding import fold
from gfl_dagster.toml_reader import tomllib

_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_CLAUSE = re.compile(r"[.!?;:\n\u3002\uff01\uff1f\uff1b,\uff0c\u3001]+|\s-\s|\bbut\b")
_SPACED_SCRIPT = re.compile(r"^[\sa-z0-9'*\-\u00c0-\u024f\u0400-\u04ff]+$")


_WORD = r"[^\W_]"


def _term_regex(entry: str) -> str:
    """One vocabulary entry as a regular expression over folded text: whole words in sequence (Latin script;
    * is any ending, or any beginning), or a plain substring (scripts that do not separate words)."""
    folded = fold(entry).strip()
    if not _SPACED_SCRIPT.match(folded):
        return re.escape(folded)
    words = []
    for word in folded.replace("-", " ").split():
        body = re.escape(word.strip("*"))
        words.append((f"{_WORD}*" if word.startswith("*") else "") + body + (f"{_WORD}*" if word.endswith("*") else ""))
    return rf"(?<!{_WORD})" + r"[\W_]+".join(words) + rf"(?!{_WORD})"


def _alternation(entries: Iterable[str]) -> Optional[re.Pattern]:
    patterns = sorted({_term_regex(entry) for entry in entries}, key=len, reverse=True)
    return re.compile("|".join(patterns)) if patterns else None


def _entries(by_language: dict[str, list[str]]) -> list[str]:
    return [entry for entries in by_language.values() for entry in entries]


@dataclass(frozen=True)
class Aspect:
    key: str
    label: str  # how a summary names it, taking no side
    praise_label: str  # how a summary says guests speak well of it ("call it quiet")
    against_label: str  # what a summary says guests complain of ("noise")
    praise: Optional[re.Pattern]  # its words that are not negative words
    negative: Optional[re.Pattern]


@dataclass(frozen=True)
class Vocabulary:
    aspects: tuple[Aspect, ...]
    negation_before: re.Pattern  # a whole word (Latin script) or, in other scripts, anywhere just before
    negation_after: tuple[str, ...]
    window: int
    negative_cues: re.Pattern
    instruction_patterns: tuple[re.Pattern, ...]

    def aspect(self, key: str) -> Aspect:
        return next(aspect for aspect in self.aspects if aspect.key == key)


def _aspect(key: str, entry: dict) -> Aspect:
    negative = _entries(entry.get("negative", {}))
    praise = [word for word in _entries(entry["words"]) if word not in negative]
    return Aspect(key, entry["label"], entry["praise_label"], entry["against_label"], _alternation(praise),
                  _alternation(negative))


_CLAUSE_BREAK = re.compile(r"[,;.!?]|\b(?:and|but|while)\b")


def _label_problems(vocab: "Vocabulary") -> list[str]:
    """A summary's labels are read back by its check: each must name its aspect, on the side it claims."""
    problems = []
    for aspect in vocab.aspects:
        for kind, label in (("label", aspect.label), ("praise_label", aspect.praise_label),
                            ("against_label", aspect.against_label)):
            found = mentions(label, vocab).get(aspect.key)
            against = (found is not None and found.against) or speaks_against(label, vocab)
            if found is None or _CLAUSE_BREAK.search(label):
                problems.append(f'aspect {aspect.key}: {kind} "{label}" must match its words, in one clause')
            elif kind == "praise_label" and against or kind == "against_label" and not against:
                problems.append(f'aspect {aspect.key}: {kind} "{label}" reads {"against" if against else "for"} it')
    openings = Counter(" ".join(aspect.praise_label.split()[:2]) for aspect in vocab.aspects)
    problems += [f'"{opening}" opens {n} praise labels: a summary praising three aspects would repeat it'
                 for opening, n in openings.items() if n >= 3]
    return problems


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    data = tomllib.loads(resources.files("gfl_dagster.reviews").joinpath("aspects.toml").read_text("utf-8"))
    negation = data["negation"]
    vocab = Vocabulary(
        aspects=tuple(_aspect(key, entry) for key, entry in data["aspect"].items()),
        negation_before=_alternation(_entries(negation["before"])),
        negation_after=tuple(fold(word) for words in negation["after"].values() for word in words),
        window=int(negation["window"]),
        negative_cues=_alternation(data["summary"]["negative_cues"]),
        instruction_patterns=tuple(re.compile(p, re.IGNORECASE) for p in data["untrusted"]["instruction_patterns"]),
    )
    problems = _label_problems(vocab)
    if problems:
        raise ValueError("reviews/aspects.toml: " + "; ".join(problems))
    return vocab


def _clauses(text: str) -> list[str]:
    return [part.replace("-", " ") for part in _CLAUSE.split(fold(text)) if part.strip()]


def _negated(match: re.Match, clause: str, vocab: Vocabulary) -> bool:
    start, end = match.span()
    if _SPACED_SCRIPT.match(match.group()):
        preceding = " ".join(_TOKEN.findall(clause[:start])[-vocab.window:])
        return vocab.negation_before.search(preceding) is not None
    before = clause[max(0, start - 2):start]
    return (any(vocab.negation_before.search(char) and not char.isascii() for char in before)
            or any(word in clause[end:end + 6] for word in vocab.negation_after))


@dataclass(frozen=True)
class Mention:
    mentioned: bool
    against: bool  # the text speaks against the aspect


def mentions(text: str, vocab: Optional[Vocabulary] = None) -> dict[str, Mention]:
    """{aspect key: Mention} for each aspect the text mentions."""
    vocab = vocab or vocabulary()
    found: dict[str, Mention] = {}
    clauses = _clauses(text)
    for aspect in vocab.aspects:
        mentioned = against = False
        for clause in clauses:
            for match in aspect.negative.finditer(clause) if aspect.negative else ():
                mentioned = True
                against = against or not _negated(match, clause, vocab)
            for match in aspect.praise.finditer(clause) if aspect.praise else ():
                mentioned = True
                against = against or _negated(match, clause, vocab)
        if mentioned:
            found[aspect.key] = Mention(True, against)
    return found


def speaks_against(clause_text: str, vocab: Optional[Vocabulary] = None) -> bool:
    """Does a summary's clause say guests spoke against something ("3 complain about noise")?"""
    vocab = vocab or vocabulary()
    return any(vocab.negative_cues.search(clause) for clause in _clauses(clause_text))


def is_instruction_like(text: str, vocab: Optional[Vocabulary] = None) -> bool:
    """A comment that addresses a model ("ignore previous instructions..."): never evidence."""
    vocab = vocab or vocabulary()
    folded = fold(text)
    return any(pattern.search(folded) for pattern in vocab.instruction_patterns)
