""""What guests say" about one listing: an honestly extractive template over its reviews.

It counts, per aspect (aspects.toml), the guests whose reviews mention it and those who speak against it,
and states the most mentioned with their counts ("12 of 20 guests mention cleanliness, 9 the location and 7
the host. 3 speak unfavourably of noise."; aspects with the same count are named together). It states only
aspects at least two reviews support, in one to three sentences, and records the review ids it read. A comment that talks to a model is not read at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

from gfl_dagster.reviews.aspects import Vocabulary, is_instruction_like, mentions, vocabulary
from gfl_dagster.reviews.review_rows import plain_text

TEMPLATE_MODEL = "guest-summary-template-v1"
MIN_SUPPORT = 2  # reviews behind every aspect a summary states
MOST_ASPECTS = 3  # in the first sentence
MOST_COMPLAINTS = 2  # in the second


@dataclass(frozen=True)
class AspectCount:
    key: str
    label: str
    guests: int  # distinct guests whose reviews mention it
    against: int  # of them, those who speak against it
    review_ids: tuple[int, ...]  # the reviews that mention it
    against_ids: tuple[int, ...]  # the reviews that speak against it


@dataclass(frozen=True)
class Evidence:
    """What one listing's reviews say, aspect by aspect: the input of the template and of the check."""

    guests: int  # distinct guests among the reviews read
    review_ids: tuple[int, ...]  # the reviews read (with text, not addressed to a model)
    untrusted_ids: tuple[int, ...]  # reviews not read: their comment addresses a model
    counts: dict[str, AspectCount] = field(default_factory=dict)

    def ranked(self) -> list[AspectCount]:
        return sorted(self.counts.values(), key=lambda count: (-count.guests, -len(count.review_ids), count.key))


def _guest(review: Mapping[str, Any]) -> Any:
    return review.get("reviewer_id") or f"review-{review['id']}"


def evidence(reviews: Iterable[Mapping[str, Any]], vocab: Optional[Vocabulary] = None) -> Evidence:
    """Count one listing's reviews (rows with `id`, `reviewer_id`, `comments`) aspect by aspect."""
    vocab = vocab or vocabulary()
    read, untrusted, guests = [], [], set()
    by_aspect: dict[str, dict[str, Any]] = {}
    for review in sorted(reviews, key=lambda r: r["id"]):
        text = plain_text(review.get("comments"))
        if not text:
            continue
        if is_instruction_like(text, vocab):
            untrusted.append(review["id"])
            continue
        read.append(review["id"])
        guest = _guest(review)
        guests.add(guest)
        for key, mention in mentions(text, vocab).items():
            entry = by_aspect.setdefault(key, {"guests": set(), "against": set(), "ids": [], "against_ids": []})
            entry["guests"].add(guest)
            entry["ids"].append(review["id"])
            if mention.against:
                entry["against"].add(guest)
                entry["against_ids"].append(review["id"])
    counts = {key: AspectCount(key, vocab.aspect(key).label, len(entry["guests"]), len(entry["against"]),
                               tuple(entry["ids"]), tuple(entry["against_ids"]))
              for key, entry in by_aspect.items()}
    return Evidence(len(guests), tuple(read), tuple(untrusted), counts)


@dataclass(frozen=True)
class GuestSummary:
    text: Optional[str]  # None: no aspect is mentioned by two reviews or more
    review_ids: tuple[int, ...]  # the reviews it was built from
    aspects: tuple[str, ...]  # the aspects it states
    model: str = TEMPLATE_MODEL


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _grouped(counts: list[tuple[int, str]]) -> list[tuple[int, list[str]]]:
    """Aspects with the same count said once ("2 mention cleanliness and noise"), in the given order."""
    groups: dict[int, list[str]] = {}
    for number, label in counts:
        groups.setdefault(number, []).append(label)
    return list(groups.items())


def template_summary(found: Evidence) -> GuestSummary:
    """One to three sentences restating counts: nothing a guest did not write, nothing two reviews do not back."""
    supported = [c for c in found.ranked() if len(c.review_ids) >= MIN_SUPPORT]
    if not supported:
        return GuestSummary(None, found.review_ids, ())
    top = supported[:MOST_ASPECTS]
    groups = _grouped([(c.guests, c.label) for c in top])
    (number, labels), rest = groups[0], groups[1:]
    noun = "guest" if found.guests == 1 else "guests"
    verb = "mentions" if number == 1 else "mention"
    first = [f"{number} of {found.guests} {noun} {verb} {_join(labels)}"] + [f"{n} {_join(ls)}" for n, ls in rest]
    sentences = [_join(first) + "."]
    complaints = sorted((c for c in supported if len(c.against_ids) >= MIN_SUPPORT),
                        key=lambda c: (-c.against, c.key))[:MOST_COMPLAINTS]
    if complaints:
        (number, labels), *rest = _grouped([(c.against, c.label) for c in complaints])
        speak = "speaks" if number == 1 else "speak"
        sentences.append(_join([f"{number} {speak} unfavourably of {_join(labels)}"]
                               + [f"{n} of {_join(ls)}" for n, ls in rest]) + ".")
    stated = tuple(dict.fromkeys(c.key for c in top + complaints))
    return GuestSummary(" ".join(sentences), found.review_ids, stated)


def summarize(reviews: Iterable[Mapping[str, Any]]) -> GuestSummary:
    return template_summary(evidence(reviews))
