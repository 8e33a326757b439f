"""Is a guest summary (the template's or a chat model's) grounded in its listing's reviews?

A summary is stored only if this finds no problem:
- plain prose of one to three sentences (no markup, URLs, JSON, echoed input, talk about the prompt), and no
  instruction-like text;
- every aspect it states (aspects.toml, in any language) is mentioned by at least two of the reviews read, and
  every aspect it says guests spoke against ("3 complain about noise") by at least two reviews that do;
- every count it states is the measured one: "N of M guests" has M the guests read, and a count beside an
  aspect is the guests who mention it (or speak against it);
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


def _clause_problems(clause: str, found: Evidence, against: bool, listed: list[int]) -> list[str]:
    """`against`: the sentence has said, in this clause or before it, that guests spoke against something;
    `listed`: the counts of the clause this one continues a list of ("12 mention A, B and C")."""
    problems = []
    stated = mentions(clause)
    # A label names an aspect and takes no side ("2 noise"): only the clause's other words can speak against it.
    unlabelled = mentions(re.sub("|".join(re.escape(a.label) for a in vocabulary().aspects), " ", clause,
                                 flags=re.IGNORECASE))
    for match in _OF_GUESTS.finditer(clause):
        if int(match.group(2)) != found.guests:
            problems.append(f'says "{match.group()}" but {found.guests} guests wrote the reviews read')
    counts = [int(n) for n in _COUNT.findall(_OF_GUESTS.sub(lambda m: m.group(1), clause))] or listed
    for key in stated:
        count = found.counts.get(key)
        label = vocabulary().aspect(key).label
        negative = against or (key in unlabelled and unlabelled[key].against)
        backing = (count.against_ids if negative else count.review_ids) if count else ()
        if len(backing) < MIN_SUPPORT:
            kind = "speak against" if negative else "mention"
            problems.append(f'states {label} ("{clause.strip()}") but {len(backing)} of the listing\'s reviews '
                            f"{kind} it (at least {MIN_SUPPORT} needed)")
            continue
        measured = count.against if negative else count.guests
        problems += [f'says {n} guests about {label} ("{clause.strip()}") but {measured} do' for n in counts
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
        against = False  # "3 speak unfavourably of noise and 2 of the wifi": carried on to the sentence's end
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
