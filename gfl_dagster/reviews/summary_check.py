"""Is a guest summary (the template's or a chat model's) grounded in its listing's reviews?

A summary is stored only if this finds no problem:
- plain prose of one to three sentences (no markup, URLs, JSON, echoed input, talk about the prompt), and no
  instruction-like text;
- every aspect it states (aspects.toml, in any language) is mentioned by at least two of the reviews read,
  every aspect it says guests spoke against ("3 complain of noise") by at least two reviews that do, and every
  aspect it praises ("call it quiet", "the quiet room") by at least two that mention it without speaking
  against it;
- it praises no aspect most of whose guests speak against it;
- every count it states is the measured one: "N of M guests" has M the guests read, and a count beside an
  aspect is the guests who mention it, speak against it or praise it, as the clause says;
- any other concrete claim (a pool, "5 minutes to the MRT", a place: generation/grounding.py) is backed by at
  least two reviews.
Reviews whose comment addresses a model are never evidence (guest_summary.evidence leaves them out).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Iterable, Mapping, Optional

from gfl_dagster.generation.debris import debris_problems
from gfl_dagster.generation.grounding import Support, unsupported_claims
from gfl_dagster.generation.plain_text import plain_text_problems
from gfl_dagster.reviews.aspects import is_instruction_like, mentions, speaks_against, vocabulary
from gfl_dagster.reviews.guest_summary import MIN_SUPPORT, Evidence, evidence
from gfl_dagster.reviews.review_rows import plain_text

MAX_LENGTH = 500
MAX_SENTENCES = 3
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=\S)")
_CLAUSE = re.compile(r"([,;.!?]|\band\b|\bwhile\b|\bbut\b)")
_LISTING = (",", "and")  # "12 mention cleanliness and the host": both 12
_OF_GUESTS = re.compile(r"\b(\d+)\s+of\s+(?:the\s+)?(\d+)\s+(?:guests?|reviews?|reviewers?)\b", re.IGNORECASE)
_COUNT = re.compile(r"(?<![\w.])(\d+)(?![\w.])")


def _side(key: str, clause: str, against: bool, unlabelled: dict) -> str:
    """What a clause says of an aspect it states: "against" it, "praise" ("call it quiet", "a quiet flat"), or
    only "mention" it (its neutral label: "12 mention noise")."""
    if against or (key in unlabelled and unlabelled[key].against):
        return "against"
    praise_label = vocabulary().aspect(key).praise_label
    return "praise" if key in unlabelled or praise_label.casefold() in clause.casefold() else "mention"


_SIDES = {"against": ("against", "against_ids", "speak against"), "praise": ("praised", "praise_ids", "praise"),
          "mention": ("guests", "review_ids", "mention")}


def _clause_problems(clause: str, found: Evidence, against: bool, listed: list[int]) -> list[str]:
    """`against`: the sentence has said, in this clause or before it, that guests spoke against something;
    `listed`: the counts of the clause this one continues a list of ("12 mention A, B and C")."""
    problems = []
    stated = mentions(clause)
    # A label names an aspect and takes no side ("2 noise"): only the clause's other words say which side.
    unlabelled = mentions(re.sub("|".join(re.escape(a.label) for a in vocabulary().aspects), " ", clause,
                                 flags=re.IGNORECASE))
    for match in _OF_GUESTS.finditer(clause):
        if int(match.group(2)) != found.guests:
            problems.append(f'says "{match.group()}" but {found.guests} guests wrote the reviews read')
    counts = [int(n) for n in _COUNT.findall(_OF_GUESTS.sub(lambda m: m.group(1), clause))] or listed
    for key in stated:
        count = found.counts.get(key)
        label = vocabulary().aspect(key).label
        side = _side(key, clause, against, unlabelled)
        measured_field, backing_field, kind = _SIDES[side]
        if side == "praise" and count and count.mostly_against:
            problems.append(f'says guests {count.praise_label} ("{clause.strip()}") but {count.against} of the '
                            f"{count.guests} guests who mention {label} speak against it")
        backing = getattr(count, backing_field) if count else ()
        if len(backing) < MIN_SUPPORT:
            problems.append(f'states {label} ("{clause.strip()}") but {len(backing)} of the listing\'s reviews '
                            f"{kind} it (at least {MIN_SUPPORT} needed)")
            continue
        measured = getattr(count, measured_field)
        problems += [f'says {n} guests about {label} ("{clause.strip()}") but {measured} {kind} it' for n in counts
                     if n != measured]
    return problems


def _aspect_labels(text: str) -> tuple[str, ...]:
    return tuple(vocabulary().aspect(key).label for key in mentions(text))


def _unbacked_claims(text: str, texts: Iterable[str]) -> list[str]:
    """Concrete claims (generation/grounding.py) fewer than two reviews back; a review backs a claim in its own
    words or through the aspects it mentions (a "网络很快" backs "the wifi")."""
    claims = unsupported_claims(text, Support(texts=()))
    if not claims:
        return []
    backed: Counter[str] = Counter()
    for review in texts:
        missing = set(unsupported_claims(text, Support(texts=(review,) + _aspect_labels(review))))
        backed.update(claim for claim in claims if claim not in missing)
    return [f"{claim.replace('the listing does not', 'fewer than two reviews')}" for claim in claims
            if backed[claim] < MIN_SUPPORT]


def check_summary(text: str, reviews: Iterable[Mapping[str, Any]], found: Optional[Evidence] = None,
                  shown: tuple[str, ...] = ()) -> list[str]:
    """Problems with `text` as what guests say about the listing whose `reviews` these are (empty: valid).
    `found` is the reviews' evidence when the caller has it; `shown` the prompt's data, to catch echo."""
    reviews = list(reviews)
    found = found or evidence(reviews)
    stripped = text.strip()
    problems = plain_text_problems(stripped, MAX_LENGTH, 10)
    problems += debris_problems(stripped, shown)
    sentences = _SENTENCE.split(stripped)
    if len(sentences) > MAX_SENTENCES:
        problems.append(f"has {len(sentences)} sentences, at most {MAX_SENTENCES}")
    if is_instruction_like(stripped):
        problems.append("contains instruction-like text")
    for sentence in sentences:
        against = False  # "3 complain of noise and 2 of wifi problems": carried on to the sentence's end
        listed: list[int] = []
        parts = _CLAUSE.split(sentence)
        for clause, separator in zip(parts[::2], parts[1::2] + [""]):
            if clause.strip():
                against = against or speaks_against(clause)
                problems += _clause_problems(clause, found, against, listed)
                numbers = [int(n) for n in _COUNT.findall(_OF_GUESTS.sub(lambda m: m.group(1), clause))]
                listed = (numbers or listed) if separator.strip() in _LISTING else []
    read = set(found.review_ids)
    texts = [plain_text(r.get("comments")) for r in reviews if r["id"] in read]
    problems += _unbacked_claims(_OF_GUESTS.sub("guests", stripped), texts)
    return list(dict.fromkeys(problems))
