""""What guests say" about one listing: an honestly extractive template over its reviews.

It counts, per aspect (aspects.toml), the guests whose reviews mention it without speaking against it and
those who speak against it, and states which way they lean with those counts: "9 of 20 guests call it clean,
8 like the location and 7 call it quiet. 3 complain of noise." (aspects with the same complaint count are
named together). "Call it quiet" is the aspect's `praise_label`: a guest counts there when one of their
reviews mentions the aspect and does not speak against it (aspects.py), nothing subtler. An aspect most of
whose guests speak against it is never praised. It states only counts at least two reviews back, in one to
three sentences, and records the review ids it read. A comment that talks to a model is not read at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

from gfl_dagster.reviews.aspects import Vocabulary, is_instruction_like, mentions, vocabulary
from gfl_dagster.reviews.review_rows import plain_text

TEMPLATE_MODEL = "guest-summary-template-v2"  # v2: says which way guests lean
MIN_SUPPORT = 2  # reviews behind every aspect a summary states
MOST_ASPECTS = 3  # praised, in the first sentence
MOST_COMPLAINTS = 2  # in the second
NOTHING_TO_SAY = "no aspect is praised by two guests or spoken against in two reviews"


@dataclass(frozen=True)
class AspectCount:
    key: str
    label: str
    praise_label: str
    against_label: str
    guests: int  # distinct guests whose reviews mention it
    against: int  # of them, those who speak against it
    praised: int  # of them, those with a review that mentions it without speaking against it
    review_ids: tuple[int, ...]  # the reviews that mention it
    against_ids: tuple[int, ...]  # the reviews that speak against it
    praise_ids: tuple[int, ...]  # the others

    @property
    def mostly_against(self) -> bool:
        """Most of the guests who mention it speak against it: a summary may not praise it."""
        return 2 * self.against > self.guests

    @property
    def praisable(self) -> bool:
        """Two guests, not only two reviews ("1 call it quiet" would not read), and not mostly against."""
        return self.praised >= MIN_SUPPORT and not self.mostly_against

    @property
    def faultable(self) -> bool:
        return len(self.against_ids) >= MIN_SUPPORT


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
            entry = by_aspect.setdefault(key, {"guests": set(), "ids": [], "against": set(), "against_ids": [],
                                               "praised": set(), "praise_ids": []})
            side = "against" if mention.against else "praised"
            for guests_key, ids_key in (("guests", "ids"), (side, f"{side.removesuffix('d')}_ids")):
                entry[guests_key].add(guest)
                entry[ids_key].append(review["id"])
    counts = {key: AspectCount(key, vocab.aspect(key).label, vocab.aspect(key).praise_label,
                               vocab.aspect(key).against_label, len(entry["guests"]), len(entry["against"]),
                               len(entry["praised"]), tuple(entry["ids"]), tuple(entry["against_ids"]),
                               tuple(entry["praise_ids"]))
              for key, entry in by_aspect.items()}
    return Evidence(len(guests), tuple(read), tuple(untrusted), counts)


@dataclass(frozen=True)
class GuestSummary:
    text: Optional[str]  # None: NOTHING_TO_SAY
    review_ids: tuple[int, ...]  # the reviews it was built from
    aspects: tuple[str, ...]  # the aspects it states
    model: str = TEMPLATE_MODEL


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _grouped(counts: list[tuple[int, str]]) -> list[tuple[int, list[str]]]:
    """Complaints with the same count said once ("3 complain of noise and a small space"), in the given order."""
    groups: dict[int, list[str]] = {}
    for number, label in counts:
        groups.setdefault(number, []).append(label)
    return list(groups.items())


def template_summary(found: Evidence) -> GuestSummary:
    """One or two sentences restating counts: nothing a guest did not write, nothing two reviews do not back,
    no praise of what most of its guests speak against."""
    praised = sorted((c for c in found.counts.values() if c.praisable),
                     key=lambda c: (-c.praised, -c.guests, c.key))[:MOST_ASPECTS]
    complaints = sorted((c for c in found.counts.values() if c.faultable),
                        key=lambda c: (-c.against, c.key))[:MOST_COMPLAINTS]
    if not praised and not complaints:
        return GuestSummary(None, found.review_ids, ())
    noun = "guest" if found.guests == 1 else "guests"
    of_guests = f" of {found.guests} {noun}"
    sentences = []
    if praised:
        parts = [f"{c.praised} {c.praise_label}" for c in praised]
        sentences.append(_join([parts[0].replace(" ", of_guests + " ", 1)] + parts[1:]) + ".")
    if complaints:
        (number, labels), *rest = _grouped([(c.against, c.against_label) for c in complaints])
        lead = f"{number}{'' if praised else of_guests} {'complains' if number == 1 else 'complain'} of"
        sentences.append(_join([f"{lead} {_join(labels)}"] + [f"{n} of {_join(ls)}" for n, ls in rest]) + ".")
    stated = tuple(dict.fromkeys(c.key for c in praised + complaints))
    return GuestSummary(" ".join(sentences), found.review_ids, stated)


def summarize(reviews: Iterable[Mapping[str, Any]]) -> GuestSummary:
    return template_summary(evidence(reviews))
